"""Two models side by side: the same sentences through both, and how alike their token vectors
are at every pair of depths (linear CKA, Kornblith et al. 2019), where their tokenizers agree."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app import compute
from app.state import ModelChoice
from encoder.analysis import linear_cka
from encoder.threads import one_blas_thread


@dataclass(frozen=True)
class Similarity:
    """Linear CKA between two models' token vectors, or why it cannot be computed."""

    cka: np.ndarray | None  # (La + 1, Lb + 1): depth of the first model (rows) x the second's
    tokens: int  # real tokens compared (every sentence's, [CLS] and [SEP] included)
    mismatch: str  # "" when the tokenizers agree; else where they first split text differently


def first_difference(a: list[list[str]], b: list[list[str]]) -> str:
    """Where two tokenizations of the same sentences first differ, in words ("" if nowhere)."""
    for s, (ta, tb) in enumerate(zip(a, b, strict=True)):
        if ta == tb:
            continue
        pairs = enumerate(zip(ta, tb, strict=False))
        at = next((i for i, (x, y) in pairs if x != y), min(len(ta), len(tb)))
        shown_a = " ".join(ta[at : at + 3]) or "the end"
        shown_b = " ".join(tb[at : at + 3]) or "the end"
        return f"sentence {s + 1}, token {at}: “{shown_a}” against “{shown_b}”"
    return ""


def cka_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """linear_cka at every pair of depths; NaN where a depth has no variance across the tokens.

    Shape: first (La + 1, N, Da), second (Lb + 1, N, Db) -> (La + 1, Lb + 1)"""
    out = np.full((len(first), len(second)), np.nan)
    for i, x in enumerate(first):
        for j, y in enumerate(second):
            with suppress(ValueError):  # the same vector for every token: CKA is undefined
                out[i, j] = linear_cka(x, y)
    return out


@st.cache_data(show_spinner=False, max_entries=16)  # (13 x 13) floats each
def similarity(first: ModelChoice, second: ModelChoice, sentences: tuple[str, ...]) -> Similarity:
    """Both forward passes (cached, as the pages run them) and CKA over their real tokens."""
    a = compute.forward(first, sentences, False)  # as ui.encode calls it: the same entry
    b = compute.forward(second, sentences, False)
    tokens_a = [e.tokens for e in a.encodings]
    mismatch = first_difference(tokens_a, [e.tokens for e in b.encodings])
    n = sum(len(t) for t in tokens_a)
    if mismatch:
        return Similarity(None, n, mismatch)
    x = a.hidden_states[:, a.attention_mask.astype(bool)]  # (La + 1, N, Da): real tokens only
    y = b.hidden_states[:, b.attention_mask.astype(bool)]
    with one_blas_thread():  # two BLAS threads spin between the small products
        return Similarity(cka_matrix(x, y), n, "")
