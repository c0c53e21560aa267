"""The Attention page's pictures in real Chromium: every overview tile whole on screen and in the
PNG (1×1, 6×12 and 12×16 models, 1024 and 1920 px, device pixel ratio 1 and 2), PNGs at 3× their
size on screen, token lines in one lane per head, the head statistics table inside the page, and
Compare's map of every head. Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import torch
from PIL import Image

from app.charts.attention import HEAD_COLOURS, SEQUENTIAL
from tests.browser import ARTIFACTS, full_screenshot, open_page, require_chromium, wait_idle

pytestmark = pytest.mark.browser
require_chromium()

TEXT = "The animal didn't cross the street because it was too tired."
BANKS = "She sat on the river bank.\nHe opened a bank account."
CANVAS = ".axc[data-drawn] canvas"
MODELS = {
    "1x1": "&model=From+scratch&d_model=32&n_heads=1&n_layers=1&d_ff=64",
    "6x12": "",  # all-MiniLM-L6-v2
    "12x16": "&model=From+scratch&d_model=768&n_heads=16&n_layers=12&d_ff=3072",
}
SHAPES = {"1x1": (1, 1), "6x12": (6, 12), "12x16": (12, 16)}
EXPORT_SCALE, TITLE_BAND = 3, 26  # the component's PNG: 3 px per CSS px, its title on top

# the canvas, its figure, the component's element and the page's main block, in CSS px, with
# the geometry it drew and the colour of a pixel (x, y in CSS px) of its bitmap
MEASURE = """([c, x, y]) => {
  const box = (e) => { const r = e.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom]; };
  const g = JSON.parse(c.dataset.geometry);
  const k = c.width / g.w;
  const px = c.getContext("2d").getImageData(Math.floor(x * k), Math.floor(y * k), 1, 1).data;
  return { g, bitmap: [c.width, c.height], dpr: window.devicePixelRatio, canvas: box(c),
    figure: box(c.closest("figure")), frame: box(c.closest(".axc").parentElement),
    main: box(document.querySelector('[data-testid="stMainBlockContainer"]')),
    pixel: Array.from(px) };
}"""


def colour(weight: float) -> np.ndarray:
    """The overview's colour for a weight: index rint(255 w), through the sequential stops."""
    t = np.rint(np.clip(weight, 0, 1) * 255) / 255
    stops = [(p, np.array(c, dtype=float)) for p, c in SEQUENTIAL]
    for (p0, c0), (p1, c1) in itertools.pairwise(stops):
        if t <= p1:
            return np.rint(c0 + (t - p0) / (p1 - p0) * (c1 - c0))
    return stops[-1][1]


@pytest.fixture(scope="module")
def minilm_attention() -> np.ndarray:
    """MiniLM's attention of TEXT from the library. Shape: (L, H, S, S)"""
    from encoder.pretrained import load_minilm

    model, tokenizer = load_minilm()
    batch = tokenizer.encode_batch([TEXT])
    with torch.inference_mode():
        out = model(batch.input_ids, batch.attention_mask, output_attentions=True)
    return torch.stack(out.attentions)[:, 0].numpy()


def open_view(browser, server, width: int, query: str, scale: float = 1):
    url = f"{server}/attention?{query}"
    _, page = open_page(browser, url, width, accept_downloads=True, device_scale_factor=scale)
    page.wait_for_selector(CANVAS, timeout=120_000)
    page.wait_for_timeout(300)  # the ResizeObserver's last paint
    return page


def measure(page, index: int = 0, x: float = 0, y: float = 0) -> dict:
    canvas = page.locator(".axc-panel canvas").nth(index)
    return canvas.evaluate(f"(c) => ({MEASURE})([c, {x}, {y}])")


def inside(inner, outer, slack: float = 0.5) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)  # fmt: skip


def last_tile(g: dict, layers: int, heads: int) -> tuple[float, float]:
    """The bottom-right corner of the last layer's last head, in CSS px of the canvas."""
    x = g["left"] + (heads - 1) * (g["tile"] + g["gap"])
    y = g["top"] + (layers - 1) * (g["tile"] + g["gap"])
    return x + g["tile"], y + g["tile"]


@pytest.mark.parametrize("width", [1024, 1920])
@pytest.mark.parametrize("model", list(MODELS))
def test_every_overview_tile_is_whole_on_screen(server, browser, model, width, minilm_attention):
    layers, heads = SHAPES[model]
    # select the last head, so its 3 px outline is drawn at the bottom-right corner
    query = f"text={quote(TEXT)}{MODELS[model]}&layer={layers - 1}&head={heads - 1}"
    page = open_view(browser, server, width, query)
    g = measure(page)["g"]
    x1, y1 = last_tile(g, layers, heads)
    m = measure(page, 0, x1 - 0.5, y1 - 0.5)  # the last tile's bottom-right pixel
    assert m["bitmap"] == [round(g["w"] * m["dpr"]), round(g["h"] * m["dpr"])]
    assert m["canvas"][2] - m["canvas"][0] == pytest.approx(g["w"], abs=0.5)  # not squeezed
    assert m["canvas"][3] - m["canvas"][1] == pytest.approx(g["h"], abs=0.5)
    assert inside(m["canvas"], m["figure"]) and inside(m["figure"], m["frame"])
    assert inside(m["frame"], m["main"])
    # the last tile and the selected tile's outline (2 px out, 3 px wide) are on the canvas
    assert x1 + 3.5 <= g["w"] and y1 + 3.5 <= g["h"] and g["tile"] >= 14
    assert m["pixel"][3] == 255  # painted, not past the bitmap's edge
    if model == "6x12":  # MiniLM: the colour of the last head's last weight
        expected = colour(minilm_attention[5, 11, -1, -1])
        assert np.abs(np.array(m["pixel"][:3]) - expected).max() <= 2
    outline = measure(page, 0, x1 + 2, y1 + 2)["pixel"]  # the outline's bottom-right corner
    assert np.abs(np.array(outline[:3]) - (245, 158, 11)).max() <= 2  # ACCENT, not cut
    ARTIFACTS.mkdir(exist_ok=True)
    full_screenshot(page, ARTIFACTS / f"attention_overview_{model}_{width}.png")
    page.context.close()


def test_a_hidpi_screen_draws_the_same_tiles_sharper(server, browser, minilm_attention):
    page = open_view(browser, server, 1024, f"text={quote(TEXT)}&layer=5&head=11", scale=2)
    g = measure(page)["g"]
    x1, y1 = last_tile(g, 6, 12)
    m = measure(page, 0, x1 - 0.25, y1 - 0.25)
    assert m["dpr"] == 2 and m["bitmap"] == [2 * g["w"], 2 * g["h"]]
    assert inside(m["canvas"], m["frame"])
    assert np.abs(np.array(m["pixel"][:3]) - colour(minilm_attention[5, 11, -1, -1])).max() <= 2
    page.context.close()


def download_png(page, panel: int) -> Image.Image:
    with page.expect_download() as got:
        page.locator(".axc-panel").nth(panel).get_by_role("button", name="PNG").click()
    return Image.open(io.BytesIO(Path(got.value.path()).read_bytes())).convert("RGB")


@pytest.mark.parametrize("model", ["6x12", "12x16"])
def test_png_exports_are_three_times_the_screen_and_whole(server, browser, model, minilm_attention):
    layers, heads = SHAPES[model]
    query = f"text={quote(TEXT)}{MODELS[model]}&layer={layers - 1}&head={heads - 1}"
    page = open_view(browser, server, 1024, query)
    g = measure(page)["g"]
    png = download_png(page, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    png.save(ARTIFACTS / f"attention_export_overview_{model}.png")  # to look at
    assert png.size == (EXPORT_SCALE * g["w"], EXPORT_SCALE * (g["h"] + TITLE_BAND))
    x1, y1 = last_tile(g, layers, heads)
    at = lambda x, y: np.array(png.getpixel((int(3 * x), int(3 * (y + TITLE_BAND)))))  # noqa: E731
    if model == "6x12":
        assert np.abs(at(x1 - 0.5, y1 - 0.5) - colour(minilm_attention[5, 11, -1, -1])).max() <= 2
    assert np.abs(at(x1 + 2, y1 + 2) - (245, 158, 11)).max() <= 2  # the outline, whole
    assert tuple(at(g["w"] - 0.2, 1)) == (255, 255, 255)  # white, for slides
    detail = measure(page, 1)["g"]
    png = download_png(page, 1)
    png.save(ARTIFACTS / f"attention_export_detail_{model}.png")
    assert png.size == (EXPORT_SCALE * detail["w"], EXPORT_SCALE * (detail["h"] + TITLE_BAND))
    page.context.close()


def test_token_lines_give_every_head_its_own_lane(server, browser, minilm_attention):
    heads = [0, 5, 11]
    lheads = "".join(f"&lheads={h}" for h in heads)
    query = f"text={quote(TEXT)}&view=Token+lines&layer=2&token={quote('10 · it')}{lheads}"
    page = open_view(browser, server, 1024, query)
    g = measure(page)["g"]
    spread = g["row"] - 6
    drawn = [np.array(list(bytes.fromhex(HEAD_COLOURS[h][1:])), dtype=float) for h in heads]
    for s, h in enumerate(heads):
        row = minilm_attention[2, h, 10]
        j = int(np.argmax(row))  # the head's strongest key
        lane = (s / (len(heads) - 1) - 0.5) * spread
        # a point on the line, 8 px before its end: lines run from (xl + 4, the query's row)
        # to (xr - 4, the key's row), each head at its lane's height in both rows
        start, end = g["top"] + 10.5 * g["row"] + lane, g["top"] + (j + 0.5) * g["row"] + lane
        t = (g["xr"] - 8 - (g["xl"] + 4)) / (g["xr"] - 4 - (g["xl"] + 4))
        y = start + t * (end - start)
        pixel = np.array(measure(page, 0, g["xr"] - 8, y)["pixel"], dtype=float)
        # the canvas is transparent: a pixel holds its line's colour, its weight in the alpha
        assert pixel[3] > 0.5 * 255 * min(1.0, float(row[j])), f"H{h}'s lane to key {j} is empty"
        nearest = int(np.argmin([np.abs(pixel[:3] - c).sum() for c in drawn]))
        assert nearest == s, f"H{h}'s lane to key {j} shows another head's colour: {pixel}"
    page.context.close()
    page = open_view(browser, server, 1024, f"text={quote(TEXT)}&view=Token+lines&layer=2"
                     f"&token={quote('10 · it')}")  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1024, 1920):
        page.set_viewport_size({"width": width, "height": 1100})
        page.wait_for_timeout(400)
        full_screenshot(page, ARTIFACTS / f"attention_token_lines_12_heads_{width}.png")
    page.context.close()


@pytest.mark.parametrize("width", [1024, 1920])
@pytest.mark.parametrize("model", ["6x12", "12x16"])
def test_head_statistics_table_fits_the_page(server, browser, model, width):
    query = f"text={quote(TEXT)}{MODELS[model]}&view=Head+statistics"
    _, page = open_page(browser, f"{server}/attention?{query}", width)
    page.wait_for_selector(".axc-table tbody tr", timeout=120_000)
    sizes = page.evaluate("""() => {
        const wrap = document.querySelector('.axc-table');
        const main = document.querySelector('[data-testid="stMainBlockContainer"]');
        const inner = main.getBoundingClientRect();
        const pad = parseFloat(getComputedStyle(main).paddingRight);
        return { scroll: wrap.scrollWidth, client: wrap.clientWidth, rows:
                 wrap.querySelectorAll('tbody tr').length, height: wrap.clientHeight,
                 right: wrap.getBoundingClientRect().right, edge: inner.right - pad };
    }""")
    assert sizes["scroll"] <= sizes["client"], f"the table scrolls sideways at {width} px"
    assert sizes["right"] <= sizes["edge"] + 0.5
    layers, heads = {"6x12": (6, 12), "12x16": (12, 16)}[model]
    assert sizes["rows"] == layers * heads and sizes["height"] <= 462  # it scrolls inside
    ARTIFACTS.mkdir(exist_ok=True)
    full_screenshot(page, ARTIFACTS / f"attention_head_statistics_{model}_{width}.png")
    page.context.close()


@pytest.mark.parametrize("width", [1024, 1920])
def test_compare_map_of_every_head_opens_the_clicked_head(server, browser, width):
    query = f"text={quote(BANKS)}&view=Compare&token={quote('6 · bank')}&layer=0&head=0"
    page = open_view(browser, server, width, query)
    assert page.get_by_role("combobox", name="Query token in sentence 2").input_value() == (
        "4 · bank"
    )
    heads = page.locator(".axc-panel canvas").first
    heads.scroll_into_view_if_needed()
    g = json.loads(heads.get_attribute("data-geometry"))
    box = heads.bounding_box()
    x = box["x"] + g["left"] + 9.5 * g["cell"]
    y = box["y"] + g["top"] + 3.5 * g["cell"]
    page.mouse.move(x, y)
    assert page.locator(".st-key-compare_heads .axc-tip").inner_text().startswith("L3 · H9: ")
    page.mouse.down()
    page.mouse.up()
    page.wait_for_timeout(400)
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('head=9')", timeout=30_000)
    assert "L3 H9: where “bank” looks" in page.locator(".axc-title").nth(1).inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    full_screenshot(page, ARTIFACTS / f"attention_compare_bank_{width}.png")
    page.context.close()
