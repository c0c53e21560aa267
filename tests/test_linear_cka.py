"""encoder.analysis.linear_cka: hand cases (Kornblith et al. 2019) and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

from encoder.analysis import linear_cka


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def rotation(d: int, seed: int = 1) -> np.ndarray:
    q, _ = np.linalg.qr(rng(seed).normal(size=(d, d)))
    return q


@pytest.mark.parametrize("shape", [(2, 1), (5, 3), (40, 8), (10, 64)])
def test_identical_inputs_give_one(shape):
    x = rng().normal(size=shape)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_hand_case_one_dimension():
    # one column each: CKA is the squared Pearson correlation of the two columns
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    y = np.array([[2.0], [1.0], [4.0], [3.0]])
    r = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
    assert linear_cka(x, y) == pytest.approx(r**2, abs=1e-12)  # 0.36
    assert linear_cka(x, -x) == pytest.approx(1.0)


def test_orthogonal_columns_give_zero():
    x = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    y = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    assert linear_cka(x, y) == pytest.approx(0.0, abs=1e-15)


def test_invariant_to_rotation_scaling_and_a_constant():
    x = rng(2).normal(size=(30, 12))
    y = x[:, :6] @ rng(3).normal(size=(6, 9)) + 0.3 * rng(4).normal(size=(30, 9))
    base = linear_cka(x, y)
    assert 0.05 < base < 0.99
    assert linear_cka(x @ rotation(12), y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x, y @ rotation(9, 5)) == pytest.approx(base, abs=1e-12)
    assert linear_cka(7.5 * x, y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x, 1e-3 * y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x + rng(6).normal(size=12), y - 40.0) == pytest.approx(base, abs=1e-12)
    assert linear_cka(1e150 * x, 1e-150 * y) == pytest.approx(base, abs=1e-12)  # no overflow


def test_not_invariant_to_anisotropic_scaling():
    x = rng(7).normal(size=(30, 4))
    y = x * np.array([1.0, 1.0, 1.0, 0.01])  # one direction nearly gone
    assert linear_cka(x, y) < 0.9


def test_symmetric_and_in_range():
    x, y = rng(8).normal(size=(25, 5)), rng(9).normal(size=(25, 11))
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x), abs=1e-14)
    assert 0.0 <= linear_cka(x, y) <= 1.0


def by_definition(x: np.ndarray, y: np.ndarray) -> float:
    gx, gy = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(gy.T @ gx) ** 2 / (np.linalg.norm(gx.T @ gx) * np.linalg.norm(gy.T @ gy))


def test_both_computation_paths_agree():
    # N < D uses the (N, N) Gram matrices, N > D the feature ones: same number either way
    x, y = rng(10).normal(size=(12, 40)), rng(11).normal(size=(12, 30))
    gx, gy = x - x.mean(0), y - y.mean(0)
    direct = np.linalg.norm(gy.T @ gx) ** 2 / (
        np.linalg.norm(gx.T @ gx) * np.linalg.norm(gy.T @ gy)
    )
    assert linear_cka(x, y) == pytest.approx(direct, rel=1e-12)
    x, y = x.T[:, :5], y.T[:, :7]  # (40, 5) and (30, 7) -> cut to the same 30 tokens
    x = x[:30]
    gx, gy = x - x.mean(0), y - y.mean(0)
    direct = np.linalg.norm(gy.T @ gx) ** 2 / (
        np.linalg.norm(gx.T @ gx) * np.linalg.norm(gy.T @ gy)
    )
    assert linear_cka(x, y) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("n, d1, d2", [(2000, 8, 16), (400, 32, 32), (200, 4, 64)])
def test_independent_noise_is_near_zero(n, d1, d2):
    # for independent Gaussian X and Y, E‖YᵀX‖²_F ≈ N·D1·D2 and ‖XᵀX‖_F ≈ sqrt(D1·N·(N + D1)),
    # so CKA ≈ sqrt(D1·D2 / ((N + D1)(N + D2))): about 0.0056 for N = 2000, D = 8 and 16
    expected = np.sqrt(d1 * d2 / ((n + d1) * (n + d2)))
    values = [
        linear_cka(rng(s).normal(size=(n, d1)), rng(100 + s).normal(size=(n, d2))) for s in range(5)
    ]
    assert max(values) < 2 * expected
    assert np.mean(values) == pytest.approx(expected, rel=0.35)


def test_float32_and_integer_inputs():
    x = rng(12).normal(size=(20, 6))
    assert linear_cka(x.astype(np.float32), x) == pytest.approx(1.0, abs=1e-6)
    ints = np.arange(12).reshape(6, 2)
    assert linear_cka(ints, ints) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "x, y, words",
    [
        (np.ones((5, 3)), np.eye(5)[:, :3], "x is the same vector for every token"),
        (np.eye(5)[:, :3], np.full((5, 2), 0.1), "y is the same vector for every token"),
        (np.zeros((4, 2)), np.zeros((4, 2)), "no variance"),
        (np.eye(4), np.eye(5), "same tokens: x has 4 rows (tokens), y has 5"),
        (np.ones(4), np.ones((4, 1)), "x must have shape (tokens, dims)"),
        (np.ones((4, 2, 1)), np.ones((4, 1)), "x must have shape (tokens, dims)"),
        (np.ones((1, 3)), np.ones((1, 3)), "at least 2 tokens"),
        (np.ones((3, 0)), np.ones((3, 2)), "at least 2 tokens (rows) and 1 dimension"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), np.eye(2), "x holds NaN or infinite values"),
        (np.eye(3), np.array([[np.inf], [0.0], [1.0]]), "y holds NaN or infinite values"),
        (np.eye(3) > 0, np.eye(3), "x must be an array of real numbers"),
        (np.eye(3), np.eye(3) * 1j, "y must be an array of real numbers"),
        ("text", np.eye(3), "x must be an array of real numbers"),
        ([[1, 2], [3]], np.eye(2), "x must be an array of real numbers"),
    ],
)
def test_bad_input_is_refused_in_words(x, y, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        linear_cka(x, y)
