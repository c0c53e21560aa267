"""Simulated students for Locust: each opens one page of the app over Streamlit's websocket
protocol (bench/streamlit_ws.py, no browser) and submits a fresh sentence every 20 s.

One machine (what bench/classroom.py runs):

    .venv/bin/locust -f bench/locustfile.py --headless -u 300 -r 10 -t 120s \\
        --host http://127.0.0.1:8080 --csv results/classroom

Several load machines: one master, any number of workers (each a process; one per core):

    .venv/bin/locust -f bench/locustfile.py --master --headless --expect-workers 4 \\
        -u 300 -r 10 -t 120s --host http://SERVER:8080 --csv results/classroom
    .venv/bin/locust -f bench/locustfile.py --worker --master-host MASTER_IP   # on each machine

The master shares the users out among the workers and gathers their statistics (it runs no
users itself); each worker needs this file and the project's venv (`make test` installs both).

Locust's request events: request_type "WS" for a submit (name: the page), "OPEN" for opening
a page (a GET, the websocket, the first run), each with the run's response time and its
exception if it failed; so Locust's statistics, its CSVs and its web UI work as for HTTP.
Set CLASSROOM_LOG to a folder and every process also writes one JSON line per event there
(events-<pid>.jsonl: time, student, page, replica, ms, error) for bench/classroom.py;
CLASSROOM_PAGES replaces the page mix ("Name=path,…"), CLASSROOM_TIMEOUT the 60 s a run may take.
A student whose websocket breaks (its replica died) reconnects at once, as the frontend does,
whether it was waiting for a run or idle between turns:
a new GET and websocket through the load balancer, which sends it to a live replica, and a
run of its page from its link (query string); then it goes on submitting.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

import gevent
from locust import User, constant_pacing, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.streamlit_ws import PAGE_MIX, ProtocolError, StreamlitSession

PAGES = PAGE_MIX  # one student per page in turn
if os.environ.get("CLASSROOM_PAGES"):  # another mix, "Name=path,…" (the blank app: "Blank=")
    PAGES = [tuple(p.split("=", 1)) for p in os.environ["CLASSROOM_PAGES"].split(",")]
TIMEOUT = float(os.environ.get("CLASSROOM_TIMEOUT", "60"))  # s for one run before it fails
RECONNECT = 30.0  # s a student keeps trying to reconnect before it gives up until its next turn
WORDS = (  # noqa: SIM905 - single WordPiece tokens
    "apple river garden window planet yellow silver forest island winter castle doctor cobalt "
    "lantern meadow violin pepper saddle marble velvet hammer kettle glacier orchid falcon walnut "
    "anchor beacon tiger ocean rocket candle mirror bridge copper desert engine feather harbor "
    "jacket ladder magnet needle pencil rabbit spider tunnel wagon"
).split()
# each process (a worker of a distributed run) starts the mix at its own page, so the workers
# together keep it even
_students = itertools.count(random.SystemRandom().randrange(len(PAGES)))
_log = None


def fresh_sentence(rng: random.Random) -> str:
    """A sentence no student has sent before (so no cache answers it)."""
    words = rng.sample(WORDS, rng.randint(4, 9))
    return f"The {' '.join(words)} number {rng.randrange(10**9)}."


def _record(**fields) -> None:
    global _log
    folder = os.environ.get("CLASSROOM_LOG")
    if not folder:
        return
    if _log is None:
        _log = open(Path(folder) / f"events-{os.getpid()}.jsonl", "a", buffering=1)  # noqa: SIM115
    _log.write(json.dumps(fields) + "\n")


class Student(User):
    """One student on one page: opens it, then submits a fresh sentence every 20 s."""

    wait_time = constant_pacing(20)

    def on_start(self) -> None:
        n = next(_students)
        self.student = f"{os.getpid()}-{n}"
        self.label, path = PAGES[n % len(PAGES)]
        self.rng = random.Random(f"{self.student}-{time.time()}")
        self.session = StreamlitSession(self.host, path, timeout=TIMEOUT)
        self.lock = threading.Lock()  # one run at a time: a submit or a reconnect
        with self.lock:
            self._open(deadline=time.monotonic() + RECONNECT)
        self.watcher = gevent.spawn(self._watch)

    def on_stop(self) -> None:
        self.watcher.kill(block=False)
        self.session.close()

    def _watch(self) -> None:
        """Reconnect as soon as the websocket drops, as the frontend does, not at the next turn."""
        while True:
            self.session.dropped.wait()
            self.session.dropped.clear()
            with self.lock:
                if not self.session.connected:
                    self._open(time.monotonic() + RECONNECT)

    @task
    def submit(self) -> None:
        with self.lock:
            if not self.session.connected and not self._open(time.monotonic() + RECONNECT):
                return
            replica = self.session.replica
            start = time.perf_counter()
            try:
                run = self.session.submit(fresh_sentence(self.rng))
            except ProtocolError as err:
                self._fire("WS", start, replica, err)
                self.session.close()
                self._open(time.monotonic() + RECONNECT)
            else:
                self._fire("WS", start, replica, None, seconds=run.seconds, messages=run.messages)

    def _open(self, deadline: float) -> bool:
        """Open the page (again), retrying until the deadline; each attempt is an OPEN event."""
        while True:
            start = time.perf_counter()
            try:
                run = self.session.open()
            except ProtocolError as err:
                self._fire("OPEN", start, self.session.replica, err)
                self.session.close()
                if time.monotonic() > deadline:
                    return False
                time.sleep(1)
                continue
            self._fire("OPEN", start, self.session.replica, None, seconds=run.seconds)
            return True

    def _fire(self, kind, start, replica, error, seconds=None, messages=0) -> None:
        elapsed = seconds if seconds is not None else time.perf_counter() - start
        events.request.fire(
            request_type=kind,
            name=self.label,
            response_time=elapsed * 1000,
            response_length=messages,
            exception=error,
            context={"replica": replica, "student": self.student},
        )
        _record(
            t=time.time(),
            kind=kind,
            student=self.student,
            page=self.label,
            replica=replica,
            ms=round(elapsed * 1000, 1),
            error=str(error) if error else None,
        )
