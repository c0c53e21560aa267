"""Lesson 2, "What one attention head does": every step's answer and numbers against MiniLM's own
forward pass and encoder.analysis, the "now try yours" step on two sets of sentences, and
every step's link opening the Attention page in the state the step talks about."""

from __future__ import annotations

import numpy as np
import pytest

from app import state
from app.lessons import attention as lesson
from app.lessons.base import Ctx
from encoder.analysis import attention_rollout, head_statistics
from tests.lessons_common import check_step, check_well_formed, open_link
from tests.lessons_common import reference_attention as reference

OWN = Ctx(tuple(lesson.YOURS.split("\n")))
OTHER = Ctx(("A dog chased the red ball across the park.", "Hello world"))
STEPS = dict(enumerate(lesson.LESSON.steps, start=1))


def test_the_lesson_has_five_to_eight_steps_and_a_yours_step():
    assert lesson.LESSON.slug == "attention-head" and lesson.LESSON.page == "Attention"
    check_well_formed(
        lesson.LESSON,
        lambda step: OWN,
        page="attention",
        each_step=False,  # the next test checks each step
        several=True,
        long_selectbox=True,
    )


@pytest.mark.parametrize("n", STEPS)
def test_every_step_shows_and_reveals_a_valid_answer(n):
    assert STEPS[n].show  # every step shows something with its question
    check_step(STEPS[n], OWN, several=True, long_selectbox=True)


def test_a_row_sums_to_one():
    att, tokens = reference(lesson.SENTENCE)
    row = att[lesson.ROW_HEAD][tokens.index(lesson.QUERY)]
    reveal = STEPS[1].reveal(OWN)
    assert reveal.answer == pytest.approx(float(row.sum()), abs=1e-6)
    assert reveal.answer == pytest.approx(1.0, abs=1e-5)
    assert f"{row.sum():.4f}" in reveal.said
    assert (
        f"{att.sum(-1).min():.6f}" in reveal.said
        and f"{att.size // att.shape[-1]:,}" in reveal.said
    )


def test_a_column_does_not():
    att, _ = reference(lesson.SENTENCE)
    column = float(att[lesson.ROW_HEAD][:, 0].sum())
    reveal = STEPS[2].reveal(OWN)
    assert column > 1 and reveal.answer == "More than 1"
    assert f"{column:.2f}" in reveal.said
    assert not STEPS[2].show(OWN).figures  # the map's dark [CLS] column would answer it


def test_the_head_that_looks_back_is_the_largest_previous_share():
    att, _ = reference(lesson.SENTENCE)
    previous = head_statistics(att)["previous"][lesson.FIND_LAYER]
    best = int(previous.argmax())
    reveal = STEPS[3].reveal(OWN)
    answers = reveal.answer if isinstance(reveal.answer, tuple) else (reveal.answer,)
    assert f"layer {lesson.FIND_LAYER} · head {best}" in answers
    for a in answers:  # only heads within the margin count
        assert previous[int(a.rsplit(" ", 1)[1])] >= previous[best] - lesson.MARGIN
    assert f"{previous[best]:.1%}" in reveal.said and "the runner-up in layer" in reveal.said
    # the clue table decides: no head of the layer looks one token ahead, and only the answer's
    # distance is near 1 (a look-ahead head would need a signed offset column to tell apart)
    S = att.shape[-1]
    ahead = att[lesson.FIND_LAYER][:, np.arange(S - 1), np.arange(1, S)].mean(-1)
    assert ahead.max() < 0.2
    distance = head_statistics(att)["distance"][lesson.FIND_LAYER]
    assert list(np.flatnonzero(distance < 2)) == [best]
    assert (lesson.FIND_LAYER, best) == lesson.previous_head()
    # the clue table never shows the previous-token share itself
    assert not {"previous", "looks like"} & set(STEPS[3].show(OWN).table.columns)


def test_rollout_keeps_a_diagonal():
    att, _ = reference(lesson.SENTENCE)
    rollout = attention_rollout(att, residual=0.5)[0]
    reveal = STEPS[4].reveal(OWN)
    assert reveal.answer == pytest.approx(float(np.diag(rollout).mean()), abs=1e-5)
    assert f"{np.diag(rollout).mean():.3f}" in reveal.said
    assert f"{np.diag(att[0].mean(0)).mean():.1%}" in STEPS[4].show(OWN).text


def test_mean_or_rollout_at_the_last_layer():
    att, tokens = reference(lesson.SENTENCE)
    special = [t in ("[CLS]", "[SEP]") for t in tokens]
    mean = att[-1].mean(0)[:, special].sum(-1).mean()
    rollout = attention_rollout(att, residual=0.5)[-1][:, special].sum(-1).mean()
    reveal = STEPS[5].reveal(OWN)
    same = abs(rollout - mean) <= lesson.SAME
    expected = lesson.SINK_OPTIONS[2 if same else int(rollout > mean)]
    assert reveal.answer == expected
    assert f"(Within {100 * lesson.SAME:.0f} points counts as about the same.)" in (
        STEPS[5].question
    )
    assert f"{mean:.1%}" in reveal.said and f"{rollout:.1%}" in reveal.said


def test_yours_follows_the_learners_sentences():
    layer, head = lesson.previous_head()
    reveals = {}
    for ctx in (OWN, OTHER):
        att, tokens = reference(ctx.sentences[0])
        q = max(i for i, t in enumerate(tokens[:-1]) if any(c.isalnum() for c in t) and i > 0)
        k = int(att[layer, head, q].argmax())
        reveal = STEPS[6].reveal(ctx)
        assert reveal.answer == f"{k} · {tokens[k]}"
        assert reveal.answer in STEPS[6].ask.choices(ctx)
        assert f"{att[layer, head, q, k]:.1%}" in reveal.said
        reveals[ctx] = reveal
    assert reveals[OWN].said != reveals[OTHER].said
    assert reveals[OWN].answer != reveals[OTHER].answer
    assert "give the most weight to?" in STEPS[6].question


def test_yours_escapes_the_learners_text():
    ctx = Ctx(("Look at *this* [link](x) now",))
    reveal = STEPS[6].reveal(ctx)
    assert "*this*" not in reveal.said and "[link]" not in reveal.said
    assert STEPS[6].ask.choices(Ctx(())) == ()


# ---- the links open the page in the step's state ----------------------------------------------


LINKS = {f"step {n}": (n, OWN) for n in STEPS} | {"yours, other sentences": (6, OTHER)}


@pytest.mark.parametrize("name", LINKS)
def test_every_link_opens_the_attention_page_as_the_step_says(name):
    n, ctx = LINKS[name]
    link = STEPS[n].link(ctx)
    assert link.startswith("attention?")
    at, params = open_link(link)
    text = params.get("text", state.DEFAULT_TEXT)
    assert at.session_state[state.TEXT] == text
    assert text == ("\n".join(ctx.sentences) if STEPS[n].yours else lesson.SENTENCE)
    assert at.segmented_control(key="view").value == params["view"]
    assert at.selectbox(key="layer").value == int(params["layer"])
    if "head" in params:
        assert at.selectbox(key="head").value == int(params["head"])
    if "token" in params:
        assert at.selectbox(key="token").value == params["token"]
    if n == 3:
        assert (0, int(params["head"])) == lesson.previous_head()
    if n == 5:
        assert int(params["layer"]) == len(reference(lesson.SENTENCE)[0]) - 1
