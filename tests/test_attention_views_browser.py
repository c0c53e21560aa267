"""The Attention page's Head map, Queries & keys and several query tokens in real Chromium: a
click on a point of the head map opens that head in Heads; screenshots at 1024 and 1920 px."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from PIL import Image

from tests.browser import ARTIFACTS, full_screenshot, open_page, require_chromium

pytestmark = pytest.mark.browser
TEXT = "The animal didn't cross the street because it was too tired."
SECOND = "The cat sat on the mat."
CANVAS = ".axc[data-drawn] canvas"
playwright = require_chromium()
expect = playwright.expect

# the point of the head map farthest from any other (a click there can only mean that head):
# its index (layer-major) and where it is on the page, from the points the canvas drew
LONELY = """() => {
  const c = document.querySelector('.st-key-headmap .axc[data-drawn] canvas');
  const g = JSON.parse(c.dataset.geometry), box = c.getBoundingClientRect();
  const pts = c.axcPoints.map(([x, y], i) => ({ i,
    px: box.left + x * box.width / g.w, py: box.top + y * box.height / g.h }));
  let best = null, far = -1;
  for (const p of pts) {
    const others = pts.filter((o) => o !== p);
    const d = Math.min(...others.map((o) => Math.hypot(o.px - p.px, o.py - p.py)));
    if (d > far) { far = d; best = p; }
  }
  return { ...best, gap: far };
}"""


def url(server: str, **params) -> str:
    return f"{server}/attention?" + urlencode({"text": f"{TEXT}\n{SECOND}", **params}, doseq=True)


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_click_on_the_head_map_opens_that_head(server, browser):
    _, page = open_page(browser, url(server, view="Head map", layer="5", head="11"), 1280)
    chart = page.locator(".st-key-headmap .axc[data-drawn] canvas")
    chart.scroll_into_view_if_needed()
    expect(chart).to_be_visible()
    target = page.evaluate(LONELY)
    assert target["gap"] > 6, "two heads on one spot: no point to click unambiguously"
    layer, head = divmod(target["i"], 12)
    assert (layer, head) != (5, 11)
    page.mouse.move(target["px"], target["py"])
    expect(page.locator(".axc-tip")).to_contain_text(f"L{layer} H{head} · looks like")
    page.mouse.click(target["px"], target["py"])
    # the Heads view, with the head clicked in the detail
    detail = page.locator(".axc-title").filter(has_text=f"L{layer} H{head}")
    expect(detail).to_be_visible(timeout=60_000)
    expect(page.locator(".axc-title").nth(1)).to_have_text(f"L{layer} H{head}")
    expect(page.get_by_role("radio", name="Heads")).to_be_checked()
    combo = lambda name: page.get_by_role("combobox", name=name, exact=True)  # noqa: E731
    expect(combo("Layer")).to_have_value(str(layer))
    expect(combo("Head")).to_have_value(str(head))
    page.wait_for_function(f"() => location.search.includes('head={head}')", timeout=30_000)
    assert "view=Head" not in page.url  # Heads is the default: the address bar leaves it out
    no_exception(page)
    page.context.close()


VIEWS = {
    "head_map": {"view": "Head map"},
    "head_map_families": {"view": "Head map", "hmcolour": "looks like"},
    "queries_keys": {"view": "Queries & keys", "layer": "2", "head": "5"},
    "queries_keys_raw": {"view": "Queries & keys", "layer": "2", "head": "5", "qkjoint": "false"},
    "queries_detail": {
        "layer": "2",
        "head": "5",
        "queries": ["6 · cross", "7 · the", "8 · street"],
    },
    "queries_lines": {"view": "Token lines", "layer": "2", "queries": ["3 · didn", "7 · the"]},
}


@pytest.mark.parametrize("width", [1024, 1920])
def test_screenshots_narrow_and_projector(server, browser, width):
    out = ARTIFACTS / "attention"
    out.mkdir(parents=True, exist_ok=True)
    for name, params in VIEWS.items():
        _, page = open_page(browser, url(server, **params), width)
        page.wait_for_selector(CANVAS, timeout=60_000)
        page.wait_for_timeout(600)  # the last paint after the charts' sizes settle
        overflow = page.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth"
            " - document.querySelector('[data-testid=\"stMain\"]').clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
        no_exception(page)
        assert not page.locator('[data-testid="stAlert"]').filter(has_text="could not").count()
        full_screenshot(page, out / f"{name}_{width}.png")
        page.context.close()


def test_the_link_of_each_new_view_opens_it_and_its_png_is_three_times_the_screen(server, browser):
    query = f"&view={quote('Queries & keys')}&qkjoint=false&layer=1&head=3"
    address = f"{server}/attention?text={quote(TEXT)}{query}"
    _, page = open_page(browser, address, 1280, accept_downloads=True)
    expect(page.get_by_role("radio", name="Queries & keys")).to_be_checked()
    title = page.locator(".st-key-qkplot .axc-title")
    expect(title).to_contain_text("L1 H3: queries and keys of sentence 1, as the model computes")
    chart = page.locator(".st-key-qkplot .axc[data-drawn] canvas")
    expect(chart).to_be_visible()
    g = json.loads(chart.get_attribute("data-geometry"))
    with page.expect_download() as got:
        page.locator(".st-key-qkplot").get_by_role("button", name="PNG").click()
    assert got.value.suggested_filename == "attention_s1_L1_H3_queries_keys.png"
    png = Image.open(io.BytesIO(Path(got.value.path()).read_bytes()))
    png.save(ARTIFACTS / "attention" / "queries_keys_export.png")  # to look at
    assert png.size == (3 * g["w"], 3 * (g["h"] + 26))  # 3 px per CSS px, the title on top
    no_exception(page)
    page.context.close()
