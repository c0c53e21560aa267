"""Figures of the Inside-a-layer page: one step's tensor, a token's vector, row entropies.

Every figure names the tensor it draws in ``layout.meta["tensor"]`` (the ``layer_steps`` key),
so tests can find it and compare its numbers with the library.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from .common import DIVERGING, layout_dict, text_px, token_labels

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


def _trimmed(name: str) -> dict:
    """The default template without the parts no figure here reads (other trace types, polar,
    3-D and map axes): the same look, a third of its JSON (7.2 -> 2.4 KB a figure), which the
    browser copies, scans for theme colours and parses twice per figure."""
    whole = pio.templates[name].to_plotly_json()
    data = {k: v for k, v in whole["data"].items() if k in ("heatmap", "bar", "scatter")}
    unused = ("polar", "ternary", "scene", "geo")
    return dict(data=data, layout={k: v for k, v in whole["layout"].items() if k not in unused})


_TEMPLATE = go.layout.Template(_trimmed(pio.templates.default))  # checked once, here


def _figure(traces: list, layout: dict) -> go.Figure:
    """go.Figure with the trimmed template, set as plotly sets its default one: unchecked
    (checking a template dict took ~1.5 ms a figure; this is 0.4 ms faster than the default)."""
    fig = go.Figure(traces, layout)
    fig._layout_obj._validate = False
    fig.layout.template = _TEMPLATE
    fig._layout_obj._validate = True
    return fig


def _px(text: str) -> float:
    return text_px([text])  # at 14 px, the tick labels' size


def _tick_px(lo: float, hi: float, length: float) -> float:
    """Width of the widest tick label plotly's auto ticks give a linear axis over [lo, hi]
    drawn ``length`` px long (its autoTicks: about one tick per 40 px, dtick 2, 5 or 10 × 10ⁿ)."""
    rough = (hi - lo) / (min(max(length / 40, 4), 9) + 1)
    if not rough > 0 or not np.isfinite(rough):
        return _px("−0.5")
    base = 10 ** np.floor(np.log10(rough))
    dtick = base * next(m for m in (2, 5, 10) if m >= rough / base - 1e-9)
    decimals = max(0, -int(np.floor(np.log10(dtick) + 1e-9)))
    ticks = np.arange(np.ceil(lo / dtick - 1e-9), np.floor(hi / dtick + 1e-9) + 1) * dtick
    return max((_px(f"{t:.{decimals}f}".replace("-", "−")) for t in ticks), default=0.0)


def _margins(layout: dict, rows: list[str] | None, keys: list[str] | None, right: float) -> dict:
    """The margins plotly's automargin would settle on, set before it draws: automargin then
    finds them wide enough and does not draw the figure a second time (a third of the page's
    browser time). Where a guess falls short, automargin still widens it (one more draw).
    Tick labels never hide for crossing the chart's edge (no measuring of each label)."""
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {**layout.get(axis, {}), "ticklabeloverflow": "allow"}
    margin = layout["margin"]
    left = max(_px(r) for r in rows) + 38 if rows else margin["l"]  # labels, standoff, title
    bottom = 53 + 0.71 * max(_px(k) for k in keys) if keys else 57  # labels at −45°, title
    size = dict(l=round(left + 2), r=round(right + 2), b=round(bottom + 2))
    layout["margin"] = {**margin, **size}
    return layout


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
    width: int = 480,
) -> go.Figure:
    """A step's tensor: one row per token; columns are dimensions, or key tokens when ``keys``.

    ``weights`` draws probabilities (0 to 1); otherwise a diverging scale with white at 0.
    ``blocked`` (C,) marks padded key columns: drawn grey with "min" (finfo.min, −3.4e38).
    ``width``: the chart's width on the page in px (its margins are set for it).
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
    named = [f"{i} · {t}" for i, t in enumerate(rows)]
    across = [f"{i} · {t}" for i, t in enumerate(keys)] if keys is not None else None
    layout = _margins(layout, named, across, 0)
    m = layout["margin"]
    bar = _tick_px(scale["zmin"], scale["zmax"], 0.9 * (layout["height"] - m["t"] - m["b"]))
    m["r"] = round((40 + 0.02 * (width - m["l"]) + bar) / 1.02 + 2)  # the colorbar's room
    return _figure(traces, layout)


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
    values = np.concatenate([np.asarray(v, dtype=np.float64) for v in series.values()])
    values = values[np.isfinite(values)]
    lo, hi = (min(0.0, values.min()), max(0.0, values.max())) if values.size else (0.0, 1.0)
    pad = 0.05 * (hi - lo)
    keyed = [f"{i} · {t}" for i, t in enumerate(keys)] if keys is not None else None
    layout = _margins(layout, None, keyed, layout["margin"]["r"] - 2)
    m = layout["margin"]
    m["l"] = round(_tick_px(lo - pad, hi + pad, layout["height"] - m["t"] - m["b"]) + 13)
    return _figure(bars, layout)


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
    layout = _margins(layout, None, [f"{i} · {t}" for i, t in enumerate(rows)], 8)
    m = layout["margin"]
    m["l"] = round(_tick_px(0, top * 1.08 + 0.05, layout["height"] - m["t"] - m["b"]) + 40)
    return _figure(bars, layout)
