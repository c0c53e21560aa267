"""The Attention page's Head map, Queries & keys and several query tokens in real Chromium: a
click on a point of the head map opens that head in Heads; screenshots at 1024 and 1920 px."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest

from tests.browser import ARTIFACTS, full_screenshot, open_page, require_chromium, wait_painted

pytestmark = pytest.mark.browser
TEXT = "The animal didn't cross the street because it was too tired."
SECOND = "The cat sat on the mat."
CANVAS = ".axc[data-drawn] canvas"
playwright = require_chromium()
expect = playwright.expect

# the point of the head map farthest from any other (a click there can only mean that head):
# its [layer, head] and where it is on the page, from plotly's own axes
LONELY = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const fl = gd._fullLayout, box = gd.getBoundingClientRect();
  const pts = [];
  gd._fullData.forEach((t) => {
    if (t.mode !== 'markers') return;  // the ring of the open head is drawn on top
    t.x.forEach((x, i) => pts.push({ cd: t.customdata[i],
      px: box.left + fl._size.l + fl.xaxis.l2p(x),
      py: box.top + fl._size.t + fl.yaxis.l2p(t.y[i]) }));
  });
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
    wait_painted(page, 1)
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    target = page.evaluate(LONELY)
    assert target["gap"] > 6, "two heads on one spot: no point to click unambiguously"
    layer, head = target["cd"]
    assert (layer, head) != (5, 11)
    page.mouse.move(target["px"], target["py"])
    expect(page.locator(".hoverlayer .hovertext").first).to_contain_text(f"L{layer} H{head}")
    page.mouse.click(target["px"], target["py"])
    # the Heads view, with the head clicked in the detail
    expect(page.locator(".axc-title").nth(1)).to_have_text(f"L{layer} H{head}", timeout=60_000)
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
        if "view" in params and params["view"] != "Token lines":
            wait_painted(page, 1)
        else:
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


def test_the_link_of_each_new_view_opens_it(server, browser):
    query = f"&view={quote('Queries & keys')}&qkjoint=false&layer=1&head=3"
    _, page = open_page(browser, f"{server}/attention?text={quote(TEXT)}{query}", 1280)
    wait_painted(page, 1)
    expect(page.get_by_role("radio", name="Queries & keys")).to_be_checked()
    expect(page.locator(".gtitle").first).to_contain_text("as the model computes them")
    no_exception(page)
    page.context.close()
