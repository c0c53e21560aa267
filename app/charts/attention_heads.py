"""The Attention page's plotly figures: the map of every head (Head map) and one head's queries
and keys in one plane (Queries & keys). Arrays in, go.Figure out; no streamlit here."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from .common import apply_layout, safe_label
from .labels import declutter

KIND_COLOURS = {  # the head statistics' "looks like" families
    "previous token": "#d62728",
    "itself": "#ff7f0e",
    "sink: [CLS]": "#1f77b4",
    "sink: [SEP]": "#17becf",
    "broad": "#2ca02c",
    "no clear pattern": "#9ca3af",
}
QUERY, KEY = "#4f46e5", "#ea580c"  # indigo circles, orange diamonds
LINE_BINS = ((0.5, 0.85, 2.5), (0.25, 0.5, 1.8), (0.0, 0.25, 1.2))  # weight from, opacity, width


def layer_colours(n_layers: int) -> list[str]:
    """One colour per layer, dark (layer 0) to yellow (the last): the order reads off the colour."""
    return sample_colorscale(
        "Viridis", [0.05 + 0.85 * i / max(n_layers - 1, 1) for i in range(n_layers)]
    )


def head_map_figure(
    xy: np.ndarray,
    n_heads: int,
    groups: list[str],
    colours: dict[str, str],
    hover: list[str],
    selected: int,
    title: str,
    height: int = 560,
) -> go.Figure:
    """Every head a point (layer-major: index = layer · H + head), one trace per group so the
    legend names the colours; ``customdata`` is [layer, head], which a click sends back.

    Shape: xy (L·H, 2); groups and hover one per head"""
    fig = go.Figure()
    for group, colour in colours.items():
        idx = [i for i, g in enumerate(groups) if g == group]
        if not idx:
            continue
        fig.add_trace(
            go.Scatter(
                x=xy[idx, 0].tolist(), y=xy[idx, 1].tolist(), mode="markers", name=group,
                marker=dict(size=12, color=colour, line=dict(width=1, color="white")),
                customdata=[[i // n_heads, i % n_heads] for i in idx],
                hovertext=[hover[i] for i in idx], hoverinfo="text",
            )
        )  # fmt: skip
    s = int(selected)
    fig.add_trace(
        go.Scatter(
            x=[float(xy[s, 0])], y=[float(xy[s, 1])], mode="markers+text", name="open in Heads",
            marker=dict(size=22, symbol="circle-open", color="#111827", line=dict(width=2)),
            text=[f"L{s // n_heads} H{s % n_heads}"], textposition="top center",
            customdata=[[s // n_heads, s % n_heads]], hovertext=[hover[s]], hoverinfo="text",
            showlegend=False,
        )
    )  # fmt: skip
    apply_layout(fig, height=height, title=title)
    pad = 0.08 * float(np.ptp(xy)) if xy.size and np.ptp(xy) > 0 else 1.0
    axis = dict(showticklabels=False, zeroline=False, showgrid=True, gridcolor="#f1f5f9")
    fig.update_layout(
        xaxis=dict(
            axis, title="← map axis 1 →", range=[xy[:, 0].min() - pad, xy[:, 0].max() + pad]
        ),
        yaxis=dict(axis, title="map axis 2", scaleanchor="x", scaleratio=1),
        legend=dict(orientation="h", yanchor="top", y=-0.08, x=0, title=None),
        margin=dict(l=40, r=10, t=50, b=60),
        clickmode="event+select",
        dragmode="pan",
        hoverlabel=dict(align="left"),
    )
    return fig


def qk_figure(
    q: np.ndarray,
    k: np.ndarray,
    labels: list[str],
    lines: list[tuple[int, int, float]],
    title: str,
    axes: tuple[str, str],
    height: int = 560,
) -> go.Figure:
    """A head's queries (circles) and keys (diamonds) in one plane, a line from each query to
    each key that takes a large share of its weight (opacity and width by weight).

    Shape: q (n, 2), k (n, 2); lines (query, key, weight)"""
    fig = go.Figure()
    bins: list[list[tuple[int, int]]] = [[] for _ in LINE_BINS]
    for i, j, w in lines:  # each line in the first bin its weight reaches
        bins[next(b for b, (low, _, _) in enumerate(LINE_BINS) if w >= low)].append((i, j))
    for (_, opacity, width), pairs in zip(LINE_BINS, bins, strict=True):
        if not pairs:
            continue
        xs = [v for i, j in pairs for v in (float(q[i, 0]), float(k[j, 0]), None)]
        ys = [v for i, j in pairs for v in (float(q[i, 1]), float(k[j, 1]), None)]
        fig.add_trace(
            go.Scatter(
                x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                line=dict(color=f"rgba(71,85,105,{opacity})", width=width),
            )
        )  # fmt: skip
    points = np.concatenate([q, k])
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-9)
    ranges = [[float(lo[a] - pad[a]), float(hi[a] + pad[a])] for a in (0, 1)]
    words = [lab.split(" · ", 1)[-1] for lab in labels]
    text = declutter(points, words + words, ranges)
    safe = [safe_label(t) for t in labels]
    for name, xy, colour, symbol, part in (
        ("queries (rows of the map)", q, QUERY, "circle", slice(0, len(q))),
        ("keys (columns)", k, KEY, "diamond", slice(len(q), None)),
    ):
        role = "query" if symbol == "circle" else "key"
        fig.add_trace(
            go.Scatter(
                x=xy[:, 0].tolist(), y=xy[:, 1].tolist(), mode="markers+text", name=name,
                marker=dict(size=10, color=colour, symbol=symbol, line=dict(width=1, color="#fff")),
                text=[safe_label(t) for t in text[part]], textposition="top center",
                textfont=dict(size=12, color=colour),
                hovertext=[f"{role} {s}" for s in safe], hoverinfo="text",
            )
        )  # fmt: skip
    apply_layout(fig, height=height, title=title)
    fig.update_layout(
        xaxis=dict(title=axes[0], range=ranges[0], zeroline=False),
        yaxis=dict(title=axes[1], range=ranges[1], zeroline=False, scaleanchor="x", scaleratio=1),
        legend=dict(orientation="h", yanchor="top", y=-0.12, x=0),
        margin=dict(l=50, r=10, t=50, b=70),
    )
    return fig
