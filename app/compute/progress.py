"""What a page says while its computation waits or runs: the waiting message, and a progress
bar with the time left, in a slot the page put where people look (the top).

``app.compute.limiter`` admits the computations and counts their layers; this module draws.
Nothing here is recorded by an enclosing ``st.cache_data`` call, and nothing is drawn once a
rerun or a stop is pending (the next st call would raise and lose the work).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType
from streamlit.runtime.scriptrunner_utils.script_run_context import (
    get_script_run_ctx,
    in_cached_function,
)

_local = threading.local()  # per script thread: where messages go, the running progress


def running() -> Progress | None:
    """The progress this thread's computation reports to, if any."""
    return getattr(_local, "progress", None)


def waiting_text(ahead: int) -> str:
    others = f"{ahead} other computation{'' if ahead == 1 else 's'}"
    return (
        f"Waiting for {others} on this server… It runs a few large computations at a time so "
        "that its memory holds out; yours starts as soon as there is room."
    )


@contextlib.contextmanager
def outside_cache() -> Iterator[None]:
    """Elements drawn here are not recorded by an enclosing st.cache_data call (so a cache hit
    never replays a waiting message or a progress bar)."""
    token = in_cached_function.set(False)
    try:
        yield
    finally:
        in_cached_function.reset(token)


def _may_write() -> bool:
    """True in a script run with no rerun or stop pending. Every st call checks for those and
    raises: a progress bar must not throw away the computation it reports on (the rerun comes
    at the page's next st call, once the work is done and cached)."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return False
    requests = getattr(ctx, "script_requests", None)
    return getattr(requests, "_state", ScriptRequestType.CONTINUE) is ScriptRequestType.CONTINUE


class Slot:
    """Where one computation's messages go: the page's slot (``messages_to``) if it set one,
    else an element made where the script is when the first message comes, and cleared."""

    def __init__(self) -> None:
        self.page = getattr(_local, "slot", None)
        self.own = None
        self.written = False

    def get(self):
        self.written = True
        if self.page is not None:
            return self.page
        if self.own is None:
            self.own = st.empty()
        return self.own

    def clear(self) -> None:
        """Empty the slot if this computation wrote to it."""
        if not self.written or not _may_write():
            return
        self.written = False
        with outside_cache():
            (self.page if self.page is not None else self.own).empty()

    def say_waiting(self, ahead: int) -> None:
        if not _may_write():
            return
        if not ahead:
            self.clear()
            return
        with outside_cache():
            self.get().info(waiting_text(ahead), icon=":material/hourglass_top:")


@contextlib.contextmanager
def messages_to(slot) -> Iterator[None]:
    """Send this thread's waiting messages and progress to ``slot`` (an st.empty the page put
    where people look: the top); each computation clears what it wrote."""
    if slot is None:
        yield
        return
    before = getattr(_local, "slot", None)
    _local.slot = slot
    try:
        yield
    finally:
        _local.slot = before


class Progress:
    """Layers done, weighted by their multiply-adds, of a computation of ``total`` flops; shown
    with an estimate of the time left once it has taken DELAY seconds (then 4 times a second):
    a quick one never flickers past."""

    DELAY = 0.4

    def __init__(self, what: str, total: float, rate: float) -> None:
        self.what, self.total, self.rate = what, max(total, 1.0), rate
        self.done, self.started, self.shown = 0.0, time.perf_counter(), 0.0
        self.slot = Slot()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def step(self, flops: float) -> None:
        self.done += flops
        now = time.perf_counter()
        if now - self.started >= self.DELAY and now - self.shown >= 0.25:
            self.shown = now
            self.show(now - self.started)

    def left(self, elapsed: float) -> float:
        """Seconds left: from this run's own speed once it has one, else from ``rate``."""
        fraction = min(self.done / self.total, 1.0)
        if elapsed > 0.5 and fraction > 0.05:
            return elapsed * (1 - fraction) / fraction
        return (self.total - self.done) / self.rate

    def text(self, elapsed: float) -> str:
        secs = self.left(elapsed)
        eta = "under a second left" if secs < 1 else f"about {secs:.0f} s left"
        return f"{self.what}: {min(self.done / self.total, 1.0):.0%} · {eta}"

    def show(self, elapsed: float) -> None:
        if not _may_write():
            return
        with outside_cache():
            self.slot.get().progress(min(self.done / self.total, 1.0), text=self.text(elapsed))


@contextlib.contextmanager
def progress(what: str, total_flops: float, rate: float) -> Iterator[Progress]:
    """Count the layers run inside the block towards a progress bar (the page's slot, or one
    made where the script is), cleared at the end."""
    work = Progress(what, total_flops, rate)
    before = getattr(_local, "progress", None)
    _local.progress = work
    try:
        yield work
    finally:
        _local.progress = before
        work.slot.clear()
