"""encoder.analysis.joint_qk: queries and keys in one space, no query's softmax changed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from encoder.analysis import joint_qk


def softmax_rows(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    s = q @ k.T
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    s=st.integers(1, 20),
    d=st.integers(1, 16),
    shift=st.floats(-5, 5),
    scale=st.floats(0.1, 3),
)
def test_translation_and_scaling_change_no_softmax(seed, s, d, shift, scale):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((s, d)) * scale
    k = rng.standard_normal((s, d)) + shift  # keys far from the queries, as in real heads
    q2, k2 = joint_qk(q, k)
    np.testing.assert_allclose(softmax_rows(q2, k2), softmax_rows(q, k), atol=1e-6)
    lengths_q = np.linalg.norm(q2, axis=1).mean()
    lengths_k = np.linalg.norm(k2, axis=1).mean()
    assert lengths_q == pytest.approx(lengths_k, rel=1e-9)
    # undo the scaling: the translated keys' centroid is the queries' centroid
    c = np.linalg.norm(q2, axis=1).mean() / np.linalg.norm(q, axis=1).mean()
    np.testing.assert_allclose((k2 * c).mean(axis=0), q.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(q2 / c, q, atol=1e-9)


def test_by_hand():
    q = np.array([[1.0, 0.0], [3.0, 0.0]])  # centroid (2, 0), mean length 2
    k = np.array([[0.0, 10.0], [0.0, 14.0]])  # centroid (0, 12)
    q2, k2 = joint_qk(q, k)
    moved = np.array([[2.0, -2.0], [2.0, 2.0]])  # k − (0, 12) + (2, 0): mean length √8
    c = np.sqrt(np.sqrt(8.0) / 2.0)
    np.testing.assert_allclose(q2, q * c)
    np.testing.assert_allclose(k2, moved / c)
    assert q2.shape == (2, 2) and k2.dtype == np.float64


def test_several_keys_per_query_and_float32_in():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((3, 4)).astype(np.float32)
    k = rng.standard_normal((7, 4)).astype(np.float32)
    q2, k2 = joint_qk(q, k)
    assert q2.shape == (3, 4) and k2.shape == (7, 4)
    np.testing.assert_allclose(softmax_rows(q2, k2), softmax_rows(q, k), atol=1e-6)


@pytest.mark.parametrize(
    "q, k, words",
    [
        (np.ones((3, 4)), np.ones((3, 5)), "same d_k"),
        (np.ones(4), np.ones((3, 4)), "shape (queries, d_k)"),
        (np.ones((3, 4)), np.full((3, 4), np.nan), "NaN"),
        (np.zeros((3, 4)), np.ones((3, 4)), "all zero"),
        (np.ones((0, 4)), np.ones((3, 4)), "at least one row"),
        ("q", np.ones((3, 4)), "real numbers"),
    ],
)
def test_bad_input(q, k, words):
    with pytest.raises(ValueError) as err:
        joint_qk(q, k)
    assert words in str(err.value)
