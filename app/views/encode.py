"""Encode: from text to tokens to one vector per token, with shapes, parameters and code."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, compute, state
from app.snippet import python_snippet
from encoder.analysis import cosine_matrix, mean_pool
from encoder.summary import shape_trace

PAD_STYLE = "background-color: #f1f5f9; color: #94a3b8"
SPECIAL_STYLE = "color: #4f46e5; font-weight: 600"

choice: state.ModelChoice = st.session_state["choice"]
sentences, total = state.split_sentences(st.session_state[state.TEXT])

st.title("Encode")
st.caption(f"{choice.label} · {'train mode (dropout on)' if choice.train else 'eval mode'}")

with st.expander("What you are looking at, and things to try", expanded=False):
    st.markdown(
        "The encoder turns each sentence into **one vector per token**. The tokenizer first "
        "splits the text into WordPiece tokens (`##` marks a piece that continues a word) and "
        "adds `[CLS]` and `[SEP]`. Each token id becomes a vector, a position vector is added, "
        "and every layer lets each token look at the others (attention) before a small "
        "feed-forward network reworks it. Several sentences are padded to the same length; the "
        "padding mask keeps `[PAD]` out of attention.\n\n"
        "**Try this**\n"
        "- Load *Paraphrases and an outsider*: with the pretrained model the two guitar "
        "sentences score far higher with each other than with the stock market.\n"
        "- Switch to *From scratch* and compare the same similarity matrix: random weights "
        "know nothing, so every pair looks alike.\n"
        "- Turn on *Train mode* and change the seed: dropout makes the output vectors jump."
    )

if not sentences:
    st.info("Type a sentence in the sidebar (one per line) to see it encoded.")
    st.stop()
if total > len(sentences):
    st.warning(f"Kept the first {len(sentences)} of {total} sentences (one per line).")

try:
    fwd = compute.forward(choice, tuple(sentences))
except ValueError as err:
    st.error(f"Could not encode these sentences: {err}")
    st.stop()

for i, enc in enumerate(fwd.encodings):
    if enc.truncated:
        st.warning(
            f"Sentence {i + 1}: {enc.truncation_message}, cut after character {enc.cut_at:,} "
            f"of {len(enc.text):,} (max_len is {choice.max_len}; raise it in the sidebar to "
            "keep more)."
        )

B, S = fwd.input_ids.shape
pick = 0
if B > 1:
    pick = st.selectbox(
        "Sentence to inspect",
        range(B),
        format_func=lambda i: f"{i + 1}. {sentences[i]}",
        key="encode_sentence",
    )
enc = fwd.encodings[pick]


words = enc.words()


def token_rows() -> pd.DataFrame:
    """The picked sentence's tokens, pieces grouped under their word, then its padding."""
    rows = []
    for word, idx in words:
        for k, i in enumerate(idx):
            kind = "special" if enc.special[i] else ("word piece" if k else "word")
            rows.append((i, enc.tokens[i], enc.ids[i], word, kind))
    rows += [(p, "[PAD]", int(fwd.input_ids[pick, p]), "", "padding") for p in range(len(enc), S)]
    return pd.DataFrame(rows, columns=["position", "token", "id", "word", "kind"])


def batch_grid():
    """Every sentence of the padded batch, one row each, padding greyed out."""
    grid = pd.DataFrame(
        [e.tokens + ["[PAD]"] * (S - len(e)) for e in fwd.encodings],
        index=[f"sentence {i + 1}" for i in range(B)],
        columns=[str(p) for p in range(S)],
    )
    mask = pd.DataFrame(fwd.attention_mask, index=grid.index, columns=grid.columns)
    special = pd.DataFrame(
        [e.special + [False] * (S - len(e)) for e in fwd.encodings],
        index=grid.index,
        columns=grid.columns,
    )
    styles = mask.map(lambda m: "" if m else PAD_STYLE).where(~special, SPECIAL_STYLE)
    return grid.style.apply(lambda _: styles, axis=None)


st.subheader("1 · Tokens")
with st.container(horizontal=True, gap="large"):
    with st.container(width=560):
        st.caption("Pieces of one word are joined with ·")
        st.text(
            "  ".join("·".join(enc.tokens[i].removeprefix("##") for i in ix) for _, ix in words)
        )
        st.dataframe(token_rows(), hide_index=True, height=min(420, 38 + 35 * S), key="tokens")
    with st.container(width=680):  # beside the tokens on a projector, below them on a laptop
        st.caption(
            f"The padded batch: {B} × {S} token ids. attention_mask is 1 on real tokens and 0 "
            "on the grey [PAD] cells, which attention ignores."
        )
        st.dataframe(batch_grid(), height=min(420, 38 + 35 * B), key="batch")

st.subheader("2 · Through the encoder")
# a horizontal container wraps: side by side on a projector, stacked on a laptop
with st.container(horizontal=True, gap="large"):
    with st.container(width=780):
        trace = shape_trace(fwd.config, B, S)
        shapes = pd.DataFrame(
            {
                "stage": [t.name for t in trace],
                "shape": [" × ".join(map(str, t.shape)) for t in trace],
                "what": [t.note for t in trace],
            }
        )
        st.dataframe(shapes, hide_index=True, height=min(460, 38 + 35 * len(trace)), key="shapes")
        total_params = fwd.parameters[-1][1]
        st.metric("Parameters", f"{total_params:,}")
        params = pd.DataFrame(
            {
                "module": [n for n, _ in fwd.parameters],
                "parameters": [f"{c:,}" for _, c in fwd.parameters],
                "share": [f"{100 * c / total_params:.1f} %" for _, c in fwd.parameters],
            }
        )
        st.dataframe(params, hide_index=True, height=min(320, 38 + 35 * len(params)), key="params")
    st.graphviz_chart(charts.architecture_dot(fwd.config, choice.label), width="content")

st.subheader("3 · Output vectors")
st.caption(
    "last_hidden_state: one row per token, one column per dimension. Colours saturate at the "
    "99th percentile of |value| so a few huge dimensions do not wash out the rest; hover for "
    "exact values."
)
with st.container(horizontal=True, gap="large"):
    vectors = charts.token_vector_heatmap(
        fwd.hidden_states[-1, pick, : len(enc)], enc.tokens, f"sentence {pick + 1}"
    )
    st.plotly_chart(vectors, key="vectors", width=840 if B > 1 else "stretch", theme=None)
    if B > 1:
        with st.container(width=520):
            pooled = mean_pool(fwd.hidden_states[-1], fwd.attention_mask)
            sim = cosine_matrix(pooled)
            st.plotly_chart(
                charts.similarity_heatmap(sim, sentences, "sentence similarity"),
                key="similarity",
                theme=None,
            )
            st.caption(
                "Mean of each sentence's real-token vectors (padding excluded), then cosine."
            )

st.subheader("Reproduce this in Python")
st.code(python_snippet(choice, sentences), language="python")
