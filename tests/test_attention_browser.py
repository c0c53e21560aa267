"""The Attention page in real Chromium: click a head in the overview, read the detail, switch to
token lines and click a query token, download the exports, screenshot at 1024 and 1920 px."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import torch

from tests.browser import ARTIFACTS, full_screenshot, open_page, require_chromium, wait_idle

pytestmark = pytest.mark.browser
TEXT = "The animal didn't cross the street because it was too tired."
SECOND = "The cat sat on the mat."
CANVAS = ".axc[data-drawn] canvas"

require_chromium()


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """MiniLM's attention of TEXT, from the library. Shape: (L, H, S, S)"""
    from encoder.pretrained import load_minilm

    model, tokenizer = load_minilm()
    batch = tokenizer.encode_batch([TEXT, SECOND])
    with torch.inference_mode():
        out = model(batch.input_ids, batch.attention_mask, output_attentions=True)
    n = int(batch.attention_mask[0].sum())
    return torch.stack(out.attentions)[:, 0, :, :n, :n].numpy()


def open_attention(browser, server, width: int, query: str = "", wait: str = CANVAS):
    text = quote(f"{TEXT}\n{SECOND}")
    url = f"{server}/attention?text={text}{query}"
    _, page = open_page(browser, url, width, accept_downloads=True)
    page.wait_for_selector(wait, timeout=60_000)
    return page


def settle(page) -> None:
    page.wait_for_timeout(400)  # the rerun starts
    wait_idle(page)
    page.wait_for_selector(CANVAS, timeout=60_000)


def picked(page, label: str) -> str:
    return page.get_by_role("combobox", name=label, exact=True).input_value()


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_overview_click_opens_the_head_then_token_lines(server, browser, reference):
    page = open_attention(browser, server, 1280)
    overview = page.locator(".axc-panel").first.locator("canvas")
    overview.scroll_into_view_if_needed()
    box = overview.bounding_box()
    g = json.loads(overview.get_attribute("data-geometry"))  # the grid the component drew
    step = g["tile"] + g["gap"]
    page.mouse.move(box["x"] + g["left"] + 5 * step + 9, box["y"] + g["top"] + 2 * step + 9)
    assert page.locator(".axc-tip").inner_text() == "L2 H5: click to open"
    page.mouse.down()
    page.mouse.up()
    settle(page)
    page.wait_for_function("() => location.search.includes('head=5')", timeout=30_000)
    assert picked(page, "Layer") == "2" and picked(page, "Head") == "5"
    assert page.locator(".axc-title").nth(1).inner_text() == "L2 H5"
    assert "layer=2" in page.url

    detail = page.locator(".axc-panel").nth(1).locator("canvas")
    detail.scroll_into_view_if_needed()
    box = detail.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 30)  # a cell near the top
    tip = page.locator(".axc-tip").inner_text()
    assert " → " in tip and ":" in tip
    query_label, rest = tip.split(" → ")
    key_label, weight = rest.rsplit(": ", 1)
    i, j = int(query_label.split(" · ")[0]), int(key_label.split(" · ")[0])
    assert float(weight) == pytest.approx(reference[2, 5, i, j], abs=1e-4)

    page.get_by_role("radio", name="Token lines").click()
    settle(page)
    lines = page.locator(".axc-panel canvas").first
    lines.scroll_into_view_if_needed()
    box = lines.bounding_box()
    g = json.loads(lines.get_attribute("data-geometry"))
    it = TEXT.lower().split().index("it") + 3  # + [CLS], and "didn't" is three tokens
    page.mouse.click(box["x"] + 20, box["y"] + g["top"] + (it + 0.5) * g["row"])
    settle(page)
    page.wait_for_function("() => location.search.includes('token=')", timeout=30_000)
    assert picked(page, "Query token").endswith("· it")
    assert "where “" in page.locator(".axc-title").first.inner_text()
    no_exception(page)
    page.context.close()


def test_downloads_hold_the_head_and_all_attention(server, browser, reference):
    page = open_attention(browser, server, 1280, "&layer=3&head=7")
    with page.expect_download() as got:
        page.get_by_role("button", name="L3 H7 as CSV").click()
    rows = list(csv.reader(io.StringIO(Path(got.value.path()).read_text())))
    assert rows[0][1] == "0 · [CLS]" and rows[-1][0].endswith("· [SEP]")
    values = np.array([r[1:] for r in rows[1:]], dtype=np.float64)
    np.testing.assert_allclose(values, reference[3, 7], atol=1e-7)
    with page.expect_download() as got:
        page.get_by_role("button", name="All attention of this sentence (.npz)").click()
    saved = np.load(got.value.path())
    np.testing.assert_allclose(saved["attentions"], reference, atol=1e-7)
    assert json.loads(str(saved["config"]))["n_layers"] == 6 and int(saved["seed"]) == 0
    assert list(saved["tokens"])[:2] == ["[CLS]", "the"]
    with page.expect_download() as got:
        page.locator(".axc-panel").nth(1).get_by_role("button", name="SVG").click()
    assert Path(got.value.path()).read_text().startswith("<svg")
    page.context.close()


def test_head_statistics_sorts_by_a_header_and_a_row_opens_its_head(server, browser):
    query = f"&view={quote('Head statistics')}&layer=1&head=10"
    page = open_attention(browser, server, 1024, query, ".axc-table tbody tr")
    table = page.locator(".axc-table")
    assert table.locator("tr.axc-chosen td").first.inner_text() == "L1 H10"
    prev = table.get_by_role("button", name="prev.")
    prev.click()  # on the page: largest share of the previous token first, no rerun
    rows = table.locator("tbody tr")
    shares = [float(r.split("\t")[4].rstrip("%")) for r in rows.all_inner_texts()]
    assert shares == sorted(shares, reverse=True) and len(shares) == 72
    assert table.locator("th").nth(4).get_attribute("aria-sort") == "descending"
    prev.click()  # again: the order turned round
    assert table.locator("th").nth(4).get_attribute("aria-sort") == "ascending"
    first = rows.first.locator("td").first.inner_text()  # "L0 H3"
    layer, head = (int(x[1:]) for x in first.split())
    rows.first.click()
    settle(page)
    page.wait_for_function("() => !location.search.includes('Head+statistics')")
    assert picked(page, "Layer") == str(layer) and picked(page, "Head") == str(head)
    no_exception(page)
    page.context.close()


@pytest.mark.parametrize("width", [1024, 1920])
def test_screenshots_narrow_and_projector(server, browser, width):
    ARTIFACTS.mkdir(exist_ok=True)
    for view in ("Heads", "Token lines", "Mean & rollout", "Head statistics", "Compare"):
        wait = ".axc-table" if view == "Head statistics" else CANVAS
        page = open_attention(browser, server, width, f"&view={quote(view)}&layer=1&head=10", wait)
        page.wait_for_timeout(500)  # the last paint after the component's size settles
        overflow = page.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth"
            " - document.querySelector('[data-testid=\"stMain\"]').clientWidth"
        )
        assert overflow <= 0, f"{view} scrolls sideways by {overflow} px at {width} px"
        no_exception(page)
        name = view.lower().replace(" & ", "_").replace(" ", "_")
        full_screenshot(page, ARTIFACTS / f"attention_{name}_{width}.png")
        if view == "Heads":
            full_screenshot(page, ARTIFACTS / f"attention_{width}.png")
        page.context.close()
