"""A shared link reproduces exactly what its sender sees, whatever order the widgets were changed
in (issue 7): config, text, sentence picker and numbers, opened in a fresh browser."""

from __future__ import annotations

import pytest

from tests.browser import require_chromium, wait_idle, wait_painted

pytestmark = pytest.mark.browser
TEXTAREA = '[data-testid="stSidebar"] textarea'
SLIDERS = ("d_model", "n_heads", "n_layers")

require_chromium()


def settle(page) -> None:
    page.wait_for_timeout(250)  # let the keypress reach the server before waiting for idle
    wait_idle(page)
    wait_painted(page, plotly=1)


def slider_value(page, key: str) -> str | None:
    handle = page.locator(f".st-key-{key} input[type=range]")
    return handle.get_attribute("aria-valuetext") if handle.count() else None


def move(page, key: str, steps: int) -> None:
    handle = page.locator(f".st-key-{key} input[type=range]")
    handle.focus()
    for _ in range(abs(steps)):
        handle.press("ArrowRight" if steps > 0 else "ArrowLeft")
        settle(page)


def type_text(page, text: str) -> None:
    box = page.locator(TEXTAREA)
    box.fill(text)
    box.press("Control+Enter")
    settle(page)


def view(page) -> dict:
    """What the user sees: sidebar config, text, picked sentence, and the output numbers."""
    picker = page.locator(".st-key-sentence input")
    vectors = page.evaluate(
        """() => {
            const plot = document.querySelector('.st-key-vectors .js-plotly-plot');
            const z = plot.data[0].z;
            return Array.from(z, (row) => Array.from(row).slice(0, 8));
        }"""
    )
    return {
        "sliders": {k: slider_value(page, k) for k in SLIDERS},
        "text": page.locator(TEXTAREA).input_value(),
        "sentence": picker.input_value() if picker.count() else None,
        "vectors": vectors,
    }


def share_link(page) -> str:
    page.get_by_role("button", name="Share this view").click()
    link = page.locator('[data-testid="stPopoverBody"] code').inner_text().strip()
    page.keyboard.press("Escape")
    return link


def opened_fresh(browser, url: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 1200})
    try:
        page = context.new_page()
        page.goto(url)
        settle(page)
        return view(page)
    finally:
        context.close()


def check(browser, page, step: str) -> None:
    seen = view(page)
    for name, url in (("share link", share_link(page)), ("address bar", page.url)):
        assert opened_fresh(browser, url) == seen, f"{name} after {step}: {url}"


ORDERS = {
    "sliders then text": [
        ("d_model", 1),  # 64 -> 96
        ("n_heads", 1),  # 4 -> 6
        ("n_layers", 1),
        ("text", "cats chase mice\ndogs bark at night"),
    ],
    "text then heads then a snapping d_model": [
        ("text", "one two three\nfour five"),
        ("n_heads", 2),  # 4 -> 8 -> 16
        ("d_model", -3),  # 64 -> 48 -> 32 -> 24: 16 heads do not divide 24, snapped to 12
        ("n_layers", -1),
    ],
}


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
def test_link_reproduces_the_view_in_any_order(server, browser, order):
    context = browser.new_context(viewport={"width": 1280, "height": 1200})
    page = context.new_page()
    page.goto(server)
    wait_idle(page)
    page.get_by_test_id("stRadioGroup").get_by_text("From scratch", exact=True).click()
    settle(page)
    for what, how in ORDERS[order]:
        if what == "text":
            type_text(page, how)
        else:
            move(page, what, how)
        check(browser, page, f"{what} {how}")
    if order.startswith("text then"):
        assert slider_value(page, "d_model") == "24" and slider_value(page, "n_heads") == "12"
    context.close()


def test_sentence_picker_names_the_sentences_on_screen_and_travels_in_the_link(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1200})
    page = context.new_page()
    page.goto(server)
    settle(page)
    type_text(page, "The bank of the river was flooded\nI paid at the bank\ncats chase mice")
    page.locator(".st-key-sentence input").click()
    page.get_by_role("option", name="3 · cats chase mice").click()
    settle(page)
    check(browser, page, "picking sentence 3")
    type_text(page, "cats chase mice\ndogs bark")  # sentence 3 is gone: back to the first
    assert page.locator(".st-key-sentence input").input_value() == "1 · cats chase mice"
    check(browser, page, "editing the text")
    page.locator(".st-key-example input").click()
    page.get_by_role("option", name="Two meanings of bank").click()
    settle(page)
    assert page.locator(".st-key-sentence input").input_value().startswith("1 · She sat")
    assert page.locator(".st-key-example input").input_value() == "Two meanings of bank"
    context.close()
