"""Lesson 3, Why order needs positions: every step's answer against encoder.experiments.order_test
and encoder.positional themselves, the "try yours" step on two sentences, and each step's link
opened on the Positions page with AppTest."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from app.compute import positional as pc
from app.lessons import positions as lesson
from app.lessons.base import Ctx, Reveal
from encoder.analysis import cosine_matrix
from encoder.experiments import order_test
from encoder.positional import sinusoidal_table, wavelengths
from encoder.tokenizer import default_tokenizer
from tests import lessons_common
from tests.lessons_common import bold, check_step, check_well_formed, open_link

STEPS = {step.title: step for step in lesson.LESSON.steps}
DEFAULT = Ctx((lesson.YOURS,))
OTHER = Ctx(("Hi", "I love my dog very much"))  # "Hi" has one token: nothing to shuffle


@pytest.fixture(scope="module")
def minilm():
    return lessons_common.minilm().model


def reveal(title: str, ctx: Ctx = DEFAULT) -> Reveal:
    """The step's reveal, checked as every step's is (valid answer, small figures)."""
    return check_step(STEPS[title], ctx)


def order(model, text: str) -> tuple[float, float, list[str]]:
    """The order test as the library runs it, on the page's seeded shuffle."""
    enc = default_tokenizer().encode(text, max_len=128)
    perm = pc.shuffle(len(enc), lesson.SEED, tuple(enc.special))
    ids = torch.tensor([enc.ids])
    return (
        order_test(model, ids, list(perm), use_positions=False),
        order_test(model, ids, list(perm), use_positions=True),
        [enc.tokens[j] for j in perm],
    )


def numbers(said: str) -> list[float]:
    return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*\.?\d*(?:e[-+]\d+)?", said)]


def test_the_lesson_is_complete():
    L = lesson.LESSON
    assert L.slug == "positions" and L.page == "Positions"
    check_well_formed(L, lambda step: DEFAULT, page="positions", number_words=("(within",))


def test_shuffle_without_positions(minilm):
    r = reveal("Shuffle without positions")
    without, _, shuffled = order(minilm, lesson.SENTENCE)
    assert without < lesson.NOISE and r.answer == lesson.KEEPS[0]
    step = STEPS["Shuffle without positions"]
    assert f"under {lesson.NOISE:g} counts as float rounding" in step.question
    assert bold(r.said) == f"{without:.2e}"
    shown = STEPS["Shuffle without positions"].show(DEFAULT).text
    assert shown.endswith(" ".join(f"`{t}`" for t in shuffled))


def test_shuffle_with_positions(minilm):
    r = reveal("Shuffle with positions")
    without, with_pos, _ = order(minilm, lesson.SENTENCE)
    assert r.answer == "0.1 to 10" and 0.1 <= with_pos < 10
    assert bold(r.said) == f"{with_pos:.3g}" and f"{without:.2e}" in r.said
    (fig,) = r.figures
    assert list(fig.data[0].customdata) == [without, with_pos]


def test_the_fastest_wave():
    r = reveal("The fastest wave")
    assert "sin(p)" not in STEPS["The fastest wave"].show(DEFAULT).text  # no answer in the show
    lam = wavelengths(128, 10000.0).numpy()
    assert r.answer == pytest.approx(lam[0]) == pytest.approx(2 * math.pi)
    assert bold(r.said) == f"{lam[0]:.2f}"
    (fig,) = r.figures
    names = [t.name for t in fig.data if t.mode == "lines"]
    assert [n.split(" · ")[0] for n in names] == [f"dim {j}" for j in (0, 1, 32, 33, 64, 65)]


def test_the_slowest_wave():
    r = reveal("The slowest wave")
    slow = float(wavelengths(128, 10000.0)[126])
    assert r.answer == "About 60,000" and bold(r.said) == f"{slow:,.0f}"
    assert numbers(r.said)[-1] == pytest.approx(360 * 127 / slow, abs=0.05)


def test_alike_by_distance():
    r = reveal("Alike by distance")
    pe = sinusoidal_table(lesson.START + 128, 128, 10000.0).numpy()
    k = np.arange(128)
    gap = np.abs(pe[k] @ pe[0] - pe[lesson.START + k] @ pe[lesson.START]).max()
    assert r.answer == "No: only on the offset k"
    assert float(bold(r.said)) == pytest.approx(gap, abs=1e-5) and gap < 1e-3
    assert "(of 64 at k = 0)" in r.said  # each pair gives sin² + cos² = 1: d_model / 2


def test_learned_positions(minilm):
    r = reveal("Learned positions")
    table = minilm.pos.embed.weight.detach().numpy()[:128]
    cos = cosine_matrix(table)
    a, b = 16, 64
    k = np.arange(128 - b)
    gap = np.abs(cos[a, a + k] - cos[b, b + k]).max()
    assert r.answer == "Yes: it depends on the start" and gap > 0.05
    assert float(bold(r.said)) == pytest.approx(gap, abs=0.005)
    shown = STEPS["Learned positions"].show(DEFAULT).text  # the two starts the reveal compares
    assert f"k = 0 to {128 - b - 1}, from the two starts p = {a} and p = {b}." in shown


@pytest.mark.parametrize("ctx", [DEFAULT, OTHER], ids=["lesson's", "other"])
def test_your_sentence(minilm, ctx):
    r = reveal("Your sentence", ctx)
    text = ctx.sentences[0 if ctx is DEFAULT else 1]  # "Hi" has nothing to shuffle
    without, with_pos, _ = order(minilm, text)
    assert bold(r.said) == f"{with_pos:.3g}" and f"{without:.2e}" in r.said
    assert r.answer == lesson.size(with_pos)
    shown = STEPS["Your sentence"].show(ctx).text
    assert f"sentence {ctx.sentences.index(text) + 1}" in shown


def test_your_sentence_follows_your_sentences():
    assert reveal("Your sentence", DEFAULT).said != reveal("Your sentence", OTHER).said


def test_nothing_to_shuffle_is_said_and_the_link_still_opens():
    ctx = Ctx(("Hi",))
    step = STEPS["Your sentence"]
    with pytest.raises(ValueError, match="two tokens to shuffle"):
        step.reveal(ctx)
    assert step.link(ctx).startswith("positions?")
    assert step.link(Ctx(())).startswith("positions?")


def test_learner_text_is_escaped():
    ctx = Ctx(("*bold* [x](y) `code` dog",))
    assert "[x](y)" not in reveal("Your sentence", ctx).said
    assert "[x](y)" not in STEPS["Your sentence"].show(ctx).text


# ---- links: each step's page, in the state it talks about ------------------------------------


def links() -> list[tuple[str, str, Ctx]]:
    """(link, step title, ctx) for every step, each link once."""
    found: dict[str, tuple[str, Ctx]] = {}
    for step in lesson.LESSON.steps:
        for ctx in (DEFAULT, OTHER) if step.yours else (DEFAULT,):
            found.setdefault(step.link(ctx), (step.title, ctx))
    return [(link, title, ctx) for link, (title, ctx) in found.items()]


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize(("link", "title", "ctx"), links(), ids=[t for _, t, _ in links()])
def test_each_link_opens_the_positions_page_as_the_step_says(link, title, ctx):
    at, query = open_link(link, timeout=120, values=True)
    assert at.title[0].value == "Positions"
    view = query["pe_view"]
    if view == "Order test":  # the page's numbers are the lesson's
        said = STEPS[title].reveal(ctx).said
        if title == "Shuffle without positions":
            assert bold(said) == metric(at, "Without position vectors")
        else:
            assert bold(said) == metric(at, "With position vectors")
            assert metric(at, "Without position vectors") in said
    elif view == "Curves":
        picked = [int(query[f"pe_pair{i}"]) for i in (1, 2, 3)]
        assert [at.slider(key=f"pe_pair{i}").value for i in (1, 2, 3)] == picked
        assert at.slider(key="pe_d").value == lesson.D
    elif view == "Similarity":
        assert at.slider(key="pe_start").value == lesson.START
        assert at.get("plotly_chart")  # its profiles, as the step draws them
    else:
        assert view == "Learned vs fixed"
        assert at.select_slider(key="pe_len").value == lesson.N
