"""Lesson 4 · Padding and the mask: every step's answer and the numbers it says, recomputed from
the library (the encoder's forward pass, padding_drift, mean_pool, cosine_matrix); its links
open the Padding & masks page in the state the step talks about."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from app.lessons import padding as lesson
from app.lessons.base import Ctx
from encoder.analysis import cosine_matrix, mean_pool
from encoder.experiments import padding_drift
from tests import lessons_common
from tests.lessons_common import check_well_formed, ctx_by_step, open_with, step_links
from tests.test_padding_page import page

CTX = Ctx(("Not used by this step.",))
STEPS = {step.title: step for step in lesson.LESSON.steps}
MINE = Ctx(("Good morning!", "The committee will meet again next Tuesday."))
OTHER = Ctx(("Transformers read every token of a sentence in parallel, padded or not.",))
ctx_for = ctx_by_step(MINE, CTX)  # the learner's sentences for a "try yours" step


@pytest.fixture(scope="module")
def minilm():
    return lessons_common.minilm()  # (model, tokenizer)


@pytest.fixture(scope="module")
def batch(minilm):
    """The lesson's batch, and "Hi!" padded as in it, run with its mask and without."""
    model, tokenizer = minilm
    enc = tokenizer.encode_batch(list(lesson.SENTENCES), max_len=128)
    ids, mask = enc.input_ids[:1], enc.attention_mask[:1]
    n = int(mask.sum())
    with torch.inference_mode():
        runs = {
            "masked": model(ids, mask, output_attentions=True, output_hidden_states=True),
            "unmasked": model(ids, None, output_attentions=True),
        }
    return dict(n=n, width=ids.shape[1], ids=enc.encodings[0].ids, attention_mask=mask, **runs)


def pad_share(weights: torch.Tensor, n: int) -> float:
    """Mean weight the n real query rows give to the padded keys. Shape: (W, W)"""
    return float(weights[:n, n:].sum(-1).mean())


# ---- the lesson as data ---------------------------------------------------------------------
def test_the_lesson_is_well_formed():
    L = lesson.LESSON
    assert L.slug == "padding-mask" and L.page == "Padding & masks"
    check_well_formed(L, ctx_for, page="padding")


# ---- each step against the library ---------------------------------------------------------
def test_why_pad_counts_the_padding(batch):
    r = STEPS["Why pad"].reveal(CTX)
    assert r.answer == batch["width"] - batch["n"] == 8
    assert f"gets {r.answer} [PAD]" in r.said and f"2 × {batch['width']}" in r.said
    n_long = len(lesson.SENTENCES[1].split())  # more tokens than words: [CLS], [SEP], "."
    assert batch["width"] > n_long
    mask = np.asarray(r.figures[1].data[0].z)
    assert mask.shape == (2, batch["width"]) and mask[0].sum() == batch["n"] and mask[1].all()


def test_with_the_mask_padding_gets_exactly_no_attention(batch):
    r = STEPS["The mask on [PAD]"].reveal(CTX)
    n = batch["n"]
    every_head = batch_attention(batch, "masked")
    assert torch.all(every_head[:, :n, n:] == 0)  # every head of layer 0, exactly
    assert r.answer == "Exactly 0 %" and "0.00 %" in r.said
    assert "the largest weight on a [PAD] key in all 12 heads is 0." in r.said
    shown = np.asarray(r.figures[0].data[0].z)
    np.testing.assert_allclose(shown, every_head[lesson.HEAD].numpy(), atol=1e-6)


def batch_attention(batch, run: str) -> torch.Tensor:
    """Layer LAYER's attention of "Hi!" in that run. Shape: (H, W, W)"""
    return batch[run].attentions[lesson.LAYER][0]


def test_without_the_mask_real_tokens_read_the_padding(batch):
    r = STEPS["No mask"].reveal(CTX)
    n = batch["n"]
    weights = batch_attention(batch, "unmasked")
    share = pad_share(weights[lesson.HEAD], n)
    assert r.answer == pytest.approx(100 * share, abs=1e-3)
    assert f"{100 * share:.1f} %" in r.said
    heads = [pad_share(w, n) for w in weights]
    assert f"from {100 * min(heads):.0f} % to {100 * max(heads):.0f} %" in r.said


def test_the_drift_with_and_without_the_mask(minilm, batch):
    model, _ = minilm
    ids = torch.tensor([batch["ids"]])
    without = padding_drift(model, ids, [lesson.PADS], use_mask=False)[0]
    with_mask = padding_drift(model, ids, [lesson.PADS], use_mask=True)[0]
    assert without > 1 and with_mask < 1e-4
    r = STEPS[f"{lesson.PADS} pads, no mask"].reveal(CTX)
    assert r.answer == lesson.drift_range(without) == "Large (over 1)"
    assert f"by up to {without:.3g}" in r.said
    r = STEPS[f"{lesson.PADS} pads, with the mask"].reveal(CTX)
    assert r.answer == lesson.drift_range(with_mask) == "Float noise (under 0.0001)"
    assert f"at most {with_mask:.2g}" in r.said and f"by {without:.3g}" in r.said
    curve = r.figures[0].data
    grid = [int(x) for x in curve[0].x]
    np.testing.assert_array_equal(curve[0].customdata, padding_drift(model, ids, grid))


def test_the_nan_trap(batch, minilm):
    model, _ = minilm
    W, H = batch["width"], model.cfg.n_heads
    r = STEPS["The NaN trap"].reveal(CTX)
    row = torch.softmax(torch.full((W,), -math.inf), dim=-1)
    assert row.isnan().all() and r.answer == "NaN"
    even = torch.softmax(torch.full((W,), torch.finfo(torch.float32).min), dim=-1)
    assert f"every weight is {float(even[0]):.4f} (1/{W})" in r.said
    every = H * W * (model.cfg.d_model // H)  # every number the heads put out is NaN
    assert f"{every:,} NaN values came out" in r.said
    assert f"{W} NaN weights of {W}" in r.said
    assert list(r.table.iloc[:, 3]) == [every, 0]


def test_mean_pooling_with_the_padding_rows(batch):
    hidden = batch["masked"].last_hidden_state.numpy()
    attention = np.arange(batch["width"]) < batch["n"]
    pooled = np.concatenate(
        [mean_pool(hidden, attention[None]), mean_pool(hidden, np.ones((1, batch["width"])))]
    )
    cos = float(cosine_matrix(pooled)[0, 1])
    r = STEPS["Pooling with [PAD]"].reveal(CTX)
    assert r.answer == pytest.approx(cos, abs=1e-5) and f"{cos:.3f}" in r.said
    assert cos < 0.9


def test_yours_is_the_learners_drift_and_changes_with_the_sentences(minilm):
    model, tokenizer = minilm
    step = STEPS["Now try yours"]
    assert step.yours
    mine, other = step.reveal(MINE), step.reveal(OTHER)
    assert mine.said != other.said
    for ctx, r in ((MINE, mine), (OTHER, other)):
        ids = torch.tensor([tokenizer.encode(ctx.sentences[0], max_len=128).ids])
        without = padding_drift(model, ids, [lesson.PADS], use_mask=False)[0]
        assert r.answer == lesson.drift_range(without)
        assert f"drifts by {without:.3g}" in r.said
        assert len(r.table) == len(ctx.sentences)


# ---- the links ----------------------------------------------------------------------------
@pytest.mark.parametrize("link", list(step_links(lesson.LESSON, ctx_for)))
def test_each_link_opens_the_page_in_the_steps_state(link):
    at, query = open_with(page, link, "padding")
    assert at.session_state["choice"] == lesson.MODEL
    lines = query.get("text", "").splitlines()
    assert at.text_area(key="text").value == query["text"]
    if len(lines) > 1:
        assert at.selectbox(key="sentence").value == query["sentence"]
    for key in ("layer", "head"):
        if key in query:
            assert at.selectbox(key=key).value == int(query[key])
    if "pads" in query:
        assert at.slider(key="pads").value == int(query["pads"]) == lesson.PADS
        assert any(
            m.label.startswith(f"max |Δ| without the mask, N = {lesson.PADS}") for m in at.metric
        )
