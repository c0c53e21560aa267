"""Encode: from text to tokens to one vector per token, with shapes, parameters and code."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import ui
from app.charts import encode as charts
from app.compute import encode as ce
from app.snippets.encode import encode_snippet
from app.views import encode_tables as tables
from encoder.analysis import cosine_matrix, mean_pool
from encoder.summary import group_parameters

GRID_CAPTIONS = {
    "tokens": "The tokens at each position; grey [PAD] cells are padding.",
    "ids": "input_ids: the id of each token in the 30,522-token vocabulary ([PAD] is 0, "
    "[CLS] 101, [SEP] 102).",
    "mask": "attention_mask: 1 = real token, 0 = padding (grey). Attention gives the 0 "
    "positions no weight.",
}

choice = ui.header(
    "Encode",
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
    "- Turn on *Train mode* and change the seed: dropout makes the output vectors jump.",
)
sentences = ui.sentences()
fwd = ui.encode(choice, sentences)
B, S = fwd.input_ids.shape
pick = ui.sentence_picker(sentences, label="Sentence to inspect")
enc = fwd.encodings[pick]
words = enc.words()


st.subheader("1 · Tokens")
st.caption("Pieces of one word are joined with ·")
st.text("  ".join("·".join(enc.tokens[i].removeprefix("##") for i in ix) for _, ix in words))
# side by side on a projector, stacked on a laptop (a horizontal container wraps)
with st.container(horizontal=True, gap="large"):
    tables.token_table(fwd, pick)
    with st.container(width="content"):
        view = ui.segmented(
            f"The padded batch: {ui.count(B, 'sentence')} × {S} positions",
            ["tokens", "ids", "mask"],
            "grid",
            help="input_ids holds one token id per position; attention_mask is 1 on real "
            "tokens and 0 on padding, which attention ignores.",
        )
        tables.batch_table(fwd, view)
        st.caption(GRID_CAPTIONS[view])

st.subheader("2 · Through the encoder")
# a horizontal container wraps: side by side on a projector, stacked on a laptop
with st.container(horizontal=True, gap="large"):
    with st.container(width="content"):
        shapes = ce.shape_table(fwd.config, B, S)
        tables.small_table(shapes, "shapes", "Every tensor's shape", prose="what")
        total_params = fwd.parameters[-1][1]
        st.metric("Parameters", f"{total_params:,}")
        grouped = group_parameters(fwd.parameters, fwd.config.n_layers)
        params = pd.DataFrame(
            {
                "module": [n for n, _, _ in grouped],
                "parameters": [
                    f"{per * k:,}" if k == 1 else f"{per:,} × {k}" for n, per, k in grouped
                ],
                "share": [f"{100 * per * k / total_params:.1f} %" for _, per, k in grouped],
            }
        )
        tables.small_table(params, "parameters", "Parameters per module")
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
    ui.plotly_chart(vectors, key="vectors", width=840 if B > 1 else "stretch", theme=None)
    if B > 1:
        with st.container(width=520):
            pooled = mean_pool(fwd.hidden_states[-1], fwd.attention_mask)
            sim = cosine_matrix(pooled)
            ui.plotly_chart(
                charts.similarity_heatmap(sim, sentences, "sentence similarity"),
                key="similarity",
                theme=None,
            )
            st.caption(
                "Mean of each sentence's real-token vectors (padding excluded), then cosine."
            )

ui.snippet(encode_snippet(choice, sentences))
