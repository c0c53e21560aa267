"""The Attention page's Head map and Queries & keys views (called by views/attention.py; not
pages of their own). UI only: numbers from app.compute.attention, panels from
app.charts.attention_heads, drawn by the attention canvas (no plotly: it loads and draws slower)."""

from __future__ import annotations

from contextlib import nullcontext
from functools import partial

import streamlit as st

from app import compute, state, ui
from app.charts import attention_heads as charts
from app.components.attention_canvas import attention_canvas, pick_head
from app.compute import attention_heads as attn

COLOUR_BY = ["layer", "looks like"]
SPIN_CELLS = 8 * 32 * 32  # a batch this small (B·S²) is mapped in well under 0.5 s
NEAR_FAR = (
    "**Near** heads spread their weight alike over the same keys in these sentences: the "
    "distance is the Jensen–Shannon divergence between their rows, in bits (0 = the same "
    "rows, 1 = no key in common), averaged over every query token (Clark et al. 2019). **Far** "
    "heads look at different tokens. The map squeezes every pair's distance into two "
    "dimensions (metric MDS): near points are alike, but far points can be less different "
    "than they look, and the axes mean nothing by themselves.\n\n"
    "**What it cannot show**: what a head takes from the tokens it looks at (its values and "
    "output projection), how much a head matters to the output, or how it behaves on "
    "sentences unlike these. Two heads that look at the same keys can pass on different things."
)
WHY_SAME = (
    "**Why moving and scaling change nothing the model computes.** A query's attention is "
    "softmax over its scores q·k. Adding the same vector to every key adds the same number to "
    "all of one query's scores, and softmax ignores a constant added to a whole row; "
    "multiplying the queries by c and the keys by 1/c leaves every product q·k as it was. "
    "So the joint picture has the same attention, but with queries and keys centred together "
    "and equally long, a query sits near the keys it attends to (AttentionViz, Yeh et al. 2023)."
)


def head_map_view(choice: state.ModelChoice, texts: list[str], layer: int, head: int):
    """Every head of the model placed by how it attends; a click opens it in Heads.

    Returns the sentences the map rests on (for the snippet), or None when it failed."""
    b, s = compute.batch_shape(tuple(texts), choice.max_len)
    # a spinner shows after 0.5 s but costs a timer thread each run: only where it can show
    busy = "Comparing every pair of heads…"
    try:
        with nullcontext() if b * s * s <= SPIN_CELLS else st.spinner(busy, show_time=True):
            hm = attn.head_map_of(choice, tuple(texts))
    except ValueError as err:
        st.error(f"Could not draw the head map: {err}")
        return None
    L, H = hm.stats["entropy"].shape
    colour = ui.segmented("Colour by", COLOUR_BY, "hmcolour", width="content")
    kinds = charts.head_kinds(hm.stats, hm.n)
    if colour == "layer":
        groups = [f"layer {i // H}" for i in range(L * H)]
        colours = dict(zip((f"layer {i}" for i in range(L)), charts.layer_colours(L), strict=True))
    else:
        groups, colours = kinds, charts.KIND_COLOURS
    hover = charts.head_hover(hm.stats, kinds)
    title = f"All {L}×{H} heads, near where they attend alike"
    panel = charts.head_map_panel(hm.xy, H, groups, colours, hover, layer * H + head, title)
    attention_canvas(
        [panel],
        key="headmap",
        summary=f"{title}, from {ui.count(len(hm.used), 'sentence')}",
        min_width=300,
        on_pick=partial(pick_head, "headmap", "Heads"),
    )
    used = len(hm.used)
    left = [str(b + 1) for b in range(len(texts)) if b not in hm.used]
    st.caption(
        f"The map rests on {ui.count(used, 'sentence')} and {hm.tokens:,} tokens (each one's "
        "query row, [CLS] and [SEP] included), in eval mode. More sentences give a steadier "
        "map: on one short sentence two heads can look alike by chance. Click a head to open "
        "it; hover for its statistics (averaged over the same rows)."
        + (
            f" Left out, to keep the map quick: sentence {', '.join(left)} (the map reads at "
            f"most {attn.HEADMAP_CELLS:,} query × key weights per head)."
            if left
            else ""
        )
    )
    st.markdown(NEAR_FAR)
    names = [f"L{i // H} H{i % H}" for i in range(L * H)]
    with st.container(horizontal=True, gap="small"):
        ui.download(
            "Head distances as CSV",
            lambda: attn.head_map_csv(hm.distances, names),
            "attention_head_distances.csv",
            "text/csv",
            key="headmap_csv",
        )
        ui.download(
            "Head map (.npz)",
            lambda: attn.head_map_npz(hm, names, kinds),
            "attention_head_map.npz",
            "application/octet-stream",
            key="headmap_npz",
        )
    return hm.used


def queries_keys_view(
    choice: state.ModelChoice, texts: list[str], pick: int, layer: int, head: int, labels
) -> bool:
    """One head's queries and keys in one plane; returns whether ``joint_qk`` was applied."""
    joint = st.toggle(
        "Queries and keys in one space (joint_qk)",
        value=True,
        key=state.linked("qkjoint"),
        bind="query-params",
        help="On: the keys moved to the queries' centroid and both scaled to the same mean "
        "length, so a query sits near the keys it attends to. Off: the raw projections.",
    )
    try:
        q, k = attn.queries_keys(choice, tuple(texts), pick, layer)  # (H, n, d_k)
    except ValueError as err:
        st.error(f"Could not compute the queries and keys: {err}")
        return joint
    plane = attn.qk_plane(q[head], k[head], joint)
    how = "after joint_qk" if joint else "as the model computes them"
    title = f"L{layer} H{head}: queries and keys of sentence {pick + 1}, {how}"
    axes = ("principal axis 1", "principal axis 2")
    file = f"attention_s{pick + 1}_L{layer}_H{head}_queries_keys"
    panel = charts.qk_panel(plane.q, plane.k, labels, plane.lines, title, axes, file)
    attention_canvas([panel], key="qkplot", summary=f"{title}: {texts[pick]}", min_width=300)
    labelled = (
        "Every token is labelled."
        if len(labels) <= charts.LABEL_ALL
        else f"The {charts.LABEL_ALL} points with the most weight on their lines are labelled; "
        "hover for the others."
    )
    st.caption(
        f"Circles: queries (a token asking), diamonds: keys (a token offering), both projected "
        f"on the two principal axes of the {2 * len(labels)} vectors together "
        f"({plane.explained:.0%} of their variance). A line joins a query to each key that "
        f"takes at least {attn.QK_LINE:.0%} of its weight, darker and thicker for more; "
        f"{len(plane.lines)} lines. {labelled} "
        f"Eval mode (no dropout), d_k = {q.shape[-1]}."
    )
    st.markdown(WHY_SAME)
    ui.download(
        "These points as CSV",
        lambda: attn.qk_csv(plane, labels),
        f"attention_s{pick + 1}_L{layer}_H{head}_queries_keys.csv",
        "text/csv",
        key="qk_csv",
    )
    return joint
