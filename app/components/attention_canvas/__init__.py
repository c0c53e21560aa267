"""A canvas component (st.components.v2) for attention: the overview of every head, heatmaps,
token lines. The panels it draws are plain dicts built by ``app.charts.attention``; their numbers
travel as JSON, so tests read them from the element's ``json``.

Clicks come back as trigger values: ``pick`` ({"layer", "head"}) on the overview, ``query`` (a
token index) on the token lines; pass callbacks to act on them before the page reruns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
NAME = "encoder_explorer.attention_canvas"

# registered once per process; mounting re-registers it on AppTest's fresh runtimes by itself
_mount = st.components.v2.component(
    NAME,
    js=(HERE / "panels.js").read_text() + "\n" + (HERE / "canvas.js").read_text(),  # one module
    css=(HERE / "canvas.css").read_text(),
    isolate_styles=False,  # plain DOM: the bench's MutationObserver and Playwright see inside
)


def attention_canvas(
    panels: list[dict],
    *,
    key: str,
    summary: str = "",
    min_width: int = 420,
    on_pick: Callable[[], None] | None = None,
    on_query: Callable[[], None] | None = None,
):
    """Draw ``panels`` side by side (wrapping below ``min_width`` px each); returns the result.

    ``summary`` is text for screen readers (and what the benchmark watches for).
    """
    callbacks = {}
    if on_pick is not None:
        callbacks["on_pick_change"] = on_pick
    if on_query is not None:
        callbacks["on_query_change"] = on_query
    data = {"panels": panels, "summary": summary, "min_width": min_width}
    return _mount(key=key, data=data, **callbacks)


def trigger(key: str, event: str):
    """The value a click sent (inside the callback), or None."""
    state = st.session_state.get(key)
    return None if state is None else state.get(event)
