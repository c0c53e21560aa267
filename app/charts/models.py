"""Two models side by side: linear CKA between their token vectors at every pair of depths.
Arrays in, a panel of the attention canvas out (a small heatmap with its numbers); no
streamlit."""

from __future__ import annotations

import numpy as np

from .attention import matrix_panel


def depth_names(n_depths: int) -> list[str]:
    """ "0" (the embeddings), then "1" .. "L": the output of each layer."""
    return [str(d) for d in range(n_depths)]


def cka_panel(cka: np.ndarray, first: str, second: str, tokens: int) -> dict:
    """Rows: the first model's depths; columns: the second's; colour and number: linear CKA,
    0 (nothing in common) to 1 (the same up to rotation and scale).

    Shape: (La + 1, Lb + 1), NaN where a depth has no variance (drawn blank, said in a note)"""
    blank = bool(np.isnan(cka).any())
    return matrix_panel(
        cka,
        depth_names(cka.shape[0]),
        depth_names(cka.shape[1]),
        f"Linear CKA over {tokens:,} tokens: {first} (rows) against {second} (columns)",
        axes=(f"{second}: depth (0 = embeddings)", f"{first}: depth"),
        scale="0 to 1",
        arrow="against",
        note="Blank: a depth whose vectors do not vary, so CKA is not defined." if blank else None,
        file="cka",
        values=True,
    )
