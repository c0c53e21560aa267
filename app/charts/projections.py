"""Figures of the Layer-by-layer page: the animated projection, the token-token cosine matrix
and the depth profile (mean cosine, mean length, variance shown). Arrays in, go.Figure out."""

from __future__ import annotations

from functools import partial

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from .common import DIVERGING, layout_dict, safe_label
from .labels import declutter

SENTENCE_COLOURS = qualitative.D3  # 10: the sidebar holds at most 8 sentences
WORD_COLOURS = qualitative.Dark24 + qualitative.Light24
PATH_COLOURS = qualitative.Bold
SPECIAL_GREY = "#94a3b8"
FRAME_MS, TRANSITION_MS = 900, 500
# The 3-D scene's starting camera: lower and nearer than plotly's (1.25, 1.25, 1.25), aimed a
# little below the centre, so the cube and its axis titles fill a 560-640 px wide chart.
EYE, CENTRE = dict(x=1.45, y=1.45, z=0.6), dict(x=0, y=0, z=-0.15)
# The projection figure's traces and frames are built without plotly's validation (the
# ``_validate`` switch plotly.express uses): checking every frame's arrays took 12-24 ms of a
# 14-26 ms build; Streamlit sends the same JSON (tests/test_projections_labels.py compares it
# with the validated figure's).
UNCHECKED = dict(_validate=False)
VIRIDIS = go.scatter.Marker(colorscale="Viridis").colorscale  # as validation spells it out


def depth_name(depth: int) -> str:
    return "embeddings + positions" if depth == 0 else f"after layer {depth}"


def axis_titles(method: str, k: int, shared: bool) -> list[str]:
    if method == "PCA" and k == 3:  # short: a 3-D scene's long titles run off the chart
        return [f"PC{i + 1}" for i in range(k)]
    if method == "PCA":
        fit = "one fit on all depths" if shared else "fitted at each depth"
        return [f"PC{i + 1} ({fit})" for i in range(k)]
    return [f"t-SNE {i + 1}" for i in range(k)]


def frame_title(depth: int, ratios: np.ndarray | None, fit: str = "") -> str:
    text = f"depth {depth}: {depth_name(depth)}{fit}"
    if ratios is not None:
        parts = " · ".join(f"PC{i + 1} {100 * r:.1f}%" for i, r in enumerate(ratios[depth]))
        text += f"<br><span style='font-size:13px'>variance at this depth: {parts}</span>"
    return text


def point_colours(
    colour_by: str, sentence: np.ndarray, position: np.ndarray, words: list[str], special: list
) -> list[str] | np.ndarray:
    """A colour per token: its sentence's, its word's (specials grey), or its position."""
    if colour_by == "position":
        return position
    if colour_by == "word":
        index: dict[str, int] = {}
        for w, sp in zip(words, special, strict=True):
            if not sp:
                index.setdefault(w, len(index))
        return [
            SPECIAL_GREY if sp else WORD_COLOURS[index[w] % len(WORD_COLOURS)]
            for w, sp in zip(words, special, strict=True)
        ]
    return [SENTENCE_COLOURS[s % len(SENTENCE_COLOURS)] for s in sentence]


def _axis_ranges(coords: np.ndarray) -> list[list[float]]:
    """One fixed range per axis over every depth, with a margin, so frames share axes."""
    low, high = coords.min(axis=(0, 1)), coords.max(axis=(0, 1))
    pad = np.maximum((high - low) * 0.08, 1e-6)
    return [[float(a), float(b)] for a, b in zip(low - pad, high + pad, strict=True)]


def _ring(Scatter, point: np.ndarray, colour: str, who: str, three: bool):
    """A traced token at the shown depth only: an open ring around its point. Shape: (k,)"""
    return Scatter(
        **{a: [float(v)] for a, v in zip("xyz", point, strict=False)},
        mode="markers",
        marker=dict(
            size=12 if three else 22,
            symbol="circle-open",
            color=colour,
            line=dict(width=3, color=colour),
        ),
        name=f"{who} (at this depth)",
        hovertemplate=f"{who}<extra></extra>",
    )


def projection_figure(
    coords: np.ndarray,
    ratios: np.ndarray | None,
    depth: int,
    *,
    sentence: np.ndarray,
    position: np.ndarray,
    tokens: list[str],
    words: list[str],
    special: list[bool],
    colour_by: str,
    traced: list[int],
    labels: bool,
    method: str,
    shared: bool,
    sentence_names: list[str],
) -> go.Figure:
    """Every token at one depth, a frame per depth for the play button, paths of traced tokens.

    Shape: coords (L+1, N, k) with k 2 or 3; ratios (L+1, k) or None
    """
    depths, _, k = coords.shape
    three = k == 3
    Scatter = partial(go.Scatter3d if three else go.Scatter, **UNCHECKED)
    text = [safe_label(t) for t in tokens]
    ranges = _axis_ranges(coords)

    def shown(d: int) -> list[str]:  # the labels at depth d: one per spot, not a pile
        return declutter(coords[d], text, ranges, traced, eye=EYE) if labels else text

    marker = dict(
        size=5 if three else 10,
        line=dict(width=0.5, color="white"),
        color=point_colours(colour_by, sentence, position, words, special),
        symbol=["diamond" if sp else "circle" for sp in special],
    )
    if colour_by == "position":
        marker.update(colorscale=VIRIDIS, colorbar=dict(title=dict(text="position"), thickness=12))
    # One trace holds every token, in the same order in every frame (plotly moves point i of
    # a frame to point i of the next). One trace, not one per sentence: each is validated once
    # per frame, and eight of them took a second to build.
    data = [
        Scatter(
            **dict(zip("xyz"[:k], coords[depth].T, strict=True)),
            mode="markers+text" if labels else "markers",
            text=shown(depth),
            hovertext=text,  # every token in the hover, labelled or not
            textposition="top center",
            textfont=dict(size=12 if three else 13),
            customdata=np.stack([sentence + 1, position], axis=1),  # (N, 2)
            meta=depth_name(depth),
            hovertemplate="%{hovertext}<br>sentence %{customdata[0]} · position "
            "%{customdata[1]}<br>%{meta}<extra></extra>",
            marker=marker,
            name="tokens",
            showlegend=False,
        )
    ]
    if colour_by == "sentence":  # a legend of sentences: one empty trace per colour
        data += [
            Scatter(
                **{a: [None] for a in "xyz"[:k]},
                mode="markers",
                marker=dict(size=10, color=SENTENCE_COLOURS[s % len(SENTENCE_COLOURS)]),
                name=safe_label(sentence_names[s]),
                hoverinfo="skip",
            )
            for s in np.unique(sentence)
        ]
    moving = [0]  # the traces each frame redraws
    for j, i in enumerate(traced):
        colour = PATH_COLOURS[j % len(PATH_COLOURS)]
        who = f"{sentence[i] + 1}·{position[i]} {text[i]}"
        if not shared:  # per-layer axes differ from depth to depth: a path would join points
            moving.append(len(data))  # of different maps, so ring the token at this depth only
            data.append(_ring(Scatter, coords[depth, i], colour, who, three))
            continue
        data.append(
            Scatter(
                **dict(zip("xyz"[:k], coords[:, i].T, strict=True)),
                mode="lines+markers+text",
                text=[str(d) for d in range(depths)],
                textposition="middle right",
                textfont=dict(size=11, color=colour),
                line=dict(width=3 if not three else 5, color=colour),
                marker=dict(size=5 if not three else 3),
                name=f"path of {who}",
                hovertemplate=f"{text[i]} (sentence {sentence[i] + 1}, position {position[i]})"
                "<br>depth %{text}<extra></extra>",
            )
        )
    fit = ""
    if three and method == "PCA":  # the 3-D axes' titles are short: say the fit here
        fit = " · one PCA fit on all depths" if shared else " · a PCA fit per depth"
    frames = [
        go.Frame(
            **UNCHECKED,
            name=str(d),
            data=[
                Scatter(
                    **dict(zip("xyz"[:k], coords[d].T, strict=True)),
                    meta=depth_name(d),
                    **(dict(text=shown(d)) if labels else {}),
                ),
                *(
                    Scatter(**dict(zip("xyz"[:k], coords[d, [i]].T, strict=True)))
                    for i in (traced if not shared else [])
                ),
            ],
            traces=moving,
            layout=dict(title=dict(text=frame_title(d, ratios, fit))),
        )
        for d in range(depths)
    ]
    layout = layout_dict(height=640 if three else 600, title=frame_title(depth, ratios, fit))
    layout["margin"] = dict(l=10, r=10, t=70, b=10)
    layout["legend"] = dict(orientation="h", y=-0.12, x=0, yanchor="top", itemclick=False)
    titles = axis_titles(method, k, shared)
    axes = {
        f"{a}axis": dict(title=dict(text=t), range=r, autorange=False, zeroline=False)
        for a, t, r in zip("xyz"[:k], titles, ranges, strict=True)
    }
    if three:
        camera = dict(eye=EYE, center=CENTRE)
        layout["scene"] = dict(**axes, aspectmode="cube", camera=camera)
    else:
        layout.update(axes)
    layout["updatemenus"] = [_play_buttons(three)]
    return go.Figure(data=data, layout=layout, frames=frames, **UNCHECKED)


def _play_buttons(three: bool) -> dict:
    """Plotly's animation controls: play every depth from 0, or pause."""
    play = dict(
        frame=dict(duration=FRAME_MS, redraw=True),  # redraw: the title names the depth
        transition=dict(duration=0 if three else TRANSITION_MS, easing="cubic-in-out"),
        fromcurrent=False,
        mode="immediate",
    )
    pause = dict(
        frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate"
    )
    return dict(
        type="buttons",
        direction="left",
        showactive=False,
        x=1,
        xanchor="right",
        y=1.02,
        yanchor="bottom",
        pad=dict(t=0, r=0),
        buttons=[
            dict(label="▶ Play depths 0 → last", method="animate", args=[None, play]),
            dict(label="❚❚ Pause", method="animate", args=[[None], pause]),
        ],
    )


TICK_PX, MIN_TICK_PX, VALUE_PX, CELL_FOR_VALUE = 11, 9, 12, 34  # font sizes and widths, in px


def cosine_layout(labels: list[str], width: int) -> dict:
    """How a cosine matrix fits ``width`` px: the column pitch, tick fonts, which columns are
    labelled and whether cell values are written. Every row is labelled (rows get 14 px);
    every column too while columns are 9 px apart, else every k-th; values only in cells of
    34 px or more, at 12 px (smaller numbers were unreadable: the hover has them)."""
    n = len(labels)
    label_px = 6.5 * max(len(x) for x in labels) + 10  # the row labels' margin at 11 px
    pitch = max(1.0, (width - label_px - 70) / n)  # 70: the colour bar and the margins
    every = int(np.ceil(MIN_TICK_PX / pitch))
    return dict(
        pitch=pitch,
        label_px=label_px,
        x_font=int(min(TICK_PX, max(MIN_TICK_PX, pitch))),
        every=every,
        x_ticks=labels[::every],
        values=pitch >= CELL_FOR_VALUE,
        row_px=max(pitch, 14.0),
    )


def cosine_figure(sim: np.ndarray, labels: list[str], title: str, width: int = 520) -> go.Figure:
    """Token-token cosine similarity at one depth, sized for a chart ``width`` px wide.

    Shape: (N, N)"""
    n, fit = len(labels), cosine_layout(labels, width)
    heatmap = go.Heatmap(
        z=sim,
        x=labels,
        y=labels,
        zmin=-1,
        zmax=1,
        colorscale=DIVERGING,
        texttemplate="%{z:.2f}" if fit["values"] else None,
        textfont=dict(size=VALUE_PX),
        colorbar=dict(title=dict(text="cosine"), thickness=10, tickvals=[-1, 0, 1]),
        hovertemplate="%{y}<br>and %{x}<br>cosine %{z:.4f}<extra></extra>",
    )
    below = fit["label_px"] if fit["pitch"] < 24 else 0.7 * fit["label_px"]  # x labels' room
    layout = layout_dict(height=int(60 + below + fit["row_px"] * n), title=title)
    layout["yaxis"] = dict(
        autorange="reversed",
        type="category",
        automargin=True,
        tickmode="array",
        tickvals=labels,  # every row: plotly's own ticks skipped every other one at 36
        tickfont=dict(size=TICK_PX),
    )
    layout["xaxis"] = dict(
        type="category",
        automargin=True,
        tickangle=-90 if fit["pitch"] < 24 else -45,
        tickmode="array",
        tickvals=fit["x_ticks"],
        tickfont=dict(size=fit["x_font"]),
    )
    return go.Figure(heatmap, layout)


def depth_profile_figure(
    mean_cos: np.ndarray, mean_norm: np.ndarray, shown: np.ndarray | None, depth: int
) -> go.Figure:
    """Mean pairwise cosine (and variance the view shows) on the left axis, mean length right.

    Shape: (L+1,) each; shown (L+1,) fraction of each depth's variance on screen, or None
    """
    x = np.arange(len(mean_cos))
    data = [
        go.Scatter(
            x=x,
            y=mean_cos,
            name="mean cosine of token pairs",
            mode="lines+markers",
            line=dict(color="#d62728", width=3),
            hovertemplate="depth %{x}<br>mean cosine %{y:.3f}<extra></extra>",
        ),
        go.Scatter(
            x=x,
            y=mean_norm,
            name="mean vector length (right axis)",
            mode="lines+markers",
            yaxis="y2",
            line=dict(color="#1f77b4", width=3, dash="dot"),
            hovertemplate="depth %{x}<br>mean length %{y:.2f}<extra></extra>",
        ),
    ]
    if shown is not None:
        data.append(
            go.Scatter(
                x=x,
                y=shown,
                name="variance the view shows",
                mode="lines+markers",
                line=dict(color="#7f7f7f", width=2, dash="dash"),
                hovertemplate="depth %{x}<br>%{y:.1%} of the variance<extra></extra>",
            )
        )
    layout = layout_dict(height=320, title="Anisotropy: how alike the vectors are, by depth")
    layout["xaxis"] = dict(title_text="depth (0 = embeddings)", dtick=1, range=[-0.3, x[-1] + 0.3])
    low = min(0.0, float(np.nanmin(mean_cos)))
    layout["yaxis"] = dict(title_text="cosine / fraction", range=[low, 1.05], zeroline=True)
    layout["yaxis2"] = dict(
        title_text="length",
        overlaying="y",
        side="right",
        showgrid=False,
        rangemode="tozero",
        tickmode="auto",
    )
    layout["legend"] = dict(orientation="h", y=-0.25, x=0, yanchor="top")
    layout["shapes"] = [
        dict(type="line", x0=depth, x1=depth, yref="paper", y0=0, y1=1, line=dict(dash="dot"))
    ]
    layout["margin"] = dict(l=10, r=10, t=40, b=10)
    return go.Figure(data, layout)
