"""What a lesson is made of: steps that ask for a prediction, then reveal what the model did.

A lesson is data: an ordered tuple of ``Step``s. A step names its question, the one widget the
learner predicts with (``Choice`` or ``Number``, always starting empty), what it shows before
the prediction (``show``, never the answer) and how the answer is computed live (``reveal``),
with the same ``app.compute`` and ``app.charts`` functions as the page it teaches, and the
page with the step's exact state (``page``, ``query``). Nothing here draws: the Lessons page
(``app/views/lessons.py``) renders what these return.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from app import state
from app.state import ModelChoice
from encoder import EncoderConfig

# ---- the models lessons run ---------------------------------------------------------------
# Fixed models: a lesson's numbers are the same for everyone in the room, whatever the sidebar.

PRETRAINED = ModelChoice(state.PRETRAINED, None, 0, False, 128)


def scratch(seed: int = 0, **config: object) -> ModelChoice:
    """A from-scratch model in eval mode (dropout off), ``scratch(d_model=64, n_heads=1)``: the
    same ModelChoice the sidebar builds for those settings (max_len 128), so its link opens it."""
    config.setdefault("max_len", 128)
    return ModelChoice(state.SCRATCH, EncoderConfig(**config), seed, False, config["max_len"])


def link_query(
    choice: ModelChoice, text: str | None = None, **page: object
) -> dict[str, str | list[str]]:
    """The link that shows ``choice`` (and ``text``, and the page's own widget values) on a
    page: the sidebar's parameters as the sidebar writes them, defaults left out."""
    query: dict[str, str] = {}
    if text is not None and text != state.DEFAULT_TEXT:
        query[state.TEXT] = text
    label = next(k for k, v in state.MODEL_OPTIONS.items() if v == choice.kind)
    values: dict[str, object] = {"model": label, "train": choice.train, "max_len": choice.max_len}
    if choice.kind == state.SCRATCH:
        c = choice.config
        activation = next(k for k, v in state.ACTIVATION_OPTIONS.items() if v == c.activation)
        norm = next(k for k, v in state.NORM_OPTIONS.items() if v == c.norm_first)
        values |= {
            "d_model": c.d_model,
            "n_heads": c.n_heads,
            "n_layers": c.n_layers,
            "d_ff": c.d_ff,
            "dropout": c.dropout,
            "positional": c.positional,
            "activation": activation,
            "norm": norm,
            "seed": choice.seed,
        }
    for key, value in values.items():
        if state.url_value(value) != state.url_value(state.DEFAULTS.get(key)):
            query[key] = state.url_value(value)
    query |= {key: state.url_value(value) for key, value in page.items()}
    return query


# ---- what a step asks -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ctx:
    """What a step computes on: the learner's own sentences ("now try yours")."""

    sentences: tuple[str, ...]


@dataclass(frozen=True)
class Choice:
    """Predict by picking one option; nothing is picked at first."""

    options: tuple[str, ...] | Callable[[Ctx], tuple[str, ...]]
    widget: str = "radio"  # radio, pills, segmented or selectbox
    label: str = "Your prediction"

    def choices(self, ctx: Ctx) -> tuple[str, ...]:
        return self.options(ctx) if callable(self.options) else self.options


@dataclass(frozen=True)
class Number:
    """Predict a number; right when within ``tolerance`` of the model's (said in the question)."""

    low: float
    high: float
    step: float
    tolerance: float
    unit: str = ""  # printed after the number: "%", " bits"
    label: str = "Your prediction"
    digits: int | None = None  # decimals shown; None: none for whole numbers, else 2

    @property
    def whole(self) -> bool:
        """Whether the prediction takes whole numbers only (its input then shows no decimals)."""
        return all(float(v).is_integer() for v in (self.low, self.high, self.step))

    def say(self, value: float) -> str:
        digits = self.digits
        if digits is None:
            digits = 0 if self.whole else 2
        return f"{value:,.{digits}f}{self.unit}"


Ask = Choice | Number


@dataclass(frozen=True)
class Shown:
    """What a step shows with its question: the chart or numbers it is about, not the answer."""

    text: str = ""  # markdown
    figures: tuple = ()  # plotly figures from app.charts
    table: pd.DataFrame | None = None


@dataclass(frozen=True)
class Reveal:
    """The answer, computed live: what the model did and why, with its charts."""

    answer: object  # the right option (or a tuple of options that all count), or a number
    said: str  # what the model did, in one or two sentences with its numbers (markdown)
    why: str  # why, in two or three sentences (markdown)
    figures: tuple = ()  # plotly figures from app.charts
    table: pd.DataFrame | None = None


@dataclass(frozen=True)
class Step:
    """One question: predict, then see what the model does."""

    title: str  # a few words, for the step list: "Rows sum to 1"
    question: str  # one or two sentences (markdown)
    ask: Ask
    reveal: Callable[[Ctx], Reveal]  # computes the answer live; ValueError for bad input
    show: Callable[[Ctx], Shown] | None = None  # drawn with the question
    page: str = "home"  # url path of the page this step opens on ("attention", "positions"…)
    query: Callable[[Ctx], dict] | dict = field(default_factory=dict)  # {key: str or [str]}
    yours: bool = False  # runs on the learner's sentences ("now try yours")

    def link(self, ctx: Ctx) -> str:
        """The page's address with the step's state: relative, so it works behind a prefix."""
        from urllib.parse import urlencode

        query = self.query(ctx) if callable(self.query) else self.query
        path = "./" if self.page == "home" else self.page
        return f"{path}?{urlencode(query, doseq=True)}" if query else path


@dataclass(frozen=True)
class Lesson:
    slug: str  # its name in a link: ?lesson=<slug>
    title: str
    page: str  # the page it is mostly about, as the navigation names it ("Attention")
    summary: str  # one sentence: what the learner will find out
    steps: tuple[Step, ...]
    next_up: str  # what to try next, once it is done (markdown)
    yours: str = ""  # the sentences a "try yours" step starts with ("" = the sidebar's)


def right(ask: Ask, prediction: object, answer: object) -> bool:
    """Whether a prediction matches the model's answer (a number within the tolerance)."""
    if prediction is None:
        return False
    if isinstance(ask, Number):
        return math.isclose(float(prediction), float(answer), abs_tol=ask.tolerance + 1e-9)
    if isinstance(answer, tuple | list | frozenset | set):
        return prediction in answer
    return prediction == answer


def say(ask: Ask, value: object) -> str:
    """A prediction or an answer in words."""
    if isinstance(ask, Number):
        return ask.say(float(value))
    if isinstance(value, tuple | list | frozenset | set):
        return " or ".join(f"“{state.md_escape(str(v), 80)}”" for v in value)
    return f"“{state.md_escape(str(value), 80)}”"
