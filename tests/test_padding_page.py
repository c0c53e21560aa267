"""AppTest: the Padding & masks page. Every number it shows is recomputed here from the library
(encoder.experiments.padding_drift, the model's forward pass, mean_pool, cosine_matrix,
scaled_dot_product_attention, additive_mask), for both models, one sentence and a batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app.ui import picker_labels
from encoder import Encoder
from encoder.analysis import cosine_matrix, mean_pool
from encoder.attention import scaled_dot_product_attention
from encoder.experiments import padding_drift
from encoder.masks import additive_mask, padding_mask
from encoder.pretrained import load_minilm
from encoder.tokenizer import default_tokenizer
from tests.test_app import MAIN, array, assert_clean, plotly_specs

BATCH = "Hi!\nTransformers process every token of a sentence in parallel."
SCRATCH = dict(model="From scratch", d_model="32", n_heads="4", n_layers="2", d_ff="64")


def page(**params: str) -> AppTest:
    """The padding page opened from a link carrying these parameters."""
    at = AppTest.from_file(MAIN, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("views/padding.py").run()
    assert_clean(at)
    return at


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    return load_minilm().model.eval()


def model_of(at: AppTest, minilm: Encoder, *, train: bool = False) -> Encoder:
    choice = at.session_state["choice"]
    if choice.config is None:
        return minilm
    return Encoder(choice.config, seed=choice.seed).train(train)


def figure(at: AppTest, title: str) -> dict:
    found = [
        s for s in plotly_specs(at) if title in (s["layout"].get("title") or {}).get("text", "")
    ]
    assert len(found) == 1, [s["layout"].get("title") for s in plotly_specs(at)]
    return found[0]


def metric(at: AppTest, label: str) -> float:
    (m,) = [m for m in at.metric if m.label.startswith(label)]
    return float(m.value.rstrip(" %"))


def sentence_ids(at: AppTest, text: str) -> list[int]:
    return default_tokenizer().encode(text, max_len=at.session_state["choice"].max_len).ids


def reference(model: Encoder, ids: list[int], width: int, *, seed: int | None = None) -> dict:
    """The sentence padded to width, run with its mask and without, straight from the library."""
    n = len(ids)
    input_ids = torch.full((1, width), model.cfg.pad_id)
    input_ids[0, :n] = torch.tensor(ids)
    mask = padding_mask([n], width).long()
    runs = {}
    for name, m in (("masked", mask), ("unmasked", None)):
        if seed is not None:
            torch.manual_seed(seed)
        with torch.inference_mode():
            runs[name] = model(input_ids, m, output_attentions=True, output_hidden_states=True)
    return dict(attention_mask=mask, **runs)


def qkv(model: Encoder, x: torch.Tensor, layer: int) -> tuple[torch.Tensor, ...]:
    block = model.layers[layer]
    with torch.inference_mode():
        x = block.norm1(x) if block.norm_first else x
        H = block.attn.n_heads
        return tuple(block.attn.qkv(x).view(1, x.shape[1], 3, H, -1).permute(2, 0, 3, 1, 4))


def check_curve(at: AppTest, eval_model: Encoder, sentence: torch.Tensor) -> None:
    """The drift chart (its expander open): padding_drift at every point, mask on and off."""
    drift = figure(at, "drift of the real tokens' outputs")["data"]
    grid = [int(x) for x in drift[0]["x"]]
    assert grid[0] == 1 and grid[-1] == eval_model.cfg.max_len - sentence.shape[1]
    np.testing.assert_array_equal(
        array(drift[0]["customdata"]), padding_drift(eval_model, sentence, grid)
    )
    np.testing.assert_array_equal(
        array(drift[1]["customdata"]), padding_drift(eval_model, sentence, grid, use_mask=False)
    )


def check_page_numbers(at: AppTest, model: Encoder, text: str, width: int, layer: int, head: int):
    """Every number on the page against the library: attention maps, shares, drift, pooling,
    padded outputs, the NaN trap."""
    ids = sentence_ids(at, text)
    n = len(ids)
    ref = reference(model, ids, width)
    w_mask = ref["masked"].attentions[layer][0, head].numpy()
    w_none = ref["unmasked"].attentions[layer][0, head].numpy()
    shown_mask = array(figure(at, f"L{layer} H{head}: with the mask")["data"][0]["z"])
    shown_none = array(figure(at, f"L{layer} H{head}: without the mask")["data"][0]["z"])
    np.testing.assert_allclose(shown_mask, w_mask, atol=1e-6)
    np.testing.assert_allclose(shown_none, w_none, atol=1e-6)
    assert np.all(shown_mask[:, n:] == 0)  # padded keys get exactly no weight
    if width > n:
        assert shown_none[:n, n:].sum() > 0
    share = w_none[:n, n:].sum(axis=-1).mean() if width > n else 0.0
    assert metric(at, "Attention real tokens give to [PAD], with") == 0.0
    assert metric(at, "… without the mask") == pytest.approx(100 * share, abs=0.006)

    # the mask as attention sees it: 0 on real keys, finfo.min on padded ones, every query
    seen = array(figure(at, "the mask attention adds")["data"][0]["customdata"])
    expected = additive_mask(ref["attention_mask"])[0, 0].expand(width, width).numpy()
    if at.toggle(key="causal").value:
        expected = np.where(
            np.tril(np.ones((width, width), bool)), expected, np.finfo(np.float32).min
        )
    np.testing.assert_array_equal(seen, expected)

    # the invariance proof: the slider's N and the drift curve, with and without the mask
    N = at.slider(key="pads").value
    eval_model = model.eval()
    sentence = torch.tensor([ids])
    with_mask = padding_drift(eval_model, sentence, [N])[0]
    without = padding_drift(eval_model, sentence, [N], use_mask=False)[0]
    assert metric(at, f"max |Δ| with the mask, N = {N}") == pytest.approx(with_mask, rel=1e-2)
    assert metric(at, f"max |Δ| without the mask, N = {N}") == pytest.approx(without, rel=1e-2)
    assert with_mask < 1e-4
    if N:
        assert without > 1e-2
    if at.session_state["curve"]:
        check_curve(at, eval_model, sentence)
    else:  # the chart is drawn only when its expander is open
        assert not [s for s in plotly_specs(at) if "drift" in str(s["layout"].get("title"))]

    # query side: the padded rows' outputs, and mean pooling with vs without the mask
    hidden = ref["masked"].last_hidden_state.numpy()
    np.testing.assert_allclose(array(figure(at, "output vectors")["data"][0]["z"]), hidden[0])
    if width > n:
        norms = np.linalg.norm(hidden[0], axis=-1)
        assert metric(at, "Mean length of a [PAD]") == pytest.approx(norms[n:].mean(), abs=6e-4)
        assert metric(at, "… of a real token") == pytest.approx(norms[:n].mean(), abs=6e-4)
        pooled = np.concatenate(
            [
                mean_pool(hidden, ref["attention_mask"].numpy()),
                mean_pool(hidden, np.ones((1, width))),
            ]
        )
        cos = cosine_matrix(pooled)[0, 1]
        assert metric(at, "Cosine: mean pooling") == pytest.approx(cos, abs=6e-5)
        assert cos < 0.9999  # pooling the padding in changes the embedding

    # the NaN trap, on this layer's q, k, v: -inf gives NaN, finfo.min an even row
    q, k, v = qkv(model, ref["masked"].hidden_states[layer], layer)
    out_inf, w_inf = scaled_dot_product_attention(q, k, v, torch.full((1, 1, 1, width), -math.inf))
    none_real = torch.zeros(1, width, dtype=torch.long)
    out_min, w_min = scaled_dot_product_attention(q, k, v, additive_mask(none_real))
    assert w_inf.isnan().all() and not w_min.isnan().any()
    torch.testing.assert_close(w_min, torch.full_like(w_min, 1 / width))
    table = at.table[0].value
    assert table.iloc[0, 1].startswith("nan, nan") and table.iloc[0, 2] == "nan"
    assert table.iloc[1, 1].startswith(f"{1 / width:.4f}".replace(".", "\\."))
    assert table.iloc[1, 2] == "1\\.0000"
    assert list(table.iloc[:, 3]) == [int(out_inf.isnan().sum()), int(out_min.isnan().sum())]
    return ref


def test_one_sentence_pads_itself_and_says_how_to_make_a_batch(minilm):
    at = page()
    text = at.text_area(key="text").value
    (info,) = at.info
    assert "one sentence" in info.value and "type a second line" in info.value
    n = len(sentence_ids(at, text))
    grid = figure(at, "input tokens")["data"][0]
    assert array(grid["z"]).tolist() == [[1] * n]  # the batch itself has no padding
    check_page_numbers(at, minilm, text, n + 6, 0, 0)
    assert "load_minilm" in at.code[0].value


def test_padded_batch_pretrained_shows_the_real_padding(minilm):
    at = page(text=BATCH, sentence="1 · Hi!", layer="2", head="5", curve="true")
    batch = default_tokenizer().encode_batch(BATCH.splitlines(), max_len=128)
    grid = figure(at, "input tokens")["data"][0]
    np.testing.assert_array_equal(array(grid["z"]), batch.attention_mask.numpy())
    assert grid["text"][0][-1] == "[PAD]" and grid["text"][1][-1] == "[SEP]"
    values = figure(at, "attention_mask (batch × seq)")["data"][0]["text"]
    assert values == [[str(int(m)) for m in row] for row in batch.attention_mask.tolist()]
    assert not at.info  # sentence 1 has padding of its own: nothing to explain
    check_page_numbers(at, minilm, "Hi!", batch.input_ids.shape[1], 2, 5)


def test_the_longest_sentence_gets_padding_from_the_page(minilm):
    at = page(text=BATCH, sentence=picker_labels(BATCH.splitlines())[1])
    assert "is the longest in the batch" in at.info[0].value
    n = len(sentence_ids(at, BATCH.splitlines()[1]))
    assert len(figure(at, "L0 H0: with the mask")["data"][0]["x"]) == n + 6


def test_from_scratch_with_causal_mask(minilm):
    at = page(
        text=BATCH, sentence="1 · Hi!", causal="true", layer="1", head="3", curve="true", **SCRATCH
    )
    model = model_of(at, minilm)
    S = default_tokenizer().encode_batch(BATCH.splitlines(), max_len=128).input_ids.shape[1]
    ref = check_page_numbers(at, model, "Hi!", S, 1, 3)
    # the causal map: the layer's own scores, padding and the future both blocked
    q, k, v = qkv(model, ref["masked"].hidden_states[1], 1)
    keep = (
        torch.tril(torch.ones(S, S, dtype=torch.bool)) & ref["attention_mask"].bool()[:, None, None]
    )
    mask = torch.where(keep, 0.0, torch.finfo(torch.float32).min)
    _, weights = scaled_dot_product_attention(q, k, v, mask)
    shown = array(figure(at, "L1 H3: padding + causal mask")["data"][0]["z"])
    np.testing.assert_allclose(shown, weights[0, 3].numpy(), atol=1e-6)
    assert np.all(np.triu(shown, 1) == 0)
    assert "Causal mask." in " ".join(m.value for m in at.markdown)
    assert "Encoder(config, seed=0).eval()" in at.code[0].value


def test_train_mode(minilm):
    at = page(text=BATCH, sentence="1 · Hi!", train="true", dropout="0.5", pads="20", **SCRATCH)
    choice = at.session_state["choice"]
    assert choice.train and at.caption[0].value.endswith("train mode (dropout on)")
    S = default_tokenizer().encode_batch(BATCH.splitlines(), max_len=128).input_ids.shape[1]
    model = model_of(at, minilm, train=True)
    ref = reference(model, sentence_ids(at, "Hi!"), S, seed=choice.seed)  # the page's dropout
    shown = array(figure(at, "L0 H0: with the mask")["data"][0]["z"])
    np.testing.assert_allclose(shown, ref["masked"].attentions[0][0, 0].numpy(), atol=1e-6)
    assert np.all(shown[:, len(sentence_ids(at, "Hi!")) :] == 0)
    # the proof itself runs in eval mode, and says so
    assert "The proof runs in eval mode" in " ".join(c.value for c in at.caption)
    eval_model = model_of(at, minilm)
    ids = torch.tensor([sentence_ids(at, "Hi!")])
    assert metric(at, "max |Δ| without the mask, N = 20") == pytest.approx(
        padding_drift(eval_model, ids, [20], use_mask=False)[0], rel=1e-2
    )


def test_slider_at_both_ends(minilm):
    at = page(text="Hi!", pads="0")
    assert metric(at, "max |Δ| with the mask, N = 0") == 0.0
    assert metric(at, "max |Δ| without the mask, N = 0") == 0.0
    assert any("N = 0: nothing is appended" in c.value for c in at.caption)
    room = 512 - len(sentence_ids(at, "Hi!"))
    assert at.slider(key="pads").max == room
    at.slider(key="pads").set_value(room).run()
    assert_clean(at)
    ids = torch.tensor([sentence_ids(at, "Hi!")])
    assert metric(at, f"max |Δ| with the mask, N = {room}") < 1e-4
    assert metric(at, f"max |Δ| without the mask, N = {room}") == pytest.approx(
        padding_drift(minilm, ids, [room], use_mask=False)[0], rel=1e-2
    )


def test_link_reproduces_the_view_and_the_snippet_its_numbers(minilm):
    params = dict(
        text=BATCH, sentence="1 · Hi!", layer="1", head="2", pads="33", causal="true", curve="true"
    )
    at = page(**params, **SCRATCH)
    assert at.selectbox(key="layer").value == 1 and at.selectbox(key="head").value == 2
    assert at.slider(key="pads").value == 33 and at.toggle(key="causal").value
    assert len(plotly_specs(at)) == 8
    assert not [w for w in at.warning if w.value.startswith("This link")]
    namespace: dict = {}
    code = at.code[0].value.replace("print(", "(lambda *a: None)(")
    exec(compile(code, "snippet", "exec"), namespace)
    assert metric(at, "max |Δ| without the mask, N = 33") == pytest.approx(
        namespace["without_mask"][0], rel=1e-2
    )
    cos = cosine_matrix(namespace["pooled"])[0, 1]
    assert metric(at, "Cosine: mean pooling") == pytest.approx(cos, abs=6e-5)
    assert namespace["w_inf"].isnan().all() and not namespace["w_min"].isnan().any()
    np.testing.assert_allclose(
        array(figure(at, "output vectors")["data"][0]["z"]),
        namespace["hidden"][0],
        atol=1e-6,
    )


def test_snippet_reproduces_train_mode_outputs(minilm):
    at = page(text=BATCH, sentence="1 · Hi!", train="true", dropout="0.5", seed="3", **SCRATCH)
    namespace: dict = {}
    code = at.code[0].value.replace("print(", "(lambda *a: None)(")
    exec(compile(code, "snippet", "exec"), namespace)
    np.testing.assert_allclose(
        array(figure(at, "output vectors")["data"][0]["z"]), namespace["hidden"][0], atol=1e-6
    )


@pytest.mark.parametrize(
    "params",
    [
        dict(text="a"),  # one word
        dict(text="\n".join(f"sentence number {i} " + "word " * i for i in range(8))),
        dict(text="word " * 300, model="From scratch", max_len="8"),  # fills max_len: no room
        dict(text=BATCH, layer="99", head="-1", pads="99999", causal="maybe"),  # a broken link
    ],
    ids=["one word", "eight sentences", "fills max_len", "broken link"],
)
def test_odd_input_never_crashes(params):
    at = page(**params)
    assert not at.error
    if params.get("max_len") == "8":
        assert "no room for padding" in " ".join(w.value for w in at.warning)
        assert not at.get("slider") or all(s.key != "pads" for s in at.get("slider"))
    if "pads" in params:
        assert at.slider(key="pads").value == 64 and at.selectbox(key="layer").value == 0
        assert "This link could not be followed exactly" in at.warning[0].value


def test_the_drift_curve_is_computed_only_when_its_expander_is_open(minilm):
    """Issue 17 (31): the curve costs two runs per point of up to max_len tokens each; the page
    draws it on request, and says what it costs before it is opened."""
    at = page(text=BATCH, sentence="1 · Hi!")
    assert at.session_state["curve"] is False
    assert not [s for s in plotly_specs(at) if "drift" in str(s["layout"].get("title"))]
    room = 512 - len(sentence_ids(at, "Hi!"))
    (box,) = [e for e in at.expander if e.label.startswith("The drift at every N")]
    grid = pad_grid(room)
    # the sentence alone once, then each point with the mask and without
    assert f"from 1 to {room}" in box.label and f"{2 * len(grid) + 1} runs" in box.label
    at.session_state["curve"] = True  # what opening it does
    at.run()
    assert_clean(at)
    check_curve(at, minilm, torch.tensor([sentence_ids(at, "Hi!")]))


def pad_grid(room: int) -> tuple[int, ...]:
    from app.compute.padding import drift_grid

    return drift_grid(room)


@pytest.mark.parametrize("layer", [0, 1])
def test_the_run_without_the_mask_stops_at_the_layer_shown(minilm, layer):
    """layer_runs keeps one layer's weights and, without to_the_end, runs no further: the same
    numbers as Encoder.forward(..., output_attentions=True)."""
    from app.compute.padding import layer_runs

    ids = torch.tensor([sentence_ids(page(text="Hi!"), "Hi!") + [0] * 5])
    mask = (ids != 0).long()
    ran = []
    hooks = [b.register_forward_hook(lambda *_: ran.append(1)) for b in minilm.layers]
    try:
        with torch.inference_mode():
            full = minilm(ids, mask, output_attentions=True, output_hidden_states=True)
            ran.clear()
            x, weights, last = layer_runs(minilm, ids, None, layer, to_the_end=False)
            assert len(ran) == layer + 1 and last is None
            free = minilm(ids, None, output_attentions=True, output_hidden_states=True)
            torch.testing.assert_close(weights, free.attentions[layer], rtol=0, atol=0)
            x, weights, last = layer_runs(minilm, ids, mask, layer, to_the_end=True)
    finally:
        for h in hooks:
            h.remove()
    torch.testing.assert_close(x, full.hidden_states[layer], rtol=0, atol=0)
    torch.testing.assert_close(weights, full.attentions[layer], rtol=0, atol=0)
    torch.testing.assert_close(last, full.last_hidden_state, rtol=0, atol=0)
