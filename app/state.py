"""Session-state keys, defaults and widget options, in one place.

Every widget of a view, in the sidebar and on the pages, is bound to the URL
(``bind="query-params"``): its key is the query parameter's name, and the address bar leaves
out a value equal to the default. The sentences are synced by hand (``sync_text_param``)
because a pasted essay must not end up in a link. "Share this view" rebuilds the link from the
session's values (``share_query``), so it always names what is on screen.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from encoder import EncoderConfig
from encoder.config import divisors

ASSETS = Path(__file__).resolve().parents[1] / "assets"
EXAMPLES: dict[str, str] = json.loads((ASSETS / "examples.json").read_text())

PRETRAINED = "pretrained"
SCRATCH = "scratch"
TRAINED = "trained"  # a small model trained on a toy task (app/views/train.py)
# radio label (also the value a link carries) -> kind; and the longer name pages show
MODEL_OPTIONS = {"Pretrained": PRETRAINED, "From scratch": SCRATCH, "Trained": TRAINED}
MINILM = "all-MiniLM-L6-v2"  # the pretrained model shipped with the app; others: models folder
MODEL_LABELS = {
    PRETRAINED: f"Pretrained: {MINILM}",
    SCRATCH: "From scratch (random weights)",
    TRAINED: "Trained",  # ModelChoice.label adds the task: "Trained: reverse"
}
ACTIVATION_OPTIONS = {"ReLU": "relu", "GELU": "gelu"}
NORM_OPTIONS = {"post-norm": False, "pre-norm": True}
MAX_SENTENCES = 8  # lines beyond this are dropped, and the page says so
MAX_LINK_TEXT = 1500  # characters of text that a shared link carries
PRETRAINED_MAX_LEN = 512

# The pages, in the navigation's order: url path -> (file, title, icon). Each page's address is
# its title in lower case with hyphens, as a person would guess it (Padding & masks is
# /padding); "home" is the app's root. Lessons link to the pages by these paths.
PAGE_TABLE = {
    "lessons": ("views/lessons.py", "Lessons", ":material/school:"),
    "home": ("views/encode.py", "Encode", ":material/input:"),
    "attention": ("views/attention.py", "Attention", ":material/grid_on:"),
    "positions": ("views/positional.py", "Positions", ":material/waves:"),
    "layer-by-layer": ("views/projections.py", "Layer by layer", ":material/scatter_plot:"),
    "padding": ("views/padding.py", "Padding & masks", ":material/check_box_outline_blank:"),
    "inside-a-layer": ("views/inside_layer.py", "Inside a layer", ":material/layers:"),
    "train": ("views/train.py", "Train", ":material/model_training:"),
}

TEXT = "text"
DEFAULT_TEXT = next(iter(EXAMPLES.values()))
DEFAULTS = {
    "model": "Pretrained",
    "pretrained": MINILM,  # or a subfolder of the server's models folder, by name
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


def url_int(key: str, default: int) -> int:
    """A whole number the link asks for (before its widget ran), or the default."""
    raw = st.query_params.get(key, "")
    try:
        return int(raw) if raw.isdigit() else default
    except ValueError:  # over 4,300 digits, or digits int() does not read ("²")
        return default


def closest(options: list[int], wanted: int) -> int:
    return min(options, key=lambda o: (abs(o - wanted), o))


@dataclass(frozen=True)
class ModelChoice:
    """Which model the sidebar asks for: hashable, so it keys the caches."""

    kind: str  # PRETRAINED, SCRATCH or TRAINED
    config: EncoderConfig | None  # the architecture (from scratch, trained); None for pretrained
    seed: int
    train: bool  # train mode: dropout active
    max_len: int  # tokens kept per sentence
    trained: str | None = None  # TRAINED: the sidebar's name for it ("reverse", "reverse · yours")
    weights: bytes = field(default=b"", repr=False)  # TRAINED: the checkpoint file's bytes
    folder: str = ""  # PRETRAINED from the server's models folder: its subfolder's name
    stamp: str = ""  # with folder: the weights' size and mtime, so replaced weights reload

    @property
    def label(self) -> str:
        if self.kind == TRAINED:
            return f"{MODEL_LABELS[TRAINED]}: {self.trained}"
        if self.folder:
            return f"Pretrained: {self.folder}"
        return MODEL_LABELS[self.kind]

    @property
    def name(self) -> str:
        """The model's own name: the folder's, all-MiniLM-L6-v2, "reverse", "From scratch"."""
        if self.kind == PRETRAINED:
            return self.folder or MINILM
        return self.label.removeprefix("Trained: ")


def split_sentences(text: str) -> tuple[list[str], int]:
    """Non-blank lines of the text area, at most MAX_SENTENCES; also how many there were."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[:MAX_SENTENCES], len(lines)


def example_name(text: str) -> str | None:
    """The example whose text this is, or None for text the user typed or edited."""
    return next((name for name, value in EXAMPLES.items() if value == text), None)


def init_text() -> None:
    """Seed the text area once per session: from the link's ?text= if present.

    Text that cannot be UTF-8 (a lone surrogate, half an emoji) gets "?" in its place before
    any widget or message carries it: the browser would mangle it anyway.
    """
    if TEXT not in st.session_state:
        st.session_state[TEXT] = st.query_params.get(TEXT, DEFAULT_TEXT)
    text = st.session_state[TEXT]
    if not isinstance(text, str):
        st.session_state[TEXT] = ""
    elif not text.isascii():
        clean = text.encode("utf-8", "replace").decode("utf-8")
        if clean != text:
            st.session_state[TEXT] = clean


def sync_text_param(text: str) -> bool:
    """Put the sentences in the URL; False (and no param) when they are too long for a link.

    Writes only when the URL's text must change: every write re-sends the server's copy of the
    query string, which lags behind what bound widgets wrote in the browser.
    """
    fits = len(text) <= MAX_LINK_TEXT
    wanted = text if fits and text != DEFAULT_TEXT else None
    if st.query_params.get(TEXT) != wanted:
        if wanted is None:
            del st.query_params[TEXT]
        else:
            st.query_params[TEXT] = wanted
    return fits


# ---- the shareable link -------------------------------------------------------------------
# Every widget that is part of a view is bound to the URL with its key as the parameter name.
# Rule for bound widgets: no format_func. The URL then carries str(value) (Streamlit writes the
# formatted option), so share_query() can rebuild the link from session state alone.

_LINKED = "_linked_keys"
# Class mode's place in a room (the Lessons page): in this session's address bar, never in a
# Share link (a student's id, a teacher's token)
CLASS_PARAMS = ("room", "student", "teach")
_RANGES = "_number_ranges"  # bound number widgets' ranges, for the link notice's words


def begin_run() -> None:
    """Forget last run's bound keys: each run registers the widgets it shows."""
    st.session_state[_LINKED] = []
    st.session_state[_RANGES] = {}


def number_range(key: str, low: float, high: float) -> None:
    """Remember the range a bound number widget takes (its link notice says it)."""
    st.session_state.setdefault(_RANGES, {})[key] = (low, high)


def number_in_range(raw: str, low: float, high: float) -> bool:
    """True for link text that is a finite number from low to high ("12", "1e3", "0.5")."""
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return False
    return math.isfinite(value) and low <= value <= high


def linked(key: str) -> str:
    """Register a widget key as part of the link; returns the key, for ``key=linked("layer")``."""
    keys = st.session_state.setdefault(_LINKED, [])
    if key not in keys:
        keys.append(key)
    return key


def linked_keys() -> list[str]:
    return list(st.session_state.get(_LINKED, []))


def url_value(value: object) -> str | list[str]:
    """A widget value as Streamlit writes it into the URL (and parses it back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return [str(url_value(v)) for v in value]
    return str(value)


def share_query(text: str) -> dict[str, str | list[str]]:
    """What a link needs to reproduce this view: the text (if it fits) and every bound widget.

    Sidebar values equal to their defaults are left out, as the address bar does; page widgets
    are always written, so a link names the layer, head or sentence it shows.
    """
    query: dict[str, str | list[str]] = {}
    if len(text) <= MAX_LINK_TEXT and text != DEFAULT_TEXT:
        query[TEXT] = text
    for key in linked_keys():
        if key not in st.session_state:
            continue
        value = st.session_state[key]
        if value is None or (key in DEFAULTS and _same(url_value(DEFAULTS[key]), value)):
            continue
        query[key] = url_value(value)
    return query


def link_problems(asked: dict[str, str], known: list[str]) -> list[str]:
    """Link parameters that were not applied as written, in plain words.

    ``asked`` is the URL's query on the session's first run, read before any widget ran;
    ``known`` the keys bound this run. Each bound key then holds the value its widget took.
    """
    problems = []
    for key, raw in asked.items():
        if key == TEXT or key in CLASS_PARAMS:
            continue
        if key not in known:
            if key in DEFAULTS:
                problems.append(f"“{key}” does not apply to the model chosen, so it was ignored.")
            else:
                problems.append(
                    f"“{md_escape(key)}” is not a setting of this page, so it was ignored."
                )
        elif key in st.session_state and not _same(raw, st.session_state[key]):
            shown = md_escape(_joined(url_value(st.session_state[key]))) or "none"
            if not _joined(raw):  # ?view= : a choice the page needs was left empty
                problems.append(f"{key} is empty in the link, so the page shows {shown}.")
                continue
            problems.append(
                f"{key} = “{md_escape(_joined(raw))}” is not a valid choice{_why(key)}, so the "
                f"page shows {shown}."
            )
    return problems


def _why(key: str) -> str:
    """What a setting accepts, where a link value can miss it in a way worth saying."""
    if key == "n_heads" and "d_model" in st.session_state:
        return f" (n_heads must divide d_model, {st.session_state['d_model']})"
    low, high = st.session_state.get(_RANGES, {}).get(key, (None, None))
    if low is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    whole = isinstance(low, int) and isinstance(high, int)
    return f" ({key} takes a {'whole ' if whole else ''}number from {low:,} to {high:,})"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str, limit: int = 60) -> str:
    """Text from a URL or the user, shortened and made inert for st.markdown and friends."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return _MARKDOWN.sub(r"\\\1", text.replace("\n", " "))


def _joined(value: str | list[str]) -> str:
    return value if isinstance(value, str) else ", ".join(value)


def asked_params() -> dict[str, str | list[str]]:
    """The URL's query as the link wrote it: a repeated parameter (a multiselect) as a list."""
    asked: dict[str, str | list[str]] = {}
    for key in st.query_params:
        values = st.query_params.get_all(key)
        asked[key] = values if len(values) > 1 else (values[0] if values else "")
    return asked


def _same(raw: str | list[str], value: object) -> bool:
    if isinstance(raw, list) or isinstance(value, (list, tuple)):
        wanted = raw if isinstance(raw, list) else [raw] if raw else []  # ?trace= : none
        have = url_value(list(value)) if isinstance(value, (list, tuple)) else [url_value(value)]
        return [str(x) for x in wanted] == have
    if isinstance(value, bool):
        return raw.lower() in ("true", "1") if value else raw.lower() in ("false", "0")
    if isinstance(value, (int, float)):
        try:
            return float(raw) == float(value)
        except ValueError:
            return False
    return raw == str(value)


# ---- widget callbacks -----------------------------------------------------------------------
# Streamlit keeps a widget's callback, with its arguments, until the session's next run. A
# function defined in a page would keep that page's globals alive with it (its forward pass and
# arrays: 164 MB a session at the largest settings, in every idle session), so callbacks live
# here and in app/components, in modules that hold no data, and take small arguments.


def assign(**values: object) -> None:
    """Callback: set session-state values (the next step, a head to open, a preset's view)."""
    st.session_state.update(values)


EXAMPLE_UNDO = "text_before_example"  # the user's typed text, kept when an example replaced it


def load_example() -> None:
    """Callback of the example picker: its text in the box, typed text kept for undo."""
    name = st.session_state.get("example")
    if not name:
        return
    text = st.session_state[TEXT]
    if example_name(text) is None and text.strip():  # typed text: keep it for undo
        st.session_state[EXAMPLE_UNDO] = text
    st.session_state[TEXT] = EXAMPLES[name]


def restore_text(undo: str, *drop: str) -> None:
    """Callback of "Bring back my text": the text kept under ``undo`` back in the box; the
    session keys ``drop`` (a notice about the replaced text) forgotten."""
    st.session_state[TEXT] = st.session_state.pop(undo)
    for key in drop:
        st.session_state.pop(key, None)
