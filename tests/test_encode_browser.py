"""The Encode page in real Chromium (issue 17): the token table of a long paragraph fits without
scrolling inside itself, the architecture's cluster label is clear of every arrow, and the
camera button saves a PNG three times the chart's size on screen."""

from __future__ import annotations

import struct
from urllib.parse import quote

import pytest

from encoder.tokenizer import default_tokenizer
from tests.browser import ARTIFACTS, full_screenshot, open_page, require_chromium, wait_painted

pytestmark = pytest.mark.browser
MAIN = '[data-testid="stMain"]'
PARAGRAPH = (
    "The quick brown fox jumps over the lazy dog while transformers process every token of a "
    "sentence in parallel because attention compares each word with all the others, and "
    "unbelievably long tokenization examples split into many pieces; meanwhile researchers "
    "study positional encodings, padding masks, layer normalization and feed forward networks "
    "to understand why pretrained encoders work well on sentence similarity."
)
GUITAR = "A man is playing a guitar.\nSomeone plays the guitar.\nThe stock market fell."

require_chromium()


def token_table_cells(text: str) -> dict[str, list[str]]:
    """The Encode page's token table, column by column, as the page builds it."""
    enc = default_tokenizer().encode(text, max_len=128)
    cols: dict[str, list[str]] = {k: [k] for k in ("position", "token", "id", "word", "kind")}
    for word, idx in enc.words():
        for k, i in enumerate(idx):
            kind = "special" if enc.special[i] else ("word piece" if k else "word")
            for name, v in zip(cols, (i, enc.tokens[i], enc.ids[i], word, kind), strict=True):
                cols[name].append(str(v))
    return cols


def test_a_60_word_paragraph_token_table_shows_whole_at_1024(server, browser):
    assert len(PARAGRAPH.split()) == 60
    context, page = open_page(browser, f"{server}/?text={quote(PARAGRAPH)}", 1024, 1100)
    wait_painted(page, plotly=1, graphviz=1)
    grid = page.locator(f"{MAIN} .st-key-tokens .axc-table").first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    scroll = grid.evaluate(
        "(el) => [el.scrollHeight - el.clientHeight, el.scrollWidth - el.clientWidth]"
    )
    assert scroll[0] <= 1, f"the token table scrolls inside itself by {scroll[0]} px"
    assert scroll[1] <= 1, f"the token table scrolls sideways by {scroll[1]} px"
    # every cell shows whole: no cell's text is wider than its cell ("word piece" was once cut
    # to "word pie")
    cut = grid.evaluate(
        """(el) => [...el.querySelectorAll('td, th')].filter((c) =>
            c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent)"""
    )
    assert not cut, cut
    texts = grid.locator("tbody tr").all_inner_texts()
    header, *rows = zip(*token_table_cells(PARAGRAPH).values(), strict=True)
    assert grid.locator("th").all_inner_texts() == list(header)
    assert [t.split("\t") for t in texts] == [list(row) for row in rows]
    full_screenshot(page, ARTIFACTS / "encode_paragraph_1024.png")
    context.close()


# the label's box and every edge, sampled along its path, in the graph's own coordinates
CROSSINGS = """() => {
    const svg = document.querySelector('[data-testid="stGraphVizChart"] svg');
    const label = [...svg.querySelectorAll('g.cluster text')].find((t) =>
        t.textContent.includes('layer'));
    const b = label.getBBox();
    const hits = [];
    for (const edge of svg.querySelectorAll('g.edge')) {
        for (const path of edge.querySelectorAll('path')) {
            const n = path.getTotalLength();
            for (let d = 0; d <= n; d += 1) {
                const p = path.getPointAtLength(d);
                if (p.x > b.x - 2 && p.x < b.x + b.width + 2 && p.y > b.y - 2
                    && p.y < b.y + b.height + 2) {
                    hits.push(edge.querySelector('title').textContent);
                    break;
                }
            }
        }
    }
    return [label.textContent, hits];
}"""


@pytest.mark.parametrize(
    "query",
    [
        "",  # pretrained MiniLM: post-norm, 6 layers
        "model=From+scratch&norm=pre-norm&n_layers=3",
        "model=From+scratch&n_layers=1",
    ],
    ids=["pretrained", "pre-norm", "one-layer"],
)
def test_the_layer_label_is_clear_of_every_arrow(server, browser, query):
    context, page = open_page(browser, f"{server}/?{query}", 1280, 1100)
    wait_painted(page, plotly=1, graphviz=1)
    label, crossed = page.evaluate(CROSSINGS)
    assert "layer" in label and crossed == [], f"{crossed} run through “{label}”"
    context.close()


def png_size(path) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_the_camera_button_saves_three_times_the_screen_size(server, browser, tmp_path):
    context, page = open_page(browser, f"{server}/?text={quote(GUITAR)}", 1024, 1100)
    wait_painted(page, plotly=2, graphviz=1)
    chart = page.locator(f"{MAIN} .js-plotly-plot").nth(1)  # the sentence similarity
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    chart.hover()
    with page.expect_download(timeout=60_000) as info:
        chart.locator('.modebar-btn[data-title="Download plot as a PNG"]').click()
    path = tmp_path / "similarity.png"
    info.value.save_as(path)
    w, h = png_size(path)
    assert (w, h) == (round(3 * box["width"]), round(3 * box["height"])), (w, h, box)
    context.close()


@pytest.mark.parametrize("width", [1024, 1920])
def test_screenshots_of_a_paragraph_and_three_sentences(server, browser, width):
    for name, text, charts in (("paragraph", PARAGRAPH, 1), ("guitar", GUITAR, 2)):
        context, page = open_page(browser, f"{server}/?text={quote(text)}", width, 1100)
        wait_painted(page, plotly=charts, graphviz=1)
        ARTIFACTS.mkdir(exist_ok=True)
        full_screenshot(page, ARTIFACTS / f"encode_{name}_{width}.png")
        context.close()
