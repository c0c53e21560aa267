"""Panels of the Attention page, for the canvas component: arrays in, plain dicts out.

A panel is what ``app.components.attention_canvas`` draws: ``grid`` (every head of every layer,
tiled, sent as one byte per pixel), ``matrix`` (one heatmap, its numbers as JSON), ``lines``
(BertViz-style token lines). No streamlit here.
"""

from __future__ import annotations

import base64
import math

import numpy as np

# white -> indigo (the app's primary colour) for weights; blue - white - red for differences
SEQUENTIAL = [
    (0.0, (255, 255, 255)),
    (0.12, (224, 231, 255)),
    (0.35, (165, 180, 252)),
    (0.65, (99, 102, 241)),
    (1.0, (30, 27, 75)),
]
DIVERGING = [(0.0, (33, 102, 172)), (0.5, (247, 247, 247)), (1.0, (178, 24, 43))]
HEAD_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
]  # fmt: skip
TILE_CELLS = 48  # overview tiles keep at most this many tokens a side (max-pooled beyond)
MAX_TILE_PX = 120  # and are drawn at most this big on screen
LINES_WINDOW = 128  # token lines draw at most this many tokens (a window around the query)
DIGITS = 6  # decimals of the numbers sent to the page (hover shows 4)
QUERY_KEY = ("key (attended to)", "query (attending)")


def labels(tokens: list[str], positions: list[int] | None = None) -> list[str]:
    """ "3 · cat": position and token, so repeated tokens stay apart. Canvas text: no escaping."""
    positions = list(range(len(tokens))) if positions is None else positions
    return [f"{p} · {t}" for p, t in zip(positions, tokens, strict=True)]


def pool_tiles(att: np.ndarray, cells: int = TILE_CELLS) -> tuple[np.ndarray, int]:
    """Max-pool each head's map to at most ``cells`` a side (a sharp diagonal stays visible).

    Shape: (L, H, S, S) -> (L, H, t, t), t = ceil(S / k); also the block size k.
    """
    L, H, S, _ = att.shape
    k = max(1, math.ceil(S / cells))
    if k == 1:
        return att, 1
    t = math.ceil(S / k)
    if t * k != S:
        padded = np.zeros((L, H, t * k, t * k), dtype=att.dtype)
        padded[:, :, :S, :S] = att
        att = padded
    # k strided maxima per axis: far faster than reshape(...).max(axis=(3, 5)) over tiny axes
    cols = att[..., 0::k].copy()  # (L, H, t·k, t)
    for i in range(1, k):
        np.maximum(cols, att[..., i::k], out=cols)
    tiles = cols[..., 0::k, :].copy()  # (L, H, t, t)
    for i in range(1, k):
        np.maximum(tiles, cols[..., i::k, :], out=tiles)
    return tiles, k


def grid_pixels(tiles: np.ndarray, own_max: bool) -> np.ndarray:
    """Every tile in one mosaic of colour indices 0..255 (layer rows, head columns).

    Colours run 0 -> 1, or 0 -> each head's own maximum. Shape: (L, H, t, t) -> (L·t, H·t)
    """
    L, H, t, _ = tiles.shape
    top = tiles.max(axis=(2, 3), keepdims=True) if own_max else np.ones((L, H, 1, 1))
    index = np.clip(np.rint(tiles / np.maximum(top, 1e-12) * 255), 0, 255).astype(np.uint8)
    return index.transpose(0, 2, 1, 3).reshape(L * t, H * t)


def grid_panel(att: np.ndarray, selected: tuple[int, int], own_max: bool, title: str) -> dict:
    """The overview: every head of every layer in one picture. Shape: att (L, H, S, S)"""
    tiles, k = pool_tiles(att)
    L, H, t, _ = tiles.shape
    note = None
    if k > 1:
        note = (
            f"{att.shape[-1]} tokens are too many to see one by one in a tile: each tile pixel "
            f"shows the largest weight in a {k}×{k} block of tokens. The detail shows every token."
        )
    return {
        "kind": "grid",
        "title": title,
        # one byte per pixel, coloured in the browser: decoded at once, where a PNG would make
        # the canvas wait for an asynchronous image decode (measured 20-40 ms more per submit)
        "pixels": base64.b64encode(grid_pixels(tiles, own_max).tobytes()).decode("ascii"),
        "stops": _stops(SEQUENTIAL),
        "layers": L,
        "heads": H,
        "cells": t,
        "block": k,
        "max_tile": MAX_TILE_PX,
        "selected": [int(selected[0]), int(selected[1])],
        "note": note,
        "file": "attention_overview",
    }


def matrix_panel(
    z: np.ndarray,
    rows: list[str],
    cols: list[str],
    title: str,
    *,
    zmin: float = 0.0,
    zmax: float = 1.0,
    diverging: bool = False,
    scale: str = "0 to 1",
    axes: tuple[str, str] = QUERY_KEY,
    note: str | None = None,
    file: str = "attention",
    arrow: str = "→",
    pick: tuple[int, int] | None = None,
    values: bool = False,
) -> dict:
    """One heatmap: query rows, key columns; hover says "query → key: weight". Shape: (R, C)

    ``pick`` (a map of every head: layer rows, head columns): the cell outlined as chosen; a
    click on a cell sends {"layer": row, "head": column}. ``values``: each cell's number
    written in it (2 decimals) where the cells are big enough. A value that is not finite is
    drawn as a blank cell ("–" in the hover).
    """
    z = np.round(np.asarray(z, dtype=np.float64), DIGITS)  # JSON has no NaN: None for those
    return {
        "kind": "matrix",
        "title": title,
        "z": z.tolist() if np.isfinite(z).all() else np.where(np.isfinite(z), z, None).tolist(),
        "rows": rows,
        "cols": cols,
        "zmin": float(zmin),
        "zmax": float(zmax) if zmax > zmin else float(zmin) + 1.0,
        "stops": _stops(DIVERGING if diverging else SEQUENTIAL),
        "scale": scale,
        "arrow": arrow,
        "pick": pick is not None,
        "selected": None if pick is None else [int(pick[0]), int(pick[1])],
        "xlabel": f"{axes[0]} →, colour {scale}",
        "ylabel": f"{axes[1]} ↓",
        "note": note,
        "file": file,
        "values": values,
    }


def weight_scale(z: np.ndarray, own_max: bool) -> tuple[float, str]:
    """The top of the colour scale and its label: 1, or the matrix's own maximum.

    Train-mode dropout scales kept weights by 1/(1-p), so a fixed scale then stretches to fit.
    """
    top = float(np.max(z)) if z.size else 1.0
    if own_max:
        return max(top, 1e-12), f"0 to its own max ({top:.3f})"
    if top > 1.0:
        return top, f"0 to {top:.3f} (dropout scaled kept weights above 1)"
    return 1.0, "0 to 1"


def difference_panel(diff: np.ndarray, rows: list[str], cols: list[str], title: str) -> dict:
    """B − A on a symmetric blue-white-red scale. Shape: (S, S)"""
    bound = float(np.max(np.abs(diff))) if diff.size else 0.0
    bound = bound or 1e-6
    return matrix_panel(
        diff,
        rows,
        cols,
        title,
        zmin=-bound,
        zmax=bound,
        diverging=True,
        scale=f"−{bound:.3f} (blue) to +{bound:.3f} (red)",
        file="attention_difference",
    )


def lines_panel(
    weights: np.ndarray,
    tokens: list[str],
    query: int,
    heads: list[int],
    threshold: float,
    title: str,
    window: int = LINES_WINDOW,
) -> dict:
    """Token lines from one query to every key, one colour per head; lines under ``threshold``
    are not drawn. Past ``window`` tokens only a window around the query is drawn, and the
    panel's note says which and how much weight falls outside. ``offset`` maps the panel's
    token indices back to the sentence's. Shape: weights (H, S), row ``query`` of each head."""
    S = len(tokens)
    lo = 0 if window >= S else min(max(query - window // 2, 0), S - window)
    hi = min(S, lo + window)
    note = None
    if (lo, hi) != (0, S):
        outside = 1.0 - float(np.mean(weights[heads][:, lo:hi].sum(axis=1))) if heads else 0.0
        note = (
            f"{S} tokens are too many to draw as lines: showing positions {lo}–{hi - 1} around "
            f"the query; {outside:.1%} of its weight (mean over the heads drawn) goes outside."
        )
    shown = []
    for h in heads:
        row = np.asarray(weights[h, lo:hi], dtype=np.float64)
        keep = np.flatnonzero(row >= threshold)
        shown.append(
            {
                "head": int(h),
                "color": HEAD_COLOURS[h % len(HEAD_COLOURS)],
                "lines": [[int(j), round(float(row[j]), DIGITS)] for j in keep],
                "all": np.round(row, DIGITS).tolist(),
            }
        )
    return {
        "kind": "lines",
        "title": title,
        "tokens": tokens[lo:hi],
        "query": int(query - lo),
        "offset": lo,
        "heads": shown,
        "threshold": threshold,
        "note": note,
        "file": "attention_lines",
    }


def bars_panel(
    values: np.ndarray,
    labels: list[str],
    title: str,
    *,
    prefix: str = "",
    highlight: int = -1,
    top: float = 1.0,
    diverging: bool = False,
    xlabel: str = "weight",
    note: str | None = None,
    file: str = "attention_bars",
) -> dict:
    """Horizontal bars, one per label (a query's weight on each word): 0 to ``top``, or
    −``top`` to ``top`` in red (positive) and blue when ``diverging``. Shape: values (W,)"""
    top = float(top) if top > 0 else 1.0
    lo = -top if diverging else 0.0
    return {
        "kind": "bars",
        "title": title,
        "labels": labels,
        "values": np.round(np.asarray(values, dtype=np.float64), DIGITS).tolist(),
        "lo": lo,
        "hi": top,
        "ticks": ticks(lo, top),
        "diverging": diverging,
        "color": "#4f46e5",
        "highlight": int(highlight),
        "prefix": prefix,
        "missing": "–",
        "xlabel": xlabel,
        "note": note,
        "file": file,
    }


def ticks(lo: float, hi: float, most: int = 4) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) from ``lo`` to ``hi``."""
    span = hi - lo
    if span <= 0:
        return [lo]
    base = 10 ** math.floor(math.log10(span / most))
    step = next(m * base for m in (1, 2, 2.5, 5, 10) if span / (m * base) <= most)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 10) for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _stops(stops) -> list:
    return [[p, list(c)] for p, c in stops]
