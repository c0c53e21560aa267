"""AppTest: the Layer-by-layer page draws every real token (never padding) at every depth, with
the coordinates encoder.analysis.project gives; links, presets, the CSV and odd input."""

from __future__ import annotations

import io
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from threadpoolctl import threadpool_limits

from app.compute.projections import depth_profile
from encoder import Encoder
from encoder.analysis import cosine_matrix, project
from encoder.pretrained import load_minilm
from encoder.tokenizer import default_tokenizer
from tests.test_app import MAIN, array, assert_clean, plotly_specs

PAGE = "views/projections.py"
PADDED = ["Hi!", "The river bank flooded after the storm."]  # 4 and 10 tokens: padding


def open_page(text: str | list[str] | None = None, **params) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=180)
    if text is not None:
        at.query_params["text"] = text if isinstance(text, str) else "\n".join(text)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(PAGE).run()
    assert_clean(at)
    return at


def figures(at: AppTest) -> tuple[dict, dict, dict]:
    """The projection (with frames), the cosine matrix and the depth profile."""
    specs = plotly_specs(at)
    (scatter,) = [s for s in specs if s.get("frames")]
    (cosine,) = [s for s in specs if s["data"][0]["type"] == "heatmap"]
    (profile,) = [s for s in specs if "Anisotropy" in s["layout"]["title"]["text"]]
    return scatter, cosine, profile


def frame_points(scatter: dict) -> list[dict[str, np.ndarray]]:
    """Per depth, each point's coordinates by its id ("sentence-position", 0-based).

    Every frame moves the one token trace (trace 0), whose customdata names each point.
    """
    who = array(scatter["data"][0]["customdata"])  # (N, 2): sentence (1-based), position
    ids = [f"{s - 1}-{p}" for s, p in who.tolist()]
    out = []
    for frame in scatter["frames"]:
        assert frame["traces"][0] == 0
        trace = frame["data"][0]
        xyz = np.stack([array(trace[a]) for a in "xyz" if a in trace], axis=1)
        out.append(dict(zip(ids, xyz, strict=True)))
    return out


def real_hidden(texts: list[str], model=None, max_len: int = 128):
    """The library's own forward pass: real tokens at every depth, and their ids."""
    if model is None:
        model, tok = load_minilm()
    else:
        tok = default_tokenizer()
    batch = tok.encode_batch(texts, max_len=max_len)
    with torch.inference_mode():
        out = model.eval()(batch.input_ids, batch.attention_mask, output_hidden_states=True)
    real = batch.attention_mask.bool()
    rows, cols = np.nonzero(real.numpy())
    ids = [f"{r}-{c}" for r, c in zip(rows, cols, strict=True)]
    return torch.stack(out.hidden_states)[:, real].numpy(), ids


def assert_draws(scatter: dict, coords: np.ndarray, ids: list[str]) -> None:
    frames = frame_points(scatter)
    assert len(frames) == coords.shape[0]
    for d, points in enumerate(frames):
        assert sorted(points) == sorted(ids) and len(points) == len(ids)  # no padding
        shown = np.stack([points[i] for i in ids])
        np.testing.assert_allclose(shown, coords[d], atol=2e-4)


@pytest.fixture(scope="module")
def padded_page() -> AppTest:
    return open_page(PADDED, layer="3")


def test_pretrained_padded_batch_draws_real_tokens_with_projects_coordinates(padded_page):
    scatter, cosine, profile = figures(padded_page)
    h, ids = real_hidden(PADDED)
    assert h.shape[:2] == (7, 14) and "0-4" not in ids  # sentence 1 has 4 tokens, then padding
    coords, ratios = project(h, "pca", 2, shared=True)
    assert_draws(scatter, coords, ids)
    frame3 = scatter["frames"][3]["layout"]["title"]["text"]
    assert f"PC1 {100 * ratios[3, 0]:.1f}% · PC2 {100 * ratios[3, 1]:.1f}%" in frame3
    assert scatter["layout"]["title"]["text"].startswith("depth 3: after layer 3")
    np.testing.assert_allclose(array(cosine["data"][0]["z"]), cosine_matrix(h[3]), atol=1e-5)
    assert cosine["data"][0]["y"][4] == "2·0 [CLS]"
    mean_cos, mean_norm = depth_profile(h)
    np.testing.assert_allclose(array(profile["data"][0]["y"]), mean_cos, atol=1e-5)
    np.testing.assert_allclose(array(profile["data"][1]["y"]), mean_norm, rtol=1e-5)
    np.testing.assert_allclose(array(profile["data"][2]["y"]), ratios.sum(axis=1), atol=1e-5)


def test_axis_ranges_are_fixed_and_hold_every_frame(padded_page):
    scatter, _, _ = figures(padded_page)
    points = np.concatenate([np.stack(list(f.values())) for f in frame_points(scatter)])
    for axis, column in (("xaxis", 0), ("yaxis", 1)):
        low, high = scatter["layout"][axis]["range"]
        assert scatter["layout"][axis]["autorange"] is False
        assert low < points[:, column].min() and points[:, column].max() < high
    play = scatter["layout"]["updatemenus"][0]["buttons"][0]
    assert play["method"] == "animate" and play["args"][0] is None  # every frame, in order


def test_csv_download_holds_the_projected_coordinates(monkeypatch, padded_page):
    saved = {}  # the CSV is made only when asked for: the button holds a deferred callable
    original = MediaFileManager.add_deferred

    def spy(self, data, mimetype, coordinates, file_name=None, **kwargs):
        if mimetype == "text/csv":
            saved[file_name] = data
        return original(self, data, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    at = padded_page.run()
    (name,) = saved
    assert name == "projections_pca_2d.csv"
    data = saved[name]()
    table = pd.read_csv(io.StringIO(data.decode() if isinstance(data, bytes) else data))
    assert len(table) == 7 * 14 and set(table["method"]) == {"PCA"}
    frames = frame_points(figures(at)[0])
    for row in table.itertuples():
        point = frames[row.depth][f"{row.sentence - 1}-{row.position}"]
        np.testing.assert_allclose([row.x, row.y], point, atol=1e-5)
    assert table.query("sentence == 2 and position == 2")["token"].iloc[0] == "river"


def test_from_scratch_model_and_per_layer_3d_view():
    at = open_page(PADDED, model="From scratch", n_layers="3", dims="3-D", axes="per layer")
    scatter, _, _ = figures(at)
    choice = at.session_state["choice"]
    model = Encoder(choice.config, seed=choice.seed)
    h, ids = real_hidden(PADDED, model)
    coords, _ = project(h, "pca", 3, shared=False)
    assert_draws(scatter, coords, ids)
    assert scatter["data"][0]["type"] == "scatter3d"
    assert scatter["layout"]["scene"]["xaxis"]["title"]["text"] == "PC1"
    assert "a PCA fit per depth" in scatter["layout"]["title"]["text"]
    assert at.main.caption[0].value.startswith("From scratch")


def test_snippet_reproduces_the_page_in_train_mode():
    at = open_page(PADDED, model="From scratch", train="true", dropout="0.5", layer="1")
    namespace: dict = {}
    code = next(c.value for c in at.code if "project(" in c.value)
    assert "project(hidden, method='pca', k=2, shared=True" in code
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), namespace)
    _, ids = real_hidden(PADDED)
    assert_draws(figures(at)[0], namespace["coords"], ids)


def test_a_link_reproduces_the_view():
    at = open_page(PADDED)
    at.segmented_control(key="color").set_value("word").run()
    at.slider(key="layer").set_value(2).run()
    at.segmented_control(key="axes").set_value("per layer").run()
    at.multiselect(key="trace").set_value(["2·2 river", "2·3 bank"]).run()
    at.toggle(key="labels").set_value(False).run()
    link = next(c.value for c in at.code if c.value.startswith("?"))
    params = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(link[1:]).items()}
    assert params["trace"] == ["2·2 river", "2·3 bank"] and params["layer"] == "2"
    fresh = open_page(**params)
    assert fresh.multiselect(key="trace").value == ["2·2 river", "2·3 bank"]
    assert fresh.segmented_control(key="axes").value == "per layer"
    assert figures(fresh)[0] == figures(at)[0]  # the same figure, number for number
    scatter = figures(fresh)[0]
    # per-layer axes change from depth to depth: no paths, the tokens ringed at each depth
    assert not [t for t in scatter["data"] if t["name"].startswith("path of")]
    rings = [t for t in scatter["data"] if t["name"].endswith("(at this depth)")]
    assert [p["name"] for p in rings] == ["2·2 river (at this depth)", "2·3 bank (at this depth)"]
    assert scatter["data"][0]["mode"] == "markers"  # labels off


def test_bank_preset_sets_the_view_and_its_point_holds():
    at = open_page()
    at.button(key="preset_“bank”: river or money").click().run()
    assert_clean(at)
    assert at.text_area(key="text").value.startswith("We sat by the river bank.")
    assert at.multiselect(key="trace").value == ["1·6 bank", "2·6 bank", "3·6 bank", "4·6 bank"]
    assert at.slider(key="layer").value == 6
    assert any(i.value.startswith("**What to look for.**") for i in at.info)
    _, cosine, _ = figures(at)
    labels, sim = cosine["data"][0]["y"], array(cosine["data"][0]["z"])
    bank = [labels.index(f"{s}·6 bank") for s in (1, 2, 3, 4)]
    b = sim[np.ix_(bank, bank)]
    assert b[0, 1] > b[0, 2] + 0.1 and b[2, 3] > b[1, 3] + 0.1  # sense, not just the word
    at.slider(key="layer").set_value(0).run()
    b0 = array(figures(at)[1]["data"][0]["z"])[np.ix_(bank, bank)]
    np.testing.assert_allclose(b0, 1, atol=1e-5)  # depth 0: one point
    at.radio(key="model").set_value("From scratch").run()  # random weights: no sense
    at.slider(key="layer").set_value(2).run()
    assert any("With random weights" in i.value for i in at.info)
    b = array(figures(at)[1]["data"][0]["z"])[np.ix_(bank, bank)]
    assert abs((b[0, 1] + b[2, 3]) / 2 - b[:2, 2:].mean()) < 0.05


def test_paraphrase_preset_point_holds_and_scratch_says_the_contrast():
    at = open_page()
    at.button(key="preset_A sentence and its paraphrase").click().run()
    h, _ = real_hidden(at.text_area(key="text").value.split("\n"))
    rows = np.repeat([0, 1, 2], [9, 8, 9])
    sim = cosine_matrix(h[-1])
    assert h.shape[1] == 26
    pair, outsider = sim[np.ix_(rows == 0, rows == 1)].mean(), sim[np.ix_(rows == 0, rows == 2)]
    assert pair > 0.45 and abs(outsider.mean()) < 0.1
    at.radio(key="model").set_value("From scratch").run()
    assert_clean(at)
    assert any("With random weights" in i.value for i in at.info)


def test_tsne_shows_perplexity_and_seed_and_draws_projects_coordinates():
    text = ["The river bank flooded.", "We put money in the bank."]
    at = open_page(text, method="t-SNE", perp="12", tseed="3", layer="1")
    caption = next(c.value for c in at.caption if c.value.startswith("t-SNE runs"))
    assert "**perplexity 12**" in caption and "**seed 3**" in caption
    h, ids = real_hidden(text)
    with threadpool_limits(limits=1):
        coords, ratios = project(h, "tsne", 2, shared=True, seed=3, perplexity=12.0)
    assert ratios is None
    assert_draws(figures(at)[0], coords, ids)
    at.segmented_control(key="axes").set_value("per layer").run()  # 16 points per fit
    assert_clean(at)
    assert any("Showing **PCA** instead" in w.value for w in at.warning)
    assert figures(at)[0]["layout"]["xaxis"]["title"]["text"].startswith("PC1")


@pytest.mark.parametrize(
    "text,params,said",
    [
        ("a", dict(axes="per layer", dims="3-D"), "span at most 2 direction"),
        ("Same words here.\nSame words here.", {}, "Sentences 1 and 2 are the same text"),
        ("One sentence of a few words only.", dict(method="t-SNE"), "With one sentence, t-SNE"),
        (
            "word " * 600,
            dict(model="From scratch", n_layers="12", d_model="32", max_len="512"),
            "kept the first 315 tokens of each sentence, 315 of 512 tokens (197 dropped)",
        ),
        (
            "\n".join(f"sentence {i} " + "many words " * 80 for i in range(8)),
            {},
            "kept the first 73 tokens of each sentence, 584 of 1,024 tokens",
        ),
        ("Short.\nLonger one here.", dict(max_len="8", layer="99"), None),
    ],
    ids=["one word", "identical", "one sentence t-SNE", "one long", "8 x 128", "max_len 8"],
)
def test_odd_input_is_said_on_the_page(text, params, said):
    at = open_page(text, **params)
    notes = " ".join(m.value for m in [*at.info, *at.warning, *at.caption])
    if said:
        assert said in notes
    scatter, _, _ = figures(at)
    n = len(array(scatter["frames"][0]["data"][0]["x"]))
    assert n * len(scatter["frames"]) <= 4096
    assert at.slider(key="layer").value == len(scatter["frames"]) - 1 or "layer" not in params


def test_a_link_with_traced_tokens_raises_no_warning():
    at = open_page(PADDED, trace=["2·2 river", "2·3 bank"])
    assert at.multiselect(key="trace").value == ["2·2 river", "2·3 bank"]
    assert not [w.value for w in at.main.warning if w.value.startswith("This link")]


def test_the_depth_slider_follows_the_last_layer_as_layers_are_added():
    """At the last depth, more layers move the slider to the new last depth; a depth the user
    chose in the middle stays where it is."""
    at = open_page(PADDED, model="From scratch", n_layers="2")
    depth = at.slider(key="layer")
    assert (depth.value, depth.max) == (2, 2)
    at.sidebar.slider(key="n_layers").set_value(4).run()
    assert (at.slider(key="layer").value, at.slider(key="layer").max) == (4, 4)
    at.slider(key="layer").set_value(1).run()
    at.sidebar.slider(key="n_layers").set_value(5).run()
    assert (at.slider(key="layer").value, at.slider(key="layer").max) == (1, 5)
    at.sidebar.slider(key="n_layers").set_value(1).run()  # fewer layers than the chosen depth
    assert_clean(at)
    assert at.slider(key="layer").value in (0, 1)
