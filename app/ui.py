"""Page pieces every view shares: header, sentence picker, the forward pass with its messages.

UI only (streamlit calls); the numbers come from ``app.compute``.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.state.session_state_proxy import get_session_state

from app import compute, state
from app.charts.common import EXPORT_CONFIG
from app.compute import Forward

_LOG = logging.getLogger("encoder_explorer")

EXPLAINER = "What you are looking at, and things to try"
PICKER_LABEL = 48  # characters of a sentence shown in the picker
PICKER_WIDTH = 460  # pixels


def header(title: str, explainer: str) -> state.ModelChoice:
    """Title, a one-line caption of the model and mode, and the explainer; returns the model."""
    choice: state.ModelChoice = st.session_state["choice"]
    st.title(title)
    st.caption(model_caption(choice))
    with st.expander(EXPLAINER, expanded=False):
        st.markdown(explainer)
    return choice


def model_caption(choice: state.ModelChoice) -> str:
    mode = "train mode (dropout on)" if choice.train else "eval mode"
    if choice.config is None:
        return f"{choice.label} · {mode}"
    c = choice.config
    arch = f"d_model {c.d_model} · {c.n_heads} heads · {c.n_layers} layers · d_ff {c.d_ff}"
    seed = f" · seed {choice.seed}" if choice.kind == state.SCRATCH else ""  # random weights
    return f"{choice.label} · {arch}{seed} · {mode}"


def sentences() -> list[str]:
    """The sidebar's sentences; stops the page with a hint when there are none."""
    kept, total = state.split_sentences(st.session_state[state.TEXT])
    if not kept:
        st.info("Type a sentence in the sidebar (one per line) to see it here.")
        st.stop()
    if total > len(kept):
        st.warning(
            f"Kept the first {len(kept)} of {total} sentences (one per line); "
            f"the app shows up to {state.MAX_SENTENCES} at once."
        )
    return kept


def encode(choice: state.ModelChoice, texts: list[str], *, attentions: bool = False) -> Forward:
    """compute.forward with its refusals and truncations said on the page."""
    try:
        B, S = compute.batch_shape(tuple(texts), choice.max_len)
        secs = compute.estimate_seconds(choice, B, S) * (1.5 if attentions else 1.0)
        with st.spinner(working_message(choice, B, S, secs), show_time=True):
            fwd = compute.forward(choice, tuple(texts), attentions)
    except ValueError as err:
        st.error(f"Could not encode these sentences: {err}")
        st.stop()
    say_cuts(choice, fwd.encodings)
    return fwd


def say_cuts(choice: state.ModelChoice, encodings) -> None:
    """Say what the tokenizer cut (max_len) or could not read ([UNK]), sentence by sentence."""
    for i, enc in enumerate(encodings):
        if enc is None:  # a sentence the page does not read
            continue
        if enc.truncated:
            st.warning(
                f"Sentence {i + 1}: {enc.truncation_message}, cut after character "
                f"{enc.cut_at:,} of {len(enc.text):,} (max_len is {choice.max_len}; raise it "
                "in the sidebar to keep more)."
            )
        unknown = unknown_words(enc)
        if unknown:
            shown = ", ".join(f"“{state.md_escape(w, limit=24)}”" for w in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            st.info(
                f"Sentence {i + 1}: the vocabulary has no pieces for {shown}{more}, so "
                "the model reads [UNK] (unknown) there. WordPiece splits words of up to 100 "
                "characters into known pieces; emoji and rare symbols have none."
            )


UNKNOWN = "[UNK]"


def unknown_words(enc) -> list[str]:
    """The stretches of the text that became [UNK], as the user typed them."""
    return [
        enc.text[start:end] or UNKNOWN
        for token, (start, end) in zip(enc.tokens, enc.offsets, strict=True)
        if token == UNKNOWN
    ]


def working_message(choice: state.ModelChoice, batch: int, seq: int, secs: float) -> str:
    """What the spinner says while a forward pass runs (it shows after half a second)."""
    cfg = choice.config
    what = "all-MiniLM-L6-v2" if cfg is None else f"{cfg.n_layers} layers of d_model {cfg.d_model}"
    eta = "under a second" if secs < 1 else f"about {secs:.0f} s"
    return (
        f"Encoding {count(batch, 'sentence')} of {seq} tokens through {what}: {eta} on this server…"
    )


def count(n: int, noun: str) -> str:
    """ "1 sentence", "3 sentences"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def picker_labels(texts: list[str]) -> list[str]:
    """ "2 · He deposited the money…": numbered, so equal sentences stay distinct."""
    return [f"{i + 1} · {_clip(t)}" for i, t in enumerate(texts)]


def _clip(text: str) -> str:
    return text if len(text) <= PICKER_LABEL else text[: PICKER_LABEL - 1].rstrip() + "…"


def keep_valid(key: str, options: list, fallback: object) -> None:
    """Call before a bound picker renders: a value that is no longer among its options (fewer
    layers, other sentences) is reset to ``fallback``, in session state and in the URL."""
    if key in st.session_state and st.session_state[key] not in options:
        st.session_state[key] = fallback


def number_input(
    label: str, min_value, max_value, value="min", step=None, format=None, key=None, **kwargs
):
    """st.number_input (same arguments) whose link value is range-checked first.

    Streamlit 1.67 parses a bound whole-number input's link value with int(float(raw)), so
    ``?seed=inf`` raises OverflowError before the page can say anything: a value that is not
    a number from ``min_value`` to ``max_value`` is dropped from the link here, the widget
    shows its default, and the link notice at the top names it (``state.link_problems``).
    """
    low = -float("inf") if min_value is None else min_value
    drop_bad_number(key, low, float("inf") if max_value is None else max_value)
    return st.number_input(label, min_value, max_value, value, step, format, key, **kwargs)


def drop_bad_number(key: str | None, low: float, high: float) -> None:
    """Call before a bound number widget runs: forget a link value for ``key`` that is not a
    finite number from ``low`` to ``high`` (inf, nan, 1e308, text), so the widget takes its
    default; the range is remembered for the notice's words."""
    if key is None:
        return
    state.number_range(key, low, high)
    # the widget seeds from the query as the run began (also after a page switch), not from
    # st.query_params: drop the value from both, and from the address bar
    with get_session_state().query_params() as params:
        initial = getattr(params, "_initial_query_params", {})
        raw = initial.get(key)
        if raw is None or state.number_in_range(raw[-1] if raw else "", low, high):
            return
        del initial[key]
        params.remove_param(key)


def segmented(label: str, options: list, key: str, *, default: object = None, **kwargs):
    """A required segmented control, bound to the link (key = parameter name).

    Streamlit 1.67 lets an empty ``?key=`` in a link clear even a required control; the page
    then reruns once with the default on screen instead of drawing a view of nothing.
    """
    default = options[0] if default is None else default
    keep_valid(key, options, default)  # a stale or cleared value comes back as the default
    value = st.segmented_control(
        label,
        options,
        default=default,
        required=True,
        key=state.linked(key),
        bind="query-params",
        **kwargs,
    )
    retried = f"{RETRY}{key}"
    if value is None and not st.session_state.get(retried):
        st.session_state[retried] = True
        st.rerun()
    st.session_state.pop(retried, None)
    return default if value is None else value


RETRY = "_cleared_"  # + key: a required choice the link emptied, being drawn again


def retrying() -> bool:
    """True on the rerun ``segmented`` asked for (the link's notice must still be said)."""
    return any(str(k).startswith(RETRY) for k in st.session_state)


def sentence_picker(texts: list[str], *, key: str = "sentence", label: str = "Sentence") -> int:
    """Pick one sentence of the batch (0-based index); 0 without a widget for a single sentence.

    The options are the sentences' own labels, so the picker always names the sentences on
    screen: when the text changes and the picked label is gone, it falls back to the first.
    """
    if len(texts) < 2:
        return 0
    labels = picker_labels(texts)
    return labels.index(bound_select(label, labels, key, width=PICKER_WIDTH))


def bound_select(label: str, options: list, key: str, *, fallback: object = None, **kwargs):
    """A selectbox in the link (``key`` is the parameter's name) whose value, once it is no
    longer among ``options``, falls back to ``fallback`` (the first option by default)."""
    keep_valid(key, options, options[0] if fallback is None else fallback)
    return st.selectbox(label, options, key=state.linked(key), bind="query-params", **kwargs)


def download(label: str, data, file_name: str, mime: str, key: str) -> None:
    """A download button that does not rerun the page (``data`` may be a function, called
    only when the file is asked for)."""
    st.download_button(
        label, data, file_name, mime, key=key, on_click="ignore", icon=":material/download:"
    )


def plotly_chart(figure, **kwargs):
    """st.plotly_chart (same arguments) whose camera button saves a PNG at 3x the chart's size
    on screen (``charts.common.EXPORT_CONFIG``): every page's charts go through here."""
    kwargs.setdefault("config", EXPORT_CONFIG)
    return st.plotly_chart(figure, **kwargs)


def plain_table(frame, **kwargs) -> None:
    """st.table with every text cell shown as written: st.table reads Markdown ("+ x" is a list)."""
    st.table(
        frame.map(lambda v: state.md_escape(v, limit=200) if isinstance(v, str) else v), **kwargs
    )


def snippet(code: str) -> None:
    st.subheader("Reproduce this in Python")
    st.code(code, language="python", wrap_lines=True)


def errors_redacted() -> bool:
    """True where users must not see tracebacks (client.showErrorDetails off, as config.toml
    sets it); the tests turn details on so that AppTest reports the real exception."""
    return st.get_option("client.showErrorDetails") in ("none", False, "false")


def page_failed(page: str) -> None:
    """Log the exception being handled, with its traceback, on the server; tell the user in
    plain words what to do, their text and settings untouched."""
    _LOG.exception("The %s page failed", page)
    st.error(
        f"Something went wrong while drawing the {page} page. Your sentences and settings are "
        "kept (in the sidebar and the link): change a setting, pick another view or reload the "
        "page. The details are in the server's log.",
        icon=":material/error:",
    )
