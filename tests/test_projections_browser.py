"""The Layer-by-layer page in real Chromium: a preset, the play button, 3-D, and screenshots at
a laptop's and a projector's width."""

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
TEXTAREA = '[data-testid="stSidebar"] textarea'
TITLE = "document.querySelector('.js-plotly-plot .gtitle')?.textContent ?? ''"
BANK = "We sat by the river bank.\nFish hid under the river bank.\nOur account is at the bank."

require_chromium()


def open_projections(browser, url: str, width: int, height: int = 1100):
    context, page = open_page(browser, url, width, height, timeout=120_000)
    wait_painted(page, plotly=3, timeout=120_000)
    return context, page


def no_trouble(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    overflow = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m.scrollWidth - m.clientWidth; }"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


def test_preset_then_play_walks_through_every_depth(server, browser):
    context, page = open_projections(browser, f"{server}/projections", 1280)
    page.get_by_role("button", name="“bank”: river or money").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stSidebar\"] textarea').value"
        ".startsWith('We sat by the river bank.')",
        timeout=60_000,
    )
    wait_idle(page, timeout=120_000)
    wait_painted(page, plotly=3)
    assert "What to look for" in page.locator('[data-testid="stAlert"]').first.inner_text()
    assert page.evaluate(f"() => {TITLE}").startswith("depth 6")
    page.get_by_text("Play depths 0 → last").click()
    seen = set()
    for _ in range(60):  # 7 frames of 0.9 s each
        page.wait_for_timeout(150)
        seen.add(page.evaluate(f"() => {TITLE}").split(":")[0])
        if "depth 6" in seen and len(seen) >= 5:
            break
    assert {"depth 1", "depth 3", "depth 6"} <= seen, seen
    no_trouble(page)
    context.close()


def test_three_d_view_draws(server, browser):
    context, page = open_projections(browser, f"{server}/projections?dims=3-D&axes=per+layer", 1280)
    page.wait_for_selector(".js-plotly-plot .gl-container canvas", timeout=60_000)
    no_trouble(page)
    context.close()


@pytest.mark.parametrize("width", [1024, 1920])
def test_screenshots_narrow_and_projector(server, browser, width):
    query = f"text={quote(BANK)}&trace={quote('1·6 bank')}&trace={quote('3·6 bank')}"
    context, page = open_projections(browser, f"{server}/projections?{query}", width)
    no_trouble(page)
    ticks = page.eval_on_selector_all(
        ".js-plotly-plot .ytick text", "(els) => els.map((e) => e.textContent)"
    )
    assert "1·6 bank" in ticks  # the cosine matrix names its tokens
    ARTIFACTS.mkdir(exist_ok=True)
    full_screenshot(page, ARTIFACTS / f"projections_{width}.png")
    context.close()
