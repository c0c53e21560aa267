"""Eight browser sessions at once on one server, each with its own sentence, settings and page
(issue 14): every session sees its own results, none errors, none sees another's."""

from __future__ import annotations

import pytest

from tests.browser import launch, require_chromium, streamlit_server, wait_idle

pytestmark = pytest.mark.browser

sync_api = require_chromium()

# (page path, link settings): single-WordPiece marker words, so each shows up as a token
SESSIONS = [
    ("", {"model": "Pretrained"}),
    ("attention", {"model": "Pretrained"}),
    ("attention", {"model": "From scratch", "n_layers": "3", "seed": "5"}),
    ("positional", {"model": "From scratch", "d_model": "32", "pe_view": "Order test"}),
    ("projections", {"model": "Pretrained"}),
    ("padding", {"model": "From scratch", "n_heads": "8"}),
    ("inside", {"model": "Pretrained"}),
    ("", {"model": "From scratch", "d_model": "96", "n_heads": "6", "train": "true"}),
]
# single WordPiece tokens that no page's own text uses
MARKERS = ["cobalt", "lantern", "meadow", "violin", "pepper", "saddle", "marble", "velvet"]
SECOND = ["hammer", "kettle", "glacier", "orchid", "falcon", "walnut", "anchor", "beacon"]


def main_text(page) -> str:
    """Everything the page's main area shows, SVG chart labels included."""
    return page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').textContent")


def own_results(page, mine: str, others: list[str]) -> None:
    text = main_text(page).lower()
    assert mine in text, f"{page.url}: its own word {mine!r} is not on the page"
    leaked = [w for w in others if w != mine and w in text]
    assert not leaked, f"{page.url} shows another session's words {leaked}"
    assert page.locator('[data-testid="stException"]').count() == 0, page.url


def test_eight_sessions_at_once_see_only_their_own_results(tmp_path):
    from urllib.parse import urlencode

    with streamlit_server() as url, sync_api.sync_playwright() as p:
        browser = launch(p)
        pages = []
        for (path, settings), word in zip(SESSIONS, MARKERS, strict=True):
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            query = urlencode({**settings, "text": f"The {word} is here.\nA second line."})
            page.goto(f"{url}/{path}?{query}", wait_until="commit")  # all start together
            pages.append(page)
        for page in pages:
            wait_idle(page, timeout=180_000)
        for page, word in zip(pages, MARKERS, strict=True):
            own_results(page, word, MARKERS)
        # every session submits a new sentence before any has finished
        for page, word in zip(pages, SECOND, strict=True):
            box = page.locator('[data-testid="stSidebar"] textarea')
            box.fill(f"Now the {word} is here.\nAnd another line.")
            box.press("Control+Enter")
        for page in pages:
            page.wait_for_timeout(200)
            wait_idle(page, timeout=180_000)
        for page, word in zip(pages, SECOND, strict=True):
            own_results(page, word, SECOND + MARKERS)
            page.screenshot(path=str(tmp_path / f"{word}.png"))
        browser.close()
