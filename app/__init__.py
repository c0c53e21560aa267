"""Encoder Explorer's Streamlit app.

The heavy libraries are imported here, once, by whichever session runs first: every other
session's script thread waits on this package's import lock until they are complete. Imported
lazily instead, two sessions starting together could meet a half-imported pandas (seen with
eight at once: "partially initialized module 'pandas' has no attribute 'Series'").
"""

import numpy  # noqa: F401
import pandas  # noqa: F401
import plotly.graph_objects
import plotly.io  # noqa: F401
import torch  # noqa: F401

import encoder  # noqa: F401
