"""Issue 22: two models side by side on the Attention page ("Two models") and on Layer by layer,
their linear CKA at every pair of depths equal to what BertModel's hidden states give, the
snippet reproducing it, tokenizers that disagree said in words, and the folder models' cache
holding no more than its byte budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app import compute, state
from app.charts.models import cka_panel
from app.compute.models import cka_matrix, first_difference
from encoder.analysis import linear_cka
from encoder.pretrained import load_minilm
from encoder.tokenizer import default_tokenizer
from tests.bert_folders import app_models_folder, save_bert
from tests.test_app import MAIN, assert_clean

transformers = pytest.importorskip("transformers")

TINY, CASED, THIRD = "tiny", "tiny-cased", "third"
TEXT = "The river bank was muddy.\nShe paid the bank."


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    small = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=32)
    models = {
        TINY: save_bert(root / TINY, small),
        CASED: save_bert(root / CASED, {**small, "num_hidden_layers": 1}, cased=True),
        THIRD: save_bert(root / THIRD, {**small, "num_hidden_layers": 3}, seed=2),
    }
    with app_models_folder(root):
        yield root, models


def page(path: str, **params: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=180)
    at.query_params.update(params)
    at.switch_page(path).run()
    assert_clean(at)
    return at


def cka_z(at: AppTest) -> np.ndarray:
    """The CKA heatmap the page drew (a matrix panel of the attention canvas, key "cka")."""
    (el,) = [e for e in at.get("bidi_component") if e.key == "cka"]
    (panel,) = json.loads(el.proto.json)["panels"]
    assert panel["kind"] == "matrix" and panel["values"] and "Linear CKA" in panel["title"]
    return np.array(panel["z"], dtype=float)  # null (no variance) -> NaN


def reference_cka(bert, texts: list[str]) -> np.ndarray:
    """MiniLM (ours; equal to BertModel, tests/test_pretrained.py) against a folder model run
    by transformers' BertModel: CKA over the real tokens at every pair of depths."""
    model, tok = load_minilm()
    batch = tok.encode_batch(texts, max_len=128)
    keep = batch.attention_mask.bool()
    with torch.inference_mode():
        ours = model(batch.input_ids, batch.attention_mask, output_hidden_states=True)
        theirs = bert(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            output_hidden_states=True,
        )
    a = [h[keep].numpy() for h in ours.hidden_states]
    b = [h[keep].numpy() for h in theirs.hidden_states]
    return np.array([[linear_cka(x, y) for y in b] for x in a])


def test_two_models_on_attention_equal_bertmodel_and_the_snippet(folder):
    _, models = folder
    at = page("views/attention.py", view="Two models", model2=TINY, text=TEXT)
    z = cka_z(at)
    want = reference_cka(models[TINY], TEXT.splitlines())
    assert z.shape == (7, 3)  # MiniLM's 6 layers + embeddings against tiny's 2 + 1
    np.testing.assert_allclose(z, want, atol=1e-4)  # float32 passes, the panel keeps 6 decimals
    (canvas,) = [e for e in at.get("bidi_component") if e.key == "twomaps"]
    first, second = json.loads(canvas.proto.json)["panels"]
    assert len(first["x"]) == 6 * 12 and len(second["x"]) == 2 * 4
    assert first["pick"] and second["pick"] is None  # only the sidebar's model opens a head
    assert first["title"].startswith(state.MINILM) and second["title"].startswith(TINY)
    code = at.code[0].value
    assert f"load_bert(model_path({TINY!r}))" in code
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), namespace)
    np.testing.assert_allclose(namespace["cka"], want, atol=1e-6)


def test_tokenizers_that_disagree_get_no_cka_and_say_where(folder):
    at = page("views/attention.py", view="Two models", model2=CASED, text=TEXT)
    words = " ".join(i.value for i in at.info).replace("\\", "")
    assert "split these sentences differently (sentence 1, token 1: “the river bank”" in words
    assert not [e for e in at.get("bidi_component") if e.key == "cka"]
    assert "linear_cka" not in at.code[0].value and "model2" in at.code[0].value


def test_without_a_second_model_the_view_says_how(folder):
    at = page("views/attention.py", view="Two models", text=TEXT)
    assert at.selectbox(key="model2").value == "none"
    assert any("Pick a second model" in i.value for i in at.info)


def test_the_second_model_is_never_the_sidebars_own(folder):
    at = page("views/attention.py", view="Two models", pretrained=TINY, text=TEXT)
    assert at.selectbox(key="model2").options == ["none", state.MINILM, THIRD, CASED]


def test_layer_by_layer_sets_the_projections_side_by_side(folder):
    _, models = folder
    at = page("views/projections.py", model2=THIRD, text=TEXT)
    specs = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    assert {"projection", "projection2", "cosine", "profile"} <= set(specs)
    assert len(specs["projection2"]["frames"]) == 4  # the third model's 3 layers + embeddings
    np.testing.assert_allclose(
        cka_z(at), reference_cka(models[THIRD], TEXT.splitlines()), atol=1e-4
    )
    assert any("third: depth 3 of 3, as far through its layers as depth 6 of 6" in c.value
               for c in at.caption)  # fmt: skip
    link = " ".join(c.value for c in at.sidebar.code)
    assert f"model2={THIRD}" in link


def test_cka_matrix_leaves_a_depth_without_variance_blank():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4))
    y = np.stack([rng.normal(size=(5, 3)), np.ones((5, 3))])
    out = cka_matrix(x, y)
    assert np.isnan(out[:, 1]).all() and np.isfinite(out[:, 0]).all()
    np.testing.assert_allclose(cka_matrix(x, x).diagonal(), 1.0)
    panel = cka_panel(out, "a", "b", 5)  # drawn blank, said in a note, valid JSON
    assert all(row[1] is None for row in panel["z"]) and "not defined" in panel["note"]
    json.dumps(panel, allow_nan=False)
    assert cka_panel(cka_matrix(x, x), "a", "a", 5)["note"] is None


def test_first_difference_names_the_sentence_and_token():
    assert first_difference([["a", "b"]], [["a", "b"]]) == ""
    said = first_difference([["a"], ["[CLS]", "x", "y"]], [["a"], ["[CLS]", "X"]])
    assert said == "sentence 2, token 1: “x y” against “X”"
    assert "“the end”" in first_difference([["a", "b"]], [["a"]])


def test_the_folder_models_cache_stays_within_its_byte_budget(folder, monkeypatch):
    """Three models through a budget that holds two: the oldest goes, the total stays under."""
    budget = compute.folder_model
    budget.clear()
    entries = {m.name: m for m in compute.folder_models()[0]}
    sizes = {n: 4 * entries[n].params for n in (TINY, CASED, THIRD)}
    monkeypatch.setattr(budget, "max_bytes", sizes[THIRD] + max(sizes[TINY], sizes[CASED]))
    for name in (TINY, CASED, THIRD):
        budget(name, entries[name].stamp)
    assert len(budget) == 2 and budget.total <= budget.max_bytes
    budget.clear()


def test_tokenizer_of_a_folder_model_is_its_own(folder):
    choice = state.ModelChoice(state.PRETRAINED, None, 0, False, 128, folder=CASED, stamp="x")
    tok = compute.tokenizer_for(choice)
    minilm = default_tokenizer()
    assert tok.encode("The").tokens != minilm.encode("The").tokens
