"""Heads compared with each other, and one head's queries and keys in one space: numpy in,
numpy out. Imported into ``encoder.analysis`` (``encoder.analysis.head_distances`` etc.)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from encoder.arrays import real_array

CHUNK = 32_768  # columns (query row × key) per step of head_distances: temporaries ~20 MB


def _sentences(attentions: object) -> list[np.ndarray]:
    """Each sentence's (L, H, S, S) attention, checked: same model, rows that are softmax rows."""
    if isinstance(attentions, np.ndarray) and attentions.ndim == 4:
        raise ValueError(
            "attentions must be a list with one (layers, heads, seq, seq) array per sentence, "
            f"got one array of shape {attentions.shape}: for a single sentence pass [attentions]"
        )
    if isinstance(attentions, (str, bytes)) or not isinstance(attentions, (Sequence, np.ndarray)):
        raise ValueError(
            "attentions must be a list with one (layers, heads, seq, seq) array per sentence, "
            f"got {type(attentions).__name__}"
        )
    if len(attentions) == 0:
        raise ValueError("attentions is empty: head_distances needs at least one sentence")
    out = []
    for i, raw in enumerate(attentions):
        name = f"sentence {i + 1}'s attention"
        a = real_array(name, raw, "(layers, heads, seq, seq)", 4)
        if a.shape[-1] != a.shape[-2] or 0 in a.shape:
            raise ValueError(
                f"{name} must have shape (layers, heads, seq, seq) with seq the same twice and "
                f"nothing empty, got {tuple(a.shape)}"
            )
        if out and a.shape[:2] != out[0].shape[:2]:
            (L, H), (L1, H1) = a.shape[:2], out[0].shape[:2]
            raise ValueError(
                f"sentence {i + 1} has {L} layers × {H} heads and sentence 1 has {L1} × {H1}: "
                "every sentence's attention must come from the same model"
            )
        if (a < 0).any():
            raise ValueError(f"{name} has negative weights: attention weights are ≥ 0")
        sums = a.sum(axis=-1)
        if np.abs(sums - 1.0).max() > 1e-3:
            worst = sums.flat[np.abs(sums - 1.0).argmax()]
            raise ValueError(
                f"{name} has rows that do not sum to 1 (one sums to {worst:.4f}): "
                "pass softmax weights of real tokens only, in eval mode (dropout rescales rows)"
            )
        out.append(a)
    return out


def head_distances(attentions: Sequence[np.ndarray], eps: float = 1e-3) -> np.ndarray:
    """How differently every pair of heads attends: the Jensen–Shannon divergence in bits between
    their attention rows, averaged over every query row of every sentence (Clark et al. 2019).

    Each row p is smoothed first, p' = (1 − eps)·p + eps / S, S the sentence's tokens. Heads are
    numbered layer-major (index = layer · H + head). Symmetric, 0 on the diagonal, in [0, 1].

    Shape: attentions [(L, H, S_i, S_i) per sentence, real tokens only] -> (L·H, L·H)
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps <= 1:
        raise ValueError(f"eps ({eps!r}) must be a number above 0 and at most 1")
    mats = _sentences(attentions)
    L, H = mats[0].shape[:2]
    n = L * H
    rows = sum(a.shape[-1] for a in mats)  # query rows over every sentence
    # every head's smoothed rows, sentences side by side: (n, Σ S_i²), float32 for speed
    p = np.concatenate(
        [((1.0 - eps) * a + eps / a.shape[-1]).reshape(n, -1).astype(np.float32) for a in mats],
        axis=1,
    )
    # JS(p, q) = ½ Σ p log p + ½ Σ q log q − Σ m log m, m = (p + q) / 2, summed over the rows
    own = np.zeros(n)
    cross = np.zeros((n, n))
    for start in range(0, p.shape[1], CHUNK):
        c = p[:, start : start + CHUNK]  # (n, T)
        own += (c * np.log2(c)).sum(axis=1)  # the same sums as cross's m = p when p = q
        for i in range(n - 1):
            m = c[i] + c[i + 1 :]  # (n − i − 1, T)
            m *= 0.5
            logs = np.log2(m)
            logs *= m
            cross[i, i + 1 :] += logs.sum(axis=1)
    js = 0.5 * (own[:, None] + own[None, :]) - cross  # upper triangle holds the pairs
    upper = np.triu(js, 1) / rows
    d = np.clip(upper + upper.T, 0.0, 1.0)  # float32 rounding: never below 0 or above 1
    np.fill_diagonal(d, 0.0)
    return d


def head_map(distances: np.ndarray, seed: int = 0) -> np.ndarray:
    """Every head as a point in 2-D, near where its attention is alike: metric MDS on the
    precomputed distances (scikit-learn's SMACOF from a classical-MDS start, seeded).

    Shape: distances (n, n) -> (n, 2)
    """
    d = real_array("distances", distances, "(heads, heads)", 2).astype(np.float64)
    if d.shape[0] != d.shape[1] or d.shape[0] == 0:
        raise ValueError(f"distances must be a square (heads, heads) matrix, got {d.shape}")
    if (d < 0).any():
        raise ValueError("distances must be ≥ 0")
    if not np.allclose(d, d.T, atol=1e-9):
        raise ValueError(
            "distances must be symmetric (the distance from a to b is that from b to a)"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed ({seed!r}) must be a whole number from 0 to 2**32 - 1")
    n = len(d)
    if n < 3 or d.max() == 0:  # nothing for MDS to place: one point, two, or all in one spot
        out = np.zeros((n, 2))
        if n == 2:
            out[:, 0] = [-d[0, 1] / 2, d[0, 1] / 2]
        return out
    from sklearn.manifold import MDS  # slow to import: only when asked for

    mds = MDS(
        n_components=2,
        metric_mds=True,  # scikit-learn 1.8 renamed metric= to metric_mds=
        metric="precomputed",  # and dissimilarity= to metric=
        init="classical_mds",
        n_init=1,
        random_state=seed,
        normalized_stress="auto",
    )
    out = mds.fit_transform(d)
    out -= out.mean(axis=0)
    # a fixed orientation: each axis's farthest point on its positive side
    far = np.abs(out).argmax(axis=0)
    return out * np.where(out[far, [0, 1]] < 0, -1.0, 1.0)


def joint_qk(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One head's queries and keys moved into one space where nearness means attention
    (AttentionViz, Yeh et al. 2023), without changing any query's softmax over the keys.

    Keys are translated so their centroid is the queries': k_t = k − mean(k) + mean(q) (adds the
    constant q·(mean(q) − mean(k)) to each query's scores); then q' = c·q and k' = k_t / c with
    c² = mean‖k_t‖ / mean‖q‖ (leaves every product q·k alone), so both have the same mean length.

    Shape: q (Sq, d), k (Sk, d) -> q' (Sq, d), k' (Sk, d)
    """
    q = real_array("q", q, "(queries, d_k)", 2).astype(np.float64)
    k = real_array("k", k, "(keys, d_k)", 2).astype(np.float64)
    if 0 in q.shape or 0 in k.shape:
        raise ValueError(
            f"q and k need at least one row and one dimension, got {q.shape}, {k.shape}"
        )
    if q.shape[1] != k.shape[1]:
        raise ValueError(
            f"q has {q.shape[1]} dimensions and k has {k.shape[1]}: a head's queries and keys "
            "have the same d_k"
        )
    moved = k - k.mean(axis=0) + q.mean(axis=0)
    q_len = np.linalg.norm(q, axis=1).mean()
    k_len = np.linalg.norm(moved, axis=1).mean()
    if q_len == 0 or k_len == 0:
        raise ValueError("the queries (or the moved keys) are all zero vectors: no length to match")
    c = np.sqrt(k_len / q_len)
    return q * c, moved / c
