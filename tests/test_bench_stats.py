"""bench/_stats.py: the paired ratios and intervals every benchmark table reports."""

from __future__ import annotations

import statistics

import pytest

from bench._stats import paired_ratios, ratio_cells, ratio_interval, verdict


def test_paired_ratios_divide_round_by_round():
    assert paired_ratios([120, 90, 200], [60, 45, 50]).tolist() == [2.0, 2.0, 4.0]


def test_paired_ratios_need_one_blank_sample_per_round():
    with pytest.raises(ValueError, match="one blank sample per round"):
        paired_ratios([120, 90], [60])
    with pytest.raises(ValueError):
        paired_ratios([], [])


def test_a_slow_drift_cancels_in_paired_ratios():
    # the machine halves its speed midway: both apps slow down together, every round's ratio
    # stays 2; a ratio of the two medians would depend on which rounds fell where
    blank = [50.0] * 5 + [100.0] * 6
    ours = [2 * b for b in blank]
    assert ratio_interval(ours, blank) == (2.0, 2.0, 2.0)


def test_interval_holds_the_median_and_is_seeded():
    blank = [60, 62, 58, 70, 65, 61, 59, 80, 63, 60]
    ours = [120, 140, 110, 150, 128, 119, 125, 190, 131, 118]
    mid, low, high = ratio_interval(ours, blank)
    assert low <= mid <= high
    assert mid == pytest.approx(statistics.median(o / b for o, b in zip(ours, blank, strict=True)))
    assert ratio_interval(ours, blank) == (mid, low, high)  # the same samples, the same interval
    # a wider level gives a wider (or equal) interval
    _, low99, high99 = ratio_interval(ours, blank, level=0.99)
    assert low99 <= low and high99 >= high


@pytest.mark.parametrize(
    ("low", "high", "said"),
    [(1.5, 1.9, "ok"), (1.5, 2.0, "ok"), (2.01, 2.3, "MISS"), (1.9, 2.1, "unsure")],
)
def test_verdict_needs_the_whole_interval_on_one_side(low, high, said):
    assert verdict(low, high, 2.0) == said


def test_ratio_cells_for_a_table_row():
    assert ratio_cells([100, 100, 100], [50, 50, 50], 2.0) == "2.00 | 2.00–2.00 | 2x | ok"
    assert ratio_cells([130, 130, 130], [50, 50, 50], 2.0).endswith("| 2x | MISS")
