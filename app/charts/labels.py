"""Point labels that do not pile up: which tokens of a scatter get their text drawn.

Plotly draws every text label, so equal tokens at one spot ([CLS] of every sentence at depth 0)
printed "[CLS][CLS][CLS]". Pure numpy, no plotly: positions in, one label (or "") per point out.
"""

from __future__ import annotations

import numpy as np

CHAR_PX, LINE_PX = 6.5, 16.0  # a 13 px label: 5-6.5 px per character, 16 px per line
PLOT_PX = (490.0, 370.0)  # the 2-D plot area on a 1024 px screen (the chart is ~560 px wide)
CUBE_PX = 360.0  # a 3-D scene's cube side on screen from its starting camera, with a margin


def declutter(
    points: np.ndarray,
    texts: list[str],
    ranges: list[list[float]],
    first: list[int] | tuple[int, ...] = (),
    *,
    eye: dict | None = None,
    plot_px: tuple[float, float] = PLOT_PX,
) -> list[str]:
    """One label per point, "" where it would overlap a label already placed.

    First, equal tokens whose labels would overlap become one label with their count
    ("[CLS] ×3"). Then labels are placed greedily, each hidden where it would overlap one
    already placed: the points in ``first`` (traced tokens), then ordinary tokens, then [CLS]
    and [SEP], each in order. A hidden token is still in the hover.
    A label is a box of its text above its point, in pixels: of a plot of ``plot_px`` in 2-D;
    in 3-D, of the cube seen from the scene's starting camera ``eye`` (a user who turns the
    scene sees other overlaps).

    Shape: points (N, k) with k 2 or 3; ranges k [low, high] axis ranges
    """
    n, k = points.shape
    low = np.array([r[0] for r in ranges])
    span = np.array([r[1] - r[0] for r in ranges])
    unit = (points - low) / np.where(span > 0, span, 1.0)  # (N, k) 0..1 across each axis
    if k == 2:
        at = unit * np.array(plot_px)  # (N, 2) pixels, y up
    else:
        at = screen(unit - 0.5, eye or dict(x=1.25, y=1.25, z=1.25)) * CUBE_PX
    order = list(dict.fromkeys([*first, *(i for i in range(n) if not texts[i].startswith("["))]))
    seen = set(order)
    order += [i for i in range(n) if i not in seen]  # [CLS], [SEP] last
    x, y = at[:, 0], at[:, 1]
    kind = np.unique(np.array(texts, dtype=object), return_inverse=True)[1]  # (N,) text id
    chars = np.array([len(t) for t in texts])

    def hits(i: int, among: np.ndarray, half: np.ndarray) -> np.ndarray:
        """Which labels of ``among`` (a mask) the label at point i would overlap: close in x
        for their half-widths, within a line in y."""
        return among & (np.abs(x - x[i]) < half + half[i] + 2) & (np.abs(y - y[i]) < LINE_PX)

    leader = np.zeros(n, dtype=bool)  # one point per group of equal, overlapping tokens
    count = np.ones(n, dtype=int)
    half = CHAR_PX * chars / 2
    for i in order:
        hit = hits(i, leader & (kind == kind[i]), half)
        if hit.any():
            count[int(np.argmax(hit))] += 1
        else:
            leader[i] = True
    final = [t if c == 1 else f"{t} ×{c}" for t, c in zip(texts, count, strict=True)]
    half = CHAR_PX * np.array([len(t) for t in final]) / 2
    placed = np.zeros(n, dtype=bool)
    for i in order:
        if leader[i] and not hits(i, placed, half).any():
            placed[i] = True
    return [t if shown else "" for t, shown in zip(final, placed, strict=True)]


def screen(points: np.ndarray, eye: dict) -> np.ndarray:
    """Where points of a centred unit cube land on screen, seen from ``eye`` towards the centre
    with z up (orthographic: plotly's perspective is mild). Shape: (N, 3) -> (N, 2), y up"""
    forward = -np.array([eye["x"], eye["y"], eye["z"]], dtype=float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([points @ right, points @ up], axis=1)
