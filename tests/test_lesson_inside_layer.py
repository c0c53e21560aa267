"""Lesson 5 · Inside a layer: every step's answer and the numbers it says, recomputed from the
library (the encoder itself, F.layer_norm, softmax, its config); its links open the Inside a
layer page in the state the step talks about."""

from __future__ import annotations

import math
import re
from functools import cache

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from app.compute.inside_layer import STEPS as PAGE_STEPS
from app.lessons import inside_layer as lesson
from app.lessons.base import Ctx
from encoder import Encoder
from tests.lessons_common import check_well_formed, ctx_by_step, minilm, open_with, step_links
from tests.test_inside_layer_page import page

CTX = Ctx(("Not used by this step.",))
STEPS = {step.title: step for step in lesson.LESSON.steps}
MINE = Ctx(("Hello there, general.", "A much longer sentence with many more words to attend to."))
OTHER = Ctx(("Attention is all you need.",))
ctx_for = ctx_by_step(MINE, CTX)  # the learner's sentences for a "try yours" step


@cache
def scratch() -> Encoder:
    return Encoder(lesson.SCRATCH.config, seed=lesson.SCRATCH.seed).eval()


@cache
def layer0(model_name: str, sentence: str = lesson.SENTENCE) -> dict[str, torch.Tensor]:
    """Layer 0 of one sentence, step by step from the encoder's own modules (no layer_steps):
    q, k and scores of head 0, the layer's residual before its first LayerNorm."""
    model = scratch() if model_name == "scratch" else minilm()[0]
    ids = torch.tensor([minilm()[1].encode(sentence, max_len=128).ids])
    with torch.inference_mode():
        run = model(ids, output_hidden_states=True, output_attentions=True)
        x = run.hidden_states[0]  # (1, S, D)
        block = model.layers[0]
        H = block.attn.n_heads
        q, k, _ = block.attn.qkv(x).view(1, x.shape[1], 3, H, -1).permute(2, 0, 3, 1, 4)
        attn_out, _ = block.attn(x, None, need_weights=True)
    return dict(
        x=x[0],
        q=q[0],
        scores=(q @ k.transpose(-2, -1))[0],  # (H, S, S)
        weights=run.attentions[0][0],
        residual1=(x + attn_out)[0],
        tokens=minilm()[1].encode(sentence, max_len=128).tokens,
    )


def entropy(p: torch.Tensor) -> float:
    """Mean entropy in bits of the rows of p. Shape: (S, S)"""
    p = p.double()
    return float(-(p * torch.log2(p.clamp_min(1e-300))).sum(-1).mean())


# ---- the lesson as data -----------------------------------------------------------------------
def test_the_lesson_is_well_formed():
    L = lesson.LESSON
    assert L.slug == "inside-a-layer" and L.page == "Inside a layer"
    check_well_formed(L, ctx_for, page="inside-a-layer")


def test_the_scratch_model_is_the_sidebars():
    """d_k = 64 from one head of d_model 64; max_len as the sidebar sets it."""
    cfg = lesson.SCRATCH.config
    assert cfg.d_model // cfg.n_heads == 64 and cfg.max_len == lesson.SCRATCH.max_len == 128


# ---- each step against the library -------------------------------------------------------------
def test_one_heads_queries():
    ref = layer0("minilm")
    H, S, d_k = ref["q"].shape
    assert (S, H, d_k) == (13, 12, 32)  # the numbers the question names
    r = STEPS["Queries per head"].reveal(CTX)
    assert r.answer == f"{S} × {d_k}" and f"{S} × {H * d_k}" in r.said
    np.testing.assert_allclose(r.figures[0].data[0].z, ref["q"][0].numpy(), atol=1e-5)


def test_the_variance_of_a_dot_product():
    torch.manual_seed(1)
    q, k = torch.randn(2, 50_000, 64, dtype=torch.float64)
    dots = (q * k).sum(-1)
    r = STEPS["The size of q·k"].reveal(CTX)
    assert r.answer == pytest.approx(float(dots.var()), abs=3)  # both about 64
    assert abs(r.answer - 64) <= STEPS["The size of q·k"].ask.tolerance
    assert f"variance {r.answer:.1f} at d_k = 64" in r.said
    assert float((dots / 8).var()) == pytest.approx(1, abs=0.05)
    assert lesson.dot_variance(64)[1] == pytest.approx(1, abs=0.05)
    assert f"{lesson.dot_variance(64)[1]:.2f} once divided by √64 = 8" in r.said
    scores = layer0("scratch")["scores"][0].double()
    assert f"from {scores.var(unbiased=False):.1f} to {(scores / 8).var(unbiased=False):.2f}" in (
        r.said
    )
    assert "falls 64-fold" in r.said


def test_entropy_with_and_without_the_scaling():
    ref = layer0("scratch")
    with_scale = entropy(ref["weights"][0])
    without = entropy(torch.softmax(ref["scores"][0], dim=-1))
    assert without < with_scale - 1  # the point of the step
    r = STEPS["Entropy with ÷ √d_k"].reveal(CTX)
    assert r.answer == pytest.approx(with_scale, abs=1e-4) and f"{with_scale:.2f} bits" in r.said
    r = STEPS["Entropy without it"].reveal(CTX)
    assert r.answer == pytest.approx(without, abs=1e-4)
    assert f"drops to {without:.2f} bits, from {with_scale:.2f}" in r.said
    shown = STEPS["Entropy without it"].show(CTX)
    assert f"{with_scale:.2f} bits" in shown.text and f"{math.log2(13):.2f}" in shown.text


def test_rows_sum_to_one_without_the_scaling():
    ref = layer0("scratch")
    sums = torch.softmax(ref["scores"][0], dim=-1).sum(-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))
    r = STEPS["Rows sum to 1"].reveal(CTX)
    assert r.answer == lesson.SUMS[0]
    assert f"under {lesson.ROUNDING:g} counts as rounding" in STEPS["Rows sum to 1"].question
    assert lesson.sum_kind(np.array([1 + lesson.ROUNDING / 2, 1.0])) == lesson.SUMS[0]
    assert lesson.sum_kind(np.array([1 + 2 * lesson.ROUNDING])) == "More than 1"
    assert lesson.sum_kind(np.array([1.2, 1.1])) == "More than 1"
    assert lesson.sum_kind(np.array([0.9, 1.1])) == "Different in each row"


def test_layer_norm_gives_mean_0_and_std_1():
    ref = layer0("scratch")
    i = ref["tokens"].index(lesson.TOKEN)
    assert i == 2  # the links name "2 · cat"
    row = ref["residual1"][i]
    normed = F.layer_norm(row, (row.numel(),), eps=scratch().cfg.layer_norm_eps)
    r = STEPS["Residual + LayerNorm"].reveal(CTX)
    assert r.answer == "Mean 0, std 1"
    mean = re.search(r"mean ≈ 0 \(([-+.e\d]+)\)", r.said).group(1)
    assert abs(float(mean)) < 1e-5
    assert f"standard deviation {normed.std(unbiased=False):.6f}" in r.said
    assert f"from {row.mean():.2f} and {row.std(unbiased=False):.2f}" in r.said
    assert "γ is 1 and β 0 everywhere" in r.said  # a fresh model: the norm is the output
    shown = STEPS["Residual + LayerNorm"].show(CTX)
    assert f"mean {row.mean():.2f}" in shown.text


def test_the_feed_forward_is_four_times_wider():
    model, _ = minilm()
    r = STEPS["Feed-forward width"].reveal(CTX)
    assert r.answer == str(model.cfg.d_ff) == "1536" and model.cfg.d_ff == 4 * model.cfg.d_model
    D, Fw = model.cfg.d_model, model.cfg.d_ff
    linear1 = model.layers[0].ff.linear1.weight
    assert tuple(linear1.shape) == (Fw, D)
    assert f"{2 * D * Fw:,} weights per layer" in r.why
    share = 2 * D * Fw / (2 * D * Fw + 4 * D * D)
    assert f"{share:.0%} of the layer's weight matrices" in r.why


def test_yours_is_the_learners_entropy_and_changes_with_the_sentences():
    step = STEPS["Now try yours"]
    assert step.yours
    mine, other = step.reveal(MINE), step.reveal(OTHER)
    assert mine.said != other.said and mine.answer != other.answer
    for ctx, r in ((MINE, mine), (OTHER, other)):
        ref = layer0("scratch", ctx.sentences[0])
        assert r.answer == pytest.approx(entropy(torch.softmax(ref["scores"][0], -1)), abs=1e-4)
        assert len(r.table) == len(ctx.sentences)
        assert f"{len(ref['tokens'])} tokens" in step.show(ctx).text


# ---- the links ---------------------------------------------------------------------------------
@pytest.mark.parametrize("link", list(step_links(lesson.LESSON, ctx_for)))
def test_each_link_opens_the_page_in_the_steps_state(link):
    at, query = open_with(page, link, "inside-a-layer")
    model = lesson.SCRATCH if query.get("model") == "From scratch" else lesson.PRETRAINED
    assert at.session_state["choice"] == model
    text = query.get("text", lesson.SENTENCE)
    assert at.text_area(key="text").value == text
    if "sentence" in query:
        assert at.selectbox(key="sentence").value == query["sentence"]
    assert at.selectbox(key="layer").value == lesson.LAYER
    assert at.selectbox(key="head").value == lesson.HEAD
    assert at.segmented_control(key="step").value == query["step"] in PAGE_STEPS
    assert at.toggle(key="scale").value == (query.get("scale") != "false")
    if "token" in query:
        assert at.selectbox(key="token").value == query["token"]
