"""Panels of the Attention page's Head map and Queries & keys, for the canvas component (a
``scatter``: points coloured by group, in one or two marker shapes, with a legend, hover text,
optional labels, lines between points and clicks). Arrays in, plain dicts out; no streamlit."""

from __future__ import annotations

import numpy as np

from .attention import DIGITS
from .attention_stats import short_kind

KIND_COLOURS = {  # the head statistics' "looks like" families
    "previous token": "#d62728",
    "itself": "#ff7f0e",
    "sink: [CLS]": "#1f77b4",
    "sink: [SEP]": "#17becf",
    "broad": "#2ca02c",
    "no clear pattern": "#9ca3af",
}
QUERY, KEY = "#4f46e5", "#ea580c"  # indigo circles, orange diamonds
VIRIDIS = [  # plotly's Viridis stops, evenly spaced from 0 to 1
    (68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142),
    (31, 158, 137), (53, 183, 121), (110, 206, 88), (181, 222, 43), (253, 231, 37),
]  # fmt: skip
LABEL_ALL = 30  # Queries & keys: every token labelled up to this many; beyond, the strongest


def layer_colours(n_layers: int) -> list[str]:
    """One colour per layer, dark (layer 0) to yellow (the last): the order reads off the colour.
    Viridis sampled as plotly's sample_colorscale does (which takes ~15 ms to look it up)."""
    out = []
    for i in range(n_layers):
        t = (0.05 + 0.85 * i / max(n_layers - 1, 1)) * (len(VIRIDIS) - 1)
        k = min(int(t), len(VIRIDIS) - 2)
        a, b = VIRIDIS[k], VIRIDIS[k + 1]
        mix = [a[c] + (t - k) * (b[c] - a[c]) for c in range(3)]
        out.append("rgb({}, {}, {})".format(*(round(v) for v in mix)))
    return out


def _xy(points: np.ndarray) -> tuple[list[float], list[float]]:
    p = np.round(np.asarray(points, dtype=np.float64), DIGITS)
    return p[:, 0].tolist(), p[:, 1].tolist()


def head_kinds(stats: dict[str, np.ndarray], n: int) -> list[str]:
    """What each head looks like ("previous token", "sink: [CLS]", ...), layer-major."""
    L, H = stats["entropy"].shape
    return [short_kind(stats, i, h, n) or "no clear pattern" for i in range(L) for h in range(H)]


def head_hover(stats: dict[str, np.ndarray], kinds: list[str], clickable: bool = True):
    """Each head's hover text: its name, what it looks like, its statistics."""
    s, H = stats, stats["entropy"].shape[1]
    return [
        f"L{i // H} H{i % H} · looks like: {kinds[i]}\n"
        f"entropy {s['entropy'].flat[i]:.2f} bits · distance {s['distance'].flat[i]:.2f}\n"
        f"self {s['self'].flat[i]:.0%} · previous {s['previous'].flat[i]:.0%} · "
        f"[CLS] {s['first'].flat[i]:.0%} · [SEP] {s['last'].flat[i]:.0%}"
        + ("\nclick to open it" if clickable else "")
        for i in range(len(kinds))
    ]


def head_map_panel(
    xy: np.ndarray,
    n_heads: int,
    groups: list[str],
    colours: dict[str, str],
    hover: list[str],
    selected: int,
    title: str,
) -> dict:
    """Every head a point (layer-major: index = layer · H + head), coloured by its group, the
    legend in ``colours``' order (groups present only); ``pick`` is [layer, head] per point,
    which a click sends back; the ``selected`` head is ringed and named.

    Shape: xy (L·H, 2); groups and hover one per head"""
    names = [g for g in colours if g in set(groups)]
    x, y = _xy(xy)
    s = int(selected)
    return {
        "kind": "scatter",
        "title": title,
        "x": x,
        "y": y,
        "groups": [{"name": g, "color": colours[g], "shape": "circle"} for g in names],
        "group": [names.index(g) for g in groups],
        "size": 6,
        "hover": hover,
        "labels": [],
        "force_labels": False,
        "lines": [],
        "pick": [[i // n_heads, i % n_heads] for i in range(len(groups))],
        "selected": s,
        "selected_label": f"L{s // n_heads} H{s % n_heads}",
        "xlabel": "",
        "ylabel": "",
        "note": None,
        "file": "attention_head_map",
    }


def strongest(lines: list[tuple[int, int, float]], n: int, most: int = LABEL_ALL) -> list[int]:
    """The ``most`` points (queries 0..n-1, keys n..2n-1) with the largest summed weight of the
    lines they touch, in order of index. Every point when n ≤ ``most``."""
    if n <= most:
        return list(range(2 * n))
    weight = np.zeros(2 * n)
    for i, j, w in lines:
        weight[i] += w
        weight[n + j] += w
    order = np.argsort(-weight, kind="stable")[:most]
    return sorted(int(i) for i in order if weight[i] > 0)


def qk_panel(
    q: np.ndarray,
    k: np.ndarray,
    labels: list[str],
    lines: list[tuple[int, int, float]],
    title: str,
    axes: tuple[str, str],
    file: str = "attention_queries_keys",
) -> dict:
    """A head's queries (circles, points 0..n-1) and keys (diamonds, n..2n-1) in one plane, a
    line from each query to each key in ``lines`` (opacity by weight), tokens labelled (all up
    to LABEL_ALL tokens, else the strongest).

    Shape: q (n, 2), k (n, 2); lines (query, key, weight)"""
    n = len(q)
    x, y = _xy(np.concatenate([q, k]))
    words = [lab.split(" · ", 1)[-1] for lab in labels]
    shown = set(strongest(lines, n))
    best: dict[int, tuple[int, float]] = {}
    into = np.zeros(n)
    for i, j, w in lines:
        if w > best.get(i, (0, -1.0))[1]:
            best[i] = (j, w)
        into[j] += w
    hover = [
        f"query {labels[i]}"
        + (f"\nstrongest key: {labels[best[i][0]]} ({best[i][1]:.2f})" if i in best else "")
        for i in range(n)
    ] + [f"key {labels[j]}\nweight from the queries drawn: {into[j]:.2f}" for j in range(n)]
    return {
        "kind": "scatter",
        "title": title,
        "x": x,
        "y": y,
        "groups": [
            {"name": "queries (rows of the map)", "color": QUERY, "shape": "circle"},
            {"name": "keys (columns)", "color": KEY, "shape": "diamond"},
        ],
        "group": [0] * n + [1] * n,
        "size": 5,
        "hover": hover,
        "labels": [(words + words)[i] if i in shown else "" for i in range(2 * n)],
        "force_labels": n <= LABEL_ALL,
        "lines": [[int(i), n + int(j), round(float(w), DIGITS)] for i, j, w in lines],
        "pick": None,
        "selected": None,
        "selected_label": "",
        "xlabel": f"{axes[0]} →",
        "ylabel": f"{axes[1]} →",
        "note": None,
        "file": file,
    }
