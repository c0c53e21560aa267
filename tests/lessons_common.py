"""What the lesson tests (tests/test_lesson_*.py) share: the rules every lesson and every step
keep, MiniLM loaded once with its own attention for a sentence, and a step's link opened in
AppTest as a browser would open it. Helpers only: the tests stay in the lesson test files."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import torch
from streamlit.testing.v1 import AppTest

from app import state
from app.lessons.base import Choice, Ctx, Lesson, Number, Reveal, Shown, Step
from encoder.pretrained import Pretrained, load_minilm
from tests.test_app import MAIN, assert_clean

# ---- the rules every lesson keeps ------------------------------------------------------------


def check_options(step: Step, ctx: Ctx, *, long_selectbox: bool = False) -> tuple[str, ...]:
    """A Choice step's options on ``ctx``: some, all distinct, at most 5 of at most 30
    characters (``long_selectbox``: a selectbox may hold more)."""
    options = step.ask.choices(ctx)
    assert options and len(options) == len(set(options)), options
    if not (long_selectbox and step.ask.widget == "selectbox"):
        assert len(options) <= 5 and all(len(o) <= 30 for o in options), options
    return options


def check_step(
    step: Step, ctx: Ctx, *, several: bool = False, long_selectbox: bool = False
) -> Reveal:
    """The step's reveal on ``ctx``, with what every step must give: its options as
    check_options wants them, a valid answer
    (``several``: a tuple of options that all count), a said and a why, at most 2 figures shown
    and 2 revealed, each at most 380 px high."""
    if isinstance(step.ask, Choice):
        options = check_options(step, ctx, long_selectbox=long_selectbox)
    shown = step.show(ctx) if step.show else Shown()
    assert isinstance(shown, Shown) and len(shown.figures) <= 2
    reveal = step.reveal(ctx)
    assert isinstance(reveal, Reveal) and reveal.said and reveal.why
    assert len(reveal.figures) <= 2
    for fig in (*shown.figures, *reveal.figures):
        assert fig.layout.height <= 380
    if isinstance(step.ask, Number):
        assert math.isfinite(float(reveal.answer))
        assert step.ask.low <= float(reveal.answer) <= step.ask.high
    else:
        assert isinstance(step.ask, Choice)
        if several and isinstance(reveal.answer, tuple):
            answers = reveal.answer
            assert answers and all(a in options for a in answers), (reveal.answer, options)
        else:
            assert reveal.answer in options, (reveal.answer, options)
    return reveal


def check_well_formed(
    lesson: Lesson,
    ctx_for_step: Callable[[Step], Ctx],
    *,
    page: str,
    number_words: tuple[str, ...] = ("within",),
    each_step: bool = True,
    several: bool = False,
    long_selectbox: bool = False,
) -> None:
    """The rules of a lesson: 5 to 8 steps, at least one "try yours", every step on ``page``
    with a Number question saying its tolerance (one of ``number_words``), and each step
    checked on ``ctx_for_step(step)`` by check_step (``each_step=False`` when a test checks
    each step itself: then only the options are checked here)."""
    assert 5 <= len(lesson.steps) <= 8 and any(step.yours for step in lesson.steps)
    for step in lesson.steps:
        assert step.page == page, step.title
        if isinstance(step.ask, Number):
            assert any(word in step.question for word in number_words), step.question
        if each_step:
            check_step(step, ctx_for_step(step), several=several, long_selectbox=long_selectbox)
        elif isinstance(step.ask, Choice):
            check_options(step, ctx_for_step(step), long_selectbox=long_selectbox)


def ctx_by_step(yours: Ctx, others: Ctx) -> Callable[[Step], Ctx]:
    """The sentences each step runs on: ``yours`` for a "try yours" step, else ``others``."""
    return lambda step: yours if step.yours else others


def bold(said: str) -> str:
    """The number or shape the reveal states in bold."""
    return re.search(r"\*\*(.+?)\*\*", said).group(1)


# ---- MiniLM, as the lessons' answers are checked against it ----------------------------------


@cache
def minilm() -> Pretrained:
    """all-MiniLM-L6-v2 and its tokenizer, loaded once for every lesson test, in eval mode."""
    loaded = load_minilm()
    loaded.model.eval()
    return loaded


@cache
def forward(sentences: tuple[str, ...], **outputs: bool) -> tuple[object, list[list[str]]]:
    """MiniLM's own forward pass over the sentences as one padded batch with its mask, and
    each sentence's tokens; ``outputs``: output_attentions, output_hidden_states."""
    model, tokenizer = minilm()
    batch = tokenizer.encode_batch(list(sentences), max_len=128)
    with torch.inference_mode():
        out = model.eval()(batch.input_ids, batch.attention_mask, **outputs)
    return out, [list(e.tokens) for e in batch.encodings]


@cache
def reference_attention(sentence: str) -> tuple[np.ndarray, list[str]]:
    """MiniLM's own attention for one sentence: (L, H, n, n) and its tokens."""
    out, tokens = forward((sentence,), output_attentions=True)
    return torch.stack(out.attentions)[:, 0].numpy(), tokens[0]


# ---- links -------------------------------------------------------------------------------------


def step_links(lesson: Lesson, ctx_for_step: Callable[[Step], Ctx]) -> dict[str, list[str]]:
    """Each distinct link of the lesson, with the titles of the steps that use it."""
    found: dict[str, list[str]] = {}
    for step in lesson.steps:
        found.setdefault(step.link(ctx_for_step(step)), []).append(step.title)
    return found


def open_link(
    link: str, *, timeout: float = 180, values: bool = False
) -> tuple[AppTest, dict[str, str]]:
    """Run the page a step links to, with its query, as a browser would open it: it runs
    clean and follows every parameter (``values``: every widget the link names holds its
    value). Returns the page and the link's query."""
    parts = urlsplit(link)
    path = parts.path.strip("./") or "home"
    query = dict(parse_qsl(parts.query))
    at = AppTest.from_file(MAIN, default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(state.PAGE_TABLE[path][0]).run()
    assert_clean(at)
    notices = [w.value for w in at.warning if "could not be followed" in w.value]
    assert not notices, notices
    if values:
        for key, value in query.items():
            if key == state.TEXT:
                assert at.text_area(key="text").value == value
            else:
                assert state.url_value(at.session_state[key]) == value, key
    return at, query


def open_with(
    opener: Callable[..., AppTest], link: str, path: str
) -> tuple[AppTest, dict[str, str]]:
    """Open a step's link to ``path`` with a page test's own opener (``opener(**query)``): the
    page applied every parameter, so it warned of none. Returns the page and the query."""
    link_path, _, raw = link.partition("?")
    assert link_path == path
    query = dict(parse_qsl(raw))
    at = opener(**query)
    assert not at.warning, [w.value for w in at.warning]  # every parameter was applied
    return at, query
