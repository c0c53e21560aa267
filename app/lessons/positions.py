"""Lesson 3, Why order needs positions: the order test without and with position vectors, the
sinusoids' wavelengths, similarity by offset, and MiniLM's learned positions (Positions page).

Every reveal runs the Positions page's own code: ``app.compute.positional`` (shuffle,
order_difference, table, wavelength, offset_profiles, learned_vs_fixed…) and
``app.charts.positional`` (order_bars, curves, profiles, similarity_heatmap).
"""

from __future__ import annotations

import math

import numpy as np

from app import compute, ui
from app.charts import positional as charts
from app.compute import positional as pc
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

MODEL = PRETRAINED  # all-MiniLM-L6-v2, eval mode: the order test runs on it
SENTENCE = "the dog bites the man"
SEED = 0  # the page's shuffle seed
D, N, BASE = 128, 128, 10000.0  # the page's default sinusoidal table: d_model, positions, base
START = 50  # the second start position of the similarity profiles
NOISE = 1e-4  # below this, a difference is float rounding (MiniLM's outputs are ~0.1 to 1)
HEIGHT = 360  # figures fit a projector step
YOURS = "The teacher gave the student a book."


def view(name: str, text: str | None = None, **extra: object) -> dict[str, str]:
    """The Positions page's link: one of its views (on ``text``), with its own widget values."""
    return link_query(MODEL, text, pe_view=name, **extra)


TABLE = dict(pe_d=D, pe_len=N, pe_base=BASE)


# ---- the order test ------------------------------------------------------------------------


def shuffled(text: str) -> tuple[list[str], tuple[int, ...], tuple[int, ...]]:
    """A sentence's tokens, ids and the page's seeded shuffle of them ([CLS]/[SEP] stay)."""
    enc = compute.tokenizer_for(MODEL).encode(text, max_len=MODEL.max_len)
    return enc.tokens, tuple(enc.ids), pc.shuffle(len(enc), SEED, tuple(enc.special))


def order(text: str) -> tuple[float, float]:
    """The page's order test: max |difference| without and with position vectors."""
    _, ids, perm = shuffled(text)
    return pc.order_difference(MODEL, ids, perm)


def orders_text(tokens: list[str], perm: tuple[int, ...], escape: bool) -> str:
    show = (lambda t: md_escape(t, limit=40)) if escape else (lambda t: f"`{t}`")
    return (
        "original: " + " ".join(show(t) for t in tokens) + "  \n"
        "shuffled: " + " ".join(show(tokens[j]) for j in perm)
    )


def order_show(ctx: Ctx) -> Shown:
    tokens, _, perm = shuffled(SENTENCE)
    return Shown(text=orders_text(tokens, perm, escape=False))


KEEPS = (
    "Only reordered, up to rounding",  # a change under NOISE is rounding (the question says so)
    "Each changes a little",
    "Each changes a lot",
    "They all become equal",
)


def without_reveal(ctx: Ctx) -> Reveal:
    without, _ = order(SENTENCE)
    answer = KEEPS[0] if without < NOISE else KEEPS[1] if without < 0.1 else KEEPS[2]
    return Reveal(
        answer=answer,
        said="Without position vectors, the shuffled sentence's outputs equal the original "
        f"outputs put in the shuffled order up to **{without:.2e}**: float rounding, every "
        "token kept its vector.",
        why="Attention compares tokens by their content alone, and the feed-forward network "
        "works on each token by itself, so nothing in the encoder knows where a token stands. "
        "Shuffle the input and the outputs come out shuffled the same way (the encoder is "
        "*permutation-equivariant*): “dog bites man” and “man bites dog” are one bag of vectors.",
    )


SIZES = ("Below 0.0001 (noise)", "0.0001 to 0.1", "0.1 to 10", "Above 10")
EDGES = (NOISE, 0.1, 10.0)


def size(value: float) -> str:
    return SIZES[sum(value >= edge for edge in EDGES)]


def typical_show(ctx: Ctx) -> Shown:
    tokens, _, perm = shuffled(SENTENCE)
    out = compute.forward(MODEL, (SENTENCE,), False).hidden_states[-1, 0]  # (S, D)
    return Shown(
        text=orders_text(tokens, perm, escape=False)
        + f"\n\nFor scale: MiniLM's output numbers for this sentence are "
        f"{float(np.median(np.abs(out))):.2f} in size on average (median), "
        f"{float(np.abs(out).max()):.2f} at most."
    )


def with_reveal(ctx: Ctx) -> Reveal:
    without, with_pos = order(SENTENCE)
    return Reveal(
        answer=size(with_pos),
        said=f"With position vectors, the largest change is **{with_pos:.3g}**, against "
        f"{without:.2e} without: the outputs really differ.",
        why="Each token's input vector now includes the vector of the position it stands at, so "
        "moving a word changes its own vector and, through attention, every other one. That is "
        "how the model tells “dog bites man” from “man bites dog”.",
        figures=(charts.order_bars(without, with_pos),),
    )


ORDER_QUERY = view("Order test", SENTENCE, pe_shuffle=SEED)


# ---- the sinusoids -------------------------------------------------------------------------


def curves(sines: list[int]):
    """The page's Curves chart of the default table for these sine columns (and their cosines)."""
    pe, lam = pc.table(N, D, BASE), pc.wavelength(D, BASE)
    dims = pc.pair_dims(sines, D)
    fine = pc.fine_positions(N)
    fig = charts.curves(pe, dims, lam, fine, pc.continuous_curves(fine, D, BASE, dims))
    return fig.update_layout(height=HEIGHT)


FAST = pc.default_pairs(D)  # the page's default pairs: 0, 32, 64


def fastest_show(ctx: Ctx) -> Shown:
    return Shown(
        text=f"The paper's table, {D} columns wide (base {BASE:g}): column 2i at position p "
        f"is sin(p / {BASE:g}^(2i/{D})), column 2i + 1 its cosine."
    )


def fastest_reveal(ctx: Ctx) -> Reveal:
    lam = pc.wavelength(D, BASE)
    a, b, c = FAST
    return Reveal(
        answer=float(lam[a]),
        said=f"Column 0 repeats every **{lam[a]:.2f}** positions; column {b} every "
        f"{lam[b]:.3g} and column {c} every {lam[c]:.3g}.",
        why=f"sin(p) completes a cycle each time p grows by 2π ≈ {2 * math.pi:.2f}. Every next "
        "pair divides p by a larger power of the base, so it turns more slowly: fast pairs tell "
        "neighbours apart, slow pairs tell the start of a long text from its end.",
        figures=(curves(FAST),),
    )


SLOW = D - 2  # the sine column of the last, slowest pair
CYCLES = (60, 600, 6_000, 60_000)
CYCLE_OPTIONS = tuple(f"About {c:,}" for c in CYCLES)


def slowest_reveal(ctx: Ctx) -> Reveal:
    lam = pc.wavelength(D, BASE)
    slow = float(lam[SLOW])
    nearest = int(np.argmin([abs(math.log10(slow / c)) for c in CYCLES]))
    turned = 360 * (N - 1) / slow  # degrees over positions 0 … N-1
    quarter = float(lam[D // 4] / lam[0])
    return Reveal(
        answer=CYCLE_OPTIONS[nearest],
        said=f"Columns {SLOW} and {SLOW + 1} repeat every **{slow:,.0f}** positions: over the "
        f"{N} positions drawn they turn by only {turned:.1f}°, nearly flat lines.",
        why=f"A pair's wavelength is 2π · base^(2i/d_model): here it grows {quarter:.3g} times "
        "every quarter of the columns, from 2π up to nearly 2π · base. Together the fast and "
        "slow pairs give every position a different pattern, like a clock's hands.",
        figures=(curves([0, D // 2, SLOW]),),
    )


# ---- similarity by offset ------------------------------------------------------------------

OFFSET = ("No: only on the offset k", "Yes: larger from p = 0", f"Yes: larger from p = {START}")


def offset_reveal(ctx: Ctx) -> Reveal:
    prof = pc.offset_profiles(N, D, BASE, (0, START))
    gap = pc.profile_gap(prof)
    if gap < 1e-4 * float(prof[0, 0]):
        answer = OFFSET[0]
    else:
        answer = OFFSET[1] if float((prof[0] - prof[1]).mean()) > 0 else OFFSET[2]
    names = ["from p = 0", f"from p = {START}"]
    fig = charts.profiles(prof, names, "PE(p) · PE(p + k) against k", "dot product")
    sim = charts.similarity_heatmap(
        pc.dot_similarity(pc.table(N, D, BASE)), "PE(p) · PE(q)", "dot product"
    )
    return Reveal(
        answer=answer,
        said=f"From p = 0 and from p = {START}, the two profiles differ by at most "
        f"**{gap:.2e}** (of {float(prof[0, 0]):.4g} at k = 0): float rounding, the same curve.",
        why="Each (sin, cos) pair adds sin a · sin b + cos a · cos b = cos(a − b), which depends "
        "only on how far apart the angles are, that is on k. So how alike two positions look "
        "depends on their distance alone, the same anywhere in a sentence.",
        figures=(fig.update_layout(height=HEIGHT), sim.update_layout(height=HEIGHT)),
    )


# ---- learned positions ---------------------------------------------------------------------

LEARNED = ("No: only on the offset k", "Yes: it depends on the start")


def learned_show(ctx: Ctx) -> Shown:
    c = pc.learned_vs_fixed(N, BASE)
    a, b = c.starts
    return Shown(
        text=f"MiniLM's learned table, positions 0 to {N - 1}: the cosine between p and p + k, "
        f"for k = 0 to {c.profiles.shape[1] - 1}, from the two starts p = {a} and p = {b}."
    )


def learned_reveal(ctx: Ctx) -> Reveal:
    c = pc.learned_vs_fixed(N, BASE)
    gap = pc.profile_gap(c.profiles)
    a, b = c.starts
    names = [f"learned from p = {a}", f"learned from p = {b}", "sinusoidal (any start)"]
    fig = charts.profiles(c.profiles, names, "cosine(p, p + k) against k", "cosine")
    return Reveal(
        answer=LEARNED[1] if gap > 0.05 else LEARNED[0],
        said=f"From p = {a} and from p = {b}, MiniLM's learned profiles differ by up to "
        f"**{gap:.2f}** in cosine; the sinusoidal one is the same from any start.",
        why="Nothing made the learned table a function of distance: training shaped each "
        "position's vector on its own, so how alike p and p + k look changes along the text. "
        "The sinusoids build the offset rule in, and go on past the learned table's last "
        "position.",
        figures=(fig.update_layout(height=HEIGHT),),
    )


# ---- yours: the order test on your sentence ------------------------------------------------


def pick(ctx: Ctx) -> int:
    """The first of the learner's sentences with two tokens or more to shuffle."""
    tok = compute.tokenizer_for(MODEL)
    for i, text in enumerate(ctx.sentences):
        if pc.movable(tok.encode(text, max_len=MODEL.max_len).special) >= 2:
            return i
    raise ValueError(
        "None of your sentences has two tokens to shuffle ([CLS] and [SEP] stay put): type a "
        "sentence of two words or more."
    )


def yours_show(ctx: Ctx) -> Shown:
    i = pick(ctx)
    tokens, _, perm = shuffled(ctx.sentences[i])
    return Shown(
        text=f"Your sentence {i + 1}, shuffled (seed {SEED}):\n\n"
        + orders_text(tokens, perm, escape=True)
    )


def yours_reveal(ctx: Ctx) -> Reveal:
    i = pick(ctx)
    text = ctx.sentences[i]
    _, ids, perm = shuffled(text)
    without, with_pos = pc.order_difference(MODEL, ids, perm)
    same = tuple(ids[j] for j in perm) == ids
    return Reveal(
        answer=size(with_pos),
        said=f"On “{md_escape(text)}”, the largest change is **{with_pos:.3g}** with position "
        f"vectors and {without:.2e} without."
        + (" This shuffle only swapped equal tokens, so nothing moved." if same else ""),
        why="Without positions your tokens' vectors only trade places, whatever the sentence; "
        "with them every vector changes, because each token carries where it stands. The size "
        "of the change depends on the words and how far they moved.",
        figures=(charts.order_bars(without, with_pos),),
    )


def yours_query(ctx: Ctx) -> dict[str, str]:
    """The order test on the learner's sentences; drawn before any reveal, so it never raises."""
    try:
        i = pick(ctx)
    except ValueError:
        i = 0
    extra = {}
    if len(ctx.sentences) > 1:
        extra["sentence"] = ui.picker_labels(list(ctx.sentences))[i]
    return view("Order test", "\n".join(ctx.sentences), pe_shuffle=SEED, **extra)


LESSON = Lesson(
    slug="positions",
    title="Why order needs positions",
    page="Positions",
    summary="Why an encoder without position vectors cannot tell “dog bites man” from “man "
    "bites dog”, and how sine waves and learned tables tell it where each token stands.",
    steps=(
        Step(
            title="Shuffle without positions",
            question=f"We switch MiniLM's position vectors off and shuffle the words of "
            f"“{SENTENCE}” as shown. What happens to each word's output vector (a change under "
            f"{NOISE:g} counts as float rounding)?",
            ask=Choice(KEEPS),
            reveal=without_reveal,
            show=order_show,
            page="positions",
            query=ORDER_QUERY,
        ),
        Step(
            title="Shuffle with positions",
            question="Now the same shuffle with the position vectors on. How large is the "
            "largest change in any output number?",
            ask=Choice(SIZES),
            reveal=with_reveal,
            show=typical_show,
            page="positions",
            query=ORDER_QUERY,
        ),
        Step(
            title="The fastest wave",
            question="How many positions does column 0 take to go through one full cycle "
            "(within 0.1)?",
            ask=Number(0, 1000, 0.01, 0.1),
            reveal=fastest_reveal,
            show=fastest_show,
            page="positions",
            query=view("Curves", **TABLE, pe_pair1=FAST[0], pe_pair2=FAST[1], pe_pair3=FAST[2]),
        ),
        Step(
            title="The slowest wave",
            question=f"The last pair, columns {SLOW} and {SLOW + 1}, turns slowest. About how "
            "many positions does one of its cycles take?",
            ask=Choice(CYCLE_OPTIONS),
            reveal=slowest_reveal,
            page="positions",
            query=view("Curves", **TABLE, pe_pair1=0, pe_pair2=D // 2, pe_pair3=SLOW),
        ),
        Step(
            title="Alike by distance",
            question="PE(p) · PE(p + k) measures how alike two position vectors k steps apart "
            f"are. Does it depend on where you start, p = 0 or p = {START}?",
            ask=Choice(OFFSET),
            reveal=offset_reveal,
            page="positions",
            query=view("Similarity", **TABLE, pe_start=START),
        ),
        Step(
            title="Learned positions",
            question="MiniLM learned its own position vectors in training instead. Does how "
            "alike p and p + k look depend on the start there, for the two starts shown?",
            ask=Choice(LEARNED),
            reveal=learned_reveal,
            show=learned_show,
            page="positions",
            query=view("Learned vs fixed", pe_len=N, pe_base=BASE),
        ),
        Step(
            title="Your sentence",
            question="The order test on your sentence, shuffled as shown: with position "
            "vectors on, how large is the largest change?",
            ask=Choice(SIZES),
            reveal=yours_reveal,
            show=yours_show,
            page="positions",
            query=yours_query,
            yours=True,
        ),
    ),
    next_up="On the **Positions** page, try *Rotation*: one fixed matrix moves every position "
    "k steps on, which is how attention can learn “look two words back”. Then set **base** "
    "to 10 in *Similarity* and watch far positions look alike again.",
    yours=YOURS,
)
