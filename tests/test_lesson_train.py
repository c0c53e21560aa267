"""Lesson 7, "Watching a head learn": every step's answer and numbers against the library's own
Trainer, evaluate, attention_of, ideal_match and predict (an independent run with the lesson's
settings), the "now try yours" step on two sets of digits and on input the task refuses, and
every step's link opening the Train page with the settings whose Start trains the same model."""

from __future__ import annotations

import math
import time
from functools import cache

import numpy as np
import pytest
import torch

from app import state
from app.compute import train as jobs
from app.lessons import train as lesson
from app.lessons.base import Ctx
from encoder.tasks import TaskTokenizer
from encoder.train import (
    EVAL_STREAM,
    Trainer,
    attention_of,
    best_head,
    evaluate,
    ideal_match,
    model_config,
    predict,
)
from tests.lessons_common import check_step, check_well_formed, open_link
from tests.test_app import array, assert_clean, plotly_specs

TASK = lesson.TASK
OWN = Ctx(tuple(lesson.LESSON.yours.split("\n")))
OTHER = Ctx(("9 8 7 6 5 4 3 2 1 0", "1 1 2"))
STEPS = dict(enumerate(lesson.LESSON.steps, start=1))


def trainer() -> Trainer:
    """A fresh run with the lesson's settings, built by the library alone."""
    return Trainer(TASK, model_config(TASK, **dict(lesson.ARCH)), lesson.SETTINGS)


@cache
def reference() -> Trainer:
    """The lesson's run, trained again from scratch by the library (a few seconds)."""
    t = trainer()
    t.run()
    return t


def bin_of(steps: int | None) -> str:
    for top, label in lesson.BINS:
        if steps is not None and steps < top:
            return label
    return lesson.OVER


def test_the_lesson_has_five_to_eight_steps_and_a_yours_step():
    assert lesson.LESSON.slug == "watch-a-head-learn" and lesson.LESSON.page == "Train"
    assert lesson.LESSON.title == "Watching a head learn"
    check_well_formed(
        lesson.LESSON,
        lambda step: OWN,
        page="train",
        each_step=False,  # the next test checks each step
        long_selectbox=True,
    )
    # the default digits are ones the task reads
    for line in OWN.sentences:
        TaskTokenizer(TASK).encode(line)


@pytest.mark.parametrize("n", STEPS)
def test_every_step_shows_and_reveals_a_valid_answer(n):
    check_step(STEPS[n], OWN, long_selectbox=True)


def test_reveals_are_quick_once_the_run_is_cached():
    for step in STEPS.values():  # warm: the run trains once, the untrained model is rebuilt
        step.reveal(OWN)
    for step in STEPS.values():
        start = time.perf_counter()
        if step.show:
            step.show(OWN)
        step.reveal(OWN)
        assert time.perf_counter() - start < 1.5, step.title


def test_the_ideal_is_the_anti_diagonal():
    ids = TaskTokenizer(TASK).encode(lesson.EXAMPLE).ids
    ideal = TASK.ideal_attention(ids)
    n = len(ids)
    np.testing.assert_array_equal(ideal, np.fliplr(np.eye(n)))
    reveal = STEPS[1].reveal(OWN)
    assert reveal.answer == "the anti-diagonal"
    assert f"row 0 on key {n - 1}, row {n - 1} on key 0" in reveal.said
    (fig,) = reveal.figures
    np.testing.assert_array_equal(array(fig.data[0].z), ideal)


def test_the_untrained_model_is_measured_on_the_runs_fresh_examples():
    t = trainer()
    gen = torch.Generator().manual_seed(lesson.SETTINGS.seed ^ EVAL_STREAM)
    accuracy = evaluate(t.model, TASK, lesson.SETTINGS.eval_examples, gen)
    reveal = STEPS[2].reveal(OWN)
    assert reveal.answer == pytest.approx(100 * accuracy)
    assert f"**{accuracy:.1%}**" in reveal.said
    assert abs(accuracy - 1 / len(TASK.labels)) < 0.05  # about chance, as the lesson says


def test_the_first_loss_is_the_curves_first_point():
    first = trainer().step()  # the library's first step: its loss before the update
    reveal = STEPS[3].reveal(OWN)
    assert f"**{first.loss:.2f}**" in reveal.said
    even = math.log(len(TASK.labels))
    expected = (
        "within 0.1 of 2.30"
        if abs(first.loss - even) <= 0.1
        else ("above 2.30" if first.loss > even else "below 2.30")
    )
    assert reveal.answer == expected
    direction = ("below it", f"within {lesson.NEAR:g} of it", "above it")
    assert direction[lesson.LOSS_OPTIONS.index(expected)] in reveal.why
    assert "≈ 2.30" in STEPS[3].question and "probability 0.1" in STEPS[3].question
    assert jobs.trained_run(TASK.name, lesson.ARCH, lesson.SETTINGS).history[0].loss == first.loss


def test_the_lessons_run_is_the_librarys_run():
    ref = reference()
    run = jobs.trained_run(TASK.name, lesson.ARCH, lesson.SETTINGS)
    assert run.steps == ref.steps and run.accuracy == ref.accuracy
    assert [p.loss for p in run.history] == [p.loss for p in ref.history]
    assert all(not s.attention.flags.writeable for s in run.snapshots)  # shared: read-only
    final = attention_of(ref.model, TASK, lesson.EXAMPLE)
    np.testing.assert_allclose(run.snapshots[-1].attention, final, atol=1e-6)


def test_steps_to_ninety_percent():
    ref = reference()
    acc = [p.accuracy for p in ref.history]
    at = next((k + 1 for k in range(len(acc)) if np.mean(acc[max(0, k - 19) : k + 1]) >= 0.9), None)
    reveal = STEPS[4].reveal(OWN)
    assert reveal.answer == bin_of(at)
    assert f"batch accuracy (averaged over {lesson.WINDOW} steps)" in STEPS[4].question
    assert f"step {at:,}**" in reveal.said and f"step {ref.steps:,}" in reveal.said
    assert f"{ref.accuracy:.1%}" in reveal.said
    curves, strip = reveal.figures
    assert list(array(curves.data[0].x)) == list(range(1, ref.steps + 1))
    np.testing.assert_allclose(array(curves.data[0].y), [p.loss for p in ref.history])
    assert strip.data[0].type == "heatmap"


def test_the_heads_that_draw_the_mirror():
    ref = reference()
    att = attention_of(ref.model, TASK, lesson.EXAMPLE)
    ideal = TASK.ideal_attention(TaskTokenizer(TASK).encode(lesson.EXAMPLE).ids)
    match = ideal_match(att, ideal)
    layer, head, best = best_head(att, ideal)
    reveal = STEPS[5].reveal(OWN)
    assert reveal.answer == int((match > 0.5).sum())
    assert f"layer {layer}, head {head}, with {best:.0%}" in reveal.said
    assert f"at most {match[0].max():.0%}" in reveal.said


def test_yours_runs_the_trained_model_on_the_learners_digits():
    ref = reference()
    reveals = {}
    for ctx in (OWN, OTHER):
        reveal = STEPS[6].reveal(ctx)
        said = [predict(ref.model, TASK, line) for line in ctx.sentences]
        right = [TASK.solve(line) for line in ctx.sentences]
        assert list(reveal.table["the model says"]) == said
        assert list(reveal.table["the answer"]) == right
        whole = sum(s == r for s, r in zip(said, right, strict=True))
        assert f"**{whole} of {len(said)}**" in reveal.said
        assert reveal.answer == (lesson.YES if whole == len(said) else lesson.NO)
        reveals[ctx] = reveal
    assert reveals[OWN].said != reveals[OTHER].said
    assert not reveals[OWN].table.equals(reveals[OTHER].table)


@pytest.mark.parametrize("bad", ["3 1 x", "7", "1 2 3 4 5 6 7 8 9 0 1", "1 2 *<b>"])
def test_yours_refuses_what_the_task_refuses_in_its_words(bad):
    with pytest.raises(ValueError) as want:
        TaskTokenizer(TASK).encode(bad)
    with pytest.raises(ValueError) as got:
        STEPS[6].reveal(Ctx((bad,)))
    shown = str(got.value).replace("\\", "")  # as Markdown shows the escaped message
    assert shown == str(want.value)
    assert "*" not in str(got.value).replace("\\*", "")  # nothing the page's Markdown reads
    with pytest.raises(ValueError, match=r"^Line 2"):
        STEPS[6].reveal(Ctx(("1 2", bad)))


# ---- the links open the Train page with the lesson's settings -----------------------------------


@pytest.mark.parametrize("ctx", [OWN, OTHER], ids=["own", "other"])
def test_the_yours_link_carries_the_learners_digits(ctx):
    link = STEPS[6].link(ctx)
    assert link.startswith("train?")
    at, _ = open_link(link, timeout=300)
    assert at.session_state[state.TEXT] == "\n".join(ctx.sentences)
    assert at.selectbox(key="task").value == TASK.name


@pytest.mark.slow
def test_the_link_opens_the_train_page_whose_start_trains_the_lessons_model():
    links = {step.link(OWN) for step in STEPS.values() if not step.yours}
    assert len(links) == 1
    at, _ = open_link(links.pop(), timeout=300)
    s, arch = lesson.SETTINGS, dict(lesson.ARCH)
    expected = dict(
        task=TASK.name, secs=int(s.max_seconds), steps=s.max_steps, lr=s.lr,
        batch=s.batch_size, tseed=s.seed, width=arch["d_model"], heads=arch["n_heads"],
        layers=arch["n_layers"], ffn=arch["d_ff"], drop=arch["dropout"], tnorm="pre-norm",
    )  # fmt: skip
    for key, value in expected.items():
        assert at.session_state[key] == value, key
    assert not any("not a valid choice" in w.value for w in at.warning)
    (button,) = [b for b in at.get("button") if b.proto.label == "Start training"]
    button.click().run()
    assert_clean(at)
    result = at.session_state[jobs.RESULT]
    run = jobs.trained_run(TASK.name, lesson.ARCH, lesson.SETTINGS)
    assert (result.steps, result.accuracy) == (run.steps, run.accuracy)
    assert [p.loss for p in result.history] == [p.loss for p in run.history]
    assert [sn.step for sn in result.snapshots] == [sn.step for sn in run.snapshots]
    assert plotly_specs(at)  # the page drew its curves and attention
