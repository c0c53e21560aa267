"""Server entry for `streamlit run app/serve.py`: serves app/main.py and warms up at start.

Without this, the first visitor waits for torch to import and the pretrained model to load
(about 2 s). The lifespan hook starts that work in a thread as the server starts, so it overlaps
with the browser downloading the frontend. `streamlit run app/main.py` still works, just colder.
"""

from __future__ import annotations

import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def warm_up() -> None:
    """Import the heavy modules and fill the model and tokenizer caches the pages use."""
    from app import compute

    compute.tokenizer()
    compute.pretrained()
    import plotly.graph_objects  # noqa: F401


@asynccontextmanager
async def lifespan(_app):
    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    yield


app = st.App("main.py", lifespan=lifespan)
