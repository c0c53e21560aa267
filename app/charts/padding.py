"""Figures of the Padding & masks page: the padded batch, masks, attention with and without the
mask, the drift of unmasked padding, and the output vectors with their padded rows."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .common import (
    TICKS,
    TITLED,
    TURNED,
    WEIGHT_BAR,
    layout_dict,
    margins,
    safe_label,
    text_px,
    token_labels,
    vector_heatmap,
    vector_margins,
)

REAL = "#c7d2fe"  # indigo-200: a real token
PAD = "#e5e7eb"  # grey-200: padding
BLOCKED = "#334155"  # slate-700: a key attention may not use
OPEN = "#eef2ff"
SHADE = "rgba(100, 116, 139, 0.10)"  # over padded keys / rows
WITH = "#15803d"  # green: with the mask
WITHOUT = "#dc2626"  # red: without it
FLOOR = 1e-9  # a drift of exactly 0 is drawn here on the log axis


def rotated_px(labels, angle: float = 60, size: int = 14) -> float:
    """Height of x tick labels turned by ``angle`` degrees."""
    a = math.radians(angle)
    return text_px(labels, size) * math.sin(a) + size * math.cos(a)


def cell_chars(seq: int, font: int) -> int:
    """Characters a grid cell holds at ``font`` px when the grid is ~520 px wide (a laptop)."""
    return int(520 / (0.6 * font * seq))


def batch_grid(tokens: list[list[str]], mask: np.ndarray, *, show: str = "tokens") -> go.Figure:
    """The padded batch, one row per sentence: token text or the attention_mask value in each
    cell, coloured by the mask. Shape: mask (B, S); tokens: B lists of S strings ([PAD] too)

    Token text sits in a transparent bar per cell, which plotly fits to the cell's width on
    screen: whole tokens at 12 px on a projector; on a laptop all shrink alike, down to 9 px,
    and a token too long even then is left to the hover (cut at a fixed length, "because"
    showed as "becau…" on a 1920 px screen with room to spare)."""
    B, S = mask.shape
    names = [f"sentence {b + 1}" for b in range(B)]
    values = show != "tokens"
    heatmap = go.Heatmap(
        z=mask,
        x=list(range(S)),
        y=names,
        text=[[str(int(m)) for m in row] for row in mask]
        if values
        else [[safe_label(t) for t in row] for row in tokens],
        texttemplate="%{text}" if values and cell_chars(S, 10) >= 1 else None,
        textfont=dict(size=12 if S <= 10 else 10),
        customdata=[[safe_label(t) for t in row] for row in tokens],
        zmin=0,
        zmax=1,
        colorscale=[[0, PAD], [1, REAL]],
        showscale=False,
        xgap=2 if S <= 40 else 0,
        ygap=2,
        hovertemplate="%{y}, position %{x}<br>token %{customdata}<br>attention_mask %{z}"
        "<extra></extra>",
    )
    data = [heatmap]
    if not values:
        data.append(
            go.Bar(
                orientation="h",
                y=[name for name in names for _ in range(S)],
                x=[1] * (B * S),
                base=[p - 0.5 for _ in range(B) for p in range(S)],
                width=0.8,
                text=[safe_label(t) for row in tokens for t in row],
                textposition="inside",
                insidetextanchor="middle",
                textangle=0,
                textfont=dict(
                    size=12,
                    color=["#334155" if m else "#64748b" for row in mask for m in row],
                ),
                marker=dict(color="rgba(0,0,0,0)"),
                hoverinfo="skip",
                showlegend=False,
            )
        )
    title = "input tokens ([PAD] in grey)" if show == "tokens" else "attention_mask (batch × seq)"
    # room below the cells for the tick numbers and the axis title, so neither covers the other
    layout = layout_dict(height=110 + 34 * B, title=title)
    layout["margin"] = margins(left=TICKS + text_px(names), bottom=48)
    layout["yaxis"] = dict(autorange="reversed", type="category", automargin=True)
    layout["xaxis"] = dict(
        title=dict(text="position", standoff=6),
        side="bottom",
        range=[-0.5, S - 0.5],
        tickmode="array",
        tickvals=list(range(0, S, max(1, S // 40 + 1))),
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
    layout["barmode"] = "overlay"
    layout["uniformtext"] = dict(minsize=9, mode="hide")
    return go.Figure(data, layout)


def mask_view(
    additive: np.ndarray, tokens: list[str], title: str, *, width: int | None = None
) -> go.Figure:
    """The mask as attention sees it: 0 where a query may use a key, finfo.min where blocked.

    Shape: additive (W, W), query rows, key columns."""
    labels = token_labels(tokens)
    blocked = (additive < 0).astype(np.int8)
    heatmap = go.Heatmap(
        z=blocked,
        x=labels,
        y=labels,
        customdata=additive,
        zmin=0,
        zmax=1,
        colorscale=[[0, OPEN], [1, BLOCKED]],
        showscale=False,
        xgap=1 if len(tokens) <= 40 else 0,
        ygap=1 if len(tokens) <= 40 else 0,
        hovertemplate="query %{y}<br>key %{x}<br>added to the score: %{customdata:.4g}"
        "<extra></extra>",
    )
    layout = layout_dict(height=_square(len(tokens)), title=title)
    layout["margin"] = _square_margins(labels, right=18, slack=2)
    layout |= _square_axes(len(tokens), layout["height"], width)
    return go.Figure(heatmap, layout)


def attention_map(
    weights: np.ndarray,
    tokens: list[str],
    n_real: int,
    title: str,
    zmax: float,
    *,
    width: int | None = None,
) -> go.Figure:
    """One head's attention, query rows and key columns, the padded keys shaded. Shape: (W, W)

    ``width``: the chart's width on the page, where the page fixes it (for the key labels)."""
    labels = token_labels(tokens)
    W = len(tokens)
    heatmap = go.Heatmap(
        z=weights,
        x=labels,
        y=labels,
        zmin=0,
        zmax=zmax,
        colorscale="Blues",
        colorbar=dict(title=dict(text="weight"), thickness=10),
        hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.4f}<extra></extra>",
    )
    # the map sits beside a colour bar in a narrow column: cap the height so it stays square
    layout = layout_dict(height=min(460, _square(W)), title=title)
    layout["margin"] = _square_margins(labels, right=WEIGHT_BAR)
    layout |= _square_axes(W, layout["height"], width)
    layout["shapes"] = _pad_band(n_real, W, "x")
    return go.Figure(heatmap, layout)


def output_vectors(hidden: np.ndarray, tokens: list[str], n_real: int) -> go.Figure:
    """last_hidden_state of every position, real and padded rows; the padded rows shaded.

    Shape: hidden (W, D)"""
    heatmap = vector_heatmap(hidden, "token", labels=token_labels(tokens), thickness=10)
    layout = layout_dict(height=min(620, max(260, 110 + 22 * len(tokens))), title="output vectors")
    layout["margin"] = vector_margins(token_labels(tokens))
    layout["yaxis"] = dict(autorange="reversed", type="category", title_text="position")
    every_label(layout["yaxis"], len(tokens), layout["height"] - 50)
    layout["xaxis"] = dict(title_text="dimension")
    layout["shapes"] = _pad_band(n_real, len(tokens), "y")
    return go.Figure(heatmap, layout)


def drift_chart(
    pad_counts: tuple[int, ...], drift: np.ndarray, current: int, now: np.ndarray
) -> go.Figure:
    """Max |difference| of the real tokens' outputs against the number of [PAD] tokens, log y.

    Shape: drift (2, N) with the mask then without; now (2,) at the slider's value.
    Exact zeros sit on the bottom line (FLOOR); the hover gives every exact value."""
    traces = []
    for row, name, colour in ((0, "with the mask", WITH), (1, "without the mask", WITHOUT)):
        traces.append(
            go.Scatter(
                x=list(pad_counts),
                y=np.maximum(drift[row], FLOOR),
                customdata=drift[row],
                name=name,
                mode="lines+markers",
                line=dict(color=colour, width=2),
                marker=dict(size=6),
                hovertemplate=f"{name}<br>%{{x}} [PAD]: max |Δ| %{{customdata:.3g}}<extra></extra>",
            )
        )
    if current > 0:
        traces.append(
            go.Scatter(
                x=[current, current],
                y=np.maximum(now, FLOOR),
                customdata=now,
                name=f"N = {current}",
                mode="markers",
                marker=dict(size=13, color=[WITH, WITHOUT], symbol="diamond", line=dict(width=1)),
                hovertemplate="N = %{x}: max |Δ| %{customdata:.3g}<extra></extra>",
            )
        )
    top = np.log10(max(float(np.max(drift, initial=1.0)), float(np.max(now, initial=1.0)))) + 0.5
    layout = layout_dict(height=360, title="drift of the real tokens' outputs")
    layout["xaxis"] = dict(title_text="[PAD] tokens appended (N)", rangemode="tozero")
    layout["yaxis"] = dict(
        type="log",
        title_text="max |Δ| vs the sentence alone",
        range=[np.log10(FLOOR) - 0.3, top],
        tickvals=[FLOOR, 1e-7, 1e-5, 1e-3, 1e-1, 10, 1e3],  # every second decade
        ticktext=["0", "1e-7", "1e-5", "0.001", "0.1", "10", "1000"],
    )
    layout["legend"] = dict(orientation="h", y=-0.25, x=0)
    layout["margin"]["b"] = 60
    return go.Figure(traces, layout)


def every_label(axis: dict, n: int, length: float, font: int = 14) -> None:
    """A label on each of ``n`` categories where plotly's first draw had room for them all
    (one per 1.2 font sizes along ``length`` px: the axis with margins of 10 px, 40 above a
    title), as the charts showed them when automargin drew them twice; else plotly's choice."""
    if n * round(1.2 * font) <= length:
        axis["dtick"] = 1


def _square_axes(n: int, height: int, width: int | None) -> dict:
    """A query x key map's axes: queries down, keys across with their labels turned."""
    y = dict(autorange="reversed", type="category", title_text="query")
    x = dict(type="category", title_text="key", tickangle=-60)
    every_label(y, n, height - 50)
    if width:
        every_label(x, n, width - 20)
    return dict(yaxis=y, xaxis=x)


def _square_margins(labels: list[str], *, right: float, slack: float = 0) -> dict:
    """Margins of a query x key map: token labels on the left and turned by 60° below."""
    return margins(
        left=slack + TITLED + text_px(labels),
        right=right,
        bottom=slack + TURNED + rotated_px(labels),
    )


def _square(n: int) -> int:
    return int(min(560, max(300, 140 + 17 * n)))


def _pad_band(n_real: int, width: int, axis: str) -> list[dict]:
    """A shaded band over the padded positions (columns for axis "x", rows for "y")."""
    if n_real >= width:
        return []
    band = dict(type="rect", fillcolor=SHADE, line=dict(color="#64748b", dash="dot", width=1))
    lo, hi = n_real - 0.5, width - 0.5
    if axis == "x":
        band |= dict(xref="x", yref="paper", x0=lo, x1=hi, y0=0, y1=1)
    else:
        band |= dict(xref="paper", yref="y", x0=0, x1=1, y0=lo, y1=hi)
    return [band]
