"""Padding & masks: what padding does, what the mask fixes, proved live with numbers."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import compute, state, ui
from app.charts import padding as charts
from app.compute import padding as pad
from app.snippets.padding import padding_snippet

DEMO_PAD = 6  # [PAD] tokens the page adds itself to a sentence that has none in the batch
DEFAULT_N = 64  # the invariance slider's starting point
SIDE = 440  # pixels per attention map: three fit beside each other at 1920 px, one at 1024

choice = ui.header(
    "Padding & masks",
    "A batch is a rectangle: shorter sentences are filled with `[PAD]` tokens up to the longest "
    "one, and the `attention_mask` (1 = real token, 0 = padding) tells attention which keys "
    "it may use. Inside attention the mask becomes a number added to every score: 0 for a real "
    "key, the most negative float for a padded one, so after softmax padding gets exactly zero "
    "weight. This page shows each step, and proves with numbers that a sentence's outputs do "
    "not change however much padding follows it, as long as the mask is there.\n\n"
    "**Try this**\n"
    "- Load the example *Padding demo (short and long)*: “Hi!” gets padded to the length of "
    "the long sentence; it is sentence 1, the one the page inspects first.\n"
    "- In **3 · The invariance proof**, drag N to the far right: with the mask the difference "
    "stays at float noise (about 1e-6); without it the outputs drift by whole units. Open "
    "the chart below it for the drift at every N at once.\n"
    "- Compare the two attention maps in **2**: without the mask, real tokens spend a real "
    "share of their attention on `[PAD]`.\n"
    "- Turn on the causal mask in **1** to see what a decoder (GPT) adds, and why BERT-style "
    "encoders leave it out.\n"
    "- Switch to *From scratch*: random weights obey the same maths, so the proof still holds.",
)
# where this page's experiments show their progress (and any wait for the server): the top,
# where people look after changing the text
status = st.empty()
texts = ui.sentences()
fwd = ui.encode(choice, texts)
B, S = fwd.input_ids.shape
pick = ui.sentence_picker(texts, label="Sentence to inspect")
enc = fwd.encodings[pick]
n_real = len(enc)
room = pad.model_max_len(choice) - n_real  # [PAD] tokens the model can still take after it
own = S - n_real  # its padding in the sidebar's batch
width = S if own else n_real + min(DEMO_PAD, room)
pad_token = compute.tokenizer().pad_token
tokens = pad.padded_tokens(enc.tokens, width, pad_token)
n_pad = width - n_real

if B == 1 and n_pad:
    st.info(
        f"There is one sentence, so nothing needs padding. The page pads it itself with {n_pad} "
        "[PAD] tokens below. To make a real batch, type a second line in the sidebar (the "
        "shorter sentence gets padded), or load the example *Padding demo (short and long)*."
    )
elif own == 0 and n_pad:
    st.info(
        f"Sentence {pick + 1} is the longest in the batch, so it has no [PAD] of its own; the "
        f"views below add {n_pad} to it. Pick a shorter sentence to see its real padding."
    )
if n_pad == 0:
    st.warning(
        f"Sentence {pick + 1} fills all {n_real} positions the model takes (max_len), so there "
        "is no room for padding after it. Pick or type a shorter sentence to see padding at work."
    )

# ---- 1 · the batch -------------------------------------------------------------------------
st.subheader("1 · The padded batch and its mask")
rows = [pad.padded_tokens(e.tokens, S, pad_token) for e in fwd.encodings]
ui.plotly_chart(charts.batch_grid(rows, fwd.attention_mask), key="grid", theme=None)
ui.plotly_chart(
    charts.batch_grid(rows, fwd.attention_mask, show="mask"), key="mask_grid", theme=None
)
st.caption(
    f"{ui.count(B, 'sentence')} × {S} positions. `input_ids` holds a token id per cell ([PAD] is "
    f"{compute.tokenizer().pad_id}); `attention_mask` holds 1 for a real token, 0 for padding."
    + ("" if charts.cell_chars(S, 10) >= 3 else " Hover a cell for its token.")
)
with st.container(horizontal=True, gap="large"):
    with st.container(width=SIDE + 80):
        causal = st.toggle(
            "Add a causal mask (decoder-style)",
            key=state.linked("causal"),
            bind="query-params",
            help="Block every key to the right of the query as well as the padding.",
        )
        seen = pad.mask_as_seen((np.arange(width) < n_real).astype(int), causal)
        ui.plotly_chart(
            charts.mask_view(
                seen, tokens, f"sentence {pick + 1}: the mask attention adds", width=SIDE + 80
            ),
            key="mask_view",
            theme=None,
        )
    with st.container(width=420):
        st.markdown(
            "**The mask as attention sees it.** Each row is a query, each column a key. The "
            "(batch, seq) `attention_mask` is turned once into an additive (batch, 1, 1, seq) "
            "mask: 0 on real keys (light) and `torch.finfo(float32).min` = −3.4 × 10³⁸ on "
            "padded keys (dark), added to every query's scores before softmax. Padding is "
            "blocked as a **key** only: the padded rows (queries) still look at real tokens."
        )
        if causal:
            st.markdown(
                "**Causal mask.** A decoder such as GPT also blocks every key to the right of "
                "the query, because it generates text one token at a time and must not see "
                "the future; an encoder reads the whole sentence at once, so each token may "
                "use words on both sides (“bank” can look ahead to “river”)."
            )
        else:
            st.caption("Turn on the causal mask to compare with what a decoder uses.")

# ---- 2 · attention with and without the mask -------------------------------------------------
st.subheader("2 · Attention with the mask and without it")
L, H = fwd.config.n_layers, fwd.config.n_heads
with st.container(horizontal=True, gap="medium"):
    layer = ui.bound_select("Layer", list(range(L)), "layer", width=140)
    head = ui.bound_select("Head", list(range(H)), "head", width=140)
try:
    with st.spinner(f"Running sentence {pick + 1} padded to {width} tokens…"):
        view = pad.padded_view(choice, tuple(enc.ids), width, layer, _status=status)
except ValueError as err:
    st.error(f"Could not run this sentence: {err}")
    st.stop()
w_mask, w_none = view.with_mask[head], view.without_mask[head]
zmax = float(max(w_mask.max(), w_none.max())) or 1.0
with st.container(horizontal=True, gap="small"):
    for fig_key, weights, name in (
        ("att_mask", w_mask, "with the mask"),
        ("att_none", w_none, "without the mask"),
    ) + ((("att_causal", view.causal[head], "padding + causal mask"),) if causal else ()):
        title = f"L{layer} H{head}: {name}"
        fig = charts.attention_map(weights, tokens, n_real, title, zmax, width=SIDE)
        ui.plotly_chart(fig, key=fig_key, width=SIDE, theme=None)
share_mask = pad.pad_attention_share(w_mask, view.attention_mask)
share_none = pad.pad_attention_share(w_none, view.attention_mask)
with st.container(horizontal=True, gap="large"):
    st.metric("Attention real tokens give to [PAD], with the mask", f"{100 * share_mask:.2f} %")
    st.metric("… without the mask", f"{100 * share_none:.2f} %")
st.caption(
    "Shaded columns are the padded keys. Each real row's weight on them is averaged over the "
    "real query rows of this head. The rows below the sentence are the [PAD] queries: they "
    "are computed too (section 4). **Try this:** change the head or the layer; the first "
    "map's shaded columns stay empty in every one."
    + (
        " In train mode dropout zeroes some weights; the causal map is shown without dropout."
        if choice.train
        else ""
    )
)

# ---- 3 · the invariance proof -----------------------------------------------------------------
st.subheader("3 · The invariance proof, live")
st.markdown(
    f"Sentence {pick + 1} alone ({n_real} tokens), then the same sentence with **N** [PAD] "
    "tokens appended. The numbers are the largest absolute difference between the real "
    "tokens' output vectors (`last_hidden_state`) in the two runs."
)
if room < 1:
    st.caption("Nothing to prove here: the sentence leaves no room for padding (see the top).")
    n, now, grid, curve = 0, np.zeros(2), (), np.zeros((2, 0))
else:
    if st.session_state.get("pads", 0) > room:
        st.session_state["pads"] = room
    n = st.slider(
        "N, [PAD] tokens appended",
        0,
        room,
        value=min(DEFAULT_N, room),
        key=state.linked("pads"),
        bind="query-params",
        help=f"Up to {room}: the model takes at most {n_real + room} tokens (max_len).",
    )
    grid = pad.drift_grid(room)
    try:
        now = pad.drift(choice, tuple(enc.ids), (n,), _status=status)[:, 0]
    except ValueError as err:
        st.error(f"Could not pad this sentence: {err}")
        st.stop()
with st.container(horizontal=True, gap="large"):
    st.metric(f"max |Δ| with the mask, N = {n}", f"{now[0]:.3g}")
    st.metric(f"max |Δ| without the mask, N = {n}", f"{now[1]:.3g}")
if n == 0 and room >= 1:
    st.caption("N = 0: nothing is appended yet, so both runs are the same. Move the slider.")
else:
    st.caption(
        "With the mask, padding gets exactly zero attention weight, so what remains is float32 "
        "rounding (about 7 significant digits: differences near 1e-6 on values near 1). "
        "Without it, every real token also averages over the [PAD] vectors, and the more "
        "there are, the further its output moves."
        + (
            " The proof runs in eval mode: dropout would make any two runs differ."
            if choice.train
            else ""
        )
    )
if grid:
    # the curve costs two runs per point, up to max_len tokens each: drawn only when asked for
    secs = pad.drift_seconds(choice, n_real, grid)
    runs = len(pad.drift_runs(n_real, grid))
    with st.expander(
        f"The drift at every N from 1 to {room} (a chart: {runs} runs, "
        + ("under a second" if secs < 1 else f"about {secs:.0f} s")
        + " on this server)",
        key=state.linked("curve"),
        bind="query-params",
        icon=":material/show_chart:",
    ) as box:
        if box.open:
            try:
                with st.spinner(f"Encoding the sentence with up to {room} [PAD] tokens…"):
                    curve = pad.drift(choice, tuple(enc.ids), grid, _status=status)
            except ValueError as err:
                st.error(f"Could not pad this sentence: {err}")
                st.stop()
            ui.plotly_chart(charts.drift_chart(grid, curve, n, now), key="drift", theme=None)
            st.caption(
                "**Try this:** switch the sidebar to *From scratch* or change the seed: whatever "
                "the weights, the green line stays at rounding level and the red one does not."
            )

# ---- 4 · query side vs key side ---------------------------------------------------------------
st.subheader("4 · Query side vs key side: what padding's own outputs are worth")
norms = np.linalg.norm(view.hidden, axis=-1)
cos = pad.pooled_cosine(view.hidden, view.attention_mask)
with st.container(horizontal=True, gap="large"):
    ui.plotly_chart(
        charts.output_vectors(view.hidden, tokens, n_real), key="outputs", width=760, theme=None
    )
    with st.container(width=420):
        st.markdown(
            "The mask blocks [PAD] as a **key**, but every [PAD] position is still a **query**: "
            "the model computes an output vector for it (the shaded rows), mixed from the real "
            "tokens and its position. It stands for no word of the text. Anything downstream "
            "(pooling, a loss, a classifier) must leave those rows out, with the same mask."
        )
        if n_pad:
            st.metric("Mean length of a [PAD] output vector", f"{norms[n_real:].mean():.3f}")
            st.metric("… of a real token's", f"{norms[:n_real].mean():.3f}")
            st.metric("Cosine: mean pooling with the mask vs without it", f"{cos:.4f}")
            st.caption(
                "Mean pooling with the mask averages the real rows only (this is how "
                "all-MiniLM-L6-v2 makes its sentence embedding); without the mask the "
                f"{n_pad} [PAD] rows are averaged in and the embedding turns away from it. "
                "**Try this:** a short sentence in a batch with a long one has many [PAD] rows: "
                "the cosine falls further."
            )

# ---- 5 · the NaN trap -------------------------------------------------------------------------
st.subheader("5 · The NaN trap: −inf vs the most negative float")
trap = pad.trap_table(view, head)
ui.plain_table(trap, hide_index=True, width="content")
st.markdown(
    f"Computed live on layer {layer}, head {head}: a query row whose every key is padding (a "
    "sequence that is all [PAD]). With −inf every score is −inf, softmax computes "
    "−inf − (−inf) = nan, and the NaN spreads through the batch's loss and gradients. With "
    "the most negative finite float, which our library uses, the scores stay finite and "
    f"softmax spreads the row evenly (1/{width} = {1 / width:.4f} each): a harmless row that "
    "the mask then discards. **Try this:** pick another layer or head above: the −inf row is "
    "NaN every time, the finite one always even."
)

ui.snippet(padding_snippet(choice, enc.text, n, width, layer, head))
