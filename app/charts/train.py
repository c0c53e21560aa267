"""Figures of the Train page: the training curves and tiled attention maps. No st.* calls."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .common import layout_dict, safe_label

ACCURACY = "#4f46e5"  # the app's primary colour
LOSS = "#f97316"
TILE_PX = 150  # height of one attention tile on screen


def curves(
    steps: list[int],
    loss: list[float],
    accuracy: list[float],
    *,
    target: float,
    evals: list[tuple[int, float]] = (),
    max_points: int = 400,
) -> go.Figure:
    """Loss (left axis, log scale) and token accuracy (right axis) against the step."""
    keep = _thin(len(steps), max_points)
    x = [steps[i] for i in keep]
    traces = [
        go.Scatter(
            x=x,
            y=[loss[i] for i in keep],
            name="loss (cross-entropy)",
            line=dict(color=LOSS, width=2),
            hovertemplate="step %{x}<br>loss %{y:.4f}<extra></extra>",
        ),
        go.Scatter(
            x=x,
            y=[accuracy[i] for i in keep],
            name="token accuracy (each step's fresh batch)",
            yaxis="y2",
            line=dict(color=ACCURACY, width=2),
            hovertemplate="step %{x}<br>accuracy %{y:.1%}<extra></extra>",
        ),
    ]
    if evals:
        traces.append(
            go.Scatter(
                x=[s for s, _ in evals],
                y=[a for _, a in evals],
                name="accuracy on fresh examples (eval mode)",
                yaxis="y2",
                mode="markers",
                marker=dict(color=ACCURACY, size=10, symbol="diamond", line=dict(width=1)),
                hovertemplate="step %{x}<br>fresh examples %{y:.2%}<extra></extra>",
            )
        )
    layout = layout_dict(height=300)
    layout.update(
        xaxis=dict(title="step", rangemode="tozero"),
        yaxis=dict(title=dict(text="loss", font=dict(color=LOSS)), type="log", dtick=1),
        yaxis2=dict(
            title=dict(text="token accuracy", font=dict(color=ACCURACY)),
            overlaying="y",
            side="right",
            range=[0, 1.02],
            tickvals=[0, 0.25, 0.5, 0.75, 1.0],
            tickformat=".0%",
            showgrid=False,
        ),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, xanchor="left"),
        shapes=[
            dict(
                type="line",
                xref="paper",
                x0=0,
                x1=1,
                yref="y2",
                y0=target,
                y1=target,
                line=dict(color=ACCURACY, dash="dot", width=1),
            )
        ],
        margin=dict(l=10, r=10, t=30, b=10),
    )
    return go.Figure(traces, layout)


def history_curves(
    history: list, *, target: float, evals: list[tuple[int, float]] = ()
) -> go.Figure:
    """``curves`` of a run's history: its points (encoder.train.Point) in step order."""
    return curves(
        [p.step for p in history],
        [p.loss for p in history],
        [p.accuracy for p in history],
        target=target,
        evals=list(evals),
    )


def tiles(
    maps: list[np.ndarray],
    titles: list[str],
    tokens: list[str],
    *,
    columns: int | None = None,
    tile_px: int = TILE_PX,
) -> go.Figure:
    """Square (n, n) attention maps tiled in one heatmap, query on rows and key on columns.

    One trace for every tile (NaN gaps between them), so many heads cost one heatmap. The figure
    has its natural size (``layout.width``): draw it with ``width="content"``; a narrower
    column shrinks it, cells staying square.
    """
    count, n = len(maps), len(tokens)
    columns = max(1, min(count, columns or count))
    rows = math.ceil(count / columns)
    cell = tile_px / n  # pixels per cell
    title_px = 34 if tile_px < 180 else 20  # two lines of title on small tiles
    step = n + 1  # one blank cell between tiles of a row
    down = n + 1 + math.ceil(title_px / cell)  # rows leave room for the next row's titles
    z = np.full((rows * down - (down - n), columns * step - 1), np.nan, dtype=np.float32)
    hover = np.full(z.shape, "", dtype=object)
    ticks = [safe_label(t) for t in tokens]
    annotations = []
    for k, (m, name) in enumerate(zip(maps, titles, strict=True)):
        r, c = divmod(k, columns)
        z[r * down : r * down + n, c * step : c * step + n] = m
        label = safe_label(name)
        for i in range(n):
            for j in range(n):
                hover[r * down + i, c * step + j] = (
                    f"{label}<br>query {i} · {ticks[i]} → key {j} · {ticks[j]}: {m[i, j]:.3f}"
                )
        annotations.append(
            dict(
                x=c * step + (n - 1) / 2,
                # in y-domain units: above the top row is outside the y range, where a title in
                # data units would be hidden; the domain follows the axis when cells shrink
                y=1 - r * down / z.shape[0],
                yref="y domain",
                text=label.replace(" · ", "<br>", 1) if tile_px < 180 else label,
                showarrow=False,
                yanchor="bottom",
                font=dict(size=12),
            )
        )
    heatmap = go.Heatmap(
        z=z,
        text=hover,
        hovertemplate="%{text}<extra></extra>",
        colorscale="Blues",
        zmin=0,
        zmax=1,
        colorbar=dict(title=dict(text="weight", side="right"), thickness=10, len=1, x=1.02),
        hoverongaps=False,
    )
    margin = dict(l=90, r=100, t=title_px + 4, b=56)  # r: the colour bar and its title
    axis = dict(
        showgrid=False, zeroline=False, ticks="", constrain="domain", tickfont=dict(size=11)
    )
    layout = layout_dict(height=round(z.shape[0] * cell) + margin["t"] + margin["b"])
    layout.update(
        width=round(z.shape[1] * cell) + margin["l"] + margin["r"],
        xaxis=dict(
            axis,
            title=dict(text="key (attended to)", font=dict(size=12), standoff=6),
            tickvals=[c * step + j for c in range(columns) for j in range(n)] if rows == 1 else [],
            ticktext=ticks * columns,
            range=[-0.5, z.shape[1] - 0.5],  # fixed: autorange would make room for the titles
        ),
        yaxis=dict(
            axis,
            title=dict(text="query (attending)", font=dict(size=12), standoff=4),
            tickvals=[r * down + i for r in range(rows) for i in range(n)],
            ticktext=ticks * rows,
            range=[z.shape[0] - 0.5, -0.5],  # query 0 at the top
            scaleanchor="x",
        ),
        annotations=annotations,
        margin=margin,
    )
    return go.Figure([heatmap], layout)


def _thin(n: int, limit: int) -> list[int]:
    """At most ``limit`` evenly spread indices of ``n`` points, always keeping the last."""
    if n <= limit:
        return list(range(n))
    keep = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    return keep
