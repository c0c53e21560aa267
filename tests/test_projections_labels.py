"""Layer by layer (issue 17, points 20 and 28): no paths across per-layer axes, labels that do
not pile up, a cosine matrix that names every token and writes only readable numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.charts.labels import CHAR_PX, CUBE_PX, LINE_PX, PLOT_PX, declutter, screen
from app.charts.projections import EYE, cosine_figure, cosine_layout
from tests.test_app import array
from tests.test_projections_page import figures, open_page

BANK = [
    "We sat by the river bank.",
    "Fish hid under the river bank.",
    "Our account is at the bank.",
]
TRACE = ["1·6 bank", "3·6 bank"]
LONG = [
    "The river bank was muddy after the long rain and the fishermen waited.",
    "She deposited her savings at the bank on Monday morning before work.",
    "Banks along the river flooded when the storm came through the valley.",
]  # 16 + 15 + 15 real tokens (MiniLM's WordPiece)


def boxes_overlap(at: np.ndarray, texts: list[str]) -> list[tuple[str, str]]:
    """Pairs of shown labels whose text boxes (CHAR_PX a character, a line tall) overlap."""
    shown = [i for i, t in enumerate(texts) if t]
    return [
        (texts[i], texts[j])
        for a, i in enumerate(shown)
        for j in shown[a + 1 :]
        if abs(at[i, 0] - at[j, 0]) < CHAR_PX * (len(texts[i]) + len(texts[j])) / 2
        and abs(at[i, 1] - at[j, 1]) < LINE_PX
    ]


# ---- declutter, pure numpy -------------------------------------------------------------------


def test_equal_tokens_on_one_spot_get_one_label_with_their_count():
    points = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]])
    texts = ["[CLS]", "[CLS]", "[CLS]", "bank", "river"]
    shown = declutter(points, texts, [[-1.0, 6.0], [-1.0, 6.0]])
    assert shown == ["[CLS] ×3", "", "", "bank", ""]  # river sits under bank: hover only


def test_traced_tokens_keep_their_label_first():
    points = np.zeros((3, 2))
    shown = declutter(points, ["a", "b", "c"], [[-1.0, 1.0], [-1.0, 1.0]], first=[2])
    assert shown == ["", "", "c"]


@pytest.mark.parametrize("k", [2, 3])
def test_no_two_shown_labels_overlap_on_screen(k):
    rng = np.random.default_rng(k)
    points = rng.normal(size=(150, k))
    texts = [f"tok{i % 37}" for i in range(150)]
    ranges = [[-4.0, 4.0]] * k
    shown = declutter(points, texts, ranges, eye=EYE)
    unit = (points + 4) / 8
    at = unit * np.array(PLOT_PX) if k == 2 else screen(unit - 0.5, EYE) * CUBE_PX
    assert boxes_overlap(at, shown) == []
    assert 10 < sum(bool(t) for t in shown) < 150  # some shown, the pile-ups not


# ---- the page --------------------------------------------------------------------------------


def test_per_layer_axes_ring_traced_tokens_at_each_depth_instead_of_a_path():
    at = open_page(BANK, axes="per layer", trace=TRACE)
    scatter = figures(at)[0]
    names = [t.get("name", "") for t in scatter["data"]]
    assert not [n for n in names if n.startswith("path of")]
    rings = [i for i, n in enumerate(names) if n.endswith("(at this depth)")]
    assert [names[i] for i in rings] == [f"{t} (at this depth)" for t in TRACE]
    assert "ringed at each depth instead of joined by a path" in at.main.caption[1].value
    who = [tuple(c) for c in array(scatter["data"][0]["customdata"]).tolist()]
    index = [who.index(tuple(int(v) for v in t.split()[0].split("·"))) for t in TRACE]
    for frame in scatter["frames"]:  # every frame moves each ring with its token
        assert frame["traces"] == [0, *rings]
        whole, *moved = frame["data"]
        x, y = array(whole["x"]), array(whole["y"])
        for ring, i in zip(moved, index, strict=True):
            assert (array(ring["x"])[0], array(ring["y"])[0]) == pytest.approx((x[i], y[i]))
    shared = figures(open_page(BANK, trace=TRACE))[0]  # shared axes: the paths are kept
    assert [t["name"] for t in shared["data"] if t["name"].startswith("path of")] == [
        f"path of {t}" for t in TRACE
    ]


def test_the_three_cls_at_depth_0_are_one_label_and_every_token_is_in_the_hover():
    at = open_page(BANK, layer="0")
    scatter = figures(at)[0]
    tokens = scatter["data"][0]
    assert tokens["text"].count("[CLS] ×3") == 1 and "[CLS]" not in tokens["text"]
    assert tokens["hovertext"].count("[CLS]") == 3
    assert "%{hovertext}" in tokens["hovertemplate"]
    frame0 = scatter["frames"][0]["data"][0]
    assert frame0["text"] == tokens["text"]  # each frame carries its own depth's labels
    assert any(f["data"][0]["text"] != frame0["text"] for f in scatter["frames"][1:])


def test_cosine_matrix_of_46_tokens_names_every_row_and_column_and_hides_its_numbers():
    at = open_page(LONG)
    cosine = figures(at)[1]
    labels = cosine["data"][0]["y"]
    assert len(labels) == 46
    assert cosine["layout"]["yaxis"]["tickvals"] == labels
    fit = cosine_layout(labels, 520)
    assert cosine["layout"]["xaxis"]["tickvals"] == labels[:: fit["every"]]
    assert cosine["layout"]["xaxis"]["tickfont"]["size"] >= 9
    assert "texttemplate" not in cosine["data"][0]  # 8 px cells: the hover has the numbers
    said = " ".join(c.value for c in at.main.caption)
    assert "hover a cell" in said.lower()


def test_cosine_matrix_of_36_tokens_labels_every_column():
    labels = [f"{s}·{p} token" for s in (1, 2, 3) for p in range(12)]
    fig = cosine_figure(np.eye(36), labels, "t", 520)
    assert list(fig.layout.xaxis.tickvals) == labels == list(fig.layout.yaxis.tickvals)
    assert fig.layout.xaxis.tickfont.size >= 9 and fig.layout.yaxis.tickfont.size >= 11


def test_cosine_numbers_are_written_at_12_px_only_when_the_cells_hold_them():
    few = cosine_figure(np.eye(7), [f"1·{p} tok" for p in range(7)], "t", 520)
    assert few.data[0].texttemplate and few.data[0].textfont.size >= 12
    cells = cosine_layout([f"1·{p} tok" for p in range(7)], 520)["pitch"]
    assert cells >= len("-0.00") * 0.6 * 12  # five characters of a 12 px font fit a cell
    many = cosine_figure(np.eye(14), [f"1·{p} tok" for p in range(14)], "t", 520)
    assert many.data[0].texttemplate is None


# ---- the projection figure, built without plotly's validation ---------------------------------


@pytest.mark.parametrize(
    "k, shared, colour_by, traced, labels",
    [
        (2, True, "sentence", [0, 3], True),
        (3, True, "position", [1], True),
        (2, False, "word", [2, 4], False),
        (3, False, "sentence", [], True),
    ],
)
def test_unchecked_projection_figure_sends_what_a_validated_one_would(
    monkeypatch, k, shared, colour_by, traced, labels
):
    import plotly.io as pio
    from plotly.tools import return_figure_from_figure_or_data

    from app.charts import projections as charts

    rng = np.random.default_rng(k)
    n = 9
    kw = dict(
        sentence=np.array([0] * 5 + [1] * 4),
        position=np.array([0, 1, 2, 3, 4, 0, 1, 2, 3]),
        tokens=["[CLS]", "the", "bank", "<b>", "[SEP]", "[CLS]", "a", "bank", "[SEP]"],
        words=["[CLS]", "the", "bank", "<b>", "[SEP]", "[CLS]", "a", "bank", "[SEP]"],
        special=[True, False, False, False, True, True, False, False, True],
        colour_by=colour_by,
        traced=traced,
        labels=labels,
        method="PCA",
        shared=shared,
        sentence_names=["1 · the bank", "2 · a bank"],
    )
    coords, ratios = rng.normal(size=(4, n, k)), rng.uniform(size=(4, k))

    def sent() -> dict:  # what st.plotly_chart puts in its message
        fig = charts.projection_figure(coords, ratios, 2, **kw)
        figure = return_figure_from_figure_or_data(fig, validate_figure=True)
        return json.loads(pio.to_json(figure, validate=False))

    fast = sent()
    monkeypatch.setattr(charts, "UNCHECKED", {})
    assert fast == sent()
