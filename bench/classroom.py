"""A classroom of 300 on N replicas behind HAProxy, measured with Locust (no browsers).

Run: .venv/bin/python bench/classroom.py [--replicas 1 2 4] [--users 300] [--duration 120]
     [--spawn-rate 10] [--quick] [--fault | --no-fault] [--no-reference]

For each replica count it starts the stack (deploy/stack.py: Redis, N app servers, HAProxy),
runs Locust headless against the load balancer (bench/locustfile.py: each simulated student
opens one page of the mix Encode, Attention, Positions, Padding, Lessons and submits a fresh
sentence every 20 s over Streamlit's websocket protocol) and prints: submits/s served, p50 and
p95 submit-to-finished, errors, sessions per replica (the X-Replica each student got), the
replicas' CPU-seconds per script run (psutil, the app server processes only; a run is a submit
or a page's first run) and how busy the machine was (the app's share, and everyone's: the
machine may be shared). Figures are taken once every student has joined and had a first turn
(users / spawn rate + 20 s); errors count the whole run.

The fault run: 2 replicas, r1 killed (SIGKILL) a third into the steady state. It reports the
submits that failed and the reconnect attempts refused, from the first failure to the last,
whether any student of r2 saw an error, and how many of r1's students reconnected through the
load balancer and went on submitting.

The reference, run side by side: the same students against bench/blank_app.py (a text box
echoed back) on one app server. Its CPU per run is Streamlit's own floor (protocol, session,
rerun) on this machine; our CPU per run over it is what the app's work costs.

Locust runs on this machine too and takes cores from the servers (its CPU-seconds are printed);
bench/locustfile.py says how to run it distributed from other machines. Logs, Locust's CSVs and
one JSON line per event go to --out (test-artifacts/classroom).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
BLANK = ROOT / "bench" / "blank_app.py"
PACE = 20.0  # s between one student's submits (bench/locustfile.py's constant_pacing)


@dataclass
class Result:
    label: str
    users: int
    window: float = 0.0  # s of steady state measured (after the ramp)
    submits: int = 0  # submits that finished in the window
    opens: int = 0  # page opens (a session's first run) that finished in the window
    p50: float = float("nan")  # s, submit -> script_finished
    p95: float = float("nan")
    failed_submits: int = 0  # the whole run
    failed_opens: int = 0
    sessions: Counter = field(default_factory=Counter)  # replica -> students on it at the end
    cpu: float | None = None  # server CPU-seconds in the window
    load_cpu: float = 0.0  # Locust's CPU-seconds, the whole run
    busy: float = 0.0  # the whole machine's CPU-seconds in the window (other users' work too)
    events: list[dict] = field(default_factory=list)

    @property
    def served(self) -> float:
        return self.submits / self.window if self.window else 0.0

    @property
    def cpu_per_run(self) -> float | None:
        """Server CPU-seconds per script run (a submit, or a page's first run) in the window."""
        runs = self.submits + self.opens
        return self.cpu / runs if self.cpu is not None and runs else None


def cpu_seconds(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


def machine_busy() -> float:
    """CPU-seconds every process on this machine has used since boot (ours and others')."""
    import psutil

    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def run_load(url, pids, args, out: Path, label: str, pages: str = "", fault=None) -> Result:
    """Locust headless against url; fault(t) is called once, a third into the window."""
    folder = out / label
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("events-*.jsonl"):
        old.unlink()
    env = {**os.environ, "CLASSROOM_LOG": str(folder)}
    if pages:
        env["CLASSROOM_PAGES"] = pages
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"]
    cmd += ["-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.duration}s"]
    cmd += ["--host", url, "--csv", str(folder / "locust"), "--loglevel", "WARNING"]
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    # every student has joined and had a first turn: Locust takes ~3 s to start
    ramp_end = start + 3 + args.users / args.spawn_rate + PACE
    with open(folder / "locust.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(proc, ramp_end)
            cpu0, busy0 = cpu_seconds(pids), machine_busy()
            if fault:
                wait_until(proc, ramp_end + (start + args.duration - ramp_end) / 3)
                fault(time.time())
            proc.wait(args.duration + 120)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    end = time.time()
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    events = []
    for path in folder.glob("events-*.jsonl"):
        events += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    events.sort(key=lambda e: e["t"])
    res = Result(label, args.users, window=max(0.0, end - ramp_end), events=events)
    res.load_cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    res.cpu = None if fault else cpu_seconds(pids) - cpu0
    res.busy = machine_busy() - busy0
    ok = [e["ms"] / 1000 for e in events if e["kind"] == "WS" and not e["error"]]
    steady = [
        e["ms"] / 1000
        for e in events
        if e["kind"] == "WS" and not e["error"] and e["t"] >= ramp_end
    ]
    res.submits = len(steady)
    res.opens = sum(
        1 for e in events if e["kind"] == "OPEN" and not e["error"] and e["t"] >= ramp_end
    )
    times = steady or ok
    if len(times) >= 2:
        res.p50 = statistics.median(times)
        res.p95 = statistics.quantiles(times, n=20)[-1]
    res.failed_submits = sum(1 for e in events if e["kind"] == "WS" and e["error"])
    res.failed_opens = sum(1 for e in events if e["kind"] == "OPEN" and e["error"])
    opened = [e for e in events if e["kind"] == "OPEN" and not e["error"]]
    res.sessions = Counter({e["student"]: e["replica"] for e in opened}.values())
    if proc.returncode not in (0, 1):  # 1: some requests failed, which the figures show
        raise RuntimeError(f"locust exited with {proc.returncode}; see {folder / 'locust.log'}")
    return res


def wait_until(proc: subprocess.Popen, when: float) -> None:
    while time.time() < when and proc.poll() is None:
        time.sleep(0.2)


def row(res: Result, replicas: int | str) -> str:
    spread = " ".join(f"{k or '-'}:{v}" for k, v in sorted(res.sessions.items()))
    outside = res.users - sum(res.sessions.values())
    if outside > 0:
        spread += f" ({outside} never got in)"
    cps = res.cpu_per_run
    cores = (os.cpu_count() or 1) * res.window or 1.0
    mine, busy = 100 * (res.cpu or 0.0) / cores, 100 * res.busy / cores
    return (
        f"{replicas!s:>8} {res.users:>6} {res.users / PACE:>8.1f} {res.served:>8.1f} "
        f"{res.p50:>6.2f} {res.p95:>6.2f} {res.failed_submits:>5}/{res.failed_opens:<4} "
        f"{'-' if cps is None else f'{cps:.3f}':>8} {res.load_cpu:>7.0f} {mine:>4.0f}/{busy:<4.0f} "
        f"{spread}"
    )


HEADER = (
    "replicas  users  offer/s  served/s  p50 s  p95 s  errors    CPU-s/   Locust  CPU %"
    "     sessions\n"
    "                                                 sub/open  run      CPU-s   app/all"
    "   per replica"
)


def fault_report(res: Result, killed: str, t_kill: float) -> tuple[list[str], str]:
    before = {}
    for e in res.events:
        if e["kind"] == "OPEN" and not e["error"] and e["t"] < t_kill:
            before[e["student"]] = e["replica"]
    victims = {s for s, r in before.items() if r == killed}
    fails = [e for e in res.events if e["error"]]
    failed_submits = [e for e in fails if e["kind"] == "WS"]
    others = [e for e in fails if e["student"] not in victims]
    pending = victims - {
        e["student"]
        for e in res.events
        if e["kind"] == "OPEN" and not e["error"] and e["t"] > t_kill
    }
    went_on = {
        e["student"]
        for e in res.events
        if e["kind"] == "WS" and not e["error"] and e["t"] > t_kill and e["student"] in victims
    }
    landed = Counter(
        e["replica"]
        for e in res.events
        if e["kind"] == "OPEN" and not e["error"] and e["t"] > t_kill and e["student"] in victims
    )
    span = (fails[-1]["t"] - fails[0]["t"]) if fails else 0.0
    first = (fails[0]["t"] - t_kill) if fails else 0.0
    lines = [
        f"killed {killed} at {t_kill - res.events[0]['t']:.0f} s into the run; "
        f"{len(victims)} students were on it, {len(before) - len(victims)} elsewhere",
        f"failed submits: {len(failed_submits)} (failed reconnects: {res.failed_opens}); "
        f"first failure {first:+.1f} s after the kill, last {first + span:+.1f} s "
        f"(failures lasted {span:.1f} s)",
        f"errors seen by students of the other replica: {len(others)}",
        f"{killed}'s students reconnected to {dict(landed) or 'nothing'}; "
        f"{len(went_on)} of {len(victims)} submitted again after the kill; "
        f"{len(pending)} were still reconnecting when the run ended",
    ]
    summary = (
        f"fault: {len(failed_submits)} submits failed over {span:.1f} s, "
        f"{len(others)} errors elsewhere, {len(went_on)}/{len(victims)} went on"
    )
    return lines, summary


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--duration", type=int, default=120, help="seconds of each Locust run")
    p.add_argument("--spawn-rate", type=float, default=10, help="students joining per second")
    p.add_argument("--quick", action="store_true", help="a 1-minute check: 2 replicas, 20 users")
    p.add_argument("--fault", action="store_true", help="only the fault run")
    p.add_argument("--no-fault", action="store_true", help="skip the fault run")
    p.add_argument("--no-reference", action="store_true", help="skip the blank-app reference")
    p.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "classroom")
    args = p.parse_args(argv)
    if args.quick:
        args.replicas, args.users, args.duration, args.spawn_rate = [2], 20, 50, 10
        args.no_fault = args.no_reference = True
    if args.fault and args.no_fault:
        p.error("--fault and --no-fault contradict each other")
    if any(not 1 <= n <= 16 for n in args.replicas):
        p.error(f"--replicas {args.replicas}: each must be between 1 and 16")
    if args.users < 1 or args.duration < 10 or args.spawn_rate <= 0:
        p.error("--users must be at least 1, --duration at least 10 s, --spawn-rate above 0")
    if args.users / args.spawn_rate + PACE + 10 >= args.duration:
        p.error(
            f"--duration {args.duration} s leaves no steady state after {args.users} students "
            f"join at {args.spawn_rate:g}/s and take a first turn of {PACE:.0f} s"
        )
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops the stack as Ctrl-C does, not with orphans left


def main(argv=None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    for module in ("locust", "psutil", "websocket"):  # not imported: locust patches for gevent
        if importlib.util.find_spec(module) is None:
            print(f"classroom: {module} is missing; `make test` installs it (the bench extra)")
            return 2
    from deploy.stack import StackError, stack

    args.out.mkdir(parents=True, exist_ok=True)
    runs = [] if args.fault else list(dict.fromkeys(args.replicas))
    results: dict[str, Result] = {}
    summary = []
    print(
        f"{args.users} students, one submit each per {PACE:.0f} s, {args.duration} s a run, "
        f"{args.spawn_rate:g} joining per second; {os.cpu_count()} cores",
        flush=True,
    )
    print(HEADER, flush=True)
    try:
        for n in runs:
            with stack(replicas=n, log_dir=args.out / f"stack-{n}") as s:
                res = run_load(s.url, [r.pid for r in s.replicas], args, args.out, f"r{n}")
            results[str(n)] = res
            print(row(res, n), flush=True)
        if not args.no_reference and not args.fault:
            res = reference(args, stack)
            results["blank"] = res
            print(row(res, "blank"), flush=True)
        if not args.no_fault:
            killed: dict[str, float] = {}
            with stack(replicas=2, log_dir=args.out / "stack-fault") as s:

                def kill(t: float, s=s) -> None:
                    s.kill("r1")
                    killed["r1"] = t

                res = run_load(
                    s.url, [r.pid for r in s.replicas], args, args.out, "fault", fault=kill
                )
            print(row(res, "2 fault"), flush=True)
            lines, fsum = fault_report(res, "r1", killed["r1"])
            print("\n".join(lines), flush=True)
    except (StackError, RuntimeError, OSError) as err:
        print(f"classroom: {str(err).splitlines()[0]}")
        return 1
    except KeyboardInterrupt:
        print("classroom: interrupted")
        return 130
    for key, res in results.items():
        if key == "blank":
            continue
        summary.append(f"{key} replica{'s' * (key != '1')} {res.served:.1f}/s p95 {res.p95:.1f} s")
    per = {k: r.cpu_per_run for k, r in results.items() if k != "blank" and r.cpu_per_run}
    if per:
        best = min(per, key=per.get)  # the least contended run comes closest to the app's cost
        cps = per[best]
        cores = args.users * cps / PACE / 0.7  # at 70 % busy, queues stay short
        summary.append(
            f"{cps:.3f} CPU-s/run with {args.users // int(best)} students a replica = "
            f"{PACE / cps:.0f} students per busy core; {args.users} need ~{cores:.1f} cores"
        )
    blank = results.get("blank")
    if blank and blank.cpu_per_run and per:
        summary.append(
            f"blank app, {args.users} students on one server: {blank.served:.1f}/s, "
            f"{blank.cpu_per_run:.3f} CPU-s/run"
        )
    if not args.no_fault:
        summary.append(fsum)
    print("summary: " + "; ".join(summary))
    return 0


def reference(args, stack_fn) -> Result:
    """The blank app behind the same stack if deploy.stack can run another script, else on one
    app server (bench/blank_app.py, tests/browser.py's streamlit_server)."""
    import psutil

    if "script" in inspect.signature(stack_fn).parameters:
        with stack_fn(replicas=1, log_dir=args.out / "stack-blank", script=BLANK) as s:
            return run_load(
                s.url, [r.pid for r in s.replicas], args, args.out, "blank", pages="Blank="
            )
    from tests.browser import streamlit_server

    with streamlit_server(BLANK, log_path=args.out / "blank.log") as url:
        pids = [
            p.pid
            for p in psutil.Process().children(recursive=True)
            if str(BLANK) in " ".join(p.cmdline())
        ]
        return run_load(url, pids, args, args.out, "blank", pages="Blank=")


if __name__ == "__main__":
    sys.exit(main())
