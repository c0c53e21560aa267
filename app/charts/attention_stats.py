"""The head-statistics table of the Attention page, and heads named in plain words. No streamlit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from app.charts import tables

# a head is named when its average share crosses these (stated on the page)
PREVIOUS = 0.4  # of each token's weight on the token before it
SELF = 0.4  # on itself
SINK = 0.5  # on [CLS] and [SEP] together
BROAD = 0.85  # entropy, as a fraction of the uniform maximum log2(n)

KINDS = {
    "previous": "Positional: mostly the previous token",
    "self": "Positional: mostly itself",
    "sink": "Sink-like: mostly [CLS] or [SEP]",
    "broad": "Broad: spreads its weight over many tokens",
}
RULES = (
    f"previous token ≥ {PREVIOUS:.0%} · itself ≥ {SELF:.0%} · [CLS] + [SEP] ≥ {SINK:.0%} · "
    f"entropy ≥ {BROAD:.0%} of log2(tokens), the entropy of a uniform head"
)
COLUMNS = ["head", "layer", "head_index", "entropy", "distance", "self", "previous", "first"]
COLUMNS += ["last", "max", "looks like"]


def kind(stats: dict[str, np.ndarray], layer: int, head: int, n: int) -> str | None:
    """Which of KINDS a head looks like (the strongest sign first), or None."""
    s = {k: float(v[layer, head]) for k, v in stats.items()}
    if s["first"] + s["last"] >= SINK:
        return "sink"
    if s["previous"] >= PREVIOUS and s["previous"] >= s["self"]:
        return "previous"
    if s["self"] >= SELF:
        return "self"
    if n >= 4 and s["entropy"] >= BROAD * math.log2(n):
        return "broad"
    return None


def short_kind(stats: dict[str, np.ndarray], layer: int, head: int, n: int) -> str:
    k = kind(stats, layer, head, n)
    if k == "sink":
        return (
            "sink: [CLS]"
            if stats["first"][layer, head] >= stats["last"][layer, head]
            else ("sink: [SEP]")
        )
    return {"previous": "previous token", "self": "itself", "broad": "broad", None: ""}[k]


def table(stats: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    """One row per head, in layer then head order: the numbers of ``head_statistics``."""
    L, H = stats["entropy"].shape
    rows = []
    for layer in range(L):
        for head in range(H):
            rows.append(
                [f"L{layer} H{head}", layer, head]
                + [float(stats[k][layer, head]) for k in COLUMNS[3:10]]
                + [short_kind(stats, layer, head, n)]
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def named(stats: dict[str, np.ndarray], n: int) -> dict[str, list[tuple]]:
    """KINDS -> the heads of that kind, strongest first: [(layer, head, score), ...]."""
    score = {
        "previous": stats["previous"],
        "self": stats["self"],
        "sink": stats["first"] + stats["last"],
        "broad": stats["entropy"] / max(math.log2(max(n, 2)), 1e-9),
    }
    found: dict[str, list[tuple]] = {k: [] for k in KINDS}
    L, H = stats["entropy"].shape
    for layer in range(L):
        for head in range(H):
            k = kind(stats, layer, head, n)
            if k is not None:
                found[k].append((layer, head, float(score[k][layer, head])))
    return {k: sorted(v, key=lambda t: -t[2]) for k, v in found.items()}


# short headers (their meaning in the help): the table fits 1024 px screens
TABLE_COLUMNS = [  # (key in table(), header, format, help)
    ("head", "head", "text", "Layer and head, counted from 0"),
    ("entropy", "entropy", "f2", "In bits: 0 = one key, log2(tokens) = spread evenly"),
    ("distance", "dist.", "f2", "Distance: the mean |query − key| position, weighted by attention"),
    ("self", "self", "pct", "Weight on the query token itself"),
    ("previous", "prev.", "pct", "Weight on the token just before the query"),
    ("first", "[CLS]", "pct", "Weight on the first token ([CLS])"),
    ("last", "[SEP]", "pct", "Weight on the last token ([SEP])"),
    ("max", "max", "f2", "Each row's largest weight, averaged over the rows"),
    ("looks like", "looks like", "text", f"Named when {RULES}"),
]  # fmt: skip


def table_panel(frame: pd.DataFrame, chosen: tuple[int, int]) -> dict:
    """``table()`` as the attention canvas's sortable table panel: a click on a row opens its
    head; the chosen head's row is marked."""
    pick = frame[["layer", "head_index"]].to_numpy().tolist()
    return tables.table_panel(
        frame,
        columns=TABLE_COLUMNS,
        pick=pick,
        chosen=pick.index(list(chosen)) if list(chosen) in pick else -1,
        height=460,
        file="head_statistics",
    )
