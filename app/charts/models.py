"""Two models side by side: linear CKA between their token vectors at every pair of depths.
Arrays in, a plotly figure out; no streamlit."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .common import layout_dict, safe_label

CELL_PX = 40  # a depth's row and column; values written in every cell
SEQUENTIAL = "Viridis"  # 0 (nothing in common) dark, 1 (the same up to rotation and scale) yellow


def depth_names(n_depths: int) -> list[str]:
    """ "0" (the embeddings), then "1" .. "L": the output of each layer."""
    return [str(d) for d in range(n_depths)]


def cka_figure(cka: np.ndarray, first: str, second: str, tokens: int) -> go.Figure:
    """Rows: the first model's depths; columns: the second's; colour and number: linear CKA.

    Shape: (La + 1, Lb + 1), NaN where a depth has no variance (drawn blank, said in the hover)"""
    rows, cols = depth_names(cka.shape[0]), depth_names(cka.shape[1])
    first, second = safe_label(first), safe_label(second)
    shown = np.where(np.isnan(cka), None, np.round(cka, 3)).tolist()
    heatmap = go.Heatmap(
        z=shown,
        x=cols,
        y=rows,
        zmin=0,
        zmax=1,
        colorscale=SEQUENTIAL,
        texttemplate="%{z:.2f}",
        textfont=dict(size=12),
        xgap=1,
        ygap=1,
        colorbar=dict(title=dict(text="CKA"), thickness=10, tickvals=[0, 0.5, 1]),
        hovertemplate=f"{first} at depth %{{y}}<br>{second} at depth %{{x}}<br>"
        "linear CKA %{z:.3f}<extra></extra>",
    )
    title = f"Linear CKA over {tokens:,} tokens: {first} (rows) against {second} (columns)"
    layout = layout_dict(height=int(130 + CELL_PX * len(rows)), title=title)
    layout["title"]["font"] = dict(size=14)
    layout["yaxis"] = dict(
        title=dict(text=f"{first}: depth"),
        type="category",
        autorange="reversed",
        automargin=True,
    )
    layout["xaxis"] = dict(
        title=dict(text=f"{second}: depth (0 = embeddings)"),
        type="category",
        automargin=True,
    )
    layout["width"] = int(max(420, 200 + CELL_PX * len(cols)))
    return go.Figure(heatmap, layout)
