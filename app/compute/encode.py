"""The Encode page's tables, from one forward pass: tokens, the padded batch, shapes.

Plain pandas out, no streamlit calls: the page styles and draws them, and the lessons show the
same tables (``app/lessons/text_to_tensors.py``).
"""

from __future__ import annotations

import pandas as pd

from app.compute import Forward
from encoder import EncoderConfig
from encoder.summary import group_layers, shape_trace

PAD = "[PAD]"


def token_rows(fwd: Forward, pick: int) -> pd.DataFrame:
    """One sentence's tokens, pieces grouped under their word, then its padding: position,
    token, id, word and kind (special, word, word piece, padding) per row."""
    enc = fwd.encodings[pick]
    rows = []
    for word, idx in enc.words():
        for k, i in enumerate(idx):
            kind = "special" if enc.special[i] else ("word piece" if k else "word")
            rows.append((i, enc.tokens[i], enc.ids[i], word, kind))
    S = fwd.input_ids.shape[1]
    rows += [(p, PAD, int(fwd.input_ids[pick, p]), "", "padding") for p in range(len(enc), S)]
    return pd.DataFrame(rows, columns=["position", "token", "id", "word", "kind"])


def batch_cells(fwd: Forward, view: str) -> pd.DataFrame:
    """Every sentence of the padded batch, one row each: its tokens ("tokens"; padding as
    [PAD]), its input_ids ("ids") or its attention_mask ("mask").

    Rows are the sentences numbered from 1, columns the positions from 0. Shape: (B, S)
    """
    B, S = fwd.input_ids.shape
    if view == "ids":
        cells = fwd.input_ids.tolist()
    elif view == "mask":
        cells = fwd.attention_mask.tolist()
    else:
        cells = [e.tokens + [PAD] * (S - len(e)) for e in fwd.encodings]
    return _grid(cells, B, S)


def special_cells(fwd: Forward) -> pd.DataFrame:
    """True where the padded batch holds a special token ([CLS], [SEP]), labelled as
    ``batch_cells``. Shape: (B, S)"""
    B, S = fwd.input_ids.shape
    return _grid([e.special + [False] * (S - len(e)) for e in fwd.encodings], B, S)


def _grid(cells: list[list], batch: int, seq: int) -> pd.DataFrame:
    return pd.DataFrame(
        cells,
        index=pd.Index([str(i + 1) for i in range(batch)], name="sentence"),
        columns=[str(p) for p in range(seq)],
    )


def shape_table(cfg: EncoderConfig, batch: int, seq: int) -> pd.DataFrame:
    """Every tensor's shape along the forward pass, the identical layers folded into one block:
    stage, shape ("2 × 12 × 384") and what it is."""
    trace = group_layers(shape_trace(cfg, batch, seq), cfg.n_layers)
    return pd.DataFrame(
        {
            "stage": [t.name for t in trace],
            "shape": [" × ".join(map(str, t.shape)) for t in trace],
            "what": [t.note for t in trace],
        }
    )
