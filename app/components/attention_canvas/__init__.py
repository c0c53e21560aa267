"""A canvas component (st.components.v2) for attention: the overview of every head, heatmaps,
token lines, bars, scatters (the head map; queries and keys), and a light sortable table (plain
DOM). The panels it draws are plain dicts built by ``app.charts.attention``,
``app.charts.attention_heads`` and ``app.charts.attention_stats``; their numbers travel as JSON,
so tests read them from the element's ``json``.

Clicks come back as trigger values: ``pick`` ({"layer", "head"}) on the overview, on a matrix
panel marked ``pick``, on a scatter's point that has one (the head map) and on a table's row
(when the table has ``pick``); ``query`` (a token index) on the token lines. Pass callbacks to
act on them before the page reruns. Each canvas panel's PNG is drawn again at 3× its size on
screen; a table downloads as CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
NAME = "encoder_explorer.attention_canvas"
# one module, in this order
PARTS = ("panels.js", "lines.js", "scatter.js", "table.js", "canvas.js")

# registered once per process; mounting re-registers it on AppTest's fresh runtimes by itself
_mount = st.components.v2.component(
    NAME,
    js="\n".join((HERE / f).read_text() for f in PARTS),
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
    width: str | int = "stretch",
):
    """Draw ``panels`` side by side (wrapping below ``min_width`` px each); returns the result.

    ``summary`` is text for screen readers (and what the benchmark watches for); ``width``
    as Streamlit's ("content": a table as wide as its columns, beside other elements).
    """
    callbacks = {}
    if on_pick is not None:
        callbacks["on_pick_change"] = on_pick
    if on_query is not None:
        callbacks["on_query_change"] = on_query
    data = {"panels": panels, "summary": summary, "min_width": min_width}
    return _mount(key=key, data=data, width=width, **callbacks)


def trigger(key: str, event: str):
    """The value a click sent (inside the callback), or None."""
    state = st.session_state.get(key)
    return None if state is None else state.get(event)


# Callbacks for the clicks, here rather than in a page: Streamlit keeps a callback until the
# next run, and one defined in a page would keep the page's arrays alive with it (app.state).
def pick_head(key: str, view: str | None = None) -> None:
    """``on_pick`` of canvas ``key``: open the clicked head (and ``view``, if given)."""
    hit = trigger(key, "pick")
    if isinstance(hit, dict):
        st.session_state.update(layer=int(hit["layer"]), head=int(hit["head"]))
        if view:
            st.session_state["view"] = view


def pick_query(key: str, options: list[str], offset: int, target: str = "token") -> None:
    """``on_query`` of canvas ``key``: put the clicked token (``options[offset + index]``) in
    the picker ``target``."""
    hit = trigger(key, "query")
    if isinstance(hit, int) and 0 <= offset + hit < len(options):
        st.session_state[target] = options[offset + hit]
