"""encoder.analysis: rollout, head statistics and projections against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from encoder.analysis import attention_rollout, head_statistics, project


def rows(values) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a / a.sum(axis=-1, keepdims=True)


def test_rollout_by_hand():
    a0 = np.array([[[1.0, 0.0], [0.5, 0.5]]])  # one head
    a1 = np.array([[[0.0, 1.0], [0.0, 1.0]]])
    out = attention_rollout(np.stack([a0, a1]), residual=0.5)
    t0 = 0.5 * a0[0] + 0.5 * np.eye(2)  # rows already sum to 1
    t1 = 0.5 * a1[0] + 0.5 * np.eye(2)
    np.testing.assert_allclose(out[0], t0)
    np.testing.assert_allclose(out[1], t1 @ t0)


def test_rollout_ends():
    rng = np.random.default_rng(0)
    a = rows(rng.random((3, 4, 5, 5)))
    np.testing.assert_allclose(
        attention_rollout(a, residual=1.0), np.broadcast_to(np.eye(5), (3, 5, 5))
    )
    m = a.mean(axis=1)
    np.testing.assert_allclose(attention_rollout(a, residual=0.0)[2], m[2] @ m[1] @ m[0])


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, (2, 3, 4, 4), elements=st.floats(0.01, 1.0)),
    st.floats(0.0, 1.0),
)
def test_rollout_rows_sum_to_one(raw, residual):
    out = attention_rollout(rows(raw), residual)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-9)
    assert (out >= 0).all()


def test_head_statistics_by_hand():
    S = 4
    eye = np.eye(S)
    prev = np.zeros((S, S))
    prev[0, 0] = 1.0
    prev[np.arange(1, S), np.arange(S - 1)] = 1.0
    uniform = np.full((S, S), 1 / S)
    cls = np.zeros((S, S))
    cls[:, 0] = 1.0
    stats = head_statistics(np.array([[eye, prev, uniform, cls]]))  # 1 layer, 4 heads
    np.testing.assert_allclose(stats["entropy"][0], [0, 0, 2, 0])  # log2(4) = 2 bits
    np.testing.assert_allclose(stats["self"][0], [1, 0.25, 0.25, 0.25])
    np.testing.assert_allclose(stats["previous"][0], [0, 1, 0.25, 1 / 3])
    np.testing.assert_allclose(stats["first"][0], [0.25, 0.5, 0.25, 1])
    np.testing.assert_allclose(stats["last"][0], [0.25, 0, 0.25, 0])
    np.testing.assert_allclose(stats["max"][0], [1, 1, 0.25, 1])
    # distance: uniform row i averages |i - j| over j; [CLS] row i is i away
    expected_uniform = np.mean([np.mean(np.abs(i - np.arange(S))) for i in range(S)])
    np.testing.assert_allclose(stats["distance"][0], [0, 0.75, expected_uniform, 1.5])
    assert set(stats) == {"entropy", "distance", "self", "previous", "first", "last", "max"}
    assert all(v.shape == (1, 4) for v in stats.values())


def test_head_statistics_of_one_token_and_bad_shapes():
    stats = head_statistics(np.ones((2, 3, 1, 1)))
    assert stats["previous"].shape == (2, 3) and (stats["previous"] == 0).all()
    assert (stats["self"] == 1).all() and (stats["entropy"] == 0).all()
    for bad in (np.ones((3, 3)), np.ones((1, 2, 3, 4)), np.ones((1, 0, 2, 2))):
        with pytest.raises(ValueError, match="layers, heads, seq, seq"):
            head_statistics(bad)
    with pytest.raises(ValueError, match="residual"):
        attention_rollout(np.ones((1, 1, 2, 2)) / 2, residual=1.5)


# ---- project --------------------------------------------------------------------------------


def stacked_svd(hidden: np.ndarray, k: int):
    flat = hidden.reshape(-1, hidden.shape[-1])
    centred = flat - flat.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return (centred @ vt[:k].T).reshape(*hidden.shape[:2], k)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shared_pca_is_one_fit_on_every_depth(k):
    rng = np.random.default_rng(1)
    hidden = rng.normal(size=(4, 9, 12)) + np.arange(4)[:, None, None]  # depths drift apart
    coords, ratios = project(hidden, k=k)
    ref = stacked_svd(hidden, k)
    assert coords.shape == (4, 9, k) and ratios.shape == (4, k)
    for axis in range(k):  # the same axes up to sign
        sign = np.sign(coords[..., axis].ravel() @ ref[..., axis].ravel())
        np.testing.assert_allclose(coords[..., axis], sign * ref[..., axis], atol=1e-9)
    assert ((ratios >= 0) & (ratios <= 1 + 1e-12)).all()


def test_per_depth_pca_fits_each_depth_and_reports_its_own_ratios():
    rng = np.random.default_rng(2)
    hidden = rng.normal(size=(3, 10, 6)) * np.array([5, 3, 1, 1, 1, 1])
    coords, ratios = project(hidden, shared=False)
    for d in range(3):
        ref = stacked_svd(hidden[d : d + 1], 2)[0]
        for axis in range(2):
            sign = np.sign(coords[d, :, axis] @ ref[:, axis])
            np.testing.assert_allclose(coords[d, :, axis], sign * ref[:, axis], atol=1e-9)
        centred = hidden[d] - hidden[d].mean(axis=0)
        s = np.linalg.svd(centred, compute_uv=False)
        np.testing.assert_allclose(ratios[d], (s**2 / (s**2).sum())[:2], atol=1e-9)
    # neighbouring depths agree in sign: the same tokens stay on the same side
    assert ((coords[1:] * coords[:-1]).sum(axis=1) >= 0).all()


def test_degenerate_inputs_give_zeros_not_nan():
    coords, ratios = project(np.ones((3, 4, 5)))  # every vector the same
    assert np.isfinite(coords).all() and np.isfinite(ratios).all() and (ratios == 0).all()
    coords, ratios = project(np.random.default_rng(0).normal(size=(2, 1, 5)), shared=False, k=3)
    assert coords.shape == (2, 1, 3) and np.isfinite(coords).all()


def test_tsne_is_seeded_and_refuses_too_few_points():
    hidden = np.random.default_rng(3).normal(size=(3, 6, 8))
    a, none = project(hidden, method="tsne", seed=7)
    b, _ = project(hidden, method="tsne", seed=7)
    assert none is None and a.shape == (3, 6, 2)
    np.testing.assert_allclose(a, b)
    with pytest.raises(ValueError, match="t-SNE needs at least 5 points per fit and this has 4"):
        project(hidden[:, :4], method="tsne", shared=False)
    with pytest.raises(ValueError, match="perplexity"):
        project(hidden, method="tsne", perplexity=100)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(hidden=np.ones((2, 3))), "depths, tokens, dims"),
        (dict(hidden=np.ones((2, 0, 3))), "depths, tokens, dims"),
        (dict(hidden=np.ones((2, 3, 4)), method="umap"), "method"),
        (dict(hidden=np.ones((2, 3, 4)), k=4), "k \\(4\\)"),
        (dict(hidden=np.full((2, 3, 4), np.nan)), "NaN"),
    ],
)
def test_project_refuses_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        project(**kwargs)


def test_per_depth_tsne_fits_share_one_spread():
    rng = np.random.default_rng(4)
    hidden = rng.normal(size=(3, 12, 8))
    hidden[0] = hidden[0, :1] + 1e-6 * rng.normal(size=(12, 8))  # near-duplicates at depth 0
    coords, _ = project(hidden, method="tsne", shared=False, seed=0)
    np.testing.assert_allclose(coords.mean(axis=1), 0, atol=1e-6)  # t-SNE works in float32
    radius = np.sqrt((coords**2).sum(axis=-1).mean(axis=1))
    np.testing.assert_allclose(radius, 1.0, atol=1e-6)
