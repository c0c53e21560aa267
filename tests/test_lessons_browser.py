"""Every lesson stepped through in Chromium at 1024 and 1920 px, and in presenter mode at
1024 x 768, where each step must fit one screen: question, prediction, answer, chart, QR code.
Screenshots land in test-artifacts/lessons/ for a person to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.lessons import LESSONS
from tests.browser import ARTIFACTS, open_page, require_chromium, wait_idle

pytestmark = pytest.mark.browser
require_chromium()
EXCEPTION = '[data-testid="stException"]'
SHOTS = ARTIFACTS / "lessons"
MAIN = "[data-testid='stMain']"
# a moment for the click's rerun to begin before trusting the idle status
SETTLE_MS = 400


def settle(page) -> None:
    page.wait_for_timeout(SETTLE_MS)
    wait_idle(page, timeout=120_000)
    page.wait_for_function(  # every chart drawn
        """() => [...document.querySelectorAll('.js-plotly-plot')]
            .every((el) => el.querySelector('.main-svg'))""",
        timeout=60_000,
    )


def predict(page) -> None:
    """Commit some prediction with the step's widget, as a learner would."""
    main = page.locator(MAIN)
    number = main.locator("[data-testid='stNumberInput'] input")
    if number.count():
        number.first.fill(number.first.get_attribute("min") or "1")
        number.first.press("Enter")
    elif main.locator("[data-testid='stRadio'] [role='radiogroup'] label").count():
        main.locator("[data-testid='stRadio'] [role='radiogroup'] label").first.click()
    elif main.locator("[data-testid='stButtonGroup'] button").count():
        main.locator("[data-testid='stButtonGroup'] button").first.click()
    else:  # a selectbox
        main.locator("[data-testid='stSelectbox'] input").last.click()
        page.get_by_role("option").first.click()
    reveal = page.get_by_role("button", name="Reveal")
    expect(reveal, "a prediction enables Reveal").to_be_enabled(timeout=60_000)
    reveal.click()
    expect(page.locator(MAIN).get_by_text("What the model did")).to_be_visible(timeout=120_000)
    settle(page)


def shows(page, text: str) -> None:
    page.wait_for_function(
        "([sel, text]) => document.querySelector(sel).innerText.includes(text)",
        arg=[MAIN, text],
        timeout=60_000,
    )


def scroll_extent(page) -> tuple[int, int]:
    """(overflow down, overflow sideways) of the main area, in px."""
    return tuple(
        page.evaluate(
            f"""() => {{ const m = document.querySelector("{MAIN}");
                return [m.scrollHeight - m.clientHeight, m.scrollWidth - m.clientWidth]; }}"""
        )
    )


@pytest.mark.parametrize("width", [1024, 1920])
@pytest.mark.parametrize("slug", list(LESSONS))
def test_step_through_a_lesson(server, browser, slug, width):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page = open_page(browser, f"{server}/lessons?lesson={slug}&step=1", width=width)
    steps = len(LESSONS[slug].steps)
    for n in range(1, steps + 1):
        settle(page)
        assert page.locator(EXCEPTION).count() == 0
        assert f"step {n} of {steps}" in page.locator(MAIN).inner_text()
        assert not page.get_by_role("button", name="Reveal").is_enabled()
        assert "What the model did" not in page.locator(MAIN).inner_text()
        predict(page)
        text = page.locator(MAIN).inner_text()
        assert "What the model did" in text and "You predicted" in text
        assert scroll_extent(page)[1] <= 0, f"step {n} scrolls sideways at {width} px"
        page.screenshot(path=SHOTS / f"{slug}_{n}_{width}.png", full_page=False)
        if n < steps:
            page.locator(MAIN).get_by_role("button", name="Next").first.click()
    assert "predictions right" in page.locator(MAIN).inner_text()
    context.close()


@pytest.mark.parametrize("slug", list(LESSONS))
def test_presenter_mode_fits_one_screen_at_1024_by_768(server, browser, slug):
    SHOTS.mkdir(parents=True, exist_ok=True)
    url = f"{server}/lessons?lesson={slug}&step=1&present=1"
    context, page = open_page(browser, url, width=1024, height=768)
    shown = page.evaluate(
        """() => {
            const r = document.querySelector("[data-testid='stSidebar']").getBoundingClientRect();
            return Math.max(0, Math.min(r.right, 1024) - Math.max(r.left, 0));
        }"""
    )
    assert shown < 5, f"the sidebar starts collapsed ({shown} px of it on screen)"
    size = page.evaluate(
        f"""() => parseFloat(getComputedStyle(
            document.querySelector("{MAIN} [data-testid='stMarkdownContainer'] p")).fontSize)"""
    )
    assert size >= 22, f"body text is {size}px"
    assert page.locator(f"{MAIN} img").count() >= 1, "the QR code of the step"
    steps = len(LESSONS[slug].steps)
    for n in range(1, steps + 1):
        settle(page)
        down, sideways = scroll_extent(page)
        assert down <= 0 and sideways <= 0, f"step {n}'s question scrolls ({down}, {sideways})"
        predict(page)
        down, sideways = scroll_extent(page)
        page.screenshot(path=SHOTS / f"{slug}_{n}_present.png")
        assert down <= 0 and sideways <= 0, f"step {n}'s answer scrolls ({down}, {sideways})"
        if n < steps:
            page.locator("body").press("ArrowRight")  # the keyboard, as a presenter would
            shows(page, f"step {n + 1} of {steps}")
    page.locator("body").press("ArrowLeft")
    shows(page, f"step {steps - 1} of {steps}")
    context.close()
