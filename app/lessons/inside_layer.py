"""Lesson 5 · Inside a layer: queries and keys, why the scores are divided by √d_k, softmax
rows, LayerNorm and the feed-forward width, with the numbers of one real layer.

Every reveal runs the Inside a layer page's own functions (``app.compute.inside_layer``:
walkthrough, step_recipe, with ``row_entropy`` and ``unscaled_softmax`` inside the walkthrough)
and draws with its charts (tensor_heatmap, entropy_bars, vector_bars).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from app import compute
from app.charts import inside_layer as charts
from app.compute import inside_layer as inside
from app.lessons.base import PRETRAINED, Choice, Ctx, Lesson, Number, Reveal, Shown, Step
from app.lessons.inside_layer_tools import (
    HEAD,
    LAYER,
    NORMS,
    PAGE,
    PAIRS,
    ROUNDING,
    SCRATCH,
    SENTENCE,
    SHAPES,
    SUMS,
    TOKEN,
    WIDTHS,
    dot_variance,
    heatmap,
    mean_entropy,
    query,
    root_dk,
    spread,
    sum_kind,
    top_weight,
    walk,
)
from app.state import md_escape
from app.ui import picker_labels


# ---- 1 · Q = X W_Q ---------------------------------------------------------------------------
def sentence_shown(ctx: Ctx) -> Shown:
    _, n, tokens = walk(PRETRAINED)
    return Shown(text=f"The sentence, {n} tokens: {' '.join(tokens)}")


def q_shape(ctx: Ctx) -> Reveal:
    w, n, tokens = walk(PRETRAINED)
    H, S, d_k = w.steps["q"].shape
    D = w.steps["input"].shape[-1]
    return Reveal(
        answer=f"{S} × {d_k}",
        said=f"One head's Q is {S} × {d_k}: a query of {d_k} numbers for each of the {S} "
        f"tokens; the {H} heads side by side make {S} × {H * d_k} = X W_Q.",
        why=f"W_Q is one {D} × {D} matrix; its output is cut into {H} slices of "
        f"d_k = {D} / {H} = {d_k}, one per head. K and V are cut the same way, so each head "
        "compares its own small queries and keys.",
        figures=(heatmap(w, "q", tokens, n),),
    )


# ---- 2 · the variance of q·k -----------------------------------------------------------------
def score_variance(ctx: Ctx) -> Reveal:
    w, n, tokens = walk()
    d_k = w.steps["q"].shape[-1]
    raw, scaled = dot_variance(d_k)
    real = w.steps["scores"][HEAD, :n][:, w.keep]
    real_scaled = w.steps["scaled"][HEAD, :n][:, w.keep]
    return Reveal(
        answer=raw,
        said=f"Over {PAIRS:,} random pairs, q·k has variance {raw:.1f} at d_k = {d_k}, and "
        f"{scaled:.2f} once divided by √{d_k} = {math.sqrt(d_k):g}. In the model's head the "
        f"scores' variance falls {real.var() / real_scaled.var():.0f}-fold, from "
        f"{real.var():.1f} to {real_scaled.var():.2f}.",
        why=f"q·k adds up {d_k} products, each of variance 1, so the variances add: "
        f"{d_k} in all, a standard deviation of √{d_k}. Dividing by √d_k brings it back to "
        "1 whatever the head size (the paper's equation 1).",
        figures=(
            heatmap(w, "scores", tokens, n, keys=tokens),
            heatmap(w, "scaled", tokens, n, keys=tokens),
        ),
    )


# ---- 3, 4 · entropy with and without the scaling ---------------------------------------------
def entropy_shown(ctx: Ctx) -> Shown:
    _, n, _ = walk()
    return Shown(
        text=f"The sentence: “{SENTENCE}”. Each row of weights spreads over its {n} keys: "
        f"0 bits when one key takes it all, log₂ {n} = {math.log2(n):.2f} bits when it is "
        "spread evenly."
    )


def scaled_entropy(ctx: Ctx) -> Reveal:
    w, n, tokens = walk()
    ent, _ = mean_entropy(w, n)
    return Reveal(
        answer=ent,
        said=f"The mean row entropy is {ent:.2f} bits, of {math.log2(n):.2f} at most; a row's "
        f"largest weight is {top_weight(w.steps['weights'], n):.2f} on average.",
        why="With the scores scaled to variance about 1, exp changes them by modest factors, "
        "so each query spreads its attention over several keys. An untrained head has no "
        "reason yet to pick one key.",
        figures=(heatmap(w, "weights", tokens, n, keys=tokens, weights=True),),
    )


def unscaled_shown(ctx: Ctx) -> Shown:
    w, n, _ = walk()
    ent, _ = mean_entropy(w, n)
    return Shown(
        text=f"With the scaling: {ent:.2f} bits (log₂ {n} = {math.log2(n):.2f} at most). "
        f"Without it, softmax gets scores √d_k = {root_dk(w):g} times larger."
    )


def unscaled_entropy(ctx: Ctx) -> Reveal:
    w, n, tokens = walk()
    ent, loose = mean_entropy(w, n)
    bars = charts.entropy_bars(
        w.entropy[HEAD, :n], w.entropy_unscaled[HEAD, :n], tokens, n, "entropy of each row"
    )
    return Reveal(
        answer=loose,
        said=f"Without the scaling the mean row entropy drops to {loose:.2f} bits, from "
        f"{ent:.2f}; a row's largest weight averages {top_weight(w.unscaled_weights, n):.2f} "
        f"instead of {top_weight(w.steps['weights'], n):.2f}.",
        why=f"Scores {root_dk(w):g} times larger become exp factors far apart, so the "
        "largest score takes almost all the weight: softmax saturates. A saturated "
        "softmax passes almost no gradient back, so the head would hardly learn; dividing "
        "by √d_k prevents it.",
        figures=(bars, heatmap(w, "unscaled_weights", tokens, n, keys=tokens, weights=True)),
    )


# ---- 5 · rows sum to 1 -----------------------------------------------------------------------
def row_sums(ctx: Ctx) -> Reveal:
    w, n, tokens = walk()
    scaled = float(np.abs(w.steps["weights"][HEAD, :n].sum(-1) - 1).max())
    loose = float(np.abs(w.unscaled_weights[HEAD, :n].sum(-1) - 1).max())
    answer = sum_kind(w.unscaled_weights[HEAD, :n].sum(-1))
    i = tokens.index(TOKEN)
    bars = charts.vector_bars(
        {
            "weights": w.steps["weights"][HEAD, i],
            "unscaled_weights": w.unscaled_weights[HEAD, i],
        },
        tensor="weights",
        title=f"row {i} (“{TOKEN}”), one number per key",
        keys=tokens,
    )
    return Reveal(
        answer=answer,
        said=f"Every row sums to 1: the largest |sum − 1| over the {n} rows is {loose:.1g} "
        f"without the scaling and {scaled:.1g} with it (float32 rounding).",
        why="Softmax divides each exp by the sum of its row, so every row is a probability "
        "distribution whatever the scores. The scaling changes how peaked a row is, never "
        "its total; that is also why masked keys at exactly 0 leave the real keys all of it.",
        figures=(bars,),
    )


# ---- 6 · LayerNorm ---------------------------------------------------------------------------
def norm_shown(ctx: Ctx) -> Shown:
    w, _, tokens = walk()
    row = w.steps["residual1"][tokens.index(TOKEN)]
    return Shown(
        text=f"After the residual connection (X + attention), token “{TOKEN}” has "
        f"{row.size} numbers with mean {row.mean():.2f} and standard deviation {row.std():.2f}."
    )


def layer_norm(ctx: Ctx) -> Reveal:
    w, _, tokens = walk()
    i = tokens.index(TOKEN)
    before, after = w.steps["residual1"][i], w.steps["norm1"][i]
    mean, std = float(after.mean()), float(after.std())
    D = after.size
    candidates = dict(
        zip(NORMS, [(0, 1), (0, math.sqrt(D)), (1, 0), (before.mean(), before.std())], strict=True)
    )
    answer = min(NORMS, key=lambda o: math.dist(candidates[o], (mean, std)))
    norm = compute.model_for(SCRATCH).layers[LAYER].norm1
    gain, bias = norm.weight.detach().numpy(), norm.bias.detach().numpy()
    bars = charts.vector_bars(
        {"residual1": before, "norm1": after},
        tensor="residual1",
        title=f"token {i} (“{TOKEN}”): residual1 and norm1",
    )
    return Reveal(
        answer=answer,
        said=f"After LayerNorm, “{TOKEN}” has mean ≈ 0 ({mean:.0e}) and standard deviation "
        f"{std:.6f} (from {before.mean():.2f} and {before.std():.2f}); {spread(gain, bias)}.",
        why="LayerNorm subtracts the row's mean and divides by its standard deviation (plus "
        f"a tiny ε = {norm.eps:g}, hence not exactly 1), then multiplies by γ and adds β, "
        "which training learns. Every token leaves the sublayer on the same scale, however "
        "large the residual sum grew.",
        figures=(bars,),
    )


# ---- 7 · the feed-forward width --------------------------------------------------------------
def ff_width(ctx: Ctx) -> Reveal:
    w, n, tokens = walk(PRETRAINED)
    cfg = compute.model_for(PRETRAINED).cfg
    D, F = w.steps["input"].shape[-1], w.steps["ff_hidden"].shape[-1]
    recipe = inside.step_recipe(7, cfg, LAYER, w, n, True)
    i = tokens.index(TOKEN)
    attention, feed = 4 * D * D, 2 * D * F
    bars = charts.vector_bars(
        {"ff_hidden": w.steps["ff_hidden"][i]},
        tensor="ff_hidden",
        title=f"ff_hidden of token {i} (“{TOKEN}”): {F} numbers",
    )
    return Reveal(
        answer=str(F),
        said=f"MiniLM's ff_hidden has {F} numbers per token: {F / D:g} × d_model. "
        f"{recipe.explanation}",
        why=f"The paper's base model used d_ff = 2048 = 4 × 512, and BERT-style models keep "
        f"the 4×. The feed-forward network's two matrices hold {feed:,} weights per layer "
        f"against attention's {attention:,} (W_Q, W_K, W_V, W_O): "
        f"{feed / (feed + attention):.0%} of the layer's weight matrices.",
        figures=(bars,),
    )


# ---- 8 · yours -------------------------------------------------------------------------------
def your_shown(ctx: Ctx) -> Shown:
    w, n, _ = walk(SCRATCH, ctx.sentences)
    ent, _ = mean_entropy(w, n)
    return Shown(
        text=f"Your first sentence has {n} tokens: from 0 to log₂ {n} = {math.log2(n):.2f} "
        f"bits. With the scaling, its mean row entropy is {ent:.2f} bits."
    )


def your_entropy(ctx: Ctx) -> Reveal:
    rows = []
    labels = picker_labels(list(ctx.sentences))
    for row, label in enumerate(labels):
        w, n, tokens = walk(SCRATCH, ctx.sentences, row)
        ent, loose = mean_entropy(w, n)
        rows.append(
            {
                "sentence": label,
                "tokens": n,
                "at most (bits)": round(math.log2(n), 2),
                "÷ √d_k (bits)": round(ent, 2),
                "no scaling (bits)": round(loose, 2),
            }
        )
        if row == 0:
            first = (w, n, tokens, ent, loose)
    w, n, tokens, ent, loose = first
    bars = charts.entropy_bars(
        w.entropy[HEAD, :n], w.entropy_unscaled[HEAD, :n], tokens, n, "entropy of each row"
    )
    return Reveal(
        answer=loose,
        said=f"“{md_escape(ctx.sentences[0])}”: {loose:.2f} bits without the scaling, "
        f"{ent:.2f} with it, of {math.log2(n):.2f} at most.",
        why=f"Whatever the sentence, the unscaled scores are {root_dk(w):g} times larger and "
        "softmax piles the weight on fewer keys. Longer sentences have more keys to spread "
        "over, so both entropies tend to grow with the length.",
        figures=(bars,),
        table=pd.DataFrame(rows),
    )


def your_query(ctx: Ctx) -> dict[str, str]:
    return query(SCRATCH, "\n".join(ctx.sentences), scale=False)


LESSON = Lesson(
    slug="inside-a-layer",
    title="Inside a layer",
    page="Inside a layer",
    summary="Follow one encoder layer's arithmetic: queries and keys, why the scores are "
    "divided by √d_k, softmax, LayerNorm and the feed-forward network.",
    steps=(
        Step(
            "Queries per head",
            "Q = X W_Q gives every token a query, and MiniLM splits its d_model = 384 into 12 "
            "heads. For the 13 tokens of the sentence below, what shape is one head's Q?",
            Choice(SHAPES, widget="segmented"),
            q_shape,
            show=sentence_shown,
            page=PAGE,
            query=query(PRETRAINED, step=1),
        ),
        Step(
            "The size of q·k",
            "A score is a dot product q·k. If q and k hold 64 random numbers each (mean 0, "
            "variance 1), as in a head with d_k = 64, what is the variance of q·k? (within 8)",
            Number(0, 200, 1, 8, digits=1),
            score_variance,
            page=PAGE,
            query=query(SCRATCH, step=2),
        ),
        Step(
            "Entropy with ÷ √d_k",
            "A from-scratch model with one head of d_k = 64 (layer 0) divides its scores by "
            "√64 = 8, then takes softmax. What is the mean entropy of its attention rows? "
            "(within 0.5 bits)",
            Number(0, 8, 0.05, 0.5, unit=" bits"),
            scaled_entropy,
            show=entropy_shown,
            page=PAGE,
            query=query(SCRATCH),
        ),
        Step(
            "Entropy without it",
            "Now skip the division: softmax gets the raw scores Q·Kᵀ. What is the mean row "
            "entropy now? (within 0.5 bits)",
            Number(0, 8, 0.05, 0.5, unit=" bits"),
            unscaled_entropy,
            show=unscaled_shown,
            page=PAGE,
            query=query(SCRATCH, scale=False),
        ),
        Step(
            "Rows sum to 1",
            "Without the scaling the rows are far more peaked. What does each row of those "
            f"weights add up to (a difference under {ROUNDING:g} counts as rounding)?",
            Choice(SUMS),
            row_sums,
            page=PAGE,
            query=query(SCRATCH, scale=False, token=f"2 · {TOKEN}"),
        ),
        Step(
            "Residual + LayerNorm",
            f"The layer adds attention's output to its input, then LayerNorm normalises each "
            f"token's row (γ = 1, β = 0 in a fresh model). What are the mean and standard "
            f"deviation of “{TOKEN}” afterwards?",
            Choice(NORMS),
            layer_norm,
            show=norm_shown,
            page=PAGE,
            query=query(SCRATCH, step=6, token=f"2 · {TOKEN}"),
        ),
        Step(
            "Feed-forward width",
            "The feed-forward network takes each token alone from d_model up to d_ff numbers "
            "and back. MiniLM has d_model = 384: how wide is d_ff?",
            Choice(WIDTHS, widget="segmented"),
            ff_width,
            page=PAGE,
            query=query(PRETRAINED, step=7, token=f"2 · {TOKEN}"),
        ),
        Step(
            "Now try yours",
            "Your sentences, through the same head with d_k = 64: what is the mean row "
            "entropy of your first sentence without the scaling? (within 0.5 bits)",
            Number(0, 8, 0.05, 0.5, unit=" bits"),
            your_entropy,
            show=your_shown,
            page=PAGE,
            query=your_query,
            yours=True,
        ),
    ),
    next_up="Open the **Inside a layer** page and step through all eight steps on your own "
    "sentence; switch the sidebar to pre-norm and see where the LayerNorms move.",
)
