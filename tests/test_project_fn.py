"""encoder.analysis.project against references (numpy SVD, scikit-learn PCA and TSNE), and the
page's pure helpers: which tokens are kept, the per-depth statistics, the CSV table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from app.compute import projections as proj
from encoder.analysis import cosine_matrix, project
from encoder.tokenizer import default_tokenizer


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """As the app runs them: OpenMP threads spin against each other on a busy 2-core machine."""
    with threadpool_limits(limits=1):
        yield


def hidden(depths=4, n=9, d=6, seed=0) -> np.ndarray:
    """Depths that differ in mean and spread, like an encoder's. Shape: (depths, n, d)"""
    rng = np.random.default_rng(seed)
    drift = rng.normal(size=(depths, 1, d)) * 3
    return drift + rng.normal(size=(depths, n, d)) * np.linspace(1, 2, depths)[:, None, None]


def same_up_to_sign(a: np.ndarray, b: np.ndarray, axis_of_k: int = -1) -> None:
    """a == b with each output axis possibly flipped as a whole. Shape: (..., k)"""
    flat_a, flat_b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    signs = np.sign((flat_a * flat_b).sum(axis=0))
    np.testing.assert_allclose(flat_a, flat_b * signs, atol=1e-9)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shared_pca_is_one_fit_on_the_stacked_points(k):
    h = hidden()
    coords, ratios = project(h, "pca", k, shared=True)
    stacked = h.reshape(-1, h.shape[-1])
    mean = stacked.mean(axis=0)
    _, _, vt = np.linalg.svd(stacked - mean, full_matrices=False)
    expected = (h - mean) @ vt[:k].T  # the same axes and the same centre for every depth
    same_up_to_sign(coords, expected)
    np.testing.assert_allclose(coords.reshape(-1, k).mean(axis=0), 0, atol=1e-9)
    assert coords.shape == (4, 9, k) and ratios.shape == (4, k)
    # per depth: the share of that depth's own spread (around its own mean) along each axis
    for d in range(4):
        centred = h[d] - h[d].mean(axis=0)
        along = ((centred @ vt[:k].T) ** 2).sum(axis=0)
        np.testing.assert_allclose(ratios[d], along / (centred**2).sum(), atol=1e-9)


def test_shared_pca_matches_scikit_learn():
    h = hidden(depths=3, n=20, d=8)
    coords, _ = project(h, "pca", 2, shared=True)
    ref = PCA(2, svd_solver="full").fit_transform(h.reshape(-1, 8))
    same_up_to_sign(coords.reshape(-1, 2), ref)


def test_per_depth_pca_fits_each_depth_on_its_own():
    h = hidden(depths=5, n=12, d=7)
    coords, ratios = project(h, "pca", 2, shared=False)
    for d in range(5):
        pca = PCA(2, svd_solver="full").fit(h[d])
        same_up_to_sign(coords[d], pca.transform(h[d]))
        np.testing.assert_allclose(ratios[d], pca.explained_variance_ratio_, atol=1e-9)
        np.testing.assert_allclose(coords[d].mean(axis=0), 0, atol=1e-9)  # its own centre
    shared, _ = project(h, "pca", 2, shared=True)
    assert not np.allclose(np.abs(shared), np.abs(coords), atol=1e-3)  # not one fit


def test_per_depth_signs_follow_the_depth_before():
    h = hidden(depths=4, n=10, d=5)
    h[2] = h[1] + 1e-3  # nearly the same points: the picture must not flip
    coords, _ = project(h, "pca", 2, shared=False)
    assert ((coords[2] * coords[1]).sum(axis=0) > 0).all()


@settings(max_examples=25, deadline=None)
@given(
    depths=st.integers(1, 4),
    n=st.integers(2, 8),
    d=st.integers(2, 6),
    k=st.integers(1, 3),
    shared=st.booleans(),
    shift=st.floats(-50, 50),
)
def test_pca_shapes_ranges_and_translation(depths, n, d, k, shared, shift):
    h = hidden(depths, n, d, seed=depths * 100 + n)
    coords, ratios = project(h, "pca", k, shared=shared)
    assert coords.shape == (depths, n, k) and ratios.shape == (depths, k)
    assert np.isfinite(coords).all() and (ratios >= -1e-12).all()
    assert (ratios.sum(axis=1) <= 1 + 1e-9).all()
    moved, _ = project(h + shift, "pca", k, shared=shared)  # PCA centres: a shift changes nothing
    np.testing.assert_allclose(moved, coords, atol=1e-6 * max(1, abs(shift)))


def test_tsne_is_scikit_learns_seeded_tsne():
    h = hidden(depths=3, n=15, d=6)
    coords, ratios = project(h, "tsne", 2, shared=True, seed=3, perplexity=10)
    assert ratios is None and coords.shape == (3, 15, 2)
    ref = TSNE(2, perplexity=10, random_state=3, init="pca", learning_rate="auto")
    np.testing.assert_allclose(coords.reshape(-1, 2), ref.fit_transform(h.reshape(-1, 6)))
    again, _ = project(h, "tsne", 2, shared=True, seed=3, perplexity=10)
    np.testing.assert_array_equal(again, coords)


def test_tsne_refuses_too_few_points_clearly():
    with pytest.raises(ValueError, match="t-SNE needs at least"):
        project(hidden(depths=3, n=3), "tsne", 2, shared=False)  # 3 points per fit
    with pytest.raises(ValueError, match="perplexity"):
        project(hidden(depths=2, n=10), "tsne", 2, shared=True, perplexity=50)
    coords, _ = project(hidden(depths=3, n=3), "tsne", 2, shared=True)  # 9 points: enough
    assert coords.shape == (3, 3, 2)


@pytest.mark.parametrize(
    "bad,match",
    [
        (dict(hidden=np.zeros((3, 4))), "shape"),
        (dict(method="umap"), "method"),
        (dict(k=4), "k"),
        (dict(hidden=np.full((2, 3, 4), np.nan)), "NaN"),
    ],
)
def test_bad_arguments_are_refused(bad, match):
    args = dict(hidden=hidden(2, 3, 4), method="pca", k=2)
    with pytest.raises(ValueError, match=match):
        project(**{**args, **bad})


# ---- the page's helpers ------------------------------------------------------------------


def test_token_budget_keeps_the_same_leading_tokens_of_every_sentence():
    assert proj.token_budget([10, 20], depths=7, max_points=4096) is None
    keep = proj.token_budget([128] * 8, depths=7, max_points=4096)
    assert keep == 73 and 8 * 73 * 7 <= 4096 < 8 * 74 * 7
    keep = proj.token_budget([5, 300], depths=2, max_points=100)  # short sentences keep all
    assert keep == 45 and (5 + 45) * 2 == 100


def test_real_tokens_never_include_padding():
    tok = default_tokenizer()
    batch = tok.encode_batch(["Hi!", "A longer sentence with several words."], max_len=32)
    mask = batch.attention_mask.numpy()
    h = np.random.default_rng(0).normal(size=(3, *mask.shape, 4)).astype(np.float32)
    h[:, mask == 0] = np.nan  # padding positions: drawing any of them would show NaN
    pts = proj.real_tokens(h, mask, batch.encodings)
    assert pts.hidden.shape == (3, int(mask.sum()), 4) and np.isfinite(pts.hidden).all()
    assert pts.tokens[:4] == ["[CLS]", "hi", "!", "[SEP]"] and pts.labels[4] == "2·0 [CLS]"
    np.testing.assert_array_equal(pts.hidden[:, 5], h[:, 1, 1])
    assert pts.words[1] == "hi" and pts.special[0] and pts.keep is None
    capped = proj.real_tokens(h, mask, batch.encodings, keep=2)
    assert capped.tokens == ["[CLS]", "hi", "[CLS]", "a"] and capped.total == int(mask.sum())


def test_depth_profile_is_mean_pairwise_cosine_and_mean_length():
    h = hidden(depths=3, n=5, d=4)
    mean_cos, mean_norm = proj.depth_profile(h)
    for d in range(3):
        sim = cosine_matrix(h[d])
        np.testing.assert_allclose(mean_cos[d], sim[~np.eye(5, dtype=bool)].mean(), atol=1e-9)
        np.testing.assert_allclose(mean_norm[d], np.linalg.norm(h[d], axis=1).mean())
    one, _ = proj.depth_profile(h[:, :1])
    assert np.isnan(one).all()  # one token has no pairs: said as NaN, not a crash


def test_coordinates_table_has_one_row_per_token_and_depth():
    tok = default_tokenizer()
    batch = tok.encode_batch(["river bank", "the bank"], max_len=16)
    h = np.random.default_rng(1).normal(size=(2, *batch.input_ids.shape, 5))
    pts = proj.real_tokens(h, batch.attention_mask.numpy(), batch.encodings)
    coords, _ = project(pts.hidden, "pca", 3)
    table = proj.coordinates_table(pts, coords, "PCA", shared=True)
    assert len(table) == 2 * 8 and list(table.columns[:5]) == [
        "depth",
        "sentence",
        "position",
        "token",
        "word",
    ]
    row = table[(table.depth == 1) & (table.sentence == 2) & (table.position == 2)].iloc[0]
    assert row["token"] == "bank" and row["axes"] == "shared"
    np.testing.assert_allclose([row.x, row.y, row.z], coords[1, 6])


def test_tsne_perplexity_stays_below_a_third_of_the_points():
    assert proj.tsne_perplexity(30, 1000) == 30
    assert proj.tsne_perplexity(30, 31) == 10
    assert proj.duplicate_sentences(["a", "b", "a", "a"]) == [(1, 3), (1, 4)]
