"""The Attention page's several query tokens (called by views/attention.py in the Heads and
Token lines views): pick some query tokens, see their rows summed, and the mean. UI only."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import state, ui
from app.charts import attention as charts
from app.components.attention_canvas import attention_canvas
from app.compute import attention_heads as attn

KEY = "queries"


def pick_queries(tokens: list[str]) -> list[int]:
    """The multiselect of query tokens (in the link as ``queries``), in a popover that says how
    many are picked; their indices, in the sentence's order. Tokens no longer in the sentence
    are dropped first."""
    chosen = st.session_state.get(KEY)
    if isinstance(chosen, list) and any(t not in tokens for t in chosen):
        st.session_state[KEY] = [t for t in chosen if t in tokens]
    before = st.session_state.get(KEY) if KEY in st.session_state else st.query_params.get_all(KEY)
    count = len([t for t in before if t in tokens])
    # in a popover, drawn only while it is open: a multiselect on the page re-renders with
    # every new sentence (its options), the last element to settle (~30 ms at 20 tokens)
    with st.popover(
        f"Several query tokens ({count} picked)" if count else "Several query tokens",
        icon=":material/add_circle:",
        key="queries_box",
        help="Add up the attention of several query tokens (a phrase, a name in pieces).",
    ):
        picked = st.multiselect(
            "Several query tokens: their rows summed",
            tokens,
            default=[],
            key=state.linked(KEY),
            bind="query-params",
            placeholder="Pick query tokens to add up their attention",
            help="Adds up the rows of the tokens picked (a phrase, a name in pieces): the "
            "weight they take together from each key, and the mean (the sum divided by how "
            "many).",
        )
    return sorted(tokens.index(t) for t in picked)


def several_queries(
    maps: np.ndarray,
    layer: int,
    head: int | None,
    tokens: list[str],
    heads: list[int],
    stem: str,
    renorm: str,
    summary: str,
) -> list[int]:
    """Draw the summed and mean rows of the picked query tokens: for one head (the Heads view,
    ``head`` given) as two bar charts, or for the ``heads`` drawn in Token lines as one map of
    heads × keys. Returns the picked indices among ``tokens``. Shape: maps (L, H, S, S)"""
    qs = pick_queries(tokens)
    if not qs:
        return qs
    count = len(qs)
    names = ", ".join(f"“{tokens[q].split(' · ', 1)[-1]}”" for q in qs[:6])
    names += f" and {count - 6} more" if count > 6 else ""
    if head is not None:
        summed, mean = attn.query_sum(maps[layer, head], qs)  # (S,), (S,)
        top = max(float(summed.max()), 1e-12)
        panels = [
            charts.bars_panel(
                summed, tokens, f"L{layer} H{head}: {names}, summed{renorm}",
                prefix="sum → ", top=top, xlabel=f"weight summed over the {count} queries",
                file=f"{stem}_queries_sum",
            ),
            charts.bars_panel(
                mean, tokens, f"L{layer} H{head}: {names}, mean{renorm}",
                prefix="mean → ", top=max(float(mean.max()), 1e-12),
                xlabel=f"mean weight (the sum / {count})", file=f"{stem}_queries_mean",
            ),
        ]  # fmt: skip
        attention_canvas(panels, key="queries_detail", summary=summary, min_width=300)
        table, head_names = summed, [f"L{layer} H{head}"]
    else:
        summed, _ = attn.query_sum(maps[layer][heads], qs)  # (len(heads), S)
        top = max(float(summed.max()), 1e-12)
        panel = charts.matrix_panel(
            summed, [f"H{h}" for h in heads], tokens,
            f"Layer {layer}: {names}, summed, per head{renorm}",
            zmax=top, scale=f"0 to {top:.3f} (a sum of {count} rows; mean = sum / {count})",
            axes=("key", "head"), file=f"{stem}_queries_heads",
        )  # fmt: skip
        attention_canvas([panel], key="queries_lines", summary=summary, min_width=420)
        table, head_names = summed, [f"L{layer} H{h}" for h in heads]
    st.caption(
        f"The weight the {count} query tokens picked take from each key, added up (a row "
        f"sums to 1, so the {count} rows sum to {count}), and the mean, which sums to 1 like "
        "one row. A key they all look at stands out in both."
    )
    ui.download(
        "Summed and mean rows as CSV",
        lambda: attn.query_sum_csv(table, count, tokens, head_names),
        f"{stem}_queries.csv",
        "text/csv",
        key="queries_csv",
    )
    return qs
