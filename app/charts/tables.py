"""Tables as the attention canvas's light table panel (kind "table", plain DOM, sortable by a
click on a header): what a page shows instead of st.dataframe, whose cells repaint ~170 ms after
each run. Pure data, no streamlit; the cells' text is written by the browser as textContent."""

from __future__ import annotations

import math

import pandas as pd

# text as is (on one line, or "prose": wrapped); a number as is ("0.125", "3"), whole, with 2
# decimals, or as a share ("23.3%")
FORMATS = ("text", "prose", "num", "int", "f2", "pct")
STYLES = ("special", "pad")  # a cell's look: a special token (indigo, bold); padding (grey)


def table_panel(
    frame: pd.DataFrame,
    *,
    columns: list[tuple[str, str, str, str]] | None = None,
    pick: list[list[int]] | None = None,
    chosen: int = -1,
    height: int = 0,
    file: str = "table",
    title: str = "",
    styles: list[list[str]] | None = None,
    csv: bool = True,
) -> dict:
    """``frame``'s rows as a table panel.

    ``columns``: (frame column, header, format, help) per shown column, in order; by default
    every column under its own name, numbers as the frame holds them ("num") and the rest as
    text. Numbers sort as numbers. ``pick``: per row, the [layer, head] a click on the row
    opens (None: rows are not clickable). ``chosen``: the row marked (and scrolled to);
    ``height``: the most px before it scrolls (0: all rows). ``styles``: per cell (rows ×
    shown columns) one of STYLES or "" (a special token, padding). ``csv``: a button that
    downloads it. A value that is not finite travels as null (JSON has no NaN) and reads "–".
    """
    if columns is None:
        columns = [
            (name, str(name), "num" if pd.api.types.is_numeric_dtype(kind) else "text", "")
            for name, kind in frame.dtypes.items()
        ]
    if any(f not in FORMATS for _, _, f, _ in columns):
        raise ValueError(f"a column's format must be one of {FORMATS}")
    cells = frame[[key for key, *_ in columns]].to_numpy(dtype=object).tolist()
    rows = [[_json_value(v) for v in row] for row in cells]
    if pick is not None and len(pick) != len(rows):
        raise ValueError(f"pick names {len(pick)} rows, the table has {len(rows)}")
    if styles is not None:
        if [len(r) for r in styles] != [len(columns)] * len(rows):
            raise ValueError("styles must name one style per cell (rows × shown columns)")
        if {c for r in styles for c in r} - {"", *STYLES}:
            raise ValueError(f"a cell's style must be one of {STYLES} or ''")
    return {
        "kind": "table",
        "title": title,
        "columns": [{"label": lab, "format": f, "help": h} for _, lab, f, h in columns],
        "rows": rows,
        "pick": pick,
        "chosen": chosen,
        "height": height,
        "file": file,
        "styles": styles,
        "csv": csv,
    }


def _json_value(v):
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
