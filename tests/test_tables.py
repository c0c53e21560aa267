"""app.charts.tables: a DataFrame as the attention canvas's light table panel."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from app.charts.tables import table_panel


def test_defaults_show_every_column_numbers_as_they_are():
    frame = pd.DataFrame({"position": np.arange(3), "token": ["[CLS]", "<b>", "[SEP]"]})
    panel = table_panel(frame, file="tokens")
    assert [(c["label"], c["format"]) for c in panel["columns"]] == [
        ("position", "num"),
        ("token", "text"),
    ]
    assert panel["rows"] == [[0, "[CLS]"], [1, "<b>"], [2, "[SEP]"]]  # text as written
    assert panel["pick"] is None and panel["chosen"] == -1 and panel["file"] == "tokens"
    assert isinstance(panel["rows"][0][0], int)  # numpy scalars become JSON numbers
    json.dumps(panel, allow_nan=False)


def test_chosen_columns_formats_and_no_nan():
    frame = pd.DataFrame({"a": [0.5, np.inf], "b": ["x", "y"]})
    panel = table_panel(frame, columns=[("b", "B", "text", "the b"), ("a", "A", "pct", "")])
    assert panel["rows"] == [["x", 0.5], ["y", None]]
    assert panel["columns"][0] == {"label": "B", "format": "text", "help": "the b"}


def test_refusals():
    frame = pd.DataFrame({"a": [1, 2]})
    with pytest.raises(ValueError, match="format"):
        table_panel(frame, columns=[("a", "a", "money", "")])
    with pytest.raises(ValueError, match="pick names 1 rows"):
        table_panel(frame, pick=[[0, 0]])


def test_styles_one_per_cell():
    frame = pd.DataFrame({"0": ["[CLS]", "[CLS]"], "1": ["hi", "[PAD]"]})
    panel = table_panel(frame, styles=[["special", ""], ["special", "pad"]])
    assert panel["styles"][1] == ["special", "pad"]
    with pytest.raises(ValueError, match="one style per cell"):
        table_panel(frame, styles=[["special", ""]])
    with pytest.raises(ValueError, match="must be one of"):
        table_panel(frame, styles=[["red", ""], ["", ""]])
