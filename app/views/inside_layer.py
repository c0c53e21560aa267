"""Inside a layer: one encoder layer's arithmetic, step by step, on the user's sentence.

Every number comes from ``encoder.experiments.layer_steps`` (the layer recomputed from its
weights), and the page proves the walkthrough is the model: its output against the model's own
``hidden_states[layer + 1]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app import state, ui
from app.charts import inside_layer as charts
from app.compute import inside_layer as inside
from app.compute.inside_layer import NAMES, PER_HEAD, SQUARE, STEPS, VIEWS
from app.snippets.inside_layer import inside_layer_snippet

choice = ui.header(
    "Inside a layer",
    "One encoder layer, written out step by step with **the real numbers** of your sentence: "
    "the projections to queries, keys and values, the attention scores, the padding mask, the "
    "softmax, the heads mixed by W_O, the residual connections, the LayerNorms and the "
    "feed-forward network. Each step shows its formula, the shapes, the tensor (one row per "
    "token) and the vector of the token you pick. The page recomputes the layer from its "
    "weights and checks the result against the model's own output: the walkthrough *is* the "
    "model.\n\n"
    "**Try this**\n"
    "- Turn off *Scale by 1/√d_k* and go to step 5: without the division the softmax "
    "saturates, one key takes almost all the weight and the rows' entropy drops.\n"
    "- Type a short and a long sentence (two lines), pick the short one and go to step 4: "
    "its padding keys are blocked with the most negative float32 (−3.4 × 10³⁸, not −∞: see "
    "the NaN trap on the Padding page) and get exactly 0 weight in step 5.\n"
    "- Switch to *From scratch* with ReLU and look at step 8: about half of the hidden "
    "activations are exactly 0. Pick GELU and they become small negatives instead.\n"
    "- Choose *pre-norm* in the sidebar: the LayerNorm moves in front of attention (step 1) "
    "and of the feed-forward network (step 8).",
)
texts = ui.sentences()
walk_choice = inside.eval_choice(choice)
fwd = ui.encode(walk_choice, texts)  # eval mode: the hidden states the proof compares with
cfg = fwd.config
B, S = fwd.input_ids.shape
if choice.train:
    st.info(
        "Train mode is on in the sidebar, but this page computes in **eval mode** (no "
        "dropout): dropout would zero random numbers at every step, and the walkthrough could "
        "not match the model exactly. Everything below is the eval-mode model.",
        icon=":material/info:",
    )

with st.container(horizontal=True, gap="medium", vertical_alignment="bottom"):
    row = ui.sentence_picker(texts)
    enc = fwd.encodings[row]
    n = len(enc)
    layer = ui.bound_select(
        f"Layer (of {cfg.n_layers})", list(range(cfg.n_layers)), "layer", width=130
    )
    head = ui.bound_select(f"Head (of {cfg.n_heads})", list(range(cfg.n_heads)), "head", width=130)
    options = [f"{i} · {t}" for i, t in enumerate(enc.tokens)]
    second = options[min(1, n - 1)]  # [CLS] is a dull first token
    picked = ui.bound_select(
        "Token to follow", options, "token", fallback=second, index=min(1, n - 1), width=220
    )
    token = options.index(picked)
    scale = st.toggle(
        "Scale by 1/√d_k",
        value=True,
        key=state.linked("scale"),
        bind="query-params",
        help="Off: steps 3 to 5 show what softmax would do with the raw scores Q·Kᵀ (a "
        "what-if: the model always scales, and steps 6 to 8 and the proof use its real weights).",
    )
    view = ui.segmented("Show", VIEWS, "view")

walk = inside.walkthrough(walk_choice, tuple(texts), row, layer)
steps = walk.steps
keep = walk.keep
pads = [i + 1 for i, e in enumerate(fwd.encodings) if len(e) < S]
tokens = list(enc.tokens) + ["[PAD]"] * (S - n)
d_k = cfg.d_head
label = state.md_escape(picked)

# ---- the proof ------------------------------------------------------------------------------
checks = inside.proof(walk, fwd.hidden_states[:, row], layer)
headline = checks[-1]
with st.container(border=True):
    st.markdown(
        f"**The proof.** Layer {layer} recomputed from its weights, one operation at a time "
        f"(the steps below), gives `{headline.ours}`; the model's own forward pass gives "
        f"`{headline.theirs}`. They differ by at most {headline.diff:.1e}: float32 rounding, "
        "nothing more."
    )
    with st.container(horizontal=True, gap="medium", vertical_alignment="center"):
        st.metric(
            "max |recomputed − model|",
            f"{headline.diff:.1e}",
            width="content",
            help="Largest absolute difference over every token and dimension of this sentence.",
        )
        proof_table = pd.DataFrame(
            {
                "walkthrough": [c.ours for c in checks],
                "the model's own": [c.theirs for c in checks],
                "max |difference|": [f"{c.diff:.2e}" for c in checks],
            }
        )
        st.table(proof_table, hide_index=True, width="content")
    bad = [c for c in checks if not c.diff <= inside.TOLERANCE]
    if bad:
        st.error(
            f"The walkthrough does not match the model ({bad[0].ours} vs {bad[0].theirs}, "
            f"difference {bad[0].diff:.2e}): the steps below do not describe this model."
        )


# ---- one step -------------------------------------------------------------------------------
def tensor(key: str) -> np.ndarray:
    """A step's tensor for this sentence, the chosen head where it has heads."""
    if key == "masked_unscaled":
        return np.where(keep[None, :], steps["scores"][head], np.nan)
    if key == "unscaled_weights":
        return walk.unscaled_weights[head]
    return steps[key][head] if key in PER_HEAD else steps[key]


def shape_text(key: str) -> str:
    dims = {"q": "d_head", "k": "d_head", "v": "d_head", "context": "d_head", "ff_hidden": "d_ff"}
    if key in SQUARE:
        names = ("B", "H", "S", "S")
    elif key in PER_HEAD:
        names = ("B", "H", "S", "d_head")
    else:
        names = ("B", "S", dims.get(key, "D"))
    sizes = (B, *steps[inside.WHAT_IF.get(key, key)].shape)
    return f"`{key}` ({', '.join(names)}) = ({', '.join(map(str, sizes))})"


def heatmap(key: str, width: int) -> None:
    z = tensor(key)[:n]  # real tokens' rows; padded positions are computed too, nobody reads them
    square = key in SQUARE
    title = f"{NAMES[key]} · head {head}" if key in PER_HEAD else NAMES[key]
    fig = charts.tensor_heatmap(
        z,
        enc.tokens,
        tensor=key,
        title=title,
        keys=tokens if square else None,
        weights=key.endswith("weights"),
        blocked=~keep if key.startswith("masked") else None,
        width=width,
    )
    ui.plotly_chart(fig, key=f"fig_{key}", theme=None, width=width)


def vectors(keys: list[str], name: str) -> None:
    square = keys[0] in SQUARE
    series = {k: tensor(k)[token] for k in keys}
    if keys[0].startswith("masked"):
        series = {k: np.where(keep, v, np.nan) for k, v in series.items()}
    what = f"row {token}, one number per key" if square else f"{len(series[keys[0]])} numbers"
    fig = charts.vector_bars(
        series,
        tensor=keys[0],
        title=f"{', '.join(keys)}: {what}",
        keys=tokens if square else None,
    )
    ui.plotly_chart(fig, key=name, theme=None, width="stretch")


def render_step(k: int) -> None:
    formula, explanation, panels, groups = inside.step_recipe(k, cfg, layer, walk, n, scale)
    st.subheader(f"Step {k + 1} of {len(STEPS)} · {STEPS[k].split(' · ')[1]}")
    st.latex(r"\begin{gathered}" + r" \\ ".join(formula) + r"\end{gathered}")
    st.markdown(explanation)
    st.caption(
        " · ".join(shape_text(p) for p in panels)
        + f" · shown: sentence {row + 1}, its {n} real tokens"
    )
    with st.container(horizontal=True, gap="medium"):
        for p in panels:
            square, per_head = p in SQUARE, p in PER_HEAD
            heatmap(p, 340 + 24 * min(S, 24) if square else (300 if per_head else 480))
    if k == 3 and not pads:
        st.info(
            "No sentence in this batch has padding, so the mask adds 0 everywhere. Type a "
            "second, longer sentence in the sidebar to see blocked keys."
        )
    elif k == 3 and keep.all():
        st.info(
            f"Sentence {row + 1} is the longest, so it has no padding. Sentence(s) "
            f"{', '.join(map(str, pads))} do: pick one above to see blocked keys."
        )
    if k == 4:
        ent, loose = walk.entropy[head, :n], walk.entropy_unscaled[head, :n]

        def top(w: np.ndarray) -> float:
            return float(w[head, :n].max(-1).mean())

        ui.plotly_chart(
            charts.entropy_bars(ent, loose, enc.tokens, int(keep.sum()), "entropy of each row"),
            key="entropy",
            theme=None,
            width="stretch",
        )
        st.caption(
            f"Mean entropy {ent.mean():.2f} bits with the scaling, {loose.mean():.2f} bits "
            f"without; the largest weight of a row is {top(steps['weights']):.2f} on average, "
            f"{top(walk.unscaled_weights):.2f} without."
        )
    if k >= 5 and not scale:
        st.caption("Scaling is off above, but from here on the page uses the model's real weights.")
    st.markdown(f"**Token {label}, at this step**")
    for i, g in enumerate(groups):
        vectors(g, f"vec_{k}_{i}")


# ---- navigation -----------------------------------------------------------------------------
if view == VIEWS[0]:
    # the buttons stay together; the step picker wraps below them on a narrow screen
    with st.container(horizontal=True, gap="medium", vertical_alignment="bottom"):
        buttons = st.container(horizontal=True, gap="small", width="content")
        step = ui.segmented(
            "Step",
            STEPS,
            "step",
            persist_state="page",  # kept while the whole page is shown
            wrap=True,
        )
        at = STEPS.index(step)
        with buttons:
            st.button(
                "Previous",
                icon=":material/arrow_back:",
                key="prev_step",
                on_click=state.assign,
                kwargs=dict(step=STEPS[max(at - 1, 0)]),
                disabled=at == 0,
            )
            st.button(
                "Next",
                icon=":material/arrow_forward:",
                key="next_step",
                on_click=state.assign,
                kwargs=dict(step=STEPS[min(at + 1, len(STEPS) - 1)]),
                disabled=at == len(STEPS) - 1,
            )
    render_step(at)
else:
    if n > 64:
        drawn = sum(np.size(tensor(p)[:n]) for p in steps) / 1e6
        st.info(
            f"The whole page draws every step for {n} tokens, about {drawn:.0f} million "
            "numbers: it takes a few seconds to appear. Step by step is quicker."
        )
    for k in range(len(STEPS)):
        render_step(k)
        st.divider()

ui.snippet(inside_layer_snippet(choice, texts, row, layer))
