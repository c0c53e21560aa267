"""What the Inside a layer lesson's steps share: its model and sentence, and the page's
walkthrough (``app.compute.inside_layer.walkthrough``) read for one head, drawn with the page's
charts."""

from __future__ import annotations

import math

import numpy as np

from app import compute
from app.charts import inside_layer as charts
from app.compute import inside_layer as inside
from app.compute.inside_layer import NAMES, STEPS
from app.lessons.base import link_query, scratch
from app.ui import picker_labels

PAGE = "inside-a-layer"
SENTENCE = "The cat sat on the mat because it was tired."
# one head of d_k = 64: d_model 64, 1 head; the sidebar's other defaults (max_len included, so
# the page's link builds this very model)
SCRATCH = scratch(0, d_model=64, n_heads=1, n_layers=2, d_ff=256, max_len=128)
LAYER, HEAD = 0, 0
TOKEN = "cat"  # the token the LayerNorm step follows
PAIRS = 20_000  # random (q, k) pairs of the variance step
HEIGHT = 340  # px: the page's heatmaps are up to 760 tall
ROUNDING = 1e-4  # a row sum this close to 1 is 1 (float32 rounding), as the question says

SHAPES = ("13 × 384", "13 × 32", "384 × 32", "13 × 12")
SUMS = ("1 ± rounding, as with scaling", "More than 1", "Less than 1", "Different in each row")
NORMS = ("Mean 0, std 1", "Mean 0, std 8 (√64)", "Mean 1, std 0", "Unchanged")
WIDTHS = ("384", "768", "1536", "3072")


def walk(choice=SCRATCH, sentences: tuple[str, ...] = (SENTENCE,), row: int = 0):
    """The page's walkthrough of layer LAYER, and the row's real tokens."""
    w = inside.walkthrough(choice, sentences, row, LAYER)
    n = int(w.keep.sum())
    batch = compute.encode_batch(choice, sentences)
    return w, n, batch.encodings[row].tokens


def heatmap(w, key: str, tokens: list[str], n: int, **kwargs):
    """One step's tensor as the page draws it (real tokens' rows), shorter for a lesson."""
    z = w.unscaled_weights[HEAD] if key == "unscaled_weights" else w.steps[key]
    z = z[HEAD] if z.ndim == 3 else z
    fig = charts.tensor_heatmap(z[:n], tokens, tensor=key, title=NAMES[key], **kwargs)
    fig.update_layout(height=HEIGHT)
    return fig


def mean_entropy(w, n: int) -> tuple[float, float]:
    """Mean entropy in bits of the real rows, with the scaling and without (the page's step 5)."""
    return float(w.entropy[HEAD, :n].mean()), float(w.entropy_unscaled[HEAD, :n].mean())


def top_weight(weights: np.ndarray, n: int) -> float:
    """The largest weight of a row, averaged over the real rows (the page's step 5 caption)."""
    return float(weights[HEAD, :n].max(-1).mean())


def spread(gain: np.ndarray, bias: np.ndarray) -> str:
    """LayerNorm's γ and β in words: one value each in a fresh model, a range once trained."""
    if gain.min() == gain.max() and bias.min() == bias.max():
        return f"this untrained model's γ is {gain[0]:g} and β {bias[0]:g} everywhere"
    return (
        f"γ runs from {gain.min():.2f} to {gain.max():.2f}, β from {bias.min():.2f} to "
        f"{bias.max():.2f}"
    )


def sum_kind(sums: np.ndarray) -> str:
    """Which of SUMS describes these row sums (1 within ROUNDING counts as 1)."""
    if (np.abs(sums - 1) < ROUNDING).all():
        return SUMS[0]
    if (sums > 1).all():
        return SUMS[1]
    return SUMS[2] if (sums < 1).all() else SUMS[3]


def root_dk(w) -> float:
    """√d_k of the walkthrough's head: how many times larger the unscaled scores are."""
    return math.sqrt(w.steps["q"].shape[-1])


def dot_variance(d_k: int, pairs: int = PAIRS, seed: int = 0) -> tuple[float, float]:
    """Variance of q·k, then of q·k / √d_k, for random q, k of d_k numbers (mean 0, variance 1)."""
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((2, pairs, d_k))
    dots = (q * k).sum(-1)
    return float(dots.var()), float((dots / math.sqrt(d_k)).var())


def query(choice, text: str = SENTENCE, step: int = 4, **page: object) -> dict[str, str]:
    """The page's link at step ``step`` (0-based), layer LAYER, head HEAD, first sentence."""
    lines = [line for line in text.splitlines() if line.strip()]
    pick = {"sentence": picker_labels(lines)[0]} if len(lines) > 1 else {}
    return link_query(choice, text, **pick, layer=LAYER, head=HEAD, step=STEPS[step], **page)
