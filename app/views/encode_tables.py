"""The Encode page's tables (called by views/encode.py; not a page of its own): the picked
sentence's tokens, the padded batch, the shapes and the parameters, as the attention canvas's
light table panels (plain DOM, sortable by a header, CSV): no data grid to repaint after each
run, and no Arrow tables for the page's first load. UI only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.charts.tables import table_panel
from app.components.attention_canvas import attention_canvas
from app.compute import Forward
from app.compute import encode as ce

TABLE_ROWS = 128  # token rows shown whole; a longer table scrolls inside itself
TALL_PX = 38 + 35 * 24  # the height it scrolls past, ~24 rows
TOKEN_COLUMNS = [
    ("position", "position", "int", "Index in the padded sentence, counted from 0"),
    ("token", "token", "text", "The WordPiece token (## continues the word before it)"),
    ("id", "id", "int", "Its id in the vocabulary: the number the model reads"),
    ("word", "word", "text", "The word it came from"),
    ("kind", "kind", "text", "special ([CLS], [SEP]), word, word piece or padding"),
]


def token_table(fwd: Forward, pick: int) -> None:
    """One sentence's tokens, pieces under their word, then its padding (greyed)."""
    rows = ce.token_rows(fwd, pick)
    looks = {"special": "special", "padding": "pad"}
    styles = [[looks.get(kind, "")] * len(TOKEN_COLUMNS) for kind in rows["kind"]]
    panel = table_panel(
        rows,
        columns=TOKEN_COLUMNS,
        height=0 if len(rows) <= TABLE_ROWS else TALL_PX,
        file=f"tokens_sentence_{pick + 1}",
        styles=styles,
    )
    summary = f"The tokens of sentence {pick + 1}: {len(rows)} rows"
    attention_canvas([panel], key="tokens", summary=summary, width="content")


def batch_table(fwd: Forward, view: str) -> None:
    """Every sentence of the padded batch, one row each: its tokens, ids or mask, special
    tokens in indigo and padding in grey."""
    grid = ce.batch_cells(fwd, view).reset_index()  # "sentence", then the positions 0..S-1
    grid.columns = [str(c) for c in grid.columns]
    special = ce.special_cells(fwd).to_numpy(dtype=bool)
    cells = np.where(special, "special", np.where(fwd.attention_mask == 1, "", "pad"))
    styles = [["", *row] for row in cells.tolist()]
    fmt = "text" if view == "tokens" else "int"
    columns = [("sentence", "sentence", "int", "The sentence's line, counted from 1")]
    columns += [(c, c, fmt, f"Position {c}") for c in grid.columns[1:]]
    grid["sentence"] = grid["sentence"].astype(int)
    panel = table_panel(grid, columns=columns, file=f"batch_{view}", styles=styles)
    summary = f"The padded batch's {view}: {len(grid)} sentences × {len(columns) - 1} positions"
    attention_canvas([panel], key="batch", summary=summary, width="content")


def small_table(frame: pd.DataFrame, key: str, summary: str, prose: str = "") -> None:
    """A small table of text (shapes, parameters), as wide as its columns; column ``prose``
    wraps."""
    columns = [(c, str(c), "prose" if c == prose else "text", "") for c in frame.columns]
    panel = table_panel(frame, columns=columns, file=key, csv=False)
    attention_canvas([panel], key=key, summary=summary, width="content")
