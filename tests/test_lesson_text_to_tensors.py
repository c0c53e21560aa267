"""Lesson 1, From text to tensors: every step's answer against the tokenizer and the encoder
themselves, the "try yours" steps on two sets of sentences, and each step's link opened on the
Encode page with AppTest."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from app import state
from app.lessons import text_to_tensors as lesson
from app.lessons.base import Ctx, Reveal
from encoder.summary import shape_trace
from encoder.tokenizer import default_tokenizer
from tests import lessons_common
from tests.lessons_common import bold, check_step, check_well_formed, open_link
from tests.test_app import array, table_frame

STEPS = {step.title: step for step in lesson.LESSON.steps}
DEFAULT = Ctx(tuple(lesson.YOURS.split("\n")))
OTHER = Ctx(("I love my dog very much", "Supercalifragilistic words!", "Hi."))


@pytest.fixture(scope="module")
def minilm():
    return lessons_common.minilm().model


@pytest.fixture(scope="module")
def tok():
    return default_tokenizer()


def reveal(title: str, ctx: Ctx = DEFAULT) -> Reveal:
    """The step's reveal, checked as every step's is (valid answer, small figures)."""
    return check_step(STEPS[title], ctx, several=True, long_selectbox=True)


def test_the_lesson_is_complete():
    L = lesson.LESSON
    assert L.slug == "text-to-tensors" and L.page == "Encode"
    check_well_formed(
        L,
        lambda step: DEFAULT,
        page="home",
        number_words=("(exactly)", "(within"),
        several=True,
        long_selectbox=True,
    )


def test_word_pieces(tok):
    r = reveal("Word pieces")
    enc = tok.encode(lesson.WORD)
    pieces = [t for t, special in zip(enc.tokens, enc.special, strict=True) if not special]
    assert r.answer == len(pieces) == 5 and bold(r.said) == str(len(pieces))
    assert all(f"`{p}`" in r.said for p in pieces)
    assert list(r.table["token"][1:-1]) == pieces


def test_cls_and_sep(tok):
    r = reveal("[CLS] and [SEP]")
    tokens = tok.encode(lesson.ONE).tokens
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert r.answer == "[CLS] first, [SEP] last"
    assert f"position {len(tokens) - 1}, the last" in r.said


def test_padding(tok):
    r = reveal("Padding")
    batch = tok.encode_batch(list(lesson.PAIR))
    pads = int((batch.attention_mask[0] == 0).sum())
    assert r.answer == pads and bold(r.said) == str(pads)
    assert f"{batch.input_ids.shape[1]} positions wide" in r.said
    assert list(r.table.iloc[0, 1:]) == batch.encodings[0].tokens + ["[PAD]"] * pads


def test_one_vector_per_token(tok, minilm):
    r = reveal("One vector per token")
    ids = torch.tensor([tok.encode(lesson.ONE).ids])
    with torch.no_grad():
        out = minilm(ids).last_hidden_state[0]
    assert r.answer == out.shape[-1] == 384 and bold(r.said) == "384"
    (fig,) = r.figures
    np.testing.assert_allclose(array(fig.to_plotly_json()["data"][0]["z"]), out, atol=1e-5)


def test_the_outputs_shape(tok, minilm):
    r = reveal("The output's shape")
    batch = tok.encode_batch(list(lesson.PAIR))
    with torch.no_grad():
        out = minilm(batch.input_ids, batch.attention_mask).last_hidden_state
    shape = "(" + ", ".join(map(str, out.shape)) + ")"
    assert r.answer == bold(r.said) == shape
    assert "each of" not in " ".join(r.table["stage"])  # the next step's answer stays hidden
    assert r.table["shape"].iloc[-1] == " × ".join(map(str, out.shape))


def test_attentions_shape(tok, minilm):
    r = reveal("Attention's shape")
    batch = tok.encode_batch(list(lesson.PAIR))
    with torch.no_grad():
        out = minilm(batch.input_ids, batch.attention_mask, output_attentions=True)
    shape = tuple(out.attentions[0].shape)
    assert r.answer == bold(r.said) == "(" + ", ".join(map(str, shape)) + ")"
    assert f"{math.prod(shape):,} weights per layer" in r.said
    assert f"{len(out.attentions)} layers" in r.said
    stages = {s.name: s.shape for s in shape_trace(minilm.cfg, *batch.input_ids.shape)}
    assert stages["layer 0 attention"] == shape
    assert "head" not in STEPS["Attention's shape"].question  # the heads are the answer's H


@pytest.mark.parametrize("ctx", [DEFAULT, OTHER], ids=["lesson's", "other"])
def test_your_batch(tok, ctx):
    r = reveal("Your batch", ctx)
    B, S = tok.encode_batch(list(ctx.sentences), max_len=128).input_ids.shape
    assert r.answer == S and bold(r.said) == f"{B} × {S}"
    assert STEPS["Your batch"].show(ctx).text.count("\n") >= len(ctx.sentences)


def test_your_batch_follows_your_sentences():
    a, b = reveal("Your batch", DEFAULT), reveal("Your batch", OTHER)
    assert a.said != b.said
    assert reveal("Your batch", Ctx(("Hi.",))).said != a.said


@pytest.mark.parametrize("ctx", [DEFAULT, OTHER], ids=["lesson's", "other"])
def test_your_longest_word(tok, ctx):
    r = reveal("Your longest word", ctx)
    options = STEPS["Your longest word"].ask.choices(ctx)
    pieces = {w: len(tok.encode(w).ids) - 2 for w in options}  # each word alone
    most = max(pieces.values())
    assert set(r.answer) == {w for w, n in pieces.items() if n == most}
    assert bold(r.said) == str(most)


def test_your_longest_word_follows_your_sentences():
    assert reveal("Your longest word", DEFAULT).said != reveal("Your longest word", OTHER).said
    ones = reveal("Your longest word", Ctx(("the cat sat",)))
    assert set(ones.answer) == {"the", "cat", "sat"} and "one token each" in ones.said


def test_your_words_are_never_markdown():
    ctx = Ctx(("*bold* [link](x) `code` __under__ #tag",))
    options = STEPS["Your longest word"].ask.choices(ctx)
    assert options and all(o.isalnum() for o in options)
    assert "[link]" not in reveal("Your batch", ctx).said


def test_no_sentences_yet_still_gives_options_and_a_link():
    empty = Ctx(())
    assert STEPS["Your longest word"].ask.choices(empty) == ()
    assert STEPS["Your longest word"].link(empty).startswith("./")


# ---- links: each step's page, in the state it talks about ------------------------------------


def links() -> list[str]:
    found = []
    for step in lesson.LESSON.steps:
        for ctx in (DEFAULT, OTHER) if step.yours else (DEFAULT,):
            if step.link(ctx) not in found:
                found.append(step.link(ctx))
    return found


@pytest.mark.parametrize("link", links())
def test_each_link_opens_the_encode_page_as_the_step_says(link):
    at, query = open_link(link, timeout=120, values=True)
    assert at.title[0].value == "Encode"
    text = query.get(state.TEXT, state.DEFAULT_TEXT)
    lines = text.split("\n")
    rows = table_frame(at, "tokens")  # the picked sentence's tokens, as in the lesson
    pick = 0 if "sentence" not in query else int(query["sentence"].split(" · ")[0]) - 1
    assert rows["token"].iloc[1] == default_tokenizer().encode(lines[pick]).tokens[1]
