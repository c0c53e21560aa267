"""Encoder Explorer: entrypoint. Page config, the shared sidebar, and navigation."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` from a clean checkout
    sys.path.insert(0, str(ROOT))

from app import state  # noqa: E402
from encoder import EncoderConfig  # noqa: E402
from encoder.config import POSITIONAL_KINDS  # noqa: E402

st.set_page_config(page_title="Encoder Explorer", page_icon=":material/hub:", layout="wide")

PAGES = [
    st.Page(
        "views/encode.py", title="Encode", icon=":material/input:", url_path="encode", default=True
    ),
]


def sentences_controls() -> None:
    state.init_text()
    st.text_area(
        "Sentences, one per line",
        key=state.TEXT,
        height=130,
        help=f"Each line is one sentence; several lines make a padded batch "
        f"(up to {state.MAX_SENTENCES}).",
    )
    st.selectbox(
        "Or load an example",
        list(state.EXAMPLES),
        index=None,
        placeholder="Choose an example…",
        key="example",
        on_change=_load_example,
    )


def _load_example() -> None:
    name = st.session_state.get("example")
    if name:
        st.session_state[state.TEXT] = state.EXAMPLES[name]
        st.session_state["example"] = None


def model_controls() -> state.ModelChoice:
    d = state.DEFAULTS
    label = st.radio(
        "Model",
        list(state.MODEL_OPTIONS),
        captions=["all-MiniLM-L6-v2, real weights", "random weights, your architecture"],
        key="model",
        bind="query-params",
        index=list(state.MODEL_OPTIONS).index(d["model"]),
    )
    kind = state.MODEL_OPTIONS[label]
    config = None
    if kind == state.PRETRAINED:
        st.caption("BERT architecture · 6 layers · 12 heads · d_model 384 · d_ff 1536 · GELU")
        max_len_options = [o for o in state.MAX_LEN_OPTIONS if o <= state.PRETRAINED_MAX_LEN]
    else:
        config = scratch_controls()
        max_len_options = state.MAX_LEN_OPTIONS
    max_len = st.select_slider(
        "max_len (tokens kept per sentence)",
        max_len_options,
        value=d["max_len"],
        key="max_len",
        bind="query-params",
        help="Longer sentences are cut to this many tokens, and the page says so.",
    )
    if config is not None:
        config = EncoderConfig(**{**config.to_dict(), "max_len": max_len})
    train = st.toggle(
        "Train mode (dropout on)",
        value=d["train"],
        key="train",
        bind="query-params",
        help="In train mode dropout zeroes random activations: run it twice with different "
        "seeds and the outputs change. Eval mode (off) is deterministic.",
    )
    seed = st.number_input(
        "Seed (weights and dropout)",
        min_value=0,
        max_value=2**31 - 1,
        value=d["seed"],
        step=1,
        key="seed",
        bind="query-params",
        help="The same seed gives everyone in the room the same weights.",
    )
    return state.ModelChoice(kind, config, int(seed), bool(train), int(max_len))


def scratch_controls() -> EncoderConfig:
    d = state.DEFAULTS
    d_model = st.select_slider(
        "d_model", state.D_MODEL_OPTIONS, value=d["d_model"], key="d_model", bind="query-params"
    )
    heads = state.head_options(d_model)
    current = st.session_state.get("n_heads", d["n_heads"])
    n_heads = st.select_slider(
        "n_heads (only divisors of d_model)",
        heads,
        value=state.closest(heads, current),
        key="n_heads",
        bind="query-params",
    )
    n_layers = st.slider(
        "n_layers", 1, 12, value=d["n_layers"], key="n_layers", bind="query-params"
    )
    d_ff = st.select_slider(
        "d_ff", state.D_FF_OPTIONS, value=d["d_ff"], key="d_ff", bind="query-params"
    )
    dropout = st.slider(
        "dropout", 0.0, 0.9, value=d["dropout"], step=0.05, key="dropout", bind="query-params"
    )
    positional = st.selectbox(
        "Positional encoding",
        POSITIONAL_KINDS,
        key="positional",
        bind="query-params",
    )
    activation = st.selectbox(
        "Activation", list(state.ACTIVATION_OPTIONS), key="activation", bind="query-params"
    )
    norm = st.selectbox(
        "LayerNorm placement",
        list(state.NORM_OPTIONS),
        key="norm",
        bind="query-params",
        help="post-norm (the paper, BERT): LayerNorm(x + sublayer(x)). "
        "pre-norm: x + sublayer(LayerNorm(x)), then one final LayerNorm.",
    )
    return EncoderConfig(
        d_model=d_model,
        n_heads=n_heads,
        n_layers=n_layers,
        d_ff=d_ff,
        dropout=round(float(dropout), 4),
        positional=positional,
        activation=state.ACTIVATION_OPTIONS[activation],
        norm_first=state.NORM_OPTIONS[norm],
    )


def share_control() -> None:
    fits = state.sync_text_param(st.session_state[state.TEXT])
    with st.popover("Share this view", icon=":material/link:", width="stretch"):
        base = st.context.url or ""
        query = urlencode(st.query_params.to_dict())
        st.caption("Anyone who opens this link sees this page with these settings.")
        st.code(f"{base}?{query}" if query else base, language=None, wrap_lines=True)
        if not fits:
            st.warning(
                f"The sentences are longer than {state.MAX_LINK_TEXT} characters, too long for a "
                "link: the link keeps the settings but not the text."
            )


first_run = "choice" not in st.session_state
asked = st.query_params.to_dict() if first_run else {}
with st.sidebar:
    st.markdown("### :material/hub: Encoder Explorer")
    sentences_controls()
    st.divider()
    st.session_state["choice"] = model_controls()
    for problem in state.link_problems(asked, {state.TEXT, *state.DEFAULTS}):
        st.warning(f"This link's {problem}.", icon=":material/link_off:")
    st.divider()

page = st.navigation(PAGES)
with st.sidebar:
    share_control()
page.run()
