"""Cached numbers of the Positions page: sinusoidal tables, M_k, sizes, learned tables, order test.

Every function returns numpy or plain floats. The numbers come from ``encoder.positional`` and
``encoder.experiments``; this module only caches them and measures what the page reports.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st
import torch

from app import compute
from app.state import ModelChoice
from encoder.analysis import cosine_matrix
from encoder.experiments import order_test
from encoder.positional import relative_rotation, sinusoidal_table, wavelengths
from encoder.threads import one_blas_thread


@st.cache_data(show_spinner=False, max_entries=16)
def table(max_len: int, d_model: int, base: float) -> np.ndarray:
    """The sinusoidal table PE. Shape: (max_len, d_model)"""
    return sinusoidal_table(max_len, d_model, base).numpy()


def wavelength(d_model: int, base: float) -> np.ndarray:
    """Positions per full cycle of each column. Shape: (d_model,)"""
    return wavelengths(d_model, base).numpy()


FINE_POINTS = 2048  # samples per drawn curve: ≥ 16 per position up to 128 positions


def fine_positions(max_len: int) -> np.ndarray:
    """Positions 0 … max_len − 1 in fine steps (4 to 16 per position), so the fastest wave
    (λ = 2π positions) is drawn with at least 25 samples per cycle. Shape: (M,)"""
    per = int(np.clip(FINE_POINTS // max_len, 4, 16))
    return np.arange((max_len - 1) * per + 1) / per


def continuous_curves(x: np.ndarray, d_model: int, base: float, dims: list[int]) -> np.ndarray:
    """The table's formula between whole positions: column j is sin (even j) or cos (odd j) of
    2π·x / λ_j, λ from ``encoder.positional.wavelengths``; at whole x it is the table's value
    (before the table's rounding to float32). Shape: x (M,) -> (len(dims), M)"""
    lam = wavelengths(d_model, base).numpy()[dims]  # (len(dims),) float64
    angle = 2 * np.pi * x[None, :] / lam[:, None]  # (len(dims), M)
    odd = (np.asarray(dims) % 2 == 1)[:, None]
    return np.where(odd, np.cos(angle), np.sin(angle))


def default_pairs(d_model: int) -> list[int]:
    """The sine columns of a fast, a middle and a slow pair: 0, ~d/4 and ~d/2.

    At base 10000 their wavelengths are 2π, 20π and 200π positions whatever d_model is.
    """
    return [0, 2 * (d_model // 8), 2 * (d_model // 4)]


def pair_dims(sines: list[int], d_model: int) -> list[int]:
    """The columns the Curves view draws for the picked sine columns: each with its cosine
    partner (none after an odd width's last sine), in order, once each."""
    return sorted({j for s in sines for j in (s, s + 1) if j < d_model})


def dot_similarity(pe: np.ndarray) -> np.ndarray:
    """PE·PE between every pair of positions, BLAS in one thread: OpenBLAS's two threads took
    ~8 ms for 128 x 128 on the shared 2-core server, and spun on after it, instead of 0.07 ms
    (the last float32 bit may differ from a threaded product). Shape: (N, D) -> (N, N)"""
    with one_blas_thread():
        return pe @ pe.T


@st.cache_data(show_spinner=False, max_entries=16)
def offset_profiles(length: int, d_model: int, base: float, starts: tuple[int, ...]) -> np.ndarray:
    """PE(p)·PE(p + k) for each start p and k = 0 .. length - 1. Shape: (len(starts), length)"""
    pe = table(max(starts) + length, d_model, base)
    return np.stack([pe[p + np.arange(length)] @ pe[p] for p in starts])


def profile_gap(profiles: np.ndarray) -> float:
    """The largest |difference| between the first two similarity profiles (two starts)."""
    return float(np.abs(profiles[0] - profiles[1]).max())


@dataclass(frozen=True)
class Rotation:
    matrix: np.ndarray  # (D, D) M_k
    worst_error: float  # max over p < max_len and every column of |PE(p+k) - M_k PE(p)|
    positions: int  # how many p were checked


@st.cache_data(show_spinner=False, max_entries=16)
def rotation(d_model: int, offset: int, base: float, max_len: int) -> Rotation:
    """M_k and how well PE(p + k) = M_k · PE(p) holds for every p in 0 .. max_len - 1.

    Raises ValueError (the library's words) for an odd d_model. Measured in float32, as the
    model stores its table."""
    m = relative_rotation(d_model, offset, base)  # (D, D)
    pe = sinusoidal_table(max_len + offset, d_model, base)  # covers p + k for every p < max_len
    moved = pe[:max_len] @ m.T  # row p: M_k · PE(p)
    err = float((pe[offset : offset + max_len] - moved).abs().max())
    return Rotation(m.numpy(), err, max_len)


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two principal components of the rows (centred SVD), and the variance share of each.

    Signs are fixed so each component's largest loading is positive (SVD signs are arbitrary).
    Shape: (N, D) -> (N, 2), (2,)
    """
    x = vectors.astype(np.float64)
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:2]
    axes = axes * np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])[:, None]
    share = s[:2] ** 2 / max(float((s**2).sum()), 1e-30)
    return x @ axes.T, share


def turn_per_position(points: np.ndarray) -> float:
    """Median angle (degrees) a 2-D trace turns about its centre from one position to the next."""
    angle = np.unwrap(np.arctan2(points[:, 1], points[:, 0]))
    return float(np.degrees(np.median(np.abs(np.diff(angle))))) if len(points) > 1 else 0.0


def bend_per_step(points: np.ndarray) -> float:
    """Median change of direction (degrees) between consecutive steps of a 2-D trace: small for
    a smooth curve, large for a zig-zag."""
    steps = np.diff(points, axis=0)
    heading = np.arctan2(steps[:, 1], steps[:, 0])
    turn = np.angle(np.exp(1j * np.diff(heading)))  # wrapped to (-pi, pi]
    return float(np.degrees(np.median(np.abs(turn)))) if len(turn) else 0.0


@st.cache_data(show_spinner=False, max_entries=2)
def learned_positions() -> np.ndarray:
    """all-MiniLM-L6-v2's learned position embeddings. Shape: (512, 384)"""
    return compute.pretrained().pos.embed.weight.detach().numpy().copy()


@dataclass(frozen=True)
class Comparison:
    """The pretrained model's learned positions beside a sinusoidal table of the same shape."""

    learned: np.ndarray  # (N, 384)
    fixed: np.ndarray  # (N, 384)
    cos_learned: np.ndarray  # (N, N) cosine between positions
    cos_fixed: np.ndarray  # (N, N)
    starts: tuple[int, int]  # two start positions of the offset profiles
    profiles: np.ndarray  # (3, K): learned from each start, sinusoidal from the first
    pca_learned: np.ndarray  # (N - 1, 2) positions 1 .. N-1
    pca_fixed: np.ndarray  # (N - 1, 2)
    share_learned: np.ndarray  # (2,) variance share of PC1, PC2
    share_fixed: np.ndarray  # (2,)


@st.cache_data(show_spinner=False, max_entries=8)
def learned_vs_fixed(n: int, base: float) -> Comparison:
    """Tables, cosine similarity, offset profiles and 2-D PCA of the first n positions.

    The PCA leaves position 0 out: the learned vector there ([CLS]'s) is several times longer
    than the others and would take the first component alone."""
    learned = learned_positions()[:n]
    fixed = table(n, learned.shape[1], base)
    cos_l, cos_f = cosine_matrix(learned), cosine_matrix(fixed)
    a, b = max(1, n // 8), n // 2
    k = np.arange(n - b)
    profiles = np.stack([cos_l[a, a + k], cos_l[b, b + k], cos_f[a, a + k]])
    pca_l, share_l = pca_2d(learned[1:])
    pca_f, share_f = pca_2d(fixed[1:])
    return Comparison(
        learned, fixed, cos_l, cos_f, (a, b), profiles, pca_l, pca_f, share_l, share_f
    )


@dataclass(frozen=True)
class Sizes:
    """Euclidean norms of the vectors the model adds at its input."""

    token: np.ndarray  # (vocab,) ||row|| of tok_embed.weight
    position: np.ndarray  # (max_len,) ||position vector||
    scale: float  # what the model multiplies token embeddings by (sqrt(d_model) or 1)
    d_model: int
    positional: str  # "sinusoidal" or "learned"

    @property
    def sqrt_d(self) -> float:
        return float(np.sqrt(self.d_model))


def eval_choice(choice: ModelChoice) -> ModelChoice:
    """The same weights in eval mode: cached models never switch mode, so use the eval one."""
    return replace(choice, train=False)


@st.cache_data(show_spinner=False, max_entries=8)
def sizes(choice: ModelChoice) -> Sizes:
    model = compute.model_for(eval_choice(choice))
    with torch.inference_mode():
        token = torch.linalg.vector_norm(model.tok_embed.weight, dim=1).numpy()
        position = torch.linalg.vector_norm(model.pos(model.cfg.max_len), dim=1).numpy()
    return Sizes(
        token,
        position,
        float(model.embed_scale),
        model.cfg.d_model,
        model.cfg.positional,
    )


def percentiles(values: np.ndarray) -> dict[str, float]:
    """The box a chart draws: 5th, 25th, 50th, 75th and 95th percentiles."""
    p5, q1, median, q3, p95 = np.percentile(values, [5, 25, 50, 75, 95])
    return dict(low=p5, q1=q1, median=median, q3=q3, high=p95)


def movable(special: tuple[bool, ...] | list[bool]) -> int:
    """How many tokens the order test can move: all but the special ones ([CLS], [SEP])."""
    return len(special) - sum(special)


def shuffle(n_tokens: int, seed: int, special: tuple[bool, ...]) -> tuple[int, ...]:
    """A seeded permutation of range(n_tokens) that moves the real tokens and keeps [CLS]/[SEP].

    Not the identity whenever two or more real tokens can move (it redraws until then).
    """
    movable = [i for i in range(n_tokens) if not special[i]]
    rng = random.Random(seed)
    order = movable[:]
    for _ in range(100):
        rng.shuffle(order)
        if order != movable or len(set(movable)) < 2:
            break
    perm = list(range(n_tokens))
    for slot, src in zip(movable, order, strict=True):
        perm[slot] = src
    return tuple(perm)


@st.cache_data(show_spinner=False, max_entries=32)
def order_difference(
    choice: ModelChoice, input_ids: tuple[int, ...], permutation: tuple[int, ...]
) -> tuple[float, float]:
    """encoder.experiments.order_test without and with position vectors (eval mode)."""
    model = compute.model_for(eval_choice(choice))
    ids = torch.tensor([input_ids], dtype=torch.long)  # (1, S)
    perm = list(permutation)
    cfg = model.cfg  # four runs of (1, S), two outputs of (S, D) kept at a time
    peak = compute.limiter.forward_bytes(cfg.d_model, cfg.n_heads, cfg.d_ff, 1, len(perm), 0)
    with compute.limiter.admit(peak + 8 * len(perm) * cfg.d_model):  # room on the server
        without = order_test(model, ids, perm, use_positions=False)
        with_pos = order_test(model, ids, perm, use_positions=True)
    return float(without), float(with_pos)
