"""encoder.analysis.head_distances and head_map: hand-computed cases, the properties of the
Jensen–Shannon distance, bad input in plain words, and the speed at BERT-base's 144 heads."""

from __future__ import annotations

import inspect
import math
import time
import warnings

import numpy as np
import pytest

from encoder.analysis import head_distances, head_map


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def random_attention(rng, L: int, H: int, S: int, sharp: float = 3.0) -> np.ndarray:
    return softmax(sharp * rng.standard_normal((L, H, S, S)))


def js_bits(p: list[float], q: list[float]) -> float:
    """Jensen–Shannon divergence in bits, written out term by term."""
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    kl = lambda x, y: sum(a * math.log2(a / b) for a, b in zip(x, y, strict=True) if a > 0)  # noqa: E731
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def test_identical_heads_are_at_distance_zero_and_the_matrix_is_a_distance():
    rng = np.random.default_rng(0)
    att = random_attention(rng, 2, 3, 7)
    att[1, 2] = att[0, 1]  # head 5 is a copy of head 1
    d = head_distances([att])
    assert d.shape == (6, 6)
    assert d[1, 5] == pytest.approx(0.0, abs=1e-7) and d[5, 1] == d[1, 5]
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert (d >= 0).all() and (d <= 1).all()
    off = d[~np.eye(6, dtype=bool)]
    assert (off[off > 0] > 1e-3).all()  # different random heads are clearly apart


def test_one_hot_against_uniform_by_hand_with_the_smoothing():
    S, eps = 4, 1e-3
    one_hot = np.zeros((S, S))
    one_hot[:, 0] = 1.0  # every query on the first key
    uniform = np.full((S, S), 1.0 / S)
    att = np.stack([one_hot, uniform])[None]  # (1 layer, 2 heads, S, S)
    p = [(1 - eps) * 1.0 + eps / S] + [eps / S] * (S - 1)  # the smoothed one-hot row
    q = [1.0 / S] * S  # uniform stays uniform
    expected = js_bits(p, q)  # every row is the same, so the mean is one row's
    d = head_distances([att], eps=eps)
    assert d[0, 1] == pytest.approx(expected, abs=1e-6)
    assert 0.5 < expected < 1.0  # near log2-ish bounds: one key against four
    # without smoothing the one-hot's zeros would still give a finite JS; with a tiny eps the
    # distance tends to it
    exact = js_bits([1.0, 0, 0, 0], q)
    assert head_distances([att], eps=1e-7)[0, 1] == pytest.approx(exact, abs=1e-5)


def test_js_in_bits_is_at_most_one_and_reaches_it_for_disjoint_heads():
    S = 6
    a, b = np.zeros((S, S)), np.zeros((S, S))
    a[:, 0], b[:, 1] = 1.0, 1.0  # all weight on different keys
    d = head_distances([np.stack([a, b])[None]], eps=1e-9)
    assert 0.999 < d[0, 1] <= 1.0
    rng = np.random.default_rng(1)
    big = head_distances([random_attention(rng, 3, 4, 9, sharp=30.0)], eps=1e-9)
    assert big.max() <= 1.0 and big.min() >= 0.0


def test_sentences_of_different_lengths_average_over_every_query_row():
    rng = np.random.default_rng(2)
    short, long = random_attention(rng, 2, 2, 3), random_attention(rng, 2, 2, 11)
    both = head_distances([short, long])
    # the mean over rows: each sentence's own mean, weighted by its number of rows
    expected = (3 * head_distances([short]) + 11 * head_distances([long])) / 14
    np.testing.assert_allclose(both, expected, atol=1e-6)
    # heads are numbered layer-major: layer 1, head 0 is index 2
    swapped = long.copy()
    swapped[1, 0], swapped[0, 1] = long[0, 1], long[1, 0]
    d, e = head_distances([long]), head_distances([swapped])
    assert d[1, 2] == pytest.approx(e[2, 1], abs=1e-7) and d[0, 3] == pytest.approx(e[0, 3])


def test_a_one_token_sentence_makes_every_head_alike():
    d = head_distances([np.ones((2, 3, 1, 1))])
    np.testing.assert_array_equal(d, 0.0)
    np.testing.assert_array_equal(head_map(d), 0.0)


@pytest.mark.parametrize(
    "attentions, words",
    [
        (np.ones((2, 2, 3, 3)) / 3, "for a single sentence pass [attentions]"),
        ([], "at least one sentence"),
        ("text", "one (layers, heads, seq, seq) array per sentence"),
        ([np.ones((2, 3, 3)) / 3], "must have shape (layers, heads, seq, seq)"),
        ([np.ones((1, 2, 3, 4)) / 4], "seq the same twice"),
        ([np.ones((2, 2, 3, 3)) / 3, np.ones((2, 3, 3, 3)) / 3], "2 layers × 3 heads"),
        ([np.ones((1, 2, 3, 3)) / 3, np.ones((2, 2, 3, 3)) / 3], "from the same model"),
        ([np.full((1, 1, 2, 2), np.nan)], "NaN"),
        ([np.full((1, 1, 2, 2), 0.7)], "do not sum to 1"),
        ([np.array([[[[1.5, -0.5], [0.5, 0.5]]]])], "negative"),
        ([[[["a"]]]], "real numbers"),
    ],
)
def test_bad_input_is_named_in_plain_words(attentions, words):
    with pytest.raises(ValueError, match=None) as err:
        head_distances(attentions)
    assert words in str(err.value)


@pytest.mark.parametrize("eps", [0, -1, 2, "x", True, float("nan")])
def test_eps_must_be_a_small_positive_number(eps):
    with pytest.raises(ValueError, match="eps"):
        head_distances([np.ones((1, 2, 2, 2)) / 2], eps=eps)


def test_144_heads_of_8_sentences_of_64_tokens_in_well_under_a_second(capsys):
    rng = np.random.default_rng(3)
    sentences = [random_attention(rng, 12, 12, 64) for _ in range(8)]
    head_distances(sentences[:1])  # first-use costs out of the timing
    started = time.perf_counter()
    d = head_distances(sentences)
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nhead_distances: 144 heads x 8 sentences x 64 tokens in {seconds:.3f} s")
    assert d.shape == (144, 144)


def test_head_map_places_alike_heads_together_without_deprecation_warnings():
    rng = np.random.default_rng(4)
    base = random_attention(rng, 1, 3, 8, sharp=4.0)[0]  # three different patterns
    heads = np.stack([base[i % 3] * 0.9 + base[(i + 1) % 3] * 0.0 + 0.1 / 8 for i in range(9)])
    heads = heads / heads.sum(-1, keepdims=True)
    d = head_distances([heads.reshape(3, 3, 8, 8)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's renamed arguments: no FutureWarning
        xy = head_map(d, seed=0)
    assert xy.shape == (9, 2) and np.isfinite(xy).all()
    gap = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    same = np.array([[i % 3 == j % 3 for j in range(9)] for i in range(9)])
    assert gap[same].max() < 1e-3 < gap[~same].min()  # copies on top of each other
    np.testing.assert_array_equal(xy, head_map(d, seed=0))  # seeded: the same picture


def test_head_map_keeps_the_distances_roughly():
    rng = np.random.default_rng(5)
    a, b = random_attention(rng, 1, 2, 12, sharp=3.0)[0]  # two patterns, and mixes of them
    mixes = np.stack([(1 - t) * a + t * b for t in np.linspace(0, 1, 12)])
    d = head_distances([mixes.reshape(2, 6, 12, 12)])
    xy = head_map(d, seed=1)
    drawn = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    iu = np.triu_indices(12, 1)
    assert np.corrcoef(drawn[iu], d[iu])[0, 1] > 0.95


def test_head_map_uses_current_scikit_learn_argument_names():
    from sklearn.manifold import MDS

    names = inspect.signature(MDS).parameters
    assert "metric_mds" in names and "init" in names
    source = inspect.getsource(head_map)
    assert "metric_mds=True" in source and 'metric="precomputed"' in source
    assert 'dissimilarity="' not in source


@pytest.mark.parametrize(
    "distances, words",
    [
        (np.ones((2, 3)), "square"),
        (np.array([[0, 1], [2, 0]]), "symmetric"),
        (np.array([[0, -1], [-1, 0]]), "≥ 0"),
        (np.full((2, 2), np.nan), "NaN"),
        (np.zeros(3), "shape (heads, heads)"),
    ],
)
def test_head_map_bad_input(distances, words):
    with pytest.raises(ValueError) as err:
        head_map(distances)
    assert words in str(err.value)


def test_head_map_of_two_heads_is_their_distance_apart():
    xy = head_map(np.array([[0.0, 0.3], [0.3, 0.0]]))
    assert np.linalg.norm(xy[0] - xy[1]) == pytest.approx(0.3)
