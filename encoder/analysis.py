"""Analyses of encoder internals: numpy in, numpy out."""

from __future__ import annotations

import numpy as np

from encoder.arrays import real_array

# heads compared with each other, and one head's queries and keys: in encoder/heads.py
from encoder.heads import head_distances, head_map, joint_qk


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average of each sentence's real-token vectors (padding excluded).

    Shape: hidden (B, S, D), mask (B, S) -> (B, D)
    """
    hidden = real_array("hidden", hidden, "(batch, seq, dims)", 3)
    mask = np.asarray(mask)
    if mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"mask shape {mask.shape} does not match hidden's (batch, seq) {hidden.shape[:2]}"
        )
    if mask.dtype != bool and not (
        np.issubdtype(mask.dtype, np.number) and np.isin(mask, (0, 1)).all()
    ):
        raise ValueError("mask must hold only 1 (real token) and 0 (padding)")
    m = mask.astype(hidden.dtype)[..., None]  # (B, S, 1)
    return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of rows. Shape: (N, D) -> (N, N)"""
    vectors = real_array("vectors", vectors, "(rows, dims)", 2)
    if not np.issubdtype(vectors.dtype, np.floating):
        vectors = vectors.astype(np.float64)
    # scale each row by its largest entry first: squaring entries over ~1e19 overflows float32
    largest = np.abs(vectors).max(axis=-1, keepdims=True) if vectors.size else 1.0
    vectors = vectors / np.maximum(largest, np.finfo(vectors.dtype).tiny)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def _check_attentions(attentions: np.ndarray) -> np.ndarray:
    a = real_array("attentions", attentions, "(layers, heads, seq, seq)", 4).astype(np.float64)
    if a.shape[-1] != a.shape[-2] or 0 in a.shape:
        raise ValueError(
            "attentions must have shape (layers, heads, seq, seq) for one sentence's real tokens, "
            f"got {tuple(a.shape)}"
        )
    return a


def attention_rollout(attentions: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020): how much each token's vector after layer l
    draws, through every layer below, on each input token.

    Per layer Ã_l = (1 − residual)·mean_h A_l + residual·I (the residual connection as attention
    to oneself), rows renormalised to 1; then R_0 = Ã_0 and R_l = Ã_l · R_(l−1). Rows of every
    R_l sum to 1.

    Shape: attentions (L, H, S, S) -> (L, S, S), query rows, input-token columns
    """
    a = _check_attentions(attentions)
    if isinstance(residual, bool) or not isinstance(residual, (int, float)):
        raise ValueError(f"residual ({residual!r}) must be a number between 0 and 1")
    if not 0.0 <= residual <= 1.0:
        raise ValueError(f"residual ({residual!r}) must be between 0 and 1")
    S = a.shape[-1]
    mixed = (1.0 - residual) * a.mean(axis=1) + residual * np.eye(S)  # (L, S, S)
    mixed /= np.maximum(mixed.sum(axis=-1, keepdims=True), 1e-12)
    rollout = np.empty_like(mixed)
    rollout[0] = mixed[0]
    for layer in range(1, len(mixed)):
        rollout[layer] = mixed[layer] @ rollout[layer - 1]
    return rollout


def head_statistics(attentions: np.ndarray) -> dict[str, np.ndarray]:
    """What each head does, as numbers averaged over the S query rows.

    Keys, each an (L, H) array: "entropy" (−Σ_j p log2 p, in bits: 0 = one key, log2 S =
    uniform), "distance" (Σ_j p_ij·|i − j|, in positions), "self" (p_ii), "previous" (p_i,i−1
    over rows i ≥ 1; 0 for a one-token sentence), "first" (p_i,0: [CLS]), "last" (p_i,S−1:
    [SEP]), "max" (max_j p_ij).

    Shape: attentions (L, H, S, S) for one sentence's real tokens
    """
    a = _check_attentions(attentions)
    S = a.shape[-1]
    logs = np.log2(np.where(a > 0, a, 1.0))  # 0 · log 0 = 0
    pos = np.arange(S)
    diag = a[..., pos, pos]  # (L, H, S)
    previous = a[..., pos[1:], pos[:-1]].mean(axis=-1) if S > 1 else np.zeros(a.shape[:2])
    return {
        "entropy": -(a * logs).sum(axis=-1).mean(axis=-1),
        "distance": (a * np.abs(pos[:, None] - pos[None, :])).sum(axis=-1).mean(axis=-1),
        "self": diag.mean(axis=-1),
        "previous": previous,
        "first": a[..., :, 0].mean(axis=-1),
        "last": a[..., :, S - 1].mean(axis=-1),
        "max": a.max(axis=-1).mean(axis=-1),
    }


METHODS = ("pca", "tsne")
TSNE_MIN_POINTS = 5  # fewer points than this give t-SNE no neighbourhoods to keep


def project(
    hidden: np.ndarray,
    method: str = "pca",
    k: int = 2,
    shared: bool = True,
    seed: int = 0,
    *,
    perplexity: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Project token vectors at every depth to k dimensions, for drawing.

    ``shared=True`` fits one projection on all (L+1)·N points, so movement between depths is
    real movement; ``shared=False`` fits each depth on its own, so each depth's own structure
    shows (signs are then aligned with the depth before, for a steadier picture).

    PCA centres the points and flips each axis so its largest loading is positive. It also
    returns the explained-variance ratio per depth: the fraction of that depth's own variance
    (around its own mean) that each axis captures; with ``shared=False`` this is the usual ratio.
    t-SNE (scikit-learn, seeded) returns None there; its perplexity defaults to
    min(30, (n − 1) / 3) for n points per fit, and it needs at least 5 points per fit. Per-depth
    t-SNE fits are centred and scaled to unit RMS radius: t-SNE's scale means nothing, and
    unscaled fits do not share axes.

    Shape: hidden (L+1, N, D) -> coordinates (L+1, N, k), ratios (L+1, k) or None
    """
    h = real_array("hidden", hidden, "(depths, tokens, dims)", 3).astype(np.float64)
    if 0 in h.shape:
        raise ValueError(
            f"hidden must have shape (depths, tokens, dims) with none empty, got {tuple(h.shape)}"
        )
    if method not in METHODS:
        raise ValueError(f"method ({method!r}) must be one of {METHODS}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 3:
        raise ValueError(f"k ({k!r}) must be 1, 2 or 3 dimensions")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed ({seed!r}) must be a whole number from 0 to 2**32 - 1")
    if perplexity is not None and (
        isinstance(perplexity, bool) or not isinstance(perplexity, (int, float))
    ):
        raise ValueError(f"perplexity ({perplexity!r}) must be a number")
    depths, n, _ = h.shape
    groups = [h.reshape(1, depths * n, -1)] if shared else [h[d : d + 1] for d in range(depths)]
    if method == "tsne":
        coords = [_tsne(g.reshape(-1, g.shape[-1]), k, seed, perplexity) for g in groups]
        out = np.concatenate(coords).reshape(depths, n, k)
        if shared:
            return out, None
        # one t-SNE per depth: each has its own arbitrary scale (a depth of near-duplicate
        # points spread to ±1000 next to others at ±10), so give each the same spread
        out = out - out.mean(axis=1, keepdims=True)
        radius = np.sqrt((out**2).sum(axis=-1).mean(axis=1, keepdims=True))[..., None]
        return _align_signs(out / np.maximum(radius, 1e-12)), None
    axes = [_pca_axes(g.reshape(-1, g.shape[-1]), k) for g in groups]
    if shared:
        mean, comps = axes[0]
        out = (h - mean) @ comps.T  # (L+1, N, k)
    else:
        out = np.stack([(h[d] - m) @ c.T for d, (m, c) in enumerate(axes)])
        out = _align_signs(out)
    centred = h - h.mean(axis=1, keepdims=True)  # each depth around its own mean
    total = (centred**2).sum(axis=(1, 2))  # (L+1,)
    along = ((out - out.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)  # (L+1, k)
    ratios = np.divide(along, total[:, None], out=np.zeros_like(along), where=total[:, None] > 0)
    return out, ratios


def _pca_axes(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and the top-k principal axes (k, D), zero rows where the points run out."""
    mean = points.mean(axis=0)
    centred = points - mean
    if len(points) > points.shape[1]:  # many points: eigenvectors of the D x D scatter matrix
        _, vecs = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
        vt = vecs[:, ::-1].T  # (D, D), largest variance first: 9x faster than the SVD here
    else:
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
    comps = np.zeros((k, points.shape[1]))
    comps[: min(k, len(vt))] = vt[:k]
    biggest = np.abs(comps).argmax(axis=1)
    signs = np.sign(comps[np.arange(k), biggest])
    return mean, comps * np.where(signs == 0, 1.0, signs)[:, None]


def _align_signs(coords: np.ndarray) -> np.ndarray:
    """Flip each depth's axes to agree with the depth before (same tokens, same side)."""
    out = coords.copy()
    for d in range(1, len(out)):
        flip = (out[d] * out[d - 1]).sum(axis=0) < 0  # (k,)
        out[d, :, flip] *= -1
    return out


def _tsne(points: np.ndarray, k: int, seed: int, perplexity: float | None) -> np.ndarray:
    n = len(points)
    if n < TSNE_MIN_POINTS:
        raise ValueError(
            f"t-SNE needs at least {TSNE_MIN_POINTS} points per fit and this has {n}: use PCA, "
            "add sentences, or fit all layers together"
        )
    if perplexity is None:
        perplexity = min(30.0, (n - 1) / 3)
    if not 0 < perplexity < n:
        raise ValueError(f"perplexity ({perplexity}) must be above 0 and below the {n} points")
    from sklearn.manifold import TSNE  # slow to import: only when asked for

    from encoder.threads import one_blas_thread

    tsne = TSNE(
        n_components=k,
        perplexity=perplexity,
        random_state=seed,
        init="pca",
        learning_rate="auto",
        method="barnes_hut" if k < 4 else "exact",
    )
    # one thread: OpenMP's default team fights over a shared machine's cores (measured on
    # 2 cores: 118 s instead of 9.6 s for 1,533 points); one controller, not threadpool_limits,
    # which looks the loaded libraries up again on every fit (5-28 ms, 7 fits per layer mode)
    with one_blas_thread():
        return tsne.fit_transform(points)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al. 2019, eq. 5) of two representations of the same N tokens:
    each column centred over the tokens, then ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F · ‖Yᵀ Y‖_F), in [0, 1].

    1 for identical inputs; unchanged by rotating either input, scaling it by a number, or
    adding a constant vector to every row. Computed in float64.

    Shape: x (N, D1), y (N, D2) -> float
    """
    x = _cka_input("x", x)
    y = _cka_input("y", y)
    if len(x) != len(y):
        raise ValueError(
            f"x and y must hold the same tokens: x has {len(x)} rows (tokens), y has {len(y)}"
        )
    n, d1, d2 = len(x), x.shape[1], y.shape[1]
    if n * n * (d1 + d2) < n * (d1 * d2 + d1 * d1 + d2 * d2):  # few tokens: (N, N) Grams
        gx, gy = x @ x.T, y @ y.T  # (N, N) each
        cross, self_x, self_y = (gx * gy).sum(), np.linalg.norm(gx), np.linalg.norm(gy)
    else:  # ‖Yᵀ X‖²_F = <X Xᵀ, Y Yᵀ>_F
        cross = np.linalg.norm(y.T @ x) ** 2  # (D2, D1)
        self_x, self_y = np.linalg.norm(x.T @ x), np.linalg.norm(y.T @ y)
    return float(np.clip(cross / (self_x * self_y), 0.0, 1.0))


def _cka_input(name: str, value: object) -> np.ndarray:
    """Checked, float64, each column centred over the tokens, scaled so its largest entry is 1."""
    a = real_array(name, value, "(tokens, dims)", 2).astype(np.float64)
    if len(a) < 2 or a.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least 2 tokens (rows) and 1 dimension (column), got {a.shape}"
        )
    a = a / max(np.abs(a).max(), np.finfo(np.float64).tiny)  # CKA ignores scale; 1e200² overflows
    centred = a - a.mean(axis=0)
    if np.abs(centred).max() <= 8 * np.finfo(np.float64).eps:
        raise ValueError(
            f"{name} is the same vector for every token: it has no variance across the tokens, "
            "so its similarity to anything (CKA) is undefined"
        )
    return centred


__all__ = [
    "attention_rollout",
    "cosine_matrix",
    "head_distances",
    "head_map",
    "head_statistics",
    "joint_qk",
    "linear_cka",
    "mean_pool",
    "project",
]
