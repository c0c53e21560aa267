"""The Positions page's helpers and the library facts it shows: PCA, the shuffle, rotations."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA

from app.compute import positional as pc
from encoder.positional import relative_rotation


def test_over_512_positions_the_learned_pca_is_a_fast_ring():
    c = pc.learned_vs_fixed(512, 10000.0)
    turn = pc.turn_per_position(c.pca_learned)
    assert 50 < turn < 75  # about one turn every 6 positions, as the page says
    assert pc.bend_per_step(c.pca_fixed) < 5  # the sinusoidal trace is smooth


def test_pca_matches_scikit_learn():
    x = np.random.default_rng(0).normal(size=(40, 9))
    ours, share = pc.pca_2d(x)
    ref = PCA(n_components=2).fit(x)
    np.testing.assert_allclose(np.abs(ours), np.abs(ref.transform(x)), atol=1e-10)
    np.testing.assert_allclose(share, ref.explained_variance_ratio_, atol=1e-12)


# ---- the shuffle itself ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    special=st.lists(st.booleans(), min_size=1, max_size=40),
    seed=st.integers(0, 2**31 - 1),
)
def test_shuffle_moves_only_real_tokens_and_is_seeded(special, seed):
    perm = pc.shuffle(len(special), seed, tuple(special))
    assert sorted(perm) == list(range(len(special)))
    for i, s in enumerate(special):
        if s:
            assert perm[i] == i
    movable = [i for i, s in enumerate(special) if not s]
    if len(movable) >= 2:
        assert any(perm[i] != i for i in movable)  # never the identity
    assert pc.shuffle(len(special), seed, tuple(special)) == perm


def test_rotations_compose_and_invert():
    a, b = relative_rotation(32, 5), relative_rotation(32, 7)
    torch.testing.assert_close(a @ b, relative_rotation(32, 12), atol=1e-6, rtol=0)
    torch.testing.assert_close(relative_rotation(32, -5), a.T, atol=1e-7, rtol=0)


def test_turn_and_bend_on_hand_made_traces():
    angle = np.radians(60) * np.arange(12)
    ring = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    assert abs(pc.turn_per_position(ring) - 60) < 1e-9  # 60° about the centre per step
    assert abs(pc.bend_per_step(ring) - 60) < 1e-9  # a hexagon turns 60° at each corner
    line = np.stack([np.arange(5.0), 2 * np.arange(5.0)], axis=1)
    assert pc.bend_per_step(line) == 0.0


def test_default_pairs_are_fast_middle_and_slow_whatever_the_width():
    for d in (16, 64, 128, 512):
        lam = [2 * np.pi * 10000 ** (j / d) for j in pc.default_pairs(d)]
        np.testing.assert_allclose(lam, [2 * np.pi, 20 * np.pi, 200 * np.pi], rtol=1e-12)
