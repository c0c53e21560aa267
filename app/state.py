"""Session-state keys, defaults and widget options, in one place.

Every sidebar widget is bound to the URL (``bind="query-params"``): its key is the query
parameter's name, and a value equal to the default is left out of the URL. The sentences are
synced by hand (``sync_text_param``) because a pasted essay must not end up in a link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from encoder import EncoderConfig
from encoder.config import divisors

ASSETS = Path(__file__).resolve().parents[1] / "assets"
EXAMPLES: dict[str, str] = json.loads((ASSETS / "examples.json").read_text())

PRETRAINED = "pretrained"
SCRATCH = "scratch"
# radio label (also the value a link carries) -> kind; and the longer name pages show
MODEL_OPTIONS = {"Pretrained": PRETRAINED, "From scratch": SCRATCH}
MODEL_LABELS = {
    PRETRAINED: "Pretrained: all-MiniLM-L6-v2",
    SCRATCH: "From scratch (random weights)",
}
ACTIVATION_OPTIONS = {"ReLU": "relu", "GELU": "gelu"}
NORM_OPTIONS = {"post-norm": False, "pre-norm": True}
MAX_SENTENCES = 8  # lines beyond this are dropped, and the page says so
MAX_LINK_TEXT = 1500  # characters of text that a shared link carries
PRETRAINED_MAX_LEN = 512

TEXT = "text"
DEFAULT_TEXT = next(iter(EXAMPLES.values()))
DEFAULTS = {
    "model": "Pretrained",
    "d_model": 64,
    "n_heads": 4,
    "n_layers": 2,
    "d_ff": 256,
    "dropout": 0.1,
    "max_len": 128,
    "seed": 0,
    "positional": "sinusoidal",
    "activation": "ReLU",
    "norm": "post-norm",
    "train": False,
}
D_MODEL_OPTIONS = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768]
D_FF_OPTIONS = [16, 32, 64, 128, 256, 512, 1024, 1536, 2048, 3072, 4096]
MAX_LEN_OPTIONS = [8, 16, 32, 64, 128, 256, 512]
MAX_HEADS = 16


def head_options(d_model: int) -> list[int]:
    """Head counts a slider may offer for this width: those that divide it, up to 16."""
    return [h for h in divisors(d_model) if h <= MAX_HEADS]


def closest(options: list[int], wanted: int) -> int:
    return min(options, key=lambda o: (abs(o - wanted), o))


@dataclass(frozen=True)
class ModelChoice:
    """Which model the sidebar asks for: hashable, so it keys the caches."""

    kind: str  # PRETRAINED or SCRATCH
    config: EncoderConfig | None  # the from-scratch architecture; None for pretrained
    seed: int
    train: bool  # train mode: dropout active
    max_len: int  # tokens kept per sentence

    @property
    def label(self) -> str:
        return MODEL_LABELS[self.kind]


def split_sentences(text: str) -> tuple[list[str], int]:
    """Non-blank lines of the text area, at most MAX_SENTENCES; also how many there were."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[:MAX_SENTENCES], len(lines)


def init_text() -> None:
    """Seed the text area once per session: from the link's ?text= if present."""
    if TEXT not in st.session_state:
        st.session_state[TEXT] = st.query_params.get(TEXT, DEFAULT_TEXT)


def sync_text_param(text: str) -> bool:
    """Put the sentences in the URL; False (and no param) when they are too long for a link."""
    fits = len(text) <= MAX_LINK_TEXT
    if fits and text != DEFAULT_TEXT:
        st.query_params[TEXT] = text
    elif TEXT in st.query_params:
        del st.query_params[TEXT]
    return fits


def link_problems(asked: dict[str, str], known: set[str]) -> list[str]:
    """Link parameters that were not applied as written: unknown names or refused values.

    ``asked`` is the URL's query on the session's first run, read before the widgets run;
    afterwards every known key holds the value the widget actually took.
    """
    problems = []
    for key, raw in asked.items():
        if key == TEXT:
            continue
        if key not in known:
            problems.append(f"ignored unknown link parameter {key!r}")
        elif key in st.session_state and not _same(raw, st.session_state[key]):
            problems.append(f"{key}={raw!r} is not a valid choice; using {st.session_state[key]}")
    return problems


def _same(raw: str, value: object) -> bool:
    if isinstance(value, bool):
        return raw.lower() in ("true", "1") if value else raw.lower() in ("false", "0")
    if isinstance(value, (int, float)):
        try:
            return float(raw) == float(value)
        except ValueError:
            return False
    return raw == str(value)
