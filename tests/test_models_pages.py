"""Issue 22 in the app: the server's models folder under the sidebar's Pretrained choice, every
page on a folder model, its link and snippet, and the refusals in words beside each name."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app import compute, state
from tests.bert_folders import app_models_folder, save_bert
from tests.test_app import MAIN, array, assert_clean, plotly_specs

transformers = pytest.importorskip("transformers")

TINY = "tiny-gelu"  # 2 layers, 4 heads, d_model 32, with a pooler
RELU = "tiny-relu"  # 3 layers, 2 heads, d_model 24, ReLU, no pooler, 64 positions
TEXT = "A man is playing a guitar.\nThe bank of the river."
PAGES = {
    "home": "views/encode.py",
    "attention": "views/attention.py",
    "positions": "views/positional.py",
    "layer-by-layer": "views/projections.py",
    "padding": "views/padding.py",
    "inside-a-layer": "views/inside_layer.py",
    "train": "views/train.py",
    "lessons": "views/lessons.py",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A models folder: two good models and three that must be refused, set for the app."""
    root = tmp_path_factory.mktemp("models")
    models = {
        TINY: save_bert(root / TINY, dict(num_hidden_layers=2, num_attention_heads=4,
                                          hidden_size=32)),
        RELU: save_bert(
            root / RELU,
            dict(num_hidden_layers=3, num_attention_heads=2, hidden_size=24, hidden_act="relu",
                 max_position_embeddings=64),
            pooler=False,
            seed=1,
        ),
    }  # fmt: skip
    pickle = root / "old-pickle"
    shutil.copytree(root / TINY, pickle)
    (pickle / "model.safetensors").rename(pickle / "pytorch_model.bin")
    gpt = root / "a-gpt"
    shutil.copytree(root / TINY, gpt)
    config = json.loads((gpt / "config.json").read_text())
    (gpt / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    no_tok = root / "no-tokenizer"
    shutil.copytree(root / TINY, no_tok)
    (no_tok / "tokenizer.json").unlink()
    with app_models_folder(root):
        yield root, models


def page(path: str, **params: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(PAGES[path]).run()
    assert_clean(at)
    return at


def bert_hidden(model, texts: list[str], max_len: int = 128) -> np.ndarray:
    """transformers' BertModel on the same batch: its last hidden state, (B, S, D)."""
    from encoder.tokenizer import default_tokenizer

    batch = default_tokenizer().encode_batch(texts, max_len)
    with torch.inference_mode():
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    return out.last_hidden_state.numpy(), batch.attention_mask.numpy()


def test_the_sidebar_lists_the_folder_with_architecture_lines_and_refusals(folder):
    at = page("home")
    picker = at.selectbox(key="pretrained")
    assert picker.options == [state.MINILM, TINY, RELU]
    assert picker.value == state.MINILM
    picker.set_value(TINY).run()
    assert_clean(at)
    captions = [c.value for c in at.sidebar.caption]
    assert any("2 layers · 4 heads · d_model 32 ·" in c and "GELU" in c for c in captions)
    refusals = "\n".join(m.value for m in at.sidebar.caption).replace("\\", "")
    assert "**old-pickle** holds only pytorch_model.bin, a pickle" in refusals
    assert "**a-gpt** is a gpt2 model" in refusals
    assert "**no-tokenizer** has no tokenizer.json" in refusals
    assert at.sidebar.expander[0].label == "3 model folders not shown"


def test_encode_on_a_folder_model_equals_bertmodel_and_names_it(folder):
    _, models = folder
    one = TEXT.splitlines()[:1]
    at = page("home", pretrained=TINY, text=one[0])
    assert at.caption[0].value.startswith(f"Pretrained: {TINY} · d_model 32 · 4 heads · 2 layers")
    (fig,) = plotly_specs(at)
    want, mask = bert_hidden(models[TINY], one)
    z = array(fig["data"][0]["z"])
    n = int(mask[0].sum())
    np.testing.assert_allclose(z, want[0, :n], atol=1e-5)
    code = at.code[0].value
    assert f"load_bert(model_path({TINY!r}))" in code
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), namespace)
    np.testing.assert_allclose(namespace["out"].last_hidden_state[0, :n], z, atol=1e-6)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_runs_on_a_folder_model(folder, path):
    at = page(path, pretrained=RELU, text=TEXT)
    if path not in ("lessons", "train"):  # lessons: MiniLM; Train: a model of its own
        assert any(RELU in c.value for c in at.caption), [c.value for c in at.caption][:3]
    assert not at.error, [e.value for e in at.error]


def test_a_model_of_64_positions_offers_max_len_up_to_64(folder):
    at = page("home", pretrained=RELU, text=TEXT)
    slider = at.select_slider(key="max_len")
    assert max(slider.options, key=int) == "64" and slider.value == 64


def test_a_link_to_a_model_the_folder_lacks_says_so(folder):
    at = page("home", pretrained="not-here", text=TEXT)
    assert at.selectbox(key="pretrained").value == state.MINILM
    words = [w.value.replace("\\", "") for w in at.warning]
    assert any("not-here" in w and "not a valid choice" in w for w in words), words


def test_the_link_names_the_folder_model(folder):
    at = page("home", pretrained=TINY)
    assert at.query_params.get("pretrained") in ([TINY], TINY)
    assert state.share_query.__name__  # the Share popover rebuilds the link from the session
    shared = [c.value for c in at.sidebar.code]
    assert any(f"pretrained={TINY}" in c for c in shared), shared


def test_a_fine_tuned_classifier_shows_its_encoder(folder, tmp_path):
    """A BertForSequenceClassification folder (bert.* and classifier.* tensors): listed, and
    the Encode page's vectors are its .bert's (the task head is left out, not refused)."""
    root, _ = folder
    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=3,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config).eval()
    model.save_pretrained(root / "classifier", safe_serialization=True)
    shutil.copy(root / TINY / "tokenizer.json", root / "classifier" / "tokenizer.json")
    compute.folder_models.clear()
    try:
        at = page("home", pretrained="classifier", text="A man is playing a guitar.")
        (fig,) = plotly_specs(at)
        want, _ = bert_hidden(model.bert, ["A man is playing a guitar."])

        np.testing.assert_allclose(array(fig["data"][0]["z"]), want[0], atol=1e-5)
    finally:
        shutil.rmtree(root / "classifier")
        compute.folder_models.clear()


@pytest.mark.parametrize("name", [state.MINILM, "none"])
def test_a_folder_named_like_the_apps_own_choices_is_refused(folder, name):
    root, _ = folder
    shutil.copytree(root / TINY, root / name)
    compute.folder_models.clear()
    try:
        at = page("home")
        assert at.selectbox(key="pretrained").options == [state.MINILM, TINY, RELU]
        refusals = " ".join(c.value for c in at.sidebar.caption).replace("\\", "")
        assert f"**{name}** has a name the app keeps for itself: rename the folder" in refusals
    finally:
        shutil.rmtree(root / name)
        compute.folder_models.clear()


def test_weights_that_only_loading_refuses_fall_back_to_minilm_in_words(folder):
    """NaN in a weight passes the header's checks; loading refuses it: the sidebar says so and
    every page shows MiniLM instead of failing."""
    from safetensors.torch import load_file, save_file

    root, _ = folder
    bad = shutil.copytree(root / TINY, root / "nan-weights")
    tensors = load_file(bad / "model.safetensors")
    name = next(k for k in tensors if k.endswith("output.dense.weight"))
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, bad / "model.safetensors")
    compute.folder_models.clear()
    try:
        for path in ("home", "layer-by-layer"):
            at = page(path, pretrained="nan-weights", text=TEXT)
            errors = [e.value.replace("\\", "") for e in at.sidebar.error]
            assert any("nan-weights could not be loaded" in e for e in errors), errors
            assert at.caption[0].value.startswith(f"Pretrained: {state.MINILM}")
    finally:
        shutil.rmtree(bad)
        compute.folder_models.clear()
