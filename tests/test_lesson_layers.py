"""Lesson 6, "Meaning moves through the layers": every step's answer and numbers against MiniLM's
own hidden states (cosines computed here with torch), the "now try yours" step on two sets of
sentences, and every step's link opening the Layer-by-layer page in the step's state."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch

from app import state
from app.lessons import layers as lesson
from app.lessons.base import Ctx
from tests.lessons_common import check_step, check_well_formed, forward, open_link

OWN = Ctx(tuple(lesson.YOURS.split("\n")))
OTHER = Ctx(("A dog chased the red ball across the park.", "The ball rolled into the pond."))
STEPS = dict(enumerate(lesson.LESSON.steps, start=1))


@cache
def hidden(sentences: tuple[str, ...]) -> tuple[torch.Tensor, list[list[str]]]:
    """MiniLM's own hidden states (L+1, B, S, D) and each sentence's tokens."""
    out, tokens = forward(sentences, output_hidden_states=True)
    return torch.stack(out.hidden_states), tokens


def cos(h: torch.Tensor, depth: int, a: tuple[int, int], b: tuple[int, int]) -> float:
    """Cosine of token a = (sentence, position) and token b at ``depth``."""
    return float(torch.cosine_similarity(h[depth, a[0], a[1]], h[depth, b[0], b[1]], dim=0))


def banks() -> tuple[torch.Tensor, list[tuple[int, int]]]:
    h, tokens = hidden(lesson.SENTENCES)
    return h, [(s, t.index("bank")) for s, t in enumerate(tokens)]


def test_the_lesson_has_five_to_eight_steps_and_a_yours_step():
    assert lesson.LESSON.slug == "meaning-moves" and lesson.LESSON.page == "Layer by layer"
    assert lesson.SENTENCES[lesson.RIVER].count("river") == 1
    assert "river" not in lesson.SENTENCES[lesson.MONEY]
    check_well_formed(
        lesson.LESSON,
        lambda step: OWN,
        page="layer-by-layer",
        each_step=False,  # the next test checks each step
        several=True,
    )


@pytest.mark.parametrize("n", STEPS)
def test_every_step_shows_and_reveals_a_valid_answer(n):
    assert STEPS[n].show  # every step shows something with its question
    check_step(STEPS[n], OWN, several=True)


def test_the_banks_start_as_one_point():
    h, b = banks()
    start = cos(h, 0, b[lesson.RIVER], b[lesson.MONEY])
    reveal = STEPS[1].reveal(OWN)
    assert reveal.answer == pytest.approx(start, abs=1e-5) and start == pytest.approx(1, abs=1e-5)
    assert f"{start:.3f}" in reveal.said
    assert "token" not in STEPS[1].show(OWN).text  # the learner counts the positions


def test_river_and_money_part_by_the_last_layer():
    h, b = banks()
    by_depth = [cos(h, d, b[lesson.RIVER], b[lesson.MONEY]) for d in range(len(h))]
    reveal = STEPS[2].reveal(OWN)
    assert reveal.answer == pytest.approx(by_depth[-1], abs=1e-4)
    assert f"{by_depth[-1]:.3f}" in reveal.said
    np.testing.assert_allclose(reveal.table.cosine, by_depth, atol=1e-3)
    worst = int(np.argmax(-np.diff(by_depth))) + 1  # depths count 0 to 6, as elsewhere
    assert f"the largest step is the one into depth {worst} (" in reveal.said
    assert ("falls" if by_depth[-1] < by_depth[0] else "rises") in reveal.said


def test_the_banks_of_one_sense_end_closest():
    h, b = banks()
    last = len(h) - 1
    same = [cos(h, last, b[0], b[1]), cos(h, last, b[2], b[3])]
    cross = [cos(h, last, b[i], b[j]) for i in (0, 1) for j in (2, 3)]
    reveal = STEPS[3].reveal(OWN)
    assert max(same) > max(cross)
    assert reveal.answer == "Two banks of the same sense"
    for n in (3, 4):  # the "about equal" threshold the reveals use, stated
        assert f"within {lesson.SAME:g}" in STEPS[n].question
    assert f"{same[0]:.3f}" in reveal.said and f"{same[1]:.3f}" in reveal.said
    assert f"{min(cross):.3f}" in reveal.said and f"{max(cross):.3f}" in reveal.said


def test_a_neighbour_or_a_namesake():
    h, b = banks()
    last = len(h) - 1
    river_bank, money_bank = b[lesson.RIVER], b[lesson.MONEY]
    neighbour = (river_bank[0], river_bank[1] - 1)
    to_river, to_money = cos(h, last, river_bank, neighbour), cos(h, last, river_bank, money_bank)
    reveal = STEPS[4].reveal(OWN)
    expected = lesson.NEAR_OPTIONS[int(to_money > to_river)]
    assert abs(to_money - to_river) >= lesson.SAME and reveal.answer == expected
    assert f"{to_river:.3f}" in reveal.said and f"{to_money:.3f}" in reveal.said


def test_anisotropy_by_depth():
    h, tokens = hidden(lesson.SENTENCES)
    real = [h[:, s, : len(t)] for s, t in enumerate(tokens)]
    vectors = torch.nn.functional.normalize(torch.cat(real, dim=1), dim=-1)  # (L+1, N, D)
    sims = vectors @ vectors.transpose(1, 2)
    n = vectors.shape[1]
    mean = ((sims.sum((1, 2)) - sims.diagonal(dim1=1, dim2=2).sum(-1)) / (n * (n - 1))).numpy()
    reveal = STEPS[5].reveal(OWN)
    change = mean[-1] - mean[0]
    where = 2 if abs(change) <= lesson.FLAT else int(change < 0)
    assert reveal.answer == lesson.RISE_OPTIONS[where]
    assert ("narrower cone", "spread out", "same spread")[where] in reveal.why
    assert f"within {lesson.FLAT:g} counts as about the same" in STEPS[5].question
    assert f"{mean[0]:.3f}" in reveal.said and f"{mean[-1]:.3f}" in reveal.said
    assert f"{mean[0]:.3f}" in STEPS[5].show(OWN).text


@pytest.mark.parametrize("ctx, word", [(OWN, "train"), (OTHER, "ball")])
def test_yours_follows_the_learners_sentences(ctx, word):
    h, tokens = hidden(ctx.sentences)
    a, b = [(s, t.index(word)) for s, t in enumerate(tokens)]
    end = cos(h, len(h) - 1, a, b)
    reveal = STEPS[6].reveal(ctx)
    assert reveal.answer == pytest.approx(end, abs=1e-4)
    assert f"{end:.3f}" in reveal.said and f"“{word}”" in reveal.said
    assert f"{cos(h, 0, a, b):.3f}" in STEPS[6].show(ctx).text


def test_yours_differs_between_sentence_sets_and_says_what_is_missing():
    assert STEPS[6].reveal(OWN).said != STEPS[6].reveal(OTHER).said
    with pytest.raises(ValueError, match="share a word"):
        STEPS[6].reveal(Ctx(("No words repeat here.", "Something else entirely!")))
    with pytest.raises(ValueError, match="share a word"):
        STEPS[6].show(Ctx(("Only one sentence here.",)))


# ---- the links open the page in the step's state ----------------------------------------------


LINKS = {"depth 0": (1, OWN), "last depth": (3, OWN), "yours": (6, OWN), "yours 2": (6, OTHER)}


@pytest.mark.parametrize("name", LINKS)
def test_links_open_the_layer_by_layer_page_as_the_step_says(name):
    n, ctx = LINKS[name]
    link = STEPS[n].link(ctx)
    assert link.startswith("layer-by-layer?")
    at, params = open_link(link)
    text = "\n".join(ctx.sentences) if STEPS[n].yours else "\n".join(lesson.SENTENCES)
    assert at.session_state[state.TEXT] == params["text"] == text
    assert at.slider(key="layer").value == int(params["layer"])
    for key in ("method", "axes", "color", "dims"):
        assert at.segmented_control(key=key).value == params[key]
    depths = len(hidden(lesson.SENTENCES)[0])
    assert int(params["layer"]) == (0 if n == 1 else depths - 1)
    if not STEPS[n].yours:  # the page's own preset, with its note
        assert any("What to look for" in i.value for i in at.info)
    for step in (2, 4, 5):  # the other steps about the last depth share this link
        assert STEPS[step].link(ctx) == STEPS[3].link(ctx)
