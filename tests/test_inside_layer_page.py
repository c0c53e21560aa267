"""Inside a layer, the page: its proof, heatmaps and vectors against ``layer_steps`` and the
model's own forward pass, for both models; links, odd input and the snippet."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app.compute import inside_layer as inside
from encoder import Encoder
from encoder.analysis import head_statistics
from encoder.experiments import layer_steps
from encoder.pretrained import load_minilm
from tests.test_app import MAIN, array, assert_clean, plotly_specs

PAGE = "views/inside_layer.py"
TWO = "The cat sat on the mat.\nA dog barked at the cat all night long, loudly."


@cache
def minilm():
    return load_minilm()


# ---- the page ------------------------------------------------------------------------------
def page(**params: str) -> AppTest:
    """The page as a link opens it: the parameters set before the first run."""
    at = AppTest.from_file(MAIN, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()  # switch_page needs a first run: the page's url_path is not its file name
    at.switch_page(PAGE).run()
    # that first run showed the Encode page, whose own "sentence" picker (another label, so
    # another widget) held the value through the switch: AppTest hands the page the picked
    # sentence one run late. A browser opening the link runs this page first (see the browser test).
    at.run()
    assert_clean(at)
    return at


def reference(at: AppTest, layer: int):
    """layer_steps over the whole batch, and the model's own forward pass, for the page's model."""
    choice = at.session_state["choice"]
    if choice.config is None:
        model, tokenizer = minilm()
    else:
        model, tokenizer = Encoder(choice.config, seed=choice.seed), minilm()[1]
    texts = [t.strip() for t in at.text_area(key="text").value.splitlines() if t.strip()]
    batch = tokenizer.encode_batch(texts, max_len=choice.max_len)
    steps = layer_steps(model, batch.input_ids, batch.attention_mask, layer=layer)
    with torch.no_grad():
        run = model.eval()(
            batch.input_ids, batch.attention_mask, output_hidden_states=True, output_attentions=True
        )
    return {k: v.numpy() for k, v in steps.items()}, run, batch


def page_proof(at: AppTest, layer: int, row: int = 0) -> list[float]:
    """The proof's differences recomputed with the page's own operations, in the same order:
    layer_steps on the one padded row, the model's fast path (no attention weights) over the
    whole batch. Both sides are then the same float32 arithmetic as the page's, so they agree
    to the page's three digits whatever the load; a reference that took another path (the
    whole batch through layer_steps, the attention-weights path) differs from the page by float
    noise as large as the differences themselves (a fresh clone once saw 2.06e-06 against 0.0).
    """
    choice = at.session_state["choice"]
    if choice.config is None:
        model, tokenizer = minilm()
    else:
        model, tokenizer = Encoder(choice.config, seed=choice.seed), minilm()[1]
    model.eval()
    texts = [t.strip() for t in at.text_area(key="text").value.splitlines() if t.strip()]
    batch = tokenizer.encode_batch(texts, max_len=choice.max_len)
    ids, mask = batch.input_ids[row : row + 1], batch.attention_mask[row : row + 1]
    steps = layer_steps(model, ids, mask, layer=layer)
    with torch.inference_mode():
        own = model(ids, mask, output_attentions=True)
        run = model(batch.input_ids, batch.attention_mask, output_hidden_states=True)
    walk = inside.Walkthrough(
        {k: v[0].numpy() for k, v in steps.items()},
        mask[0].bool().numpy(),
        own.attentions[layer][0].numpy(),
        *[None] * 3,
    )
    hidden = torch.stack(run.hidden_states)[:, row].numpy()
    return [c.diff for c in inside.proof(walk, hidden, layer)]


def figures(at: AppTest) -> tuple[dict, dict]:
    """Heatmaps by tensor name, and every bar trace by its series name."""
    heat, bars = {}, {}
    for spec in plotly_specs(at):
        if spec["data"][0]["type"] == "heatmap":
            heat[spec["layout"]["meta"]["tensor"]] = array(spec["data"][0]["z"]).astype(float)
        else:
            bars |= {t["name"]: array(t["y"]).astype(float) for t in spec["data"]}
    return heat, bars


def test_opens_on_step_one_with_the_proof_and_the_models_numbers():
    at = page(text=TWO)
    assert at.subheader[0].value == "Step 1 of 8 · Input"
    assert at.query_params.get("view", "Step by step") == "Step by step"
    steps, run, _batch = reference(at, 0)
    heat, bars = figures(at)
    np.testing.assert_allclose(heat["input"], run.hidden_states[0][0, :9].numpy(), atol=1e-6)
    np.testing.assert_allclose(bars["input"], steps["input"][0, 1], atol=1e-6)  # token 1 · the
    table = at.table[0].value
    assert list(table["walkthrough"]) == ["input", "weights", "output"]
    shown = [float(x) for x in table["max |difference|"]]
    assert max(shown) < 1e-4
    # the same arithmetic as the page: equal to the three digits the table shows
    assert shown == pytest.approx(page_proof(at, 0), rel=5e-3, abs=0)
    assert float(at.metric[0].value) == pytest.approx(shown[-1], rel=0.06)
    assert not at.info  # eval mode: nothing to explain


def test_next_and_previous_step_through_and_land_in_the_link():
    at = page(text=TWO)
    assert at.button(key="prev_step").disabled
    for k in range(2, 9):
        at.button(key="next_step").click().run()
        assert at.subheader[0].value.startswith(f"Step {k} of 8")
    assert at.button(key="next_step").disabled
    assert at.query_params["step"] == "8 · Feed-forward"
    at.button(key="prev_step").click().run()
    assert at.subheader[0].value == "Step 7 of 8 · Add & norm"
    at.segmented_control(key="step").set_value("3 · Scores").run()
    assert at.subheader[0].value == "Step 3 of 8 · Scores"
    assert_clean(at)


def test_whole_page_heatmaps_are_layer_steps_for_a_padded_sentence():
    at = page(
        text=TWO, view="Whole page", layer="3", head="5", sentence="1 · The cat sat on the mat."
    )
    assert [s.value.split(" · ")[0] for s in at.subheader[:8]] == [
        f"Step {k} of 8" for k in range(1, 9)
    ]
    steps, run, batch = reference(at, 3)
    n = int(batch.attention_mask[0].sum())  # 9 real tokens of 14
    heat, bars = figures(at)
    for key in ("q", "k", "v", "scores", "scaled", "weights", "context"):
        np.testing.assert_allclose(
            heat[key], steps[key][0, 5, :n], rtol=1e-5, atol=2e-5, err_msg=key
        )
    for key in ("input", "concat", "attn_out", "residual1", "norm1", "ff_hidden", "ff_out"):
        np.testing.assert_allclose(heat[key], steps[key][0, :n], rtol=1e-5, atol=2e-5, err_msg=key)
    np.testing.assert_allclose(heat["output"], run.hidden_states[4][0, :n], atol=2e-5)
    np.testing.assert_allclose(heat["weights"], run.attentions[3][0, 5, :n], atol=1e-6)
    masked = heat["masked"]
    assert np.isnan(masked[:, n:]).all()  # blocked keys are drawn as −∞, not as numbers
    np.testing.assert_allclose(masked[:, :n], steps["scaled"][0, 5, :n, :n], atol=2e-5)
    np.testing.assert_allclose(bars["weights"], steps["weights"][0, 5, 1], atol=1e-6)
    assert (bars["weights"][n:] == 0).all()
    assert not any("no padding" in i.value for i in at.info)


def test_the_longest_sentence_says_where_padding_is():
    at = page(
        text=TWO, step="4 · Mask", sentence="2 · A dog barked at the cat all night long, loudly."
    )
    (info,) = at.info
    assert "is the longest, so it has no padding" in info.value and "Sentence(s) 1 do" in info.value


@pytest.mark.parametrize(
    "norm,activation", [("pre-norm", "GELU"), ("post-norm", "ReLU"), ("pre-norm", "ReLU")]
)
def test_from_scratch_post_and_pre_norm_relu_and_gelu(norm, activation):
    at = page(
        text=TWO,
        model="From scratch",
        norm=norm,
        activation=activation,
        layer="1",
        view="Whole page",
        sentence="1 · The cat sat on the mat.",
    )
    steps, run, batch = reference(at, 1)
    n = int(batch.attention_mask[0].sum())
    heat, _ = figures(at)
    pre = norm == "pre-norm"
    assert ("normed_input" in heat) == pre and ("norm1" in heat) == (not pre)
    assert ("final_norm" in heat) == pre  # layer 1 is the last of 2
    final = heat["final_norm"] if pre else heat["output"]
    np.testing.assert_allclose(final, run.hidden_states[2][0, :n], atol=2e-5)
    hidden = heat["ff_hidden"]
    np.testing.assert_allclose(hidden, steps["ff_hidden"][0, :n], atol=2e-5)
    text = " ".join(m.value for m in at.markdown)
    if activation == "ReLU":
        assert (hidden >= 0).all() and f"exactly 0: {np.mean(hidden == 0):.0%}" in text
    else:
        assert (hidden < 0).any() and "GELU keeps small negatives" in text
    assert "LayerNorm}_1" in at.latex[0].value if pre else "hidden\\_states" in at.latex[0].value


def test_scaling_switch_shows_softmax_saturate_with_the_entropies():
    at = page(text=TWO, step="5 · Softmax", scale="false", head="2")
    assert at.toggle(key="scale").value is False
    steps, run, batch = reference(at, 0)
    n = 9
    heat, _ = figures(at)
    scores = torch.from_numpy(steps["scores"])
    loose = inside.unscaled_softmax(scores, batch.attention_mask.bool())[0, 2, :n].numpy()
    np.testing.assert_allclose(heat["unscaled_weights"], loose, atol=1e-6)
    np.testing.assert_allclose(heat["weights"], run.attentions[0][0, 2, :n], atol=1e-6)
    (spec,) = [s for s in plotly_specs(at) if s["layout"]["meta"]["tensor"] == "entropy"]
    scaled_h, unscaled_h = (array(t["y"]) for t in spec["data"])
    np.testing.assert_allclose(scaled_h, inside.row_entropy(steps["weights"][0, 2, :n]), atol=1e-5)
    np.testing.assert_allclose(unscaled_h, inside.row_entropy(loose), atol=1e-5)
    assert unscaled_h.mean() < scaled_h.mean()  # softmax saturates without the scaling
    stats = head_statistics(run.attentions[0][0, :, :n, :n].numpy()[None])  # the analysis module
    assert scaled_h.mean() == pytest.approx(stats["entropy"][0, 2], abs=1e-5)


def test_train_mode_still_walks_through_eval_mode():
    at = page(text=TWO, train="true", dropout="0.5", model="From scratch")
    assert at.caption[0].value.endswith("train mode (dropout on)")
    assert "computes in **eval mode**" in at.info[0].value
    _steps, run, _ = reference(at, 0)  # eval mode
    heat, _ = figures(at)
    np.testing.assert_allclose(heat["input"], run.hidden_states[0][0, :9], atol=1e-6)
    assert float(at.table[0].value["max |difference|"][2]) < 1e-4


def test_a_link_reproduces_the_view():
    params = dict(
        text=TWO,
        model="From scratch",
        n_layers="3",
        layer="2",
        head="3",
        token="4 · on",
        step="6 · Mix heads",
        scale="false",
        sentence="1 · The cat sat on the mat.",
    )
    at = page(**params)
    assert at.selectbox(key="layer").value == 2 and at.selectbox(key="head").value == 3
    assert at.selectbox(key="token").value == "4 · on"
    assert at.segmented_control(key="step").value == "6 · Mix heads"
    assert at.toggle(key="scale").value is False
    assert at.subheader[0].value == "Step 6 of 8 · Mix heads"
    steps, _, _ = reference(at, 2)
    heat, bars = figures(at)
    np.testing.assert_allclose(heat["context"], steps["context"][0, 3, :9], atol=2e-5)
    np.testing.assert_allclose(bars["attn_out"], steps["attn_out"][0, 4], atol=2e-5)
    for key, value in params.items():  # the URL leaves out values equal to a default
        assert at.query_params.get(key, value) == value, key
    assert at.query_params["layer"] == "2" and at.query_params["step"] == "6 · Mix heads"


@pytest.mark.parametrize(
    "params",
    [
        dict(text="."),
        dict(text="\n".join(f"sentence number {i}" for i in range(8)), view="Whole page"),
        dict(text="word " * 40, max_len="8", view="Whole page"),
        dict(text=TWO, layer="9", head="40", token="99 · nope", step="bogus"),
        dict(text=TWO, model="From scratch", n_heads="1", d_model="8", view="Whole page"),
        dict(text="3 1 4 1 5 9 2 6\n2 7 1", model="Trained", trained="sort", view="Whole page"),
    ],
    ids=["one word", "8 sentences", "max_len 8", "bad link", "one head", "trained toy model"],
)
def test_odd_input_never_crashes(params):
    at = page(**params)
    assert not at.error
    assert at.subheader[0].value.startswith("Step 1 of 8")
    assert float(at.table[0].value["max |difference|"][2]) < 1e-4
    if "max_len" in params:
        assert "kept the first 8 of 42 tokens" in " ".join(w.value for w in at.warning)


def test_fewer_layers_keep_the_layer_picker_valid():
    at = page(text=TWO, model="From scratch", n_layers="4", layer="3")
    at.slider(key="n_layers").set_value(2).run()
    assert_clean(at)
    assert at.selectbox(key="layer").value == 0 and at.selectbox(key="layer").options == ["0", "1"]


def test_snippet_reproduces_the_page():
    at = page(text=TWO, model="From scratch", layer="1", head="2", step="5 · Softmax")
    namespace: dict = {}
    code = at.code[0].value.replace("print(", "(lambda *a: None)(")
    exec(compile(code, "snippet", "exec"), namespace)
    heat, _ = figures(at)
    np.testing.assert_allclose(heat["weights"], namespace["steps"]["weights"][0, 2, :9], atol=1e-6)
    # the snippet runs the page's operations in the page's order: the same difference, to
    # the three digits the table shows (not two float paths compared at their noise)
    diff = float((namespace["ours"] - namespace["theirs"]).abs().max())
    assert float(at.table[0].value["max |difference|"][2]) == pytest.approx(diff, rel=5e-3, abs=0)
