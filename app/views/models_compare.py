"""Two models side by side, for the Attention page's "Two models" view and the Layer by layer
page: the second model's picker, their head maps next to each other, and how alike their token
vectors are at every pair of depths (linear CKA). UI only; numbers from app.compute.models."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from app import sidebar_models, state, ui
from app.charts import attention_heads as head_charts
from app.charts import models as charts
from app.charts import projections as proj_charts
from app.components.attention_canvas import attention_canvas, pick_head
from app.compute import attention_heads as attn
from app.compute import models
from app.compute import projections as proj

KEY = "model2"
NONE = "none"
CKA_WORDS = (
    "**Linear CKA** (Kornblith et al. 2019) asks how alike two sets of vectors for the same "
    "tokens are, whatever their widths: 1 when one is the other rotated and scaled, near 0 "
    "when they share no structure. Each cell compares the first model's vectors at one depth "
    "(rows) with the second's at another (columns), over every real token of the sentences. "
    "A bright band from the top left to the bottom right means the two models build their "
    "representations in the same order. With few tokens CKA runs high by chance: add sentences."
)


def second_model(
    first: state.ModelChoice, *, label: str = "Second model"
) -> state.ModelChoice | None:
    """The picker of a pretrained model to set beside the sidebar's; None when none is picked."""
    own = first.name if first.kind == state.PRETRAINED else None
    options = [NONE, *(n for n in sidebar_models.pretrained_names() if n != own)]
    ui.keep_valid(KEY, options, NONE)
    picked = st.selectbox(
        label,
        options,
        key=state.linked(KEY),
        bind="query-params",
        width=280,
        help="all-MiniLM-L6-v2 or a model of the server's models folder, run on the same "
        "sentences in the same mode as the sidebar's model.",
    )
    if picked == NONE:
        return None
    try:
        return sidebar_models.second_choice(first, picked)
    except ValueError as err:  # taken out of the models folder since the list was read
        st.warning(f"Cannot show {picked}: {err}.")
        return None


def similarity(first: state.ModelChoice, second: state.ModelChoice, texts: list[str]) -> bool:
    """The CKA heatmap of the two models' token vectors, or why there is none (False)."""
    try:
        sim = models.similarity(first, second, tuple(texts))
    except ValueError as err:
        st.error(f"Could not compare the two models: {err}")
        return False
    if sim.mismatch:
        st.info(
            f"No similarity map: the two models' tokenizers split these sentences differently "
            f"({state.md_escape(sim.mismatch, 200)}), so their token vectors cannot be paired "
            "one to one.",
            icon=":material/call_split:",
        )
        return False
    panel = charts.cka_panel(sim.cka, first.name, second.name, sim.tokens)
    summary = f"{panel['title']}, {sim.cka.shape[0]} × {sim.cka.shape[1]} depths"
    attention_canvas([panel], key="cka", summary=summary, min_width=300)
    last = sim.cka[-1, -1]
    best = int(np.nanargmax(sim.cka[-1])) if not np.isnan(sim.cka[-1]).all() else None
    said = (
        f" The first model's last depth is most like the second's depth {best}."
        if best is not None
        else ""
    )
    st.caption(f"Last depth against last depth: CKA {last:.2f}.{said}")
    st.markdown(CKA_WORDS)
    return True


def _head_panel(hm: attn.HeadMap, title: str, selected: int | None, clickable: bool) -> dict:
    """One model's head map, coloured by what each head looks like (the same legend for both
    models, whatever their number of layers)."""
    H = hm.stats["entropy"].shape[1]
    kinds = head_charts.head_kinds(hm.stats, hm.n)
    hover = head_charts.head_hover(hm.stats, kinds, clickable)
    panel = head_charts.head_map_panel(
        hm.xy, H, kinds, head_charts.KIND_COLOURS, hover, selected or 0, title
    )
    if not clickable:
        panel.update(pick=None, selected=None)
    return panel


def head_maps(
    first: state.ModelChoice, second: state.ModelChoice, texts: list[str], layer: int, head: int
) -> None:
    """The two models' head maps next to each other; a click on the first opens the head."""
    panels = []
    for choice, mine in ((first, True), (second, False)):
        try:
            hm = attn.head_map_of(choice, tuple(texts))
        except ValueError as err:
            st.error(f"Could not draw the head map of {choice.name}: {err}")
            return
        L, H = hm.stats["entropy"].shape
        title = f"{choice.name}: {L}×{H} heads"
        selected = layer * H + head if mine and layer < L and head < H else None
        panels.append(_head_panel(hm, title, selected, clickable=mine))
    attention_canvas(
        panels,
        key="twomaps",
        summary=f"Head maps of {first.name} and {second.name}",
        min_width=300,
        on_pick=partial(pick_head, "twomaps", "Heads"),
    )
    st.caption(
        "Each point is a head, placed near the heads that attend alike on these sentences "
        "(as in *Head map*), coloured by what it looks like. The two maps are fitted apart, so "
        "compare the groups, not the positions. Click a head of the first model to open it."
    )


def two_models_view(
    first: state.ModelChoice, texts: list[str], layer: int, head: int
) -> tuple[state.ModelChoice | None, bool]:
    """The Attention page's "Two models" view; returns the second model (None: none picked)
    and whether the similarity map was drawn."""
    second = second_model(first)
    if second is None:
        st.info(
            "Pick a second model above: the same sentences go through both, and their heads "
            "and layers are set side by side.",
            icon=":material/compare:",
        )
        return None, False
    head_maps(first, second, texts, layer, head)
    return second, similarity(first, second, texts)


def projection_chart(pts, coords, ratios, depth: int, *, texts: list[str], key: str, **look):
    """One model's tokens at every depth, as the Layer by layer page draws them (``look``:
    colour_by, traced, labels, method, shared)."""
    figure = proj_charts.projection_figure(
        coords,
        ratios,
        depth,
        sentence=pts.sentence,
        position=pts.position,
        tokens=pts.tokens,
        words=pts.words,
        special=pts.special,
        sentence_names=ui.picker_labels(texts),
        **look,
    )
    ui.plotly_chart(figure, key=key, theme=None)


def projection_beside(
    second: state.ModelChoice,
    texts: list[str],
    *,
    depth: int,
    depths: int,
    traced: list[str],
    fit: tuple[str, int, bool, int, float | None],
    **look,
) -> None:
    """The second model's projection, fitted the same way (``fit``: method, k, shared axes,
    seed, perplexity), at the same share of its depth as the first model's ``depth``; tokens
    traced by their labels where its tokenizer made the same ones."""
    method, k, shared, seed, perplexity = fit
    try:
        pts = proj.capped_points(second, tuple(texts), method)
        depths2, keep = len(pts.hidden), pts.keep
        with st.spinner(f"Projecting {second.name}…", show_time=True):
            coords, ratios = proj.projection(
                second, tuple(texts), keep, method, k, shared, seed, perplexity
            )
    except ValueError as err:
        st.error(f"Could not project {second.name}: {err}")
        return
    at = round(depth * (depths2 - 1) / max(depths - 1, 1))
    picked = [pts.labels.index(t) for t in traced if t in pts.labels]
    projection_chart(pts, coords, ratios, at, texts=texts, key="projection2", traced=picked, **look)
    cut = "" if keep is None else f" Kept the first {keep} tokens of each sentence."
    st.caption(
        f"{second.name}: depth {at} of {depths2 - 1}, as far through its layers as depth "
        f"{depth} of {depths - 1} is through the first model's (its own Play button walks "
        f"every depth).{cut}"
    )
