"""Shared timing helper for the benchmarks: interleaved runs, median of repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_times(fns: dict[str, Callable[[], object]], repeat: int = 15, warmup: int = 3) -> dict:
    """Median seconds per call of each function, measured in interleaved rounds.

    Interleaving (a, b, a, b, ...) exposes every contender to the same machine noise, so the
    ratios stay meaningful on a shared, noisy machine even when the absolute times drift.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) for name, s in samples.items()}
