"""A server-wide limit on the heavy computations in flight, sized from a memory budget.

The caches are bounded (tests/test_cache_limits.py), but the work in flight was not: six
sessions running the largest model at once took the server to 10 GB. Every heavy computation
(a forward pass, a page's own experiment) first asks ``admit(peak_bytes)``, its peak estimated
from its shapes (``forward_bytes``). There are two pools:

- big computations are admitted in arrival order while their total fits ``BUDGET``; one alone
  always runs (so one above the budget runs by itself);
- small ones (up to ``SMALL``) have a pool of their own, ``SMALL_ROOM``, so a fresh session's
  default page never waits behind the giants.

Work in flight is then at most max(BUDGET, the biggest computation) + SMALL_ROOM, whatever the
number of sessions. While one waits its page says so ("Waiting for 2 other computations on
this server…", updated); a session whose browser has gone stops waiting, and stops computing:
``layer_hook`` runs before every encoder layer of the app's models and checks. After a big
computation the freed memory goes back to the system (``malloc_trim`` on glibc).

A server with more or less memory sets ENCODER_EXPLORER_WORK_MB (BUDGET, default 750) and
ENCODER_EXPLORER_SMALL_MB (SMALL, default 64) in its environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator

from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType
from streamlit.runtime.scriptrunner_utils.script_run_context import (
    get_script_run_ctx,
)

from app.compute.cache import MB
from app.compute.progress import Slot, running


def _megabytes(name: str, default: int) -> int:
    """A size in MB from the environment (a server with more or less memory), else default."""
    raw = os.environ.get(name, "")
    return int(float(raw) * MB) if raw.replace(".", "", 1).isdigit() else default * MB


# big computations at once: the biggest the app allows fits (tests/test_limiter.py)
BUDGET = _megabytes("ENCODER_EXPLORER_WORK_MB", 750)
# up to this a computation is small (MiniLM on a few sentences is ~10 MB)
SMALL = _megabytes("ENCODER_EXPLORER_SMALL_MB", 64)
SMALL_ROOM = 150 * MB  # small computations at once, beside the big ones
POLL = 0.25  # seconds between checks while waiting


def bound() -> int:
    """Bytes the work in flight may take (while no single computation is above BUDGET)."""
    return BUDGET + SMALL_ROOM


def forward_bytes(
    d_model: int, n_heads: int, d_ff: int, batch: int, seq: int, kept_floats: int = 0
) -> int:
    """Peak bytes of a forward pass: the floats it keeps + one layer's working tensors (q, k, v,
    scores and weights, the feed-forward hidden layer, residuals) + the allocator's slack.

    ``bench/memory.py --case peaks`` measures each admitted computation's peak RSS against it.
    """
    layer = batch * seq * (d_ff + 6 * d_model) + 3 * batch * n_heads * seq * seq
    return 4 * (kept_floats + layer) + 4 * MB


class Limiter:
    """Admit computations while their estimated peak bytes fit; the rest wait in order."""

    def __init__(self, budget: int, small: int, small_room: int) -> None:
        self.budget, self.small, self.small_room = budget, small, small_room
        self._cond = threading.Condition()
        self._running: dict[int, tuple[int, bool]] = {}  # ticket -> (bytes, small)
        self._queue: list[tuple[int, bool]] = []  # waiting tickets, in arrival order
        self._tickets = itertools.count()
        self._local = threading.local()  # per thread: admissions held (nested ones pass)

    def in_flight(self) -> tuple[int, int]:
        """(computations running, bytes they may take)."""
        with self._cond:
            return len(self._running), sum(n for n, _ in self._running.values())

    def big_running(self) -> bool:
        with self._cond:
            return any(not small for _, small in self._running.values())

    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)

    def _pool(self, small: bool) -> list[int]:
        return [n for n, s in self._running.values() if s == small]

    def _fits(self, ticket: int, peak: int, small: bool) -> bool:
        """Under the lock: the first waiter of its pool, and room in the pool (or it is empty)."""
        first = next(t for t, s in self._queue if s == small)
        pool = self._pool(small)
        room = self.small_room if small else self.budget
        return first == ticket and (not pool or sum(pool) + peak <= room)

    def _ahead(self, ticket: int, small: bool) -> int:
        """Under the lock: computations running in its pool and waiting before it."""
        before = itertools.takewhile(lambda e: e[0] != ticket, self._queue)
        return len(self._pool(small)) + sum(1 for _, s in before if s == small)

    @contextlib.contextmanager
    def admit(
        self,
        peak: int,
        *,
        on_wait: Callable[[int], None] | None = None,
        check: Callable[[], None] | None = None,
    ) -> Iterator[None]:
        """Run the block once ``peak`` bytes fit. While waiting, ``on_wait(n)`` is told how many
        computations are ahead (when that changes) and ``check()`` may raise to give up.
        A thread already inside ``admit`` passes at once (its outer admission covers it)."""
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
            return
        small = peak <= self.small
        with self._cond:
            ticket = next(self._tickets)
            self._queue.append((ticket, small))
        shown = None
        try:
            while True:
                with self._cond:
                    if self._fits(ticket, peak, small):
                        self._queue.remove((ticket, small))
                        self._running[ticket] = (peak, small)
                        self._cond.notify_all()  # the next waiter may fit too
                        break
                    ahead = self._ahead(ticket, small)
                if on_wait is not None and ahead != shown:
                    on_wait(ahead)
                    shown = ahead
                if check is not None:
                    check()
                with self._cond:
                    if not self._fits(ticket, peak, small):
                        self._cond.wait(POLL)
        except BaseException:
            with self._cond:
                if (ticket, small) in self._queue:
                    self._queue.remove((ticket, small))
                self._cond.notify_all()
            raise
        self._local.depth = 1
        try:
            if on_wait is not None and shown is not None:
                on_wait(0)
            yield
        finally:
            self._local.depth = 0
            with self._cond:
                del self._running[ticket]
                self._cond.notify_all()
            if not small:
                release_memory()


LIMITER = Limiter(BUDGET, SMALL, SMALL_ROOM)


# ---- a session that has gone ------------------------------------------------------------------


def session_gone() -> bool:
    """True in a script thread whose session has been told to stop or whose browser has gone
    (tab closed): Streamlit 1.67 then asks the script to stop, but only an ``st.`` call sees it."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:  # not a script run (a bare import, a test, a worker thread)
        return False
    requests = getattr(ctx, "script_requests", None)
    if getattr(requests, "_state", None) is ScriptRequestType.STOP:
        return True
    from streamlit.runtime import Runtime

    return Runtime.exists() and not Runtime.instance().is_active_session(ctx.session_id)


def check_stop() -> None:
    """Stop the script run (Streamlit's own StopException) if its session has gone."""
    if session_gone():
        raise StopException()


def _check_waiting() -> None:
    """While waiting: stop for a gone session, and give way to a rerun (new input) at once."""
    check_stop()
    ctx = get_script_run_ctx(suppress_warning=True)
    yield_check = getattr(ctx, "yield_check", None)
    if yield_check is not None:  # nothing is computed yet: a rerun loses no work
        yield_check()  # raises RerunException or StopException when asked


def layer_hook(module, args) -> None:
    """A forward pre-hook on every EncoderLayer of the app's models: stop work whose session
    has gone, and count the layer towards the running computation's progress."""
    check_stop()
    work = running()
    if work is not None and args:
        work.step(layer_flops(module, args[0]))


def layer_flops(layer, x) -> float:
    """Multiply-adds x 2 of one encoder layer on x (B, S, D)."""
    B, S, D = x.shape
    F = layer.ff.linear1.out_features
    return float(B * S * (8 * D * D + 4 * D * F + 4 * S * D))


@contextlib.contextmanager
def admit(peak: int) -> Iterator[None]:
    """LIMITER.admit with the page's waiting message and the stop checks."""
    start_trimmer()
    with LIMITER.admit(peak, on_wait=Slot().say_waiting, check=_check_waiting):
        yield


# ---- memory back to the system ----------------------------------------------------------------

_LIBC = ctypes.util.find_library("c")
_TRIM = getattr(ctypes.CDLL(_LIBC), "malloc_trim", None) if _LIBC else None  # glibc only


TRIM_EVERY = 10.0  # seconds between trims while the server is quiet


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc keeps it in its arenas otherwise)."""
    if _TRIM is not None:
        _TRIM(0)


class _Trimmer(threading.Thread):
    """Trims the heap every TRIM_EVERY seconds while no big computation runs: a page's figures
    and tables (tens of MB of JSON for 512 tokens) are freed after its computation, when its
    script ends, and glibc would keep that memory in its per-thread arenas."""

    def __init__(self) -> None:
        super().__init__(name="malloc-trim", daemon=True)

    def run(self) -> None:
        while True:
            time.sleep(TRIM_EVERY)
            if not LIMITER.big_running():
                release_memory()


_TRIMMER_LOCK = threading.Lock()
_TRIMMERS: list[_Trimmer] = [_Trimmer()]  # started on the first admission


def start_trimmer() -> None:
    with _TRIMMER_LOCK:
        if _TRIM is not None and not _TRIMMERS[0].is_alive():
            with contextlib.suppress(RuntimeError):  # started already
                _TRIMMERS[0].start()


# how much lower a training thread's CPU priority is than the server's: the setting
# ENCODER_EXPLORER_TRAIN_NICE, 0 (the same) to 19; 10 when unset or not a whole number
_NICE = os.environ.get("ENCODER_EXPLORER_TRAIN_NICE", "").strip()
BACKGROUND_NICE = min(int(_NICE), 19) if _NICE.isascii() and _NICE.isdigit() else 10


@contextlib.contextmanager
def background():
    """Run the block with this thread at a lower CPU priority (Linux gives each thread its own
    nice value): while one session trains, the other sessions' pages and the server's own
    threads get the cores first. The priority is put back after, where the system lets it."""
    tid = threading.get_native_id()
    try:
        before = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(before + BACKGROUND_NICE, 19))
    except (OSError, AttributeError):  # not Linux, or not allowed: train at the usual priority
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # raising it back needs CAP_SYS_NICE or RLIMIT_NICE
            os.setpriority(os.PRIO_PROCESS, tid, before)
