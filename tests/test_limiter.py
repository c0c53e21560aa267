"""The server-wide limit on heavy computations (issue 17, points 8 and 9): admitted while their
estimated peak bytes fit, in arrival order, small ones beside the giants; a session that has gone
stops waiting and stops computing."""

from __future__ import annotations

import threading
import time
import types

import pytest
import torch
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType

from app.compute import limiter, progress
from app.compute.limiter import Limiter

TIMEOUT = 30  # seconds any one wait in these tests may take before it counts as stuck


class Job:
    """A computation in a thread: waits for admission, notes it, holds until released."""

    def __init__(self, lim: Limiter, peak: int, log: list, name: str, check=None) -> None:
        self.lim, self.peak, self.log, self.name, self.check = lim, peak, log, name, check
        self.admitted, self.release = threading.Event(), threading.Event()
        self.waits: list[int] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        try:
            with self.lim.admit(self.peak, on_wait=self.waits.append, check=self.check):
                self.log.append((self.name, self.lim.in_flight()[1]))
                self.admitted.set()
                assert self.release.wait(TIMEOUT)
        except BaseException as err:  # the test reads it
            self.error = err

    def start(self) -> Job:
        self.thread.start()
        return self

    def finish(self) -> None:
        self.release.set()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


def settle(lim: Limiter, waiting: int) -> None:
    """Until ``waiting`` computations are queued."""
    deadline = time.monotonic() + TIMEOUT
    while lim.waiting() != waiting:
        assert time.monotonic() < deadline, f"{lim.waiting()} waiting, expected {waiting}"
        time.sleep(0.005)


def test_big_ones_run_while_they_fit_in_arrival_order():
    lim, log = Limiter(budget=100, small=10, small_room=20), []
    a = Job(lim, 60, log, "a").start()
    assert a.admitted.wait(TIMEOUT)
    b = Job(lim, 60, log, "b").start()
    settle(lim, 1)
    c = Job(lim, 30, log, "c").start()  # would fit beside a, but b came first
    settle(lim, 2)
    assert not b.admitted.is_set() and not c.admitted.is_set()
    assert b.waits == [1] and c.waits == [2]  # computations ahead of each: running + queued
    a.finish()
    assert b.admitted.wait(TIMEOUT) and c.admitted.wait(TIMEOUT)  # 60 + 30 fit together
    assert c.waits[-1] == 0  # told it is its turn (the page clears its message)
    b.finish()
    c.finish()
    assert [name for name, _ in log] == ["a", "b", "c"]
    assert max(total for _, total in log) <= 100
    assert lim.in_flight() == (0, 0) and lim.waiting() == 0


def test_small_ones_pass_beside_the_giants_in_a_bounded_pool():
    lim, log = Limiter(budget=100, small=10, small_room=20), []
    giant = Job(lim, 100, log, "giant").start()
    assert giant.admitted.wait(TIMEOUT)
    queued = Job(lim, 50, log, "queued").start()
    settle(lim, 1)
    smalls = [Job(lim, 8, log, f"s{i}").start() for i in range(3)]
    assert smalls[0].admitted.wait(TIMEOUT) and smalls[1].admitted.wait(TIMEOUT)
    settle(lim, 2)  # the third small one waits: 8 + 8 + 8 > 20
    assert not smalls[2].admitted.is_set() and smalls[2].waits == [2]
    smalls[0].finish()
    assert smalls[2].admitted.wait(TIMEOUT)
    for job in (giant, queued, *smalls[1:]):
        job.finish()
    assert lim.in_flight() == (0, 0)


def test_one_above_the_budget_runs_alone():
    lim, log = Limiter(budget=100, small=10, small_room=20), []
    first = Job(lim, 40, log, "first").start()
    assert first.admitted.wait(TIMEOUT)
    huge = Job(lim, 500, log, "huge").start()
    settle(lim, 1)
    first.finish()
    assert huge.admitted.wait(TIMEOUT)  # nothing else big runs: it may go
    after = Job(lim, 20, log, "after").start()
    settle(lim, 1)
    assert not after.admitted.is_set()
    huge.finish()
    assert after.admitted.wait(TIMEOUT)
    after.finish()


def test_giving_up_leaves_the_queue():
    lim, log = Limiter(budget=100, small=10, small_room=20), []
    holder = Job(lim, 100, log, "holder").start()
    assert holder.admitted.wait(TIMEOUT)

    def gone() -> None:
        raise StopException()

    quitter = Job(lim, 50, log, "quitter", check=gone).start()
    quitter.thread.join(TIMEOUT)
    assert isinstance(quitter.error, StopException) and lim.waiting() == 0
    holder.finish()
    later = Job(lim, 100, log, "later").start()
    assert later.admitted.wait(TIMEOUT)  # nothing left behind blocks it
    later.finish()
    assert [name for name, _ in log] == ["holder", "later"]


def test_nested_admission_passes():
    lim = Limiter(budget=100, small=10, small_room=20)
    with lim.admit(100), lim.admit(100):  # the outer one covers the inner
        assert lim.in_flight() == (1, 100)
    assert lim.in_flight() == (0, 0)


def test_many_at_once_never_pass_the_bound():
    lim, log = Limiter(budget=100, small=10, small_room=20), []
    peaks = [5, 70, 30, 9, 120, 45, 2, 60, 8, 33, 95, 7, 50, 1, 80, 10, 25, 6]
    jobs = [Job(lim, p, log, str(p)) for p in peaks]
    for job in jobs:
        job.release.set()  # each ends as soon as it is admitted
        job.start()
    for job in jobs:
        job.thread.join(TIMEOUT)
        assert job.error is None
    assert len(log) == len(peaks)
    assert max(total for _, total in log) <= max(100, max(peaks)) + 20


def test_waiting_text_counts_the_others():
    assert progress.waiting_text(2).startswith("Waiting for 2 other computations on this server…")
    assert progress.waiting_text(1).startswith("Waiting for 1 other computation on this server…")


def test_the_biggest_computations_the_app_allows_fit_the_budget():
    """One alone always runs, but the bound in docs/design.md assumes none is above BUDGET."""
    from app import compute
    from app.compute import inside_layer, padding
    from encoder import EncoderConfig

    big = EncoderConfig(d_model=768, n_heads=12, n_layers=12, d_ff=4096, max_len=512)
    heads16 = EncoderConfig(d_model=768, n_heads=16, n_layers=12, d_ff=4096, max_len=512)
    peaks = {
        "forward 8 x 512": compute.forward_peak(big, 8, 512),
        "attention maps at MAX_FLOATS": limiter.forward_bytes(
            768, 12, 4096, 8, 512, compute.MAX_FLOATS
        ),
        "padded view 512": padding.padded_peak(heads16, 512),
        "walkthrough 512": inside_layer.walkthrough_peak(heads16, 512),
        "building the model": compute.model_bytes(big),
    }
    over = {k: v // limiter.MB for k, v in peaks.items() if v > limiter.BUDGET}
    assert not over, f"above the {limiter.BUDGET // limiter.MB} MB budget: {over}"
    # and the default page (all-MiniLM-L6-v2, two short sentences) is small: it never waits
    mini = EncoderConfig(d_model=384, n_heads=12, n_layers=6, d_ff=1536, max_len=512)
    assert compute.forward_peak(mini, 2, 24) <= limiter.SMALL


# ---- a session that has gone -----------------------------------------------------------------


def fake_run(monkeypatch, *, active: bool, state=ScriptRequestType.CONTINUE):
    """A script run context of a session that the runtime says is (not) active."""
    from streamlit.runtime import Runtime

    ctx = types.SimpleNamespace(
        session_id="s1", script_requests=types.SimpleNamespace(_state=state), yield_check=None
    )
    monkeypatch.setattr(limiter, "get_script_run_ctx", lambda suppress_warning=False: ctx)
    monkeypatch.setattr(Runtime, "exists", staticmethod(lambda: True))
    runtime = types.SimpleNamespace(is_active_session=lambda session_id: active)
    monkeypatch.setattr(Runtime, "instance", staticmethod(lambda: runtime))


def test_no_script_run_is_never_gone():
    assert not limiter.session_gone()
    limiter.check_stop()  # nothing raised


@pytest.mark.parametrize(
    "active, state, gone",
    [
        (True, ScriptRequestType.CONTINUE, False),
        (False, ScriptRequestType.CONTINUE, True),  # the tab was closed
        (True, ScriptRequestType.STOP, True),  # the session was told to stop
    ],
)
def test_session_gone(monkeypatch, active, state, gone):
    fake_run(monkeypatch, active=active, state=state)
    assert limiter.session_gone() is gone


def test_a_forward_pass_stops_at_the_next_layer_once_the_session_has_gone(monkeypatch):
    from app.compute import _watched
    from encoder import Encoder, EncoderConfig

    model = _watched(Encoder(EncoderConfig(d_model=16, n_heads=2, n_layers=3, d_ff=32), seed=0))
    layers_run = []
    for layer in model.layers:
        layer.register_forward_hook(lambda *_: layers_run.append(1))
    ids = torch.tensor([[5, 6, 7]])
    model(ids)  # no script run: it runs through
    assert len(layers_run) == 3
    fake_run(monkeypatch, active=False)
    with pytest.raises(StopException):
        model(ids)
    assert len(layers_run) == 3  # not one more layer


def test_waiting_stops_when_the_session_has_gone(monkeypatch):
    lim, log = Limiter(budget=100, small=10, small_room=20), []
    holder = Job(lim, 100, log, "holder").start()
    assert holder.admitted.wait(TIMEOUT)
    fake_run(monkeypatch, active=False)
    with pytest.raises(StopException), lim.admit(50, check=limiter._check_waiting):
        pass
    assert lim.waiting() == 0
    holder.finish()


def test_progress_counts_layers_by_their_work():
    from app.compute import _watched
    from encoder import Encoder, EncoderConfig

    model = _watched(Encoder(EncoderConfig(d_model=16, n_heads=2, n_layers=3, d_ff=32), seed=0))
    ids = torch.tensor([[5, 6, 7, 8]])
    total = sum(limiter.layer_flops(layer, torch.zeros(1, 4, 16)) for layer in model.layers)
    with progress.progress("Testing", total, rate=1e9) as work:
        model(ids)
    assert work.done == pytest.approx(total)
    assert work.text(0.1) == "Testing: 100% · under a second left"


def test_background_lowers_this_threads_priority_and_puts_it_back():
    """A training chunk runs at a lower CPU priority (its own thread's nice value), so other
    sessions' pages get the cores first; only the calling thread changes."""
    import os

    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def chunk():
        tid = threading.get_native_id()
        seen["before"] = os.getpriority(os.PRIO_PROCESS, tid)
        with limiter.background():
            seen["in"] = os.getpriority(os.PRIO_PROCESS, tid)
            seen["main"] = os.getpriority(os.PRIO_PROCESS, os.getpid())
        seen["after"] = os.getpriority(os.PRIO_PROCESS, tid)

    worker = threading.Thread(target=chunk)
    worker.start()
    worker.join()
    assert seen["in"] == min(seen["before"] + limiter.BACKGROUND_NICE, 19)
    assert seen["main"] == main  # the server's other threads keep their priority
    if os.geteuid() == 0:  # putting it back needs the right to raise a priority
        assert seen["after"] == seen["before"]
