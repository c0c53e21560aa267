"""Analyses of encoder internals: numpy in, numpy out."""

from __future__ import annotations

import numpy as np


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average of each sentence's real-token vectors (padding excluded).

    Shape: hidden (B, S, D), mask (B, S) -> (B, D)
    """
    m = mask.astype(hidden.dtype)[..., None]  # (B, S, 1)
    return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of rows. Shape: (N, D) -> (N, N)"""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    return np.clip(unit @ unit.T, -1.0, 1.0)
