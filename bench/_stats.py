"""Ratios of paired samples, with how sure a run is of them.

Every benchmark here times our app and the blank page in alternation, one of each per round.
A round's two samples see the same machine (this box changes speed for minutes at a time, by
~25%), so the ratio of a round's pair cancels those drifts where a ratio of two medians taken
over a whole run does not. A row's ratio is the median of its rounds' ratios, with a bootstrap
interval around it; a verdict is only given when the whole interval is on one side of the goal.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.9  # the interval's coverage
RESAMPLES = 4000


def paired_ratios(ours: list[float], blank: list[float]) -> np.ndarray:
    """ours[r] / blank[r] for every round r (both lists in round order, the same length)."""
    if len(ours) != len(blank) or not ours:
        raise ValueError(f"need one blank sample per round: {len(ours)} against {len(blank)}")
    return np.asarray(ours, dtype=float) / np.asarray(blank, dtype=float)


def ratio_interval(
    ours: list[float], blank: list[float], level: float = LEVEL, seed: int = 0
) -> tuple[float, float, float]:
    """(median, low, high): the median of the paired ratios and a percentile-bootstrap interval
    of it at ``level`` (seeded: the same samples always give the same interval)."""
    ratios = paired_ratios(ours, blank)
    picks = np.random.default_rng(seed).integers(0, len(ratios), (RESAMPLES, len(ratios)))
    medians = np.median(ratios[picks], axis=1)
    low, high = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2])
    return float(np.median(ratios)), float(low), float(high)


def verdict(low: float, high: float, goal: float) -> str:
    """ "ok" when the whole interval is within the goal, "MISS" when all of it is above, and
    "unsure" when it straddles the goal (this run cannot tell; more rounds narrow it)."""
    if high <= goal:
        return "ok"
    return "MISS" if low > goal else "unsure"


def ratio_cells(ours: list[float], blank: list[float], goal: float) -> str:
    """ "2.05 | 1.93–2.18 | 2x | unsure": a table's ratio, interval, goal and verdict cells."""
    mid, low, high = ratio_interval(ours, blank)
    return f"{mid:.2f} | {low:.2f}–{high:.2f} | {goal:g}x | {verdict(low, high, goal)}"
