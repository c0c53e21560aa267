"""The Padding page's batch grid in real Chromium (issue 17, point 27): on a projector every
token shows whole; on a laptop what shows fits its cell at a readable size; the axis title
never covers a tick number."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from encoder.tokenizer import default_tokenizer
from tests.browser import ARTIFACTS, open_page, require_chromium, wait_painted

pytestmark = pytest.mark.browser
TEXT = "Hi!\nTransformers process every token of a sentence in parallel because attention."
ONE = "The cat sat on the mat because it was tired."
GRID = '[data-testid="stMain"] .js-plotly-plot'

require_chromium()

# every cell's token text: what it says, its box, its cell's box, its font size on screen
CELLS = """(chart) => [...chart.querySelectorAll('.barlayer .point')].map((p) => {
    const t = p.querySelector('text'); const cell = p.querySelector('path').getBoundingClientRect();
    if (!t) return ['', 0, 0, cell.left, cell.right, 0];
    const r = t.getBoundingClientRect();  // plotly fits the text with a scale transform
    const fit = t.transform.baseVal.consolidate();
    const size = parseFloat(getComputedStyle(t).fontSize) * (fit ? fit.matrix.a : 1);
    return [t.textContent, r.left, r.right, cell.left, cell.right, r.width > 0 ? size : 0];
})"""

# the x axis title's box and the tick numbers' boxes
TITLE_AND_TICKS = """(chart) => {
    const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right,
        r.bottom]; };
    return [box(chart.querySelector('.g-xtitle text')),
            [...chart.querySelectorAll('.xtick text')].map(box)];
}"""


def tokens_of(text: str) -> list[list[str]]:
    batch = default_tokenizer().encode_batch(text.splitlines(), max_len=128)
    width = batch.input_ids.shape[1]
    return [e.tokens + ["[PAD]"] * (width - len(e)) for e in batch.encodings]


def overlap(a, b) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 0 and min(a[3], b[3]) - max(a[1], b[1]) > 0


@pytest.mark.parametrize("width", [1024, 1920])
@pytest.mark.parametrize("text", [TEXT, ONE], ids=["two", "one"])
def test_tokens_fit_their_cells_and_the_title_clears_the_ticks(server, browser, width, text):
    context, page = open_page(browser, f"{server}/padding?text={quote(text)}", width, 1200)
    wait_painted(page, plotly=2, timeout=120_000)
    grid = page.locator(GRID).first
    cells = grid.evaluate(CELLS)
    expected = [t for row in tokens_of(text) for t in row]
    assert len(cells) == len(expected)
    shown = [(c, t) for c, t in zip(cells, expected, strict=True) if c[5] > 0]
    for (said, left, right, cell_left, cell_right, size), token in shown:
        assert said == token  # never cut: whole, or left to the hover
        assert cell_left - 0.5 <= left and right <= cell_right + 0.5, (token, left, right)
        assert size >= 9, (token, size)
    if width == 1920:  # a projector has room for every token
        hidden = [t for c, t in zip(cells, expected, strict=True) if not c[5]]
        assert hidden == []
    else:
        assert len(shown) >= len(expected) * 0.6
    title, ticks = grid.evaluate(TITLE_AND_TICKS)
    assert [t for t in ticks if overlap(title, t)] == []
    ARTIFACTS.mkdir(exist_ok=True)
    grid.screenshot(path=str(ARTIFACTS / f"padding_grid_{len(text.splitlines())}_{width}.png"))
    context.close()
