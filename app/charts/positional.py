"""Figures of the Positions page: curves, tables, similarity, M_k, sizes, PCA, the order test."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .common import DIVERGING, layout_dict, vector_heatmap

LINE_COLOURS = ["#4f46e5", "#db2777", "#0891b2", "#d97706", "#16a34a", "#7c3aed", "#dc2626"]
PROFILE_COLOURS = ["#4f46e5", "#f59e0b", "#16a34a", "#db2777"]


def fmt_wavelength(value: float) -> str:
    """6.28, 62.8, 628, 6.28k, 6.28M: three significant digits, short."""
    for limit, div, suffix in ((1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if value >= limit:
            return f"{value / div:.3g}{suffix}"
    return f"{value:.3g}"


def curves(
    pe: np.ndarray,
    dims: list[int],
    wavelengths: np.ndarray,
    fine_x: np.ndarray,
    fine_y: np.ndarray,
) -> go.Figure:
    """Chosen columns of PE over position, each labelled with its wavelength: the continuous
    wave as a line, the table's values at whole positions as markers on it (a line through
    whole positions alone turns the λ = 6.28 wave into a zig-zag).

    Shape: pe (N, D); fine_x (M,); fine_y (len(dims), M)
    """
    x = np.arange(len(pe))
    dot = 6 if len(pe) <= 64 else 4 if len(pe) <= 128 else 3
    traces = []
    for j, wave in zip(dims, fine_y, strict=True):
        kind = "sin" if j % 2 == 0 else "cos"
        name = f"dim {j} · {kind} · λ {fmt_wavelength(wavelengths[j])}"
        colour = LINE_COLOURS[(j // 2) % len(LINE_COLOURS)] if len(dims) <= 14 else None
        traces.append(  # the wave between positions: drawn, not hovered
            go.Scatter(
                x=fine_x,
                y=wave,
                mode="lines",
                name=name,
                legendgroup=name,
                line=dict(color=colour, dash="solid" if kind == "sin" else "dot", width=2),
                hoverinfo="skip",
            )
        )
        traces.append(  # the table itself: what the model adds at each position
            go.Scatter(
                x=x,
                y=pe[:, j],
                mode="markers",
                name=name,
                legendgroup=name,
                showlegend=False,
                marker=dict(color=colour, size=dot),
                hovertemplate=f"dim {j}<br>position %{{x}}<br>value %{{y:.4f}}<extra></extra>",
            )
        )
    layout = layout_dict(height=470, title="PE(position, dim), one line per dimension")
    layout["xaxis"] = dict(title_text="position")
    layout["yaxis"] = dict(title_text="value", range=[-1.1, 1.1])
    # below the plot, so a laptop-wide chart keeps its width; λ = positions per cycle
    layout["legend"] = dict(orientation="h", yanchor="top", y=-0.2, x=0)
    return go.Figure(traces, layout)


def table_heatmap(
    pe: np.ndarray, title: str, *, bound: float | None = None, height: int = 480
) -> go.Figure:
    """Positions on rows (0 at the top), dimensions on columns. Shape: (N, D)"""
    heatmap = vector_heatmap(pe, "position", bound=bound)
    layout = layout_dict(height=height, title=title)
    layout["yaxis"] = dict(autorange="reversed", title_text="position")
    layout["xaxis"] = dict(title_text="dimension")
    return go.Figure(heatmap, layout)


def similarity_heatmap(sim: np.ndarray, title: str, label: str) -> go.Figure:
    """Similarity between every pair of positions; the diagonal is a position with itself."""
    bound = float(np.abs(sim).max()) or 1.0
    heatmap = go.Heatmap(
        z=sim,
        colorscale=DIVERGING,
        zmid=0,
        zmin=-bound,
        zmax=bound,
        colorbar=dict(title=dict(text=label), thickness=12),
        hovertemplate=f"position %{{y}} with %{{x}}<br>{label} %{{z:.4f}}<extra></extra>",
    )
    layout = layout_dict(height=500, title=title)
    layout["yaxis"] = dict(autorange="reversed", title_text="position", scaleanchor="x")
    layout["xaxis"] = dict(title_text="position", constrain="domain")
    return go.Figure(heatmap, layout)


def profiles(
    values: np.ndarray, names: list[str], title: str, label: str, *, dashes: list[str] | None = None
) -> go.Figure:
    """Similarity against the offset k, one line per start position. Shape: (n_lines, K)"""
    k = np.arange(values.shape[1])
    dashes = dashes or ["solid", "dash", "dot", "dashdot"]
    traces = [
        go.Scatter(
            x=k,
            y=row,
            mode="lines",
            name=name,
            line=dict(
                color=PROFILE_COLOURS[i % len(PROFILE_COLOURS)],
                dash=dashes[i % len(dashes)],
                width=3 if i == 0 else 2,
            ),
            hovertemplate=f"{name}<br>offset %{{x}}<br>{label} %{{y:.4f}}<extra></extra>",
        )
        for i, (row, name) in enumerate(zip(values, names, strict=True))
    ]
    layout = layout_dict(height=500, title=title)
    layout["xaxis"] = dict(title_text="offset k (positions apart)")
    layout["yaxis"] = dict(title_text=label)
    layout["legend"] = dict(orientation="h", yanchor="bottom", y=-0.32, x=0)
    return go.Figure(traces, layout)


def rotation_heatmap(m: np.ndarray, title: str, *, values: bool = False) -> go.Figure:
    """M_k: row = output dimension, column = input dimension. Shape: (D, D)"""
    n = len(m)
    heatmap = go.Heatmap(
        z=m,
        colorscale=DIVERGING,
        zmid=0,
        zmin=-1,
        zmax=1,
        colorbar=dict(title=dict(text="entry"), thickness=12),
        hovertemplate="row %{y}, column %{x}<br>entry %{z:.5f}<extra></extra>",
        texttemplate="%{z:.2f}" if values else None,
        textfont=dict(size=12),
        xgap=1 if n <= 64 else 0,
        ygap=1 if n <= 64 else 0,
    )
    layout = layout_dict(height=480 if not values else 420, title=title)
    layout["yaxis"] = dict(
        autorange="reversed",
        title_text="output dimension",
        scaleanchor="x",
        dtick=1 if values else None,
    )
    layout["xaxis"] = dict(
        title_text="input dimension", constrain="domain", dtick=1 if values else None
    )
    return go.Figure(heatmap, layout)


def sizes_box(boxes: list[tuple[str, dict[str, float]]], title: str) -> go.Figure:
    """Norm distributions as boxes: 5th–95th percentile whiskers, quartiles, median."""
    names = [name for name, _ in boxes]
    stats = [s for _, s in boxes]
    box = go.Box(
        y=names,
        q1=[s["q1"] for s in stats],
        median=[s["median"] for s in stats],
        q3=[s["q3"] for s in stats],
        lowerfence=[s["low"] for s in stats],
        upperfence=[s["high"] for s in stats],
        orientation="h",
        marker_color="#4f46e5",
        fillcolor="rgba(79,70,229,0.25)",
        hoverinfo="x+y",
        showlegend=False,
    )
    layout = layout_dict(height=140 + 70 * len(boxes), title=title)
    layout["xaxis"] = dict(title_text="‖vector‖ (Euclidean norm)", rangemode="tozero")
    layout["yaxis"] = dict(autorange="reversed", automargin=True, type="category")
    return go.Figure(box, layout)


def pca_trace(points: np.ndarray, share: np.ndarray, title: str, *, first: int = 0) -> go.Figure:
    """2-D PCA of positions first, first + 1, …, joined in order, coloured by position.

    Shape: points (N, 2)"""
    n = len(points)
    pos = np.arange(first, first + n)
    line = go.Scatter(
        x=points[:, 0],
        y=points[:, 1],
        mode="lines",
        line=dict(color="rgba(100,116,139,0.35)", width=1),
        hoverinfo="skip",
        showlegend=False,
    )
    dots = go.Scatter(
        x=points[:, 0],
        y=points[:, 1],
        mode="markers",
        marker=dict(
            color=pos,
            colorscale="Viridis",
            size=7 if n <= 128 else 5,
            colorbar=dict(title=dict(text="position"), thickness=12),
        ),
        customdata=pos,
        hovertemplate="position %{customdata}<br>PC1 %{x:.3f}<br>PC2 %{y:.3f}<extra></extra>",
        showlegend=False,
    )
    layout = layout_dict(height=460, title=title)
    layout["xaxis"] = dict(title_text=f"PC1 ({100 * share[0]:.0f} % of variance)")
    layout["yaxis"] = dict(title_text=f"PC2 ({100 * share[1]:.0f} % of variance)", scaleanchor="x")
    return go.Figure([line, dots], layout)


def order_bars(without: float, with_pos: float) -> go.Figure:
    """The two differences on a log scale: float noise against a real change."""
    floor = 1e-9  # an exact 0 cannot sit on a log axis; say so in the hover
    values = [max(without, floor), max(with_pos, floor)]
    bars = go.Bar(
        x=values,
        y=["without position vectors", "with position vectors"],
        orientation="h",
        marker_color=["#94a3b8", "#db2777"],
        text=[f"{without:.2e}", f"{with_pos:.3g}"],
        textposition="outside",
        customdata=[without, with_pos],
        hovertemplate="%{y}<br>max |difference| %{customdata:.3e}<extra></extra>",
    )
    layout = layout_dict(height=220, title="max |outputs(shuffled) − shuffled outputs|")
    layout["xaxis"] = dict(
        type="log",
        title_text="log scale",
        range=[-9, np.log10(max(values) * 30)],
        exponentformat="power",
        dtick=1,
    )
    layout["yaxis"] = dict(automargin=True, autorange="reversed")
    return go.Figure(bars, layout)
