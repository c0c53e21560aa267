"""The Inside-a-layer page in real Chromium: step with next/previous, screenshots at two widths."""

from __future__ import annotations

from urllib.parse import urlencode

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
TEXT = "The cat sat on the mat.\nA dog barked at the cat all night long, loudly."
SUBHEADER = '[data-testid="stMain"] h3'

require_chromium()


def open_inside(browser, server: str, width: int, **params: str):
    url = f"{server}/inside?{urlencode({'text': TEXT, **params})}"
    return open_page(browser, url, width, 1000, timeout=180_000)  # the first visit loads the model


def step_title(page) -> str:
    return page.locator(SUBHEADER).first.inner_text()


def sideways(page) -> int:
    return page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m.scrollWidth - m.clientWidth; }"
    )


def click(page, name: str, expect: str) -> None:
    page.get_by_role("button", name=name).click()
    page.wait_for_function(
        "([sel, t]) => document.querySelector(sel)?.innerText.startsWith(t)",
        arg=[SUBHEADER, expect],
        timeout=60_000,
    )
    wait_idle(page)


@pytest.mark.parametrize("width", [1024, 1920])
def test_next_and_previous_walk_the_steps(server, browser, width):
    context, page = open_inside(browser, server, width, sentence="1 · The cat sat on the mat.")
    wait_painted(page, plotly=2, timeout=180_000)
    assert step_title(page).startswith("Step 1 of 8")
    assert page.get_by_role("button", name="Previous").is_disabled()
    for k in range(2, 5):
        click(page, "Next", f"Step {k} of 8")
    assert "step=4" in page.url  # the step is in the link
    wait_painted(page, plotly=2)
    assert page.locator('[data-testid="stMain"] .js-plotly-plot').count() >= 2
    assert sideways(page) <= 0, f"the page scrolls sideways at {width} px"
    ARTIFACTS.mkdir(exist_ok=True)
    full_screenshot(page, ARTIFACTS / f"inside_layer_{width}.png")
    click(page, "Previous", "Step 3 of 8")
    assert page.locator('[data-testid="stException"]').count() == 0
    context.close()


def test_whole_page_at_once(server, browser):
    params = dict(
        view="Whole page",
        scale="false",
        sentence="2 · A dog barked at the cat all night long, loudly.",
    )
    context, page = open_inside(browser, server, 1920, **params)
    wait_painted(page, plotly=20, timeout=180_000)
    captions = page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]')
    assert "shown: sentence 2, its 14 real tokens" in captions.all_inner_texts()[1]
    titles = page.locator(SUBHEADER).all_inner_texts()
    assert [t.split(" · ")[0] for t in titles[:8]] == [f"Step {k} of 8" for k in range(1, 9)]
    assert page.locator('[data-testid="stException"]').count() == 0
    assert sideways(page) <= 0
    full_screenshot(page, ARTIFACTS / "inside_layer_whole_1920.png")
    page.locator(".st-key-view button", has_text="Step by step").click()
    page.wait_for_function(
        "(sel) => document.querySelectorAll(sel).length === 2", arg=SUBHEADER, timeout=60_000
    )
    wait_idle(page)
    assert step_title(page) == "Step 1 of 8 · Input" and "view=" not in page.url
    context.close()
