"""Lesson 4 · Padding and the mask: why a batch is padded, what the mask does inside attention,
how far unmasked padding moves a sentence, the NaN trap, and padding in mean pooling.

Every reveal runs the Padding & masks page's own functions (``app.compute.padding``:
padded_view, pad_attention_share, drift, trap_table, pooled_cosine) and draws with its charts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from app import compute
from app.charts import padding as charts
from app.compute import padding as pad
from app.lessons.base import (
    PRETRAINED,
    Choice,
    Ctx,
    Lesson,
    Number,
    Reveal,
    Shown,
    Step,
    link_query,
)
from app.state import md_escape
from app.ui import picker_labels

MODEL = PRETRAINED
PAGE = "padding"
# the page's own example, "Padding demo (short and long)": "Hi!" is padded to the long one
SENTENCES = ("Hi!", "Transformers process every token of a sentence in parallel.")
TEXT = "\n".join(SENTENCES)
LAYER, HEAD = 0, 0  # the attention map the steps look at
PADS = 30  # [PAD] tokens appended in the drift steps

# ranges of the drift (max |Δ| of the real tokens' outputs), each with its upper bound
DRIFT = {
    "Float noise (under 0.0001)": 1e-4,
    "Small (0.0001 to 0.1)": 0.1,
    "Medium (0.1 to 1)": 1.0,
    "Large (over 1)": math.inf,
}
SHARE = {"Exactly 0 %": 0.0, "Under 5 %": 0.05, "5 % to 50 %": 0.5, "Over 50 %": math.inf}
TRAP = ("Even weights", "All zeros", "NaN", "All on one key")


def drift_range(value: float) -> str:
    """The DRIFT option a max |Δ| falls in."""
    return next(name for name, top in DRIFT.items() if value < top)


def share_range(share: float) -> str:
    """The SHARE option an attention share (0 to 1) falls in: "Exactly 0 %" only for 0."""
    if share == 0.0:
        return "Exactly 0 %"
    return next(name for name, top in SHARE.items() if top and share < top)


def trap_kind(weights: np.ndarray) -> str:
    """What softmax gave a fully padded row: one of TRAP."""
    if np.isnan(weights).any():
        return "NaN"
    if np.allclose(weights, 1 / weights.size):
        return "Even weights"
    return "All zeros" if np.allclose(weights, 0) else "All on one key"


def lesson_batch():
    """The lesson's batch through the page's forward pass, and "Hi!" padded as in the batch,
    with its mask and without (padded_view, the page's sections 2, 4 and 5)."""
    fwd = compute.forward(MODEL, SENTENCES, False)
    enc = fwd.encodings[0]
    width = fwd.input_ids.shape[1]
    view = pad.padded_view(MODEL, tuple(enc.ids), width, LAYER)
    tokens = pad.padded_tokens(enc.tokens, width, compute.wordpiece().pad_token)
    return fwd, enc, view, tokens


def query(text: str = TEXT, **page: object) -> dict[str, str]:
    """The page's link: the lesson's model and sentences, the first sentence inspected."""
    lines = [line for line in text.splitlines() if line.strip()]
    pick = {"sentence": picker_labels(lines)[0]} if len(lines) > 1 else {}
    return link_query(MODEL, text, **pick, **page)


# ---- 1 · why pad ---------------------------------------------------------------------------
def why_pad(ctx: Ctx) -> Reveal:
    fwd, enc, _, _ = lesson_batch()
    B, S = fwd.input_ids.shape
    pad_token = compute.wordpiece().pad_token
    rows = [pad.padded_tokens(e.tokens, S, pad_token) for e in fwd.encodings]
    long = len(fwd.encodings[1])
    return Reveal(
        answer=S - len(enc),
        said=f"“Hi!” is {len(enc)} tokens ({' '.join(enc.tokens)}), the long sentence "
        f"{long}: “Hi!” gets {S - len(enc)} [PAD] to fill the {B} × {S} rectangle.",
        why="A batch goes through the model as one tensor, and a tensor is a rectangle, so "
        "shorter rows are filled with [PAD] (id "
        f"{compute.wordpiece().pad_id}) up to the longest. The `attention_mask` beside it "
        "says which cells are real (1) and which are padding (0). Remember the [CLS] and "
        "[SEP] the tokenizer adds to each sentence.",
        figures=(
            charts.batch_grid(rows, fwd.attention_mask),
            charts.batch_grid(rows, fwd.attention_mask, show="mask"),
        ),
    )


# ---- 2, 3 · attention to [PAD] ----------------------------------------------------------------
def mask_shown(ctx: Ctx) -> Shown:
    _, _, view, tokens = lesson_batch()
    seen = pad.mask_as_seen(view.attention_mask)
    return Shown(
        text="What the mask adds to every score of “Hi!” before softmax: 0 on a real key, "
        "the most negative float32 (−3.4 × 10³⁸) on a [PAD] key (dark).",
        figures=(charts.mask_view(seen, tokens, "the mask attention adds"),),
    )


def masked_share(ctx: Ctx) -> Reveal:
    _, enc, view, tokens = lesson_batch()
    n = len(enc)
    w = view.with_mask[HEAD]
    share = pad.pad_attention_share(w, view.attention_mask)
    most = float(view.with_mask[:, :n, n:].max())
    return Reveal(
        answer=share_range(share),
        said=f"With the mask, the real tokens of “Hi!” give {100 * share:.2f} % of their "
        f"attention to [PAD] (layer {LAYER}, head {HEAD}); the largest weight on a [PAD] key "
        f"in all {view.with_mask.shape[0]} heads is {most:g}.",
        why="Softmax takes exp of each score: exp(−3.4 × 10³⁸) is smaller than the smallest "
        "float32, so it rounds to exactly 0, not to a small number. The real keys share all "
        "of the weight, as if the padding were not there.",
        figures=(
            charts.attention_map(
                w, tokens, n, f"L{LAYER} H{HEAD}: with the mask", float(w.max()) or 1.0
            ),
        ),
    )


def unmasked_share(ctx: Ctx) -> Reveal:
    _, enc, view, tokens = lesson_batch()
    n, W = len(enc), len(tokens)
    share = pad.pad_attention_share(view.without_mask[HEAD], view.attention_mask)
    heads = [pad.pad_attention_share(w, view.attention_mask) for w in view.without_mask]
    return Reveal(
        answer=100 * share,
        said=f"Without the mask, the real tokens of “Hi!” give {100 * share:.1f} % of their "
        f"attention to the {W - n} [PAD] keys (layer {LAYER}, head {HEAD}); across the "
        f"{len(heads)} heads of layer {LAYER}, from {100 * min(heads):.0f} % to "
        f"{100 * max(heads):.0f} %.",
        why=f"[PAD] is a token like any other, with an embedding and a position, so its key "
        f"matches queries too. {W - n} of the {W} keys are padding: an even spread would "
        f"give them {100 * (W - n) / W:.0f} %. Whatever the exact share, the sentence now "
        "reads words that are not in it.",
        figures=(
            charts.attention_map(
                view.without_mask[HEAD],
                tokens,
                n,
                f"L{LAYER} H{HEAD}: without the mask",
                float(view.without_mask[HEAD].max()),
            ),
        ),
    )


# ---- 4, 5 · the drift with 30 [PAD] ---------------------------------------------------------
def drift_shown(ctx: Ctx) -> Shown:
    _, enc, view, _ = lesson_batch()
    real = np.abs(view.hidden[: len(enc)])
    return Shown(
        text=f"For scale: “Hi!” alone gives {len(enc)} output vectors of {view.hidden.shape[1]} "
        f"numbers; half of those numbers lie within ±{np.median(real):.2f}, the largest is "
        f"{real.max():.2f}. The drift is the largest change of any of them "
        f"(max |Δ|) when {PADS} [PAD] are appended."
    )


def unmasked_drift(ctx: Ctx) -> Reveal:
    fwd, enc, _, _ = lesson_batch()
    without = float(pad.drift(MODEL, tuple(enc.ids), (PADS,))[1, 0])
    return Reveal(
        answer=drift_range(without),
        said=f"Without the mask, {PADS} [PAD] move the real outputs of “Hi!” by up to "
        f"{without:.3g} (max |Δ|).",
        why="Every real token now averages the [PAD] values into its output, in each of the "
        f"{fwd.config.n_layers} layers, and each layer feeds the next: the errors pile up. "
        "A short sentence in a batch with a long one would be encoded as another sentence.",
    )


def masked_drift(ctx: Ctx) -> Reveal:
    _, enc, _, _ = lesson_batch()
    ids = tuple(enc.ids)
    now = pad.drift(MODEL, ids, (PADS,))[:, 0]
    grid = pad.drift_grid(PADS)
    curve = pad.drift(MODEL, ids, grid)
    return Reveal(
        answer=drift_range(float(now[0])),
        said=f"With the mask, {PADS} [PAD] move the real outputs of “Hi!” by at most "
        f"{now[0]:.2g}; without it, by {now[1]:.3g}.",
        why="The [PAD] keys get exactly 0 weight, so the real tokens compute the same sums "
        "as alone. What remains is float32 rounding (about 7 significant digits): a longer "
        "row is added up in another order, so the last digit can differ.",
        figures=(charts.drift_chart(grid, curve, PADS, now),),
    )


# ---- 6 · the NaN trap -------------------------------------------------------------------------
def nan_trap(ctx: Ctx) -> Reveal:
    _, _, view, tokens = lesson_batch()
    inf, fmin = view.nan_inf[HEAD], view.nan_min[HEAD]
    W = len(tokens)
    return Reveal(
        answer=trap_kind(inf),
        said=f"With −inf, softmax gave {int(np.isnan(inf).sum())} NaN weights of {W}, and "
        f"{view.out_nan[0]:,} NaN values came out of the heads; with torch.finfo(float32).min "
        f"every weight is {fmin[0]:.4f} (1/{W}) and {view.out_nan[1]} NaN.",
        why="Softmax subtracts the row's largest score before exp; if every score is −inf, "
        "that is −inf − (−inf) = NaN, and one NaN spreads through the loss and every "
        "gradient. The most negative finite float keeps the scores equal and finite, so the "
        "row is spread evenly: harmless, and pooling and the loss drop that row later with the "
        "same mask anyway.",
        table=pad.trap_table(view, HEAD),
    )


# ---- 7 · mean pooling -------------------------------------------------------------------------
def pooling(ctx: Ctx) -> Reveal:
    _, enc, view, tokens = lesson_batch()
    n, W = len(enc), len(tokens)
    cos = pad.pooled_cosine(view.hidden, view.attention_mask)
    fig = charts.output_vectors(view.hidden, tokens, n)
    fig.update_layout(height=360)
    return Reveal(
        answer=cos,
        said=f"The cosine between the two averages is {cos:.3f}: the {W - n} [PAD] rows pull "
        f"the sentence vector away from the average of its {n} real tokens.",
        why="The mask stops [PAD] as a key, but every [PAD] position is still a query and "
        "gets an output vector of its own (the shaded rows), which stands for no word. "
        "Pooling, a loss or a classifier must leave those rows out with the same mask, as "
        "all-MiniLM-L6-v2's mean pooling does.",
        figures=(fig,),
    )


# ---- 8 · yours --------------------------------------------------------------------------------
def your_drift(ctx: Ctx) -> Reveal:
    encodings = compute.encode_batch(MODEL, ctx.sentences)
    labels = picker_labels(list(ctx.sentences))
    rows, first = [], None
    for label, enc in zip(labels, encodings.encodings, strict=True):
        with_mask, without = pad.drift(MODEL, tuple(enc.ids), (PADS,))[:, 0]
        first = first or (len(enc), float(with_mask), float(without))
        rows.append(
            {
                "sentence": label,
                "tokens": len(enc),
                f"max |Δ| with {PADS} [PAD], no mask": f"{without:.3g}",
                "… with the mask": f"{with_mask:.2g}",
            }
        )
    n, with_mask, without = first
    quoted = md_escape(ctx.sentences[0])
    return Reveal(
        answer=drift_range(without),
        said=f"Your first sentence, “{quoted}” ({n} tokens), drifts by {without:.3g} with "
        f"{PADS} [PAD] and no mask, {with_mask:.2g} with the mask.",
        why=f"The more real tokens a sentence has, the smaller the share of attention the "
        f"{PADS} [PAD] can take, so longer sentences tend to drift less; none is safe without "
        "the mask. With it, every sentence stays at rounding level.",
        table=pd.DataFrame(rows),
    )


def your_query(ctx: Ctx) -> dict[str, str]:
    return query("\n".join(ctx.sentences), pads=PADS)


LESSON = Lesson(
    slug="padding-mask",
    title="Padding and the mask",
    page="Padding & masks",
    summary="Why a batch is padded, how the attention mask makes padding invisible (exactly), "
    "and what goes wrong without it.",
    steps=(
        Step(
            "Why pad",
            "A batch is one tensor: “Hi!” and “Transformers process every token of a sentence "
            "in parallel.” go through the model together. How many [PAD] tokens does “Hi!” "
            "get? (within 1)",
            Number(0, 60, 1, 1, digits=0),
            why_pad,
            page=PAGE,
            query=query(),
        ),
        Step(
            "The mask on [PAD]",
            f"With the mask, what share of their attention do the real tokens of “Hi!” give "
            f"to its [PAD] keys (layer {LAYER}, head {HEAD})?",
            Choice(tuple(SHARE), widget="segmented"),
            masked_share,
            show=mask_shown,
            page=PAGE,
            query=query(layer=LAYER, head=HEAD),
        ),
        Step(
            "No mask",
            f"Now drop the mask (`attention_mask=None`). What percentage of their attention do "
            f"the real tokens of “Hi!” give to the [PAD] keys (layer {LAYER}, head {HEAD})? "
            "(within 10 points)",
            Number(0, 100, 1, 10, unit=" %", digits=1),
            unmasked_share,
            page=PAGE,
            query=query(layer=LAYER, head=HEAD),
        ),
        Step(
            f"{PADS} pads, no mask",
            f"Append {PADS} [PAD] to “Hi!” and run it without the mask. How far do its real "
            "tokens' outputs move from those of “Hi!” alone (max |Δ|)?",
            Choice(tuple(DRIFT)),
            unmasked_drift,
            show=drift_shown,
            page=PAGE,
            query=query(pads=PADS),
        ),
        Step(
            f"{PADS} pads, with the mask",
            f"The same {PADS} [PAD], now with the mask. How far do the real outputs move?",
            Choice(tuple(DRIFT)),
            masked_drift,
            page=PAGE,
            query=query(pads=PADS),
        ),
        Step(
            "The NaN trap",
            "A sentence that is all padding: every key of its row is masked. Mask with −inf "
            "instead of the most negative float: what does softmax give that row?",
            Choice(TRAP, widget="segmented"),
            nan_trap,
            page=PAGE,
            query=query(layer=LAYER, head=HEAD),
        ),
        Step(
            "Pooling with [PAD]",
            "A sentence embedding is the average of its output vectors. With the mask on, "
            "average “Hi!” over all its positions, [PAD] rows included, and compare with the "
            "average of its real tokens only: what cosine? (within 0.1)",
            Number(-1, 1, 0.01, 0.1, digits=3),
            pooling,
            page=PAGE,
            query=query(layer=LAYER, head=HEAD),
        ),
        Step(
            "Now try yours",
            f"Your sentences: append {PADS} [PAD] to your first sentence and drop the mask. "
            "How far do its real tokens' outputs move (max |Δ|)?",
            Choice(tuple(DRIFT)),
            your_drift,
            page=PAGE,
            query=your_query,
            yours=True,
        ),
    ),
    next_up="Open the **Padding & masks** page and drag N to the far right: the masked drift "
    "stays at rounding level however much padding follows. Then turn on the causal mask to "
    "see what a decoder such as GPT adds.",
    yours="Good morning!\nThe committee will meet again next Tuesday to discuss the budget "
    "for the coming year.",
)
