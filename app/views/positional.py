"""Positions: the sinusoids, what they encode, learned vs fixed, and proof that order matters."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import compute, state, ui
from app.charts import positional as charts
from app.compute import positional as pc
from app.snippets.positional import positional_snippet

TABLE_VIEWS = ["Curves", "Table", "Similarity", "Rotation"]
VIEWS = [*TABLE_VIEWS, "Sizes", "Learned vs fixed", "Order test"]
D_RANGE = (4, 512)
LEN_OPTIONS = [16, 32, 64, 128, 256, 512]
BASE_OPTIONS = [2, 5, 10, 20, 50, 100, 1000, 10000, 100000, 1000000]
PAGE = dict(bind="query-params", persist_state="page")  # in the link; kept across views
FLOAT32_EPS = float(np.finfo(np.float32).eps)

choice = ui.header(
    "Positions",
    "Attention compares every token with every other one and does not care where they "
    "stand: without help, *dog bites man* and *man bites dog* are the same bag of tokens. "
    "The paper adds a **position vector** to each token vector (section 3.5): column 2i is "
    "sin(p / base^(2i/d_model)) and column 2i+1 its cosine, so each pair of columns turns "
    "at its own speed, from one cycle every 2π positions to one every 2π·base. BERT-style "
    "models (MiniLM) learn a table of position vectors instead.\n\n"
    "**Try this**\n"
    "- Set **base** to 10 and watch the similarity profile repeat: no wave is now longer "
    "than 2π·10 ≈ 63 positions, so the profile rises again in bumps instead of falling "
    "away, and a far position looks as alike as a near one.\n"
    "- Why can't the model tell *dog bites man* from *man bites dog* without this? Type both "
    "in the sidebar and open **Order test**: without position vectors, shuffling the tokens "
    "only shuffles the output vectors.\n"
    "- In **Rotation**, move k: one fixed matrix moves *every* position k steps on, which is "
    "why attention can learn relative offsets.\n"
    "- In **Sizes**, switch the sidebar to *From scratch* and compare the token norms with "
    "and without the √d_model scaling.",
)

view = ui.segmented("View", VIEWS, "pe_view", persist_state="page")


def table_controls(*, with_width: bool = True) -> tuple[int, int, float]:
    """The page's own sinusoidal table: d_model, max_len, base (not the sidebar's model)."""
    with st.container(horizontal=True, gap="medium"):
        d = 384
        if with_width:
            d = st.slider(
                "d_model of the table",
                *D_RANGE,
                value=128,
                key=state.linked("pe_d"),
                width=240,
                help="Any width from 4 to 512; odd widths leave the last sine without a cosine.",
                **PAGE,
            )
        n = st.select_slider(
            "max_len (positions)",
            LEN_OPTIONS,
            value=128,
            key=state.linked("pe_len"),
            width=240,
            **PAGE,
        )
        base = st.select_slider(
            "base",
            BASE_OPTIONS,
            value=10000,
            key=state.linked("pe_base"),
            width=240,
            help="10000 is the paper's. Wavelengths run from 2π to 2π·base positions.",
            **PAGE,
        )
    st.caption(
        "These sliders draw the sinusoidal table on this page only; they do not change the "
        "sidebar's model."
    )
    return int(d), int(n), float(base)


def odd_width_note(d: int) -> None:
    if d % 2:
        st.info(
            f"d_model {d} is odd: the last column is a sine with no cosine partner, so it "
            "is not part of any rotating pair. The Rotation view needs an even d_model."
        )


def curves_view(d: int, n: int, base: float) -> dict:
    pe, lam = pc.table(n, d, base), pc.wavelength(d, base)
    sines = list(range(0, d, 2))  # the sine column of each pair
    picked = []
    new_width = st.session_state.get("_pe_pairs_for", d) != d
    st.session_state["_pe_pairs_for"] = d
    with st.container(horizontal=True, gap="medium"):
        for i, default in enumerate(pc.default_pairs(d)):
            key = f"pe_pair{i + 1}"
            if new_width:  # another width: its own fast, middle and slow pairs
                st.session_state[key] = default
            ui.keep_valid(key, sines, default)  # from a link: a pair past the table
            picked.append(
                st.slider(
                    f"Pair {i + 1} · sine dim",
                    0,
                    sines[-1],
                    value=default,
                    step=2,
                    key=state.linked(key),
                    width=240,
                    help="Draws dim 2i (sine, solid) and 2i+1 (cosine, dotted). The defaults "
                    "are a fast, a middle and a slow pair.",
                    **PAGE,
                )
            )
    dims = pc.pair_dims(picked, d)
    fine = pc.fine_positions(n)
    fig = charts.curves(pe, dims, lam, fine, pc.continuous_curves(fine, d, base, dims))
    ui.plotly_chart(fig, key="curves", theme=None)
    st.caption(
        f"λ is a wavelength: column pair (2i, 2i+1) turns once every 2π·base^(2i/d_model) "
        "positions, here from "
        f"{lam[0]:.3g} (dims 0, 1) to {charts.fmt_wavelength(lam[-1])} (dim {d - 1}). Fast "
        "pairs tell neighbours apart; slow pairs tell the start of a long text from its end. "
        "The dots are the table's values at whole positions, what the model adds; the line "
        "between them is the same formula at every position in between."
    )
    return dict(dims=dims)


def table_view(d: int, n: int, base: float) -> dict:
    fig = charts.table_heatmap(pc.table(n, d, base), f"PE: {n} positions × {d} dims", bound=1.0)
    ui.plotly_chart(fig, key="table", theme=None)
    st.caption(
        "Each row is the vector added at one position. Left columns change fast from row "
        "to row; right columns barely move (their sine stays near 0 and cosine near 1)."
    )
    return {}


def similarity_view(d: int, n: int, base: float) -> dict:
    pe = pc.table(n, d, base)
    start = st.slider(
        "Second start position p",
        1,
        1024,
        value=n // 2,
        key=state.linked("pe_start"),
        width=400,
        **PAGE,
    )
    prof = pc.offset_profiles(n, d, base, (0, int(start)))
    with st.container(horizontal=True, gap="large"):
        ui.plotly_chart(
            charts.similarity_heatmap(pc.dot_similarity(pe), "PE(p) · PE(q)", "dot product"),
            key="similarity",
            width=560,
            theme=None,
        )
        fig = charts.profiles(
            prof, ["from p = 0", f"from p = {start}"], "PE(p) · PE(p + k) against k", "dot product"
        )
        ui.plotly_chart(fig, key="profile", width=620, theme=None)
    gap = pc.profile_gap(prof)
    slowest = float(pc.wavelength(d, base)[-1])
    if slowest < n:
        st.info(
            f"With base {base:g} even the slowest pair repeats every {slowest:.3g} positions, "
            f"less than max_len ({n}): positions that far apart start to look alike again, "
            "so the profile comes back up in bumps instead of falling away."
        )
    st.caption(
        f"Nearby positions are most alike, and the similarity depends on the offset k, not "
        f"on where you start: the two profiles differ by at most {gap:.2e} "
        f"(of {prof[0, 0]:.4g} at k = 0)"
        + (", and only through the unpaired last column." if d % 2 else ", float32 rounding.")
    )
    return dict(start=int(start))


def rotation_view(d: int, n: int, base: float) -> dict:
    k = st.slider(
        "Offset k",
        0,
        512,
        value=1,
        key=state.linked("pe_k"),
        width=400,
        help="M_k moves every position k steps on: PE(p + k) = M_k · PE(p).",
        **PAGE,
    )
    try:
        rot = pc.rotation(d, int(k), base, n)
    except ValueError as err:
        st.warning(f"No rotation matrix for this width: {err}. Pick an even d_model above.")
        return dict(offset=int(k))
    st.metric(
        f"Worst error of PE(p + {k}) = M_{k} · PE(p) over all p in 0 … {n - 1}",
        f"{rot.worst_error:.2e}",
    )
    st.caption(
        f"The largest |difference| over every position and column, computed in float32 "
        f"(machine epsilon {FLOAT32_EPS:.1e}): float rounding, not an approximation."
    )
    with st.container(horizontal=True, gap="large"):
        ui.plotly_chart(
            charts.rotation_heatmap(rot.matrix, f"M_{k}: {d} × {d}, 2 × 2 blocks on the diagonal"),
            key="rotation",
            width=560,
            theme=None,
        )
        corner = min(d, 8)
        ui.plotly_chart(
            charts.rotation_heatmap(
                rot.matrix[:corner, :corner], f"Top-left {corner} × {corner}", values=True
            ),
            key="rotation_corner",
            width=460,
            theme=None,
        )
    st.caption(
        "Each 2 × 2 block [[cos kω, sin kω], [−sin kω, cos kω]] turns one (sin, cos) pair by "
        "k times its frequency ω. M_k does not depend on p: a linear map can move any "
        "position k steps on, so attention can learn to look a fixed distance away. Zero "
        "everywhere off the blocks; it is orthogonal (M_k⁻¹ = M_k^T = M_−k)."
    )
    return dict(offset=int(k))


def sizes_view() -> None:
    s = pc.sizes(choice)
    d = s.d_model
    tok, tok_scaled, pos = (pc.percentiles(v) for v in (s.token, s.token * s.sqrt_d, s.position))
    boxes = [
        ("token embedding", tok),
        (f"token embedding × √{d}", tok_scaled),
        (f"{s.positional} position vector", pos),
    ]
    title = f"Norms over the vocabulary's {len(s.token):,} tokens and {len(s.position)} positions"
    ui.plotly_chart(charts.sizes_box(boxes, title), key="sizes", theme=None)
    with st.container(horizontal=True, gap="large"):
        st.metric("Median ‖token embedding‖", f"{tok['median']:.3g}")
        st.metric(
            f"Median ‖token embedding × √{d}‖ (√{d} ≈ {s.sqrt_d:.3g})",
            f"{tok_scaled['median']:.3g}",
        )
        st.metric("Median ‖position vector‖", f"{pos['median']:.3g}")
    ratio_raw, ratio_scaled = pos["median"] / tok["median"], pos["median"] / tok_scaled["median"]
    st.markdown(
        f"Without scaling the position vector is **{ratio_raw:.2g} ×** the token's size; "
        f"with × √{d} it is **{ratio_scaled:.2g} ×**. "
        + (
            "This model multiplies token embeddings by √d_model (paper, section 3.4), so the "
            "middle row is what it adds to the position vectors: the embeddings start small "
            "(about 1/√d per entry), and scaled they stand level with the positions instead "
            "of being drowned by them."
            if s.scale != 1
            else "MiniLM does not scale (like BERT), so the top row is what it adds to the "
            "position vectors: the two were trained together to similar sizes, and a "
            "LayerNorm follows their sum. The middle row is what the paper's scaling would give."
        )
    )


def learned_view(n: int, base: float) -> None:
    c = pc.learned_vs_fixed(n, base)
    st.caption(
        f"all-MiniLM-L6-v2's learned position embeddings (the first {n} of 512, 384 wide) "
        f"beside the sinusoidal table of the same shape, base {base:g}."
    )
    pairs = (("learned", c.learned, c.cos_learned), ("sinusoidal", c.fixed, c.cos_fixed))
    with st.container(horizontal=True, gap="large"):
        for name, t, _ in pairs:
            fig = charts.table_heatmap(t, f"{name}: {n} × 384", height=420)
            ui.plotly_chart(fig, key=f"{name}_table", width=600, theme=None)
    with st.container(horizontal=True, gap="large"):
        for name, _, sim in pairs:
            fig = charts.similarity_heatmap(sim, f"{name}: cosine(p, q)", "cosine")
            ui.plotly_chart(fig, key=f"{name}_sim", width=600, theme=None)
    a, b = c.starts
    names = [f"learned from p = {a}", f"learned from p = {b}", "sinusoidal (any start)"]
    fig = charts.profiles(c.profiles, names, "cosine(p, p + k) against k", "cosine")
    ui.plotly_chart(fig, key="learned_profile", theme=None)
    with st.container(horizontal=True, gap="large"):
        for name, pts, share in (
            ("learned", c.pca_learned, c.share_learned),
            ("sinusoidal", c.pca_fixed, c.share_fixed),
        ):
            title = f"{name}: 2-D PCA of positions 1 … {n - 1}"
            fig = charts.pca_trace(pts, share, title, first=1)
            ui.plotly_chart(fig, key=f"{name}_pca", width=600, theme=None)
    st.markdown(what_differs(c))


def what_differs(c: pc.Comparison) -> str:
    """The comparison in words, from what the numbers show at this max_len and base."""
    gap = pc.profile_gap(c.profiles)
    turn, bend = pc.turn_per_position(c.pca_learned), pc.bend_per_step(c.pca_learned)
    if turn > 45:  # over a few hundred positions the top two components are a fast ring
        shape = (
            f"go round a ring about every {360 / turn:.0f} positions ({turn:.0f}° a step), "
            "like one fast sine/cosine pair the model found for itself, with the slower "
            "order spread over many weaker directions"
        )
    else:
        shape = (
            f"move on in order too, but zig-zag: they bend {bend:.0f}° from one step to the "
            f"next against {pc.bend_per_step(c.pca_fixed):.0f}° for the sinusoids"
        )
    norms = np.linalg.norm(c.learned, axis=1)
    return (
        "**What differs.** Neighbours are alike in both tables. The sinusoidal similarity "
        "depends only on the offset; the learned profiles from two starts differ by up to "
        f"{gap:.2f}: what was learned depends on where you are. In the PCA the sinusoidal "
        f"vectors trace a smooth curve; the learned ones {shape}. Position 0 ([CLS]) stands "
        f"apart (‖·‖ {norms[0]:.2f} against a median of {np.median(norms):.2f}), so both "
        "PCAs start at 1. And the learned table simply ends at position 511, where the "
        "sinusoids go on for ever."
    )


def order_view() -> dict | None:
    texts = ui.sentences()
    i = ui.sentence_picker(texts)
    try:
        enc = compute.tokenizer().encode(texts[i], max_len=choice.max_len)
    except ValueError as err:  # a toy-task model reads only its task's tokens
        st.error(f"Could not read sentence {i + 1}: {err}")
        return None
    ui.say_cuts(choice, [None] * i + [enc])  # numbered as sentence i + 1
    if pc.movable(enc.special) < 2:
        st.info(
            "This sentence has fewer than two tokens to move (special tokens such as [CLS] "
            "and [SEP] stay put), so there is nothing to shuffle: type a longer one in the "
            "sidebar."
        )
        return None
    with st.container(horizontal=True, gap="medium", vertical_alignment="bottom"):
        seed = ui.number_input(
            "Shuffle seed",
            0,
            2**31 - 1,
            value=0,
            key=state.linked("pe_shuffle"),
            width=200,
            help="Part of the link: the same seed gives the same shuffle.",
            **PAGE,
        )
        st.button(
            "New shuffle",
            icon=":material/shuffle:",
            on_click=state.assign,
            kwargs=dict(pe_shuffle=(int(seed) + 1) % 2**31),
        )
    perm = pc.shuffle(len(enc), int(seed), tuple(enc.special))
    st.text("original:  " + "  ".join(enc.tokens))
    st.text("shuffled:  " + "  ".join(enc.tokens[j] for j in perm))
    with st.spinner("Running the model on both orders…"):
        without, with_pos = pc.order_difference(choice, tuple(enc.ids), perm)
    with st.container(horizontal=True, gap="large"):
        st.metric("Without position vectors", f"{without:.2e}", help="float noise")
        st.metric("With position vectors", f"{with_pos:.3g}", help="a real change")
    ui.plotly_chart(charts.order_bars(without, with_pos), key="order", theme=None)
    mode = " (dropout is off for this test, whatever the sidebar says)" if choice.train else ""
    st.markdown(
        "Both numbers are the largest |difference| between the outputs for the shuffled "
        "sentence and the original outputs put in the shuffled order, in eval mode"
        f"{mode}. **Without** position vectors the encoder only ever sees a set of tokens, "
        "so shuffling the input just shuffles the outputs: the difference is float noise. "
        "**With** them every token vector changes, because each token now carries where it "
        "stands. That is why *dog bites man* and *man bites dog* differ to the model."
    )
    return dict(sentence=texts[i], permutation=perm)


if view in TABLE_VIEWS:
    d, n, base = table_controls()
    odd_width_note(d)
    draw = {"Curves": curves_view, "Table": table_view, "Similarity": similarity_view}
    shown = draw.get(view, rotation_view)(d, n, base)
    code = None if shown is None else dict(d_model=d, max_len=n, base=base, **shown)
elif view == "Learned vs fixed":
    _, n, base = table_controls(with_width=False)
    learned_view(n, base)
    code = dict(max_len=n, base=base)
elif view == "Sizes":
    sizes_view()
    code = {}
else:
    code = order_view()
if code is not None:
    ui.snippet(positional_snippet(view, choice, **code))
