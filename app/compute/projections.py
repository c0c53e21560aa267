"""Layer by layer: the real tokens of the batch at every depth, projected to 2-D or 3-D.

Pure numpy helpers (which tokens are kept, per-depth statistics, the CSV) and one cached call
that runs ``encoder.analysis.project`` on the forward pass the page already holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from app import compute
from app.compute.cache import MB
from app.state import ASSETS, ModelChoice
from encoder import analysis
from encoder.threads import one_blas_thread
from encoder.tokenizer import Encoding

# name -> the sentences, the token to trace, the colouring and what to look for (the page's
# preset buttons; the lessons start from them too)
PRESETS: dict[str, dict] = json.loads((ASSETS / "presets.json").read_text())
METHODS = {"PCA": "pca", "t-SNE": "tsne"}  # what the page shows -> encoder.analysis.project's
# Points (tokens x depths) each method gets at most; the rest is dropped, and the page says so.
# bench/projections.py: PCA of 7,168 points takes ~0.4 s, t-SNE of 2,100 points ~8 s, of
# 4,200 ~26 s on this 2-core server.
MAX_POINTS = {"PCA": 4096, "t-SNE": 1536}
MIN_TSNE_FIT = 30  # points per t-SNE fit below which the page shows PCA instead
TSNE_PERPLEXITY = 30  # scikit-learn's default
TSNE_POINTS_PER_SECOND = 280  # measured, for the spinner's estimate


@dataclass(frozen=True)
class Points:
    """The real tokens the page projects: one entry per token, the same at every depth."""

    hidden: np.ndarray  # (L+1, N, D) vectors of the kept real tokens, padding never included
    sentence: np.ndarray  # (N,) 0-based sentence of each token
    position: np.ndarray  # (N,) position of each token in its sentence
    tokens: list[str]  # (N,) token text
    words: list[str]  # (N,) the word each token is a piece of, lower-cased ([CLS] for specials)
    special: list[bool]  # (N,) [CLS], [SEP]
    total: int  # real tokens before the cap
    keep: int | None  # tokens kept per sentence, None when every token is kept

    @property
    def labels(self) -> list[str]:
        """ "2·6 bank": sentence (1-based) · position, then the token; unique per point."""
        return [
            f"{s + 1}·{p} {t}"
            for s, p, t in zip(
                self.sentence.tolist(), self.position.tolist(), self.tokens, strict=True
            )
        ]


def token_budget(lengths: list[int], depths: int, max_points: int) -> int | None:
    """Tokens kept per sentence so that kept tokens x depths <= max_points; None keeps all.

    Every sentence keeps the same number of leading tokens (the largest that fits), so a long
    sentence cannot crowd out the short ones.
    """
    if sum(lengths) * depths <= max_points:
        return None
    keep = 1
    while sum(min(n, keep + 1) for n in lengths) * depths <= max_points:
        keep += 1
    return keep


def real_tokens(
    hidden_states: np.ndarray,
    attention_mask: np.ndarray,
    encodings: list[Encoding],
    keep: int | None = None,
) -> Points:
    """Gather the real tokens (mask 1) of every sentence at every depth, in sentence order.

    Shape: hidden_states (L+1, B, S, D), attention_mask (B, S) -> Points.hidden (L+1, N, D)
    """
    real = attention_mask.astype(bool)  # (B, S)
    if keep is not None:
        real = real & (np.arange(real.shape[1]) < keep)
    rows, cols = np.nonzero(real)  # row-major: sentence 0's tokens first, as hidden[:, real]
    word_of = [_word_per_token(e) for e in encodings]
    return Points(
        hidden=hidden_states[:, real],
        sentence=rows,
        position=cols,
        tokens=[encodings[r].tokens[c] for r, c in zip(rows, cols, strict=True)],
        words=[word_of[r][c] for r, c in zip(rows, cols, strict=True)],
        special=[encodings[r].special[c] for r, c in zip(rows, cols, strict=True)],
        total=int(attention_mask.astype(bool).sum()),
        keep=keep,
    )


def _word_per_token(enc: Encoding) -> list[str]:
    words = [""] * len(enc)
    for word, idx in enc.words():
        for i in idx:
            words[i] = word if enc.special[i] else word.lower()
    return words


def points_for(choice: ModelChoice, sentences: tuple[str, ...], keep: int | None) -> Points:
    fwd = compute.forward(choice, sentences, False)  # ui.encode's call: a cache hit
    return real_tokens(fwd.hidden_states, fwd.attention_mask, fwd.encodings, keep)


def capped_points(
    choice: ModelChoice, sentences: tuple[str, ...], method: str, fwd: compute.Forward | None = None
) -> Points:
    """The real tokens ``method`` draws quickly: every sentence's first ``token_budget``
    tokens at every depth (``Points.keep``; None when all fit).

    ``fwd``: the forward pass the page already holds (ui.encode's); without it, the same
    cache entry (called as ui.encode calls it: see compute.forward)."""
    if fwd is None:
        fwd = compute.forward(choice, sentences, False)
    lengths = fwd.attention_mask.sum(axis=1).astype(int).tolist()
    keep = token_budget(lengths, fwd.config.n_layers + 1, MAX_POINTS[method])
    return real_tokens(fwd.hidden_states, fwd.attention_mask, fwd.encodings, keep)


@st.cache_data(show_spinner=False, max_entries=24)
def projection(
    choice: ModelChoice,
    sentences: tuple[str, ...],
    keep: int | None,
    method: str,
    k: int,
    shared: bool,
    seed: int = 0,
    perplexity: float | None = None,
    _hidden: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """encoder.analysis.project on the kept real tokens; raises its ValueError unchanged.
    ``_hidden``: those tokens' vectors if the caller holds them (capped_points(...).hidden),
    not hashed: they follow from the other arguments.

    Shape: -> coordinates (L+1, N, k), explained-variance ratios (L+1, k) or None (t-SNE)
    """
    hidden = points_for(choice, sentences, keep).hidden if _hidden is None else _hidden
    extra = {"perplexity": perplexity} if METHODS[method] == "tsne" else {}
    # one thread, as for the forward pass: on a shared 2-core server, OpenMP's spinning threads
    # made a 45-point t-SNE take 5-19 s instead of 0.3 s (bench/projections.py)
    # room on the server: float64 copies of the points, a D x D scatter matrix
    peak = 24 * hidden.size + 8 * hidden.shape[-1] ** 2 + 4 * MB
    with compute.limiter.admit(peak), one_blas_thread():
        return analysis.project(hidden, METHODS[method], k, shared, seed, **extra)


def fit_size(n_tokens: int, depths: int, shared: bool) -> int:
    """Points in one fit: every depth at once (shared axes) or one depth's tokens."""
    return n_tokens * depths if shared else n_tokens


def tsne_perplexity(asked: float, fit_points: int) -> float:
    """The perplexity t-SNE gets: the one asked for, kept below a third of a fit's points."""
    return float(min(asked, (fit_points - 1) / 3))


def tsne_seconds(points: int) -> float:
    return 1.0 + points / TSNE_POINTS_PER_SECOND


def cosine(vectors: np.ndarray) -> np.ndarray:
    """analysis.cosine_matrix with BLAS in one thread, as the projection: on the shared 2-core
    server OpenBLAS's two threads took 16-40 ms for 130 tokens' matrix instead of 0.2 ms (the
    last float32 bit may differ from a threaded product: at most 7e-8 at 130 tokens, none at
    28). Shape: (N, D) -> (N, N)"""
    with one_blas_thread():
        return analysis.cosine_matrix(vectors)


def depth_profile(hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean cosine over all pairs of distinct tokens, and mean vector length, at each depth.

    Shape: hidden (L+1, N, D) -> (L+1,), (L+1,). One token has no pairs: its cosine is NaN.
    """
    n = hidden.shape[1]
    pairs = n * (n - 1)
    sims = [cosine(h) for h in hidden]  # (N, N) per depth
    cos = np.array([m.sum() - np.trace(m) for m in sims])
    mean_cos = cos / pairs if pairs else np.full(len(hidden), np.nan)
    return mean_cos, np.linalg.norm(hidden, axis=-1).mean(axis=-1)


def coordinates_table(
    points: Points, coords: np.ndarray, method: str, shared: bool
) -> pd.DataFrame:
    """One row per token per depth: who it is, where it sits. Shape: coords (L+1, N, k)"""
    depths, n, k = coords.shape
    frame = pd.DataFrame(
        {
            "depth": np.repeat(np.arange(depths), n),
            "sentence": np.tile(points.sentence + 1, depths),
            "position": np.tile(points.position, depths),
            "token": points.tokens * depths,
            "word": points.words * depths,
        }
    )
    for axis, name in enumerate("xyz"[:k]):
        frame[name] = coords[:, :, axis].reshape(-1)
    frame["method"] = method
    frame["axes"] = "shared" if shared else "per layer"
    return frame


def duplicate_sentences(sentences: list[str]) -> list[tuple[int, int]]:
    """Pairs (i, j), 1-based, of sentences with the same text."""
    first: dict[str, int] = {}
    pairs = []
    for i, s in enumerate(sentences, start=1):
        if s in first:
            pairs.append((first[s], i))
        else:
            first[s] = i
    return pairs
