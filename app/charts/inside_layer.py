"""Figures of the Inside-a-layer page: one step's tensor, a token's vector, row entropies.

Every figure names the tensor it draws in ``layout.meta["tensor"]`` (the ``layer_steps`` key),
so tests can find it and compare its numbers with the library.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .common import DIVERGING, layout_dict, token_labels

WEIGHTS = "Blues"  # probabilities: white 0 to dark blue 1
BLOCKED = "#94a3b8"  # padded keys the mask removes
MAX_TEXT_CELLS = 144  # write the numbers in the cells of matrices up to 12 x 12
LINE_ABOVE = 128  # a vector longer than this is drawn as a line, not bars


def _height(rows: int) -> int:
    return max(230, min(760, 110 + 22 * rows))


def _bound(z: np.ndarray) -> float:
    """Colour range ±bound: the 99th percentile of |z| for wide tensors (hover is exact)."""
    finite = np.abs(z[np.isfinite(z)])
    if finite.size == 0:
        return 1.0
    bound = float(np.percentile(finite, 99)) if finite.size > 2000 else float(finite.max())
    return bound or 1.0


def _titled(layout: dict) -> dict:
    """Title on the top line, the legend on its own line below it (they never overlap)."""
    layout["margin"] = {**layout["margin"], "t": 72}
    layout["title"] = {**layout["title"], "yref": "container", "y": 0.98, "yanchor": "top"}
    layout["legend"] = dict(orientation="h", x=0, xanchor="left", y=1.0, yanchor="bottom")
    return layout


def tensor_heatmap(
    z: np.ndarray,
    rows: list[str],
    *,
    tensor: str,
    title: str,
    keys: list[str] | None = None,
    weights: bool = False,
    blocked: np.ndarray | None = None,
) -> go.Figure:
    """A step's tensor: one row per token; columns are dimensions, or key tokens when ``keys``.

    ``weights`` draws probabilities (0 to 1); otherwise a diverging scale with white at 0.
    ``blocked`` (C,) marks padded key columns: drawn grey with "min" (finfo.min, −3.4e38).
    Shape: z (R, C), rows R labels, keys C labels
    """
    z = np.asarray(z, dtype=np.float32)
    R, C = z.shape
    small = keys is not None and R * C <= MAX_TEXT_CELLS
    if blocked is not None:
        z = np.where(np.asarray(blocked)[None, :], np.nan, z)
    axis = dict(x=token_labels(keys)) if keys is not None else {}
    what = "key %{x}" if keys is not None else "dimension %{x}"
    scale = (
        dict(colorscale=WEIGHTS, zmin=0.0, zmax=1.0)
        if weights
        else dict(colorscale=DIVERGING, zmid=0.0, zmin=-_bound(z), zmax=_bound(z))
    )
    traces = [
        go.Heatmap(
            z=z,
            y=token_labels(rows),
            **axis,
            **scale,
            texttemplate="%{z:.2f}" if small else None,
            textfont=dict(size=11),
            colorbar=dict(thickness=10, len=0.9),
            hovertemplate=f"token %{{y}}<br>{what}<br>{tensor} %{{z:.5g}}<extra></extra>",
        )
    ]
    if blocked is not None and np.any(blocked):
        cover = np.where(np.asarray(blocked)[None, :], 1.0, np.nan).repeat(R, axis=0)
        traces.append(
            go.Heatmap(
                z=cover,
                y=token_labels(rows),
                **axis,
                colorscale=[[0, BLOCKED], [1, BLOCKED]],
                showscale=False,
                text=np.where(np.isnan(cover), "", "min"),
                texttemplate="%{text}" if C <= 24 else None,
                hovertemplate="key %{x} is padding: + finfo.min, blocked<extra></extra>",
            )
        )
    layout = layout_dict(height=_height(R), title=title)
    layout["meta"] = dict(tensor=tensor)
    layout["yaxis"] = dict(autorange="reversed", type="category", title_text="query token")
    layout["xaxis"] = (
        dict(type="category", title_text="key token", tickangle=-45)
        if keys is not None
        else dict(title_text="dimension")
    )
    if keys is None:
        layout["yaxis"]["title_text"] = "token"
    return go.Figure(traces, layout)


def vector_bars(
    series: dict[str, np.ndarray], *, tensor: str, title: str, keys: list[str] | None = None
) -> go.Figure:
    """One token's vector(s) at a step: bars, several series of equal length side by side; a
    line per series when there are more than LINE_ABOVE numbers (bars would be a pixel wide).

    x is the dimension, or the key token when ``keys`` (a row of an attention matrix).
    """
    x = token_labels(keys) if keys is not None else None
    lines = len(next(iter(series.values()))) > LINE_ABOVE
    trace = go.Scatter if lines else go.Bar
    style = dict(mode="lines", line=dict(width=1.2)) if lines else {}
    bars = [
        trace(
            x=x,
            y=np.asarray(values, dtype=np.float32),
            name=name,
            hovertemplate=f"{name}<br>%{{x}}: %{{y:.5g}}<extra></extra>",
            **style,
        )
        for name, values in series.items()
    ]
    layout = layout_dict(height=280, title=title)
    if len(series) > 1:
        layout = _titled(layout)
    layout["meta"] = dict(tensor=tensor)
    layout["barmode"] = "group"
    layout["bargap"] = 0.05 if keys is None else 0.2
    layout["showlegend"] = len(series) > 1
    layout["xaxis"] = (
        dict(type="category", title_text="key token", tickangle=-45)
        if keys is not None
        else dict(title_text="dimension")
    )
    return go.Figure(bars, layout)


def entropy_bars(
    scaled: np.ndarray, unscaled: np.ndarray, rows: list[str], n_keys: int, title: str
) -> go.Figure:
    """Entropy of each query row's attention, with and without 1/√d_k. Shape: (R,), (R,)

    0 bits: all weight on one key (saturated); log2(n_keys): spread evenly over every real key.
    """
    x = token_labels(rows)
    top = float(np.log2(max(n_keys, 1)))
    named = {
        "÷ √d_k (the model)": (scaled, "#2563eb"),
        "no scaling (what-if)": (unscaled, "#f97316"),
    }
    bars = [
        go.Bar(
            x=x,
            y=np.asarray(values, dtype=np.float64),
            name=name,
            marker_color=colour,
            hovertemplate=f"%{{x}}<br>%{{y:.3f}} bits<extra>{name}</extra>",
        )
        for name, (values, colour) in named.items()
    ]
    layout = _titled(layout_dict(height=320, title=title))
    layout["meta"] = dict(tensor="entropy")
    layout["barmode"] = "group"
    layout["xaxis"] = dict(type="category", title_text="query token", tickangle=-45)
    layout["yaxis"] = dict(title_text="bits", range=[0, top * 1.08 + 0.05])
    layout["shapes"] = [
        dict(type="line", xref="paper", x0=0, x1=1, y0=top, y1=top, line=dict(dash="dot"))
    ]
    layout["annotations"] = [
        dict(
            xref="paper",
            x=0,
            y=top,
            yanchor="bottom",
            xanchor="left",
            showarrow=False,
            text=f"uniform over {n_keys} keys: {top:.2f} bits",
            font=dict(size=12),
        )
    ]
    return go.Figure(bars, layout)
