"""Layer by layer in real Chromium (issue 17, point 28): token labels that do not overlap, a
cosine matrix with every token named and readable numbers, a 3-D scene that fills its box;
screenshots at 1024 and 1920 px."""

from __future__ import annotations

import io
from urllib.parse import quote

import numpy as np
import pytest

from tests.browser import ARTIFACTS, full_screenshot, open_page, require_chromium, wait_painted

pytestmark = pytest.mark.browser
BANK = "We sat by the river bank.\nFish hid under the river bank.\nOur account is at the bank."
LONG = (
    "The river bank was muddy after the long rain and the fishermen waited.\n"
    "She deposited her savings at the bank on Monday morning before work.\n"
    "Banks along the river flooded when the storm came through the valley."
)
CHART = '[data-testid="stMain"] .js-plotly-plot'

require_chromium()

# the token labels of the 2-D projection (trace 0) as boxes on screen
LABEL_BOXES = """(chart) => [...chart.querySelectorAll('.scatterlayer .trace')[0]
    .querySelectorAll('.textpoint text')].filter((t) => t.textContent.trim())
    .map((t) => { const r = t.getBoundingClientRect();
        return [t.textContent, r.left, r.top, r.right, r.bottom]; })"""


def overlaps(boxes: list) -> list[tuple[str, str]]:
    """Pairs of labels whose glyph boxes overlap (1 px of slack; a line box is taller than its
    glyphs, so two labels one line apart touch)."""
    out = []
    for a, (ta, l1, t1, r1, b1) in enumerate(boxes):
        for tb, l2, t2, r2, b2 in boxes[a + 1 :]:
            dx = min(r1, r2) - max(l1, l2)
            dy = min(b1, b2) - max(t1, t2)
            if dx > 1 and dy > 3:
                out.append((ta, tb))
    return out


def open_projections(browser, server, query: str, width: int, charts: int = 3):
    context, page = open_page(browser, f"{server}/projections?{query}", width, 1100, 180_000)
    wait_painted(page, plotly=charts, timeout=180_000)
    page.wait_for_timeout(800)
    return context, page


@pytest.mark.parametrize("width", [1024, 1920])
@pytest.mark.parametrize("layer", [0, 6])
def test_token_labels_do_not_overlap(server, browser, width, layer):
    context, page = open_projections(browser, server, f"text={quote(BANK)}&layer={layer}", width)
    boxes = page.locator(CHART).first.evaluate(LABEL_BOXES)
    texts = [b[0] for b in boxes]
    assert len(texts) >= 8, texts
    if layer == 0:  # the three sentences' [CLS] share one spot: one label says so
        assert "[CLS] ×3" in texts and "[CLS]" not in texts
    assert overlaps(boxes) == []
    context.close()


def test_cosine_matrix_names_every_token_and_writes_readable_numbers(server, browser):
    context, page = open_projections(browser, server, f"text={quote(LONG)}", 1024)
    cosine = page.locator(CHART).nth(1)
    rows = cosine.evaluate(
        "(c) => [...c.querySelectorAll('.ytick text')].map((t) => t.textContent)"
    )
    assert len(rows) == 46 and rows[0] == "1·0 [CLS]" and rows[-1] == "3·14 [SEP]"
    sizes = cosine.evaluate(
        "(c) => [...c.querySelectorAll('.xtick text, .ytick text')]"
        ".map((t) => parseFloat(getComputedStyle(t).fontSize))"
    )
    assert min(sizes) >= 9
    context.close()
    # one sentence of 16 tokens at 1024 px: numbers would be ~9 px in 20 px cells, so none
    one = "The river bank was muddy after the long rain and the fishermen waited."
    context, page = open_projections(browser, server, f"text={quote(one)}", 1024)
    cosine = page.locator(CHART).nth(1)
    columns = cosine.evaluate("(c) => c.querySelectorAll('.xtick text').length")
    assert columns == 16
    numbers = cosine.evaluate(
        "(c) => [...c.querySelectorAll('.heatmaplayer text, .textpoint text')]"
        ".map((t) => parseFloat(getComputedStyle(t).fontSize))"
    )
    assert numbers == [] or min(numbers) >= 12
    context.close()
    # seven tokens: the numbers are written, at 12 px
    context, page = open_projections(
        browser, server, f"text={quote('The river bank flooded.')}", 1024
    )
    cosine = page.locator(CHART).nth(1)
    numbers = cosine.evaluate(
        "(c) => [...c.querySelectorAll('text')].filter((t) => /^-?[01]\\.\\d\\d$/"
        ".test(t.textContent)).map((t) => parseFloat(getComputedStyle(t).fontSize))"
    )
    assert len(numbers) == 49 and min(numbers) >= 12
    context.close()


@pytest.mark.parametrize("width", [1024, 1920])
def test_the_3d_tsne_scene_fills_its_box(server, browser, width):
    from PIL import Image

    query = f"text={quote(LONG)}&method=t-SNE&dims=3-D"
    context, page = open_projections(browser, server, query, width)
    page.wait_for_selector(".js-plotly-plot .gl-container canvas", timeout=60_000)
    page.wait_for_timeout(1500)
    scene = page.locator(f"{CHART} .gl-container > div").first
    box = scene.bounding_box()
    image = Image.open(io.BytesIO(scene.screenshot())).convert("L")
    ink = np.asarray(image) < 235  # axes, grid, points, tick labels
    ys, xs = np.nonzero(ink)
    h, w = ink.shape
    drawn = (xs.max() - xs.min()) * (ys.max() - ys.min()) / (w * h)
    assert drawn >= 0.5, f"the scene fills {drawn:.0%} of its {box['width']:.0f} px box"
    assert xs.min() > 2 and xs.max() < w - 3 and ys.max() < h - 3, "the cube is cut off"
    ARTIFACTS.mkdir(exist_ok=True)
    full_screenshot(page, ARTIFACTS / f"projections_tsne3d_{width}.png")
    context.close()


@pytest.mark.parametrize("width", [1024, 1920])
def test_screenshots_per_layer_rings_and_a_long_batch(server, browser, width):
    trace = f"trace={quote('1·6 bank')}&trace={quote('3·6 bank')}"
    for name, query in (
        ("perlayer", f"text={quote(BANK)}&axes=per+layer&{trace}"),
        ("depth0", f"text={quote(BANK)}&layer=0"),
        ("long", f"text={quote(LONG)}"),
    ):
        context, page = open_projections(browser, server, query, width)
        ARTIFACTS.mkdir(exist_ok=True)
        full_screenshot(page, ARTIFACTS / f"projections_{name}_{width}.png")
        context.close()
