"""The app in real Chromium: type, see tokens, share a link, reproduce the view, screenshot."""

from __future__ import annotations

import pytest

from tests.browser import (
    ARTIFACTS,
    full_screenshot,
    require_chromium,
    wait_idle,
    wait_painted,
)

pytestmark = pytest.mark.browser
TEXTAREA = '[data-testid="stSidebar"] textarea'
PIECES = '[data-testid="stMain"] [data-testid="stText"]'

require_chromium()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    yield context.new_page()
    context.close()


def submit_text(page, text: str) -> None:
    box = page.locator(TEXTAREA)
    box.fill(text)
    box.press("Control+Enter")
    page.wait_for_function(
        '(t) => [...document.querySelectorAll(\'[data-testid="stMain"] [data-testid="stText"]\')]'
        ".some((e) => e.innerText.includes(t))",
        arg=text.split()[-1].lower().strip("."),
        timeout=60_000,
    )
    wait_idle(page)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_typed_sentence_shows_its_tokens(server, page):
    page.goto(server)
    wait_idle(page)
    wait_painted(page, plotly=1, graphviz=1)
    submit_text(page, "Tokenization splits unbelievably long words")
    wait_painted(page, plotly=1, graphviz=1)
    pieces = page.locator(PIECES).first.inner_text()
    assert "token·ization" in pieces and "un·bel·ie·va·bly" in pieces
    ticks = page.eval_on_selector_all(
        ".js-plotly-plot .ytick text", "(els) => els.map((e) => e.textContent)"
    )
    assert "1 · token" in ticks and "2 · ##ization" in ticks
    assert page.locator('[data-testid="stException"]').count() == 0
    shot(page, "encode_typed")


def test_shared_link_reproduces_the_view(server, browser, page):
    page.goto(server)
    wait_idle(page)
    page.get_by_test_id("stRadioGroup").get_by_text("From scratch", exact=True).click()
    wait_idle(page)
    submit_text(page, "Share this exact view please")
    page.get_by_role("button", name="Share this view").click()
    link = page.locator('[data-testid="stPopoverBody"] code').inner_text().strip()
    assert link.startswith(server) and "model=From+scratch" in link and "text=" in link

    fresh = browser.new_context(viewport={"width": 1280, "height": 1400})
    other = fresh.new_page()
    other.goto(link)
    wait_idle(other)
    wait_painted(other, plotly=1, graphviz=1)
    assert other.locator(TEXTAREA).input_value() == "Share this exact view please"
    assert other.locator(PIECES).first.inner_text() == page.locator(PIECES).first.inner_text()
    caption = other.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]')
    assert caption.first.inner_text().startswith("From scratch")
    shot(other, "encode_shared_link")
    fresh.close()


def test_html_in_text_is_not_executed(server, page):
    page.goto(server)
    wait_idle(page)
    submit_text(page, '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> end')
    assert page.evaluate("() => window.__xss") is None
    assert page.locator('[data-testid="stMain"] img[src="x"]').count() == 0


@pytest.mark.parametrize("width", [1024, 1920])
def test_screenshots_narrow_and_projector(server, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 1200})
    page = context.new_page()
    lines = "A man is playing a guitar.%0ASomeone plays the guitar.%0AThe stock market fell."
    page.goto(f"{server}/?text={lines}")
    wait_idle(page)
    wait_painted(page, plotly=2, graphviz=1)
    overflow = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth"
        " - document.querySelector('[data-testid=\"stMain\"]').clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
    page.wait_for_selector(".st-key-parameters .axc-table tbody tr")
    clipped = page.evaluate(  # the tokens, the padded batch, the shapes, the parameters
        """() => [...document.querySelectorAll('[data-testid="stMain"] .axc-table')]
            .map((t) => t.scrollWidth - t.clientWidth)"""
    )
    assert len(clipped) == 4 and max(clipped) <= 0, f"a table is clipped at {width} px: {clipped}"
    icon = page.evaluate("() => [...document.querySelectorAll('link[rel*=icon]')].map(l => l.href)")
    assert icon and all(h.startswith(server) for h in icon), icon  # shipped, works offline
    full_screenshot(page, ARTIFACTS / f"encode_{width}.png")
    context.close()
