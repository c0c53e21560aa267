"""The Padding & masks page in real Chromium: turn on the causal mask, drag the padding slider to
its end, open the drift chart, share the link and reopen it; screenshots at 1024 and 1920 px."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.browser import (
    ARTIFACTS,
    full_screenshot,
    open_page,
    require_chromium,
    wait_idle,
    wait_painted,
)

pytestmark = pytest.mark.browser
TEXT = "Hi!\nTransformers process every token of a sentence in parallel."
MAIN = '[data-testid="stMain"]'
SLIDER = f'{MAIN} [data-testid="stSlider"] input[type="range"]'
CHARTS = 6  # two batch grids, the mask, two attention maps, output vectors (drift: on request)

require_chromium()


def metric(page, label: str) -> str:
    box = page.locator(f'{MAIN} [data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def sideways(page) -> int:
    return page.evaluate(
        f"() => document.querySelector('{MAIN}').scrollWidth"
        f" - document.querySelector('{MAIN}').clientWidth"
    )


def test_causal_toggle_slider_and_link(server, browser):
    context, page = open_page(browser, f"{server}/padding?text={quote(TEXT)}", 1280, height=1200)
    wait_painted(page, plotly=CHARTS)
    page.get_by_test_id("stSelectbox").filter(has_text="Sentence to inspect").click()
    page.get_by_role("option", name="1 · Hi!").click()
    wait_idle(page)
    page.get_by_text("Add a causal mask (decoder-style)").click()
    wait_idle(page)
    wait_painted(page, plotly=CHARTS + 1)  # the causal attention map joins the other two
    page.locator(f"{MAIN} strong", has_text="Causal mask").wait_for()  # and what it is for

    thumb = page.locator(SLIDER)
    thumb.focus()
    thumb.press("End")  # the far end: as many [PAD] tokens as max_len allows
    page.wait_for_timeout(500)  # the slider reports its value when the key is released
    wait_idle(page)
    top = int(thumb.get_attribute("max"))
    assert int(thumb.input_value()) == top > 400  # MiniLM takes 512 tokens
    with_mask = float(metric(page, "with the mask, N ="))
    without = float(metric(page, "without the mask, N ="))
    assert with_mask < 1e-4 < 0.1 < without  # float noise vs a real drift
    assert page.locator('[data-testid="stException"]').count() == 0
    page.locator(f"{MAIN} summary", has_text="The drift at every N").click()  # the chart
    wait_idle(page)
    wait_painted(page, plotly=CHARTS + 2)

    page.get_by_role("button", name="Share this view").click()
    link = page.locator('[data-testid="stPopoverBody"] code').inner_text().strip()
    assert "/padding?" in link and "causal=true" in link and f"pads={top}" in link
    assert "curve=true" in link
    context.close()

    fresh, other = open_page(browser, link, 1280, height=1200)
    wait_painted(other, plotly=CHARTS + 2)
    assert int(other.locator(SLIDER).input_value()) == top
    assert float(metric(other, "with the mask, N =")) == with_mask
    assert float(metric(other, "without the mask, N =")) == without
    assert other.locator('[data-testid="stException"]').count() == 0
    fresh.close()


@pytest.mark.parametrize("width", [1024, 1920])
def test_screenshots_narrow_and_projector(server, browser, width):
    url = f"{server}/padding?text={quote(TEXT)}&sentence={quote('1 · Hi!')}&causal=true&curve=true"
    context, page = open_page(browser, url, width, height=1200)
    wait_painted(page, plotly=CHARTS + 2)
    assert page.locator('[data-testid="stException"]').count() == 0
    overflow = sideways(page)
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
    ARTIFACTS.mkdir(exist_ok=True)
    full_screenshot(page, ARTIFACTS / f"padding_{width}.png")
    context.close()
