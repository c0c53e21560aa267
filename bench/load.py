"""A classroom on one server: 30 browser sessions at once, each on its own page with its own
sentence and settings, each submitting fresh sentences; submit-to-settled times and errors,
next to one session alone measured in the same run.

Run: .venv/bin/python bench/load.py [--sessions 30] [--rounds 3] [--reference 2]

One server on loopback (tests/browser.py's streamlit_server) and one headless Chromium
(tests/browser.py's launch) holding one browser context per session: separate cookies and
websockets, so the server sees 30 independent sessions, but the browser's rendering shares this
machine's cores with the server (30 real laptops would each render their own page).

Submit-to-settled (the SETTLE probe idea of bench/app_latency.py): from the Ctrl+Enter keydown
to the last DOM change before QUIET ms of calm, once the script is idle, nothing is stale and
the page's main area shows the new sentence's marker word. Errors: stException elements,
timeouts, and a page that shows another session's marker (cross-talk).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.app_latency import QUIET, arm_settle  # noqa: E402
from tests.browser import launch, streamlit_server, wait_idle  # noqa: E402

TIMEOUT = 240_000  # ms per wait
BOX = "[data-testid='stSidebar'] textarea"
MAIN = "[data-testid='stMain']"
# single WordPiece tokens, so a marker shows up whole in token labels
WORDS = (  # noqa: SIM905
    "apple river garden window planet yellow silver forest island winter castle doctor cobalt "
    "lantern meadow violin pepper saddle marble velvet hammer kettle glacier orchid falcon walnut "
    "anchor beacon tiger ocean rocket candle mirror bridge copper desert engine feather harbor "
    "jacket ladder magnet needle pencil rabbit spider tunnel wagon"
).split()

# The SETTLE probe of bench/app_latency.py, checked every 50 ms instead of every animation frame
# (30 pages each reading the main area's text 60 times a second would load the cores the server
# needs); the time is still the last DOM mutation's, so the check interval does not change it.
SETTLE = """([marker, watch, quiet]) => {
  const q = (s) => document.querySelector(s);
  const text = () => { const m = q(watch); return m ? m.textContent : ''; };
  if (window.__probe) clearInterval(window.__probe.timer);
  const b = (window.__probe = { t0: null, done: null, last: null, timer: null });
ARM
  b.timer = setInterval(() => {
    if (b.t0 === null || b.done !== null) return;
    const app = q("[data-testid='stApp']");
    const state = app && app.getAttribute('data-test-script-state');
    if (state !== 'notRunning') return;
    if (app.getAttribute('data-test-connection-state') !== 'CONNECTED') return;
    if (q('[data-testid="stSkeleton"]') || q('[data-stale="true"]')) return;
    if (!text().toLowerCase().includes(marker)) return;
    const now = performance.now();
    if (now - (b.last ?? b.t0) >= quiet) { b.done = b.last ?? now; clearInterval(b.timer); }
  }, 50);
}""".replace("ARM", arm_settle("__probe"), 1)


@dataclass(frozen=True)
class Spec:
    """One student: a page and the link settings it was opened with."""

    page: str  # "" = Encode
    settings: dict

    @property
    def name(self) -> str:
        model = "scratch" if self.settings.get("model") == "From scratch" else "pretrained"
        return f"{self.page or 'encode'}/{model}"


PAGES = ["", "attention", "positional", "projections", "padding", "inside"]
SETTINGS = [
    {"model": "Pretrained"},
    {"model": "From scratch"},
    {"model": "From scratch", "d_model": "128", "n_heads": "8", "n_layers": "4", "d_ff": "512"},
    {"model": "Pretrained", "train": "true"},
    {"model": "From scratch", "positional": "learned", "norm": "pre-norm", "activation": "GELU"},
]
EXTRA = {"positional": {"pe_view": "Order test"}}  # the view that reads the sentences


def specs(n: int) -> list[Spec]:
    """n students spread over the pages; each gets its own seed, so no two share a model."""
    out = []
    for i in range(n):
        page = PAGES[i % len(PAGES)]
        settings = {**SETTINGS[(i // len(PAGES)) % len(SETTINGS)], **EXTRA.get(page, {})}
        if settings["model"] == "From scratch":
            settings["seed"] = str(i)
        out.append(Spec(page, settings))
    return out


def sentence(student: int, round_: int) -> tuple[str, str]:
    """A text never sent before (no cache hit) whose first line holds a marker word."""
    marker = WORDS[(student * 5 + round_) % len(WORDS)]
    first = f"Student {student} writes about the {marker} in round {round_}."
    return f"{first}\nA second line number {round_ * 100 + student}.", marker


def open_session(browser, url: str, spec: Spec, text: str, wait: bool = True):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    query = urlencode({**spec.settings, "text": text})
    page.goto(f"{url}/{spec.page}?{query}", wait_until="commit")
    if wait:
        wait_idle(page, TIMEOUT)
    return page


def arm_and_submit(page, text: str, marker: str, quiet: int = QUIET) -> None:
    box = page.locator(BOX)
    box.fill(text)
    page.evaluate(SETTLE, [marker, MAIN, quiet])
    box.press("Control+Enter")


def settled_ms(page) -> float | None:
    """Milliseconds from keydown to settled, or None after a timeout."""
    try:
        page.wait_for_function("() => window.__probe.done !== null", timeout=TIMEOUT, polling=200)
    except Exception:  # playwright's TimeoutError
        return None
    return page.evaluate("() => window.__probe.done - window.__probe.t0")


def main_words(page) -> list[str]:
    """The lower-case words of the page's main area (chart labels and the snippet included)."""
    text = page.evaluate(f'() => document.querySelector("{MAIN}").textContent')
    return re.findall(r"[a-z]+", text.lower())


def exceptions(page) -> int:
    return page.locator("[data-testid='stException']").count()


def reference(browser, url: str, kinds: list[Spec], repeat: int) -> dict[str, list[float]]:
    """One session alone per kind of page: a warm-up submit, then `repeat` measured ones."""
    samples: dict[str, list[float]] = {}
    for k, spec in enumerate(kinds):
        student = 1000 + k
        page = open_session(browser, url, spec, sentence(student, 0)[0])
        for r in range(1, repeat + 2):
            text, marker = sentence(student, r)
            arm_and_submit(page, text, marker)
            ms = settled_ms(page)
            if r > 1 and ms is not None:
                samples.setdefault(spec.name, []).append(ms)
        page.context.close()
    return samples


@dataclass
class Load:
    times: list[float]
    by_kind: dict[str, list[float]]
    timeouts: int
    exceptions: int
    crosstalk: int
    open_s: float
    cpu: dict[str, float]  # CPU seconds during the submit rounds: server, browser, wall


def load(browser, url: str, students: list[Spec], rounds: int) -> Load:
    """Every student opens their page at once, then submits a fresh sentence each round, all
    before any has finished."""
    started = time.perf_counter()
    pages = [
        open_session(browser, url, s, sentence(i, 0)[0], False) for i, s in enumerate(students)
    ]
    for page in pages:
        wait_idle(page, TIMEOUT)
    open_s = time.perf_counter() - started
    result = Load([], {}, 0, 0, 0, open_s, {})
    server = tree_of(server_pid(url))
    everyone = tree_of(os.getpid())
    cpu0 = (cpu_seconds(server), cpu_seconds(everyone), time.perf_counter())
    hidden = sum(page.evaluate("() => document.visibilityState") != "visible" for page in pages)
    print(f"  all open and idle after {open_s:.1f} s; pages not 'visible' (throttled): {hidden}")
    # words a page shows by itself (explainers, labels) cannot count as another's marker
    seen = [set(WORDS) & set(main_words(page)) for page in pages]
    for r in range(1, rounds + 1):
        sent = [sentence(i, r) for i in range(len(pages))]
        for page, (text, marker) in zip(pages, sent, strict=True):
            arm_and_submit(page, text, marker)
        this_round = []
        for i, page in enumerate(pages):
            ms = settled_ms(page)
            if ms is None:
                result.timeouts += 1
            else:
                this_round.append(ms)
                result.by_kind.setdefault(students[i].name, []).append(ms)
            result.exceptions += exceptions(page)
            others = {m for j, (_, m) in enumerate(sent) if j != i} - seen[i] - {sent[i][1]}
            result.crosstalk += bool(others & set(main_words(page)))
        result.times += this_round
        print(
            f"  round {r}: median {statistics.median(this_round):,.0f} ms, worst "
            f"{max(this_round):,.0f} ms ({len(this_round)} settled)",
            flush=True,
        )
    server_cpu, all_cpu = cpu_seconds(server), cpu_seconds(everyone)
    result.cpu = {
        "server": server_cpu - cpu0[0],
        "browser": (all_cpu - cpu0[1]) - (server_cpu - cpu0[0]),
        "wall": time.perf_counter() - cpu0[2],
    }
    for page in pages:
        page.context.close()
    return result


# ---- processes, from /proc (shared with bench/memory.py) ----------------------------------------


def children() -> dict[int, list[int]]:
    """Parent pid -> child pids of every process."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_of(pid: int) -> list[int]:
    """pid and all its descendants."""
    tree, out, todo = children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += tree.get(p, [])
    return out


def server_pid(url: str) -> int:
    """The `streamlit run` process serving url (a child of this process)."""
    port = url.rsplit(":", 1)[1]
    for pid in tree_of(os.getpid()):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and port.encode() in args:
            return pid
    raise RuntimeError(f"no streamlit process serves {url}")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of the processes (VmRSS), in bytes."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(
            (
                int(line.split()[1]) * 1024
                for line in status.splitlines()
                if line.startswith("VmRSS")
            ),
            0,
        )
    return total


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="fresh sentences per session")
    parser.add_argument("--reference", type=int, default=2, help="single-session submits per page")
    args = parser.parse_args()
    students = specs(args.sessions)
    kinds = list({s.name: s for s in reversed(students)}.values())[::-1]  # each page and model
    print(
        f"Load: {args.sessions} sessions x {args.rounds} submits, one server, {os.cpu_count()} CPUs"
    )
    print(f"Before: {uptime()}")
    with streamlit_server() as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            print("Reference: one session alone, each page in turn...", flush=True)
            alone = reference(browser, url, kinds, args.reference)
            print(f"{args.sessions} sessions at once (one Chromium, a context each)...", flush=True)
            busy = load(browser, url, students, args.rounds)
            print(f"During: {uptime()}")
            after = reference(browser, url, kinds[: len(PAGES)], 1)  # back to normal?
        finally:
            browser.close()
    report(args, alone, busy, after)


def report(args, alone: dict, busy: Load, after: dict) -> None:
    ref_all = [ms for v in alone.values() for ms in v]
    ref = statistics.median(ref_all)
    med, worst = statistics.median(busy.times), max(busy.times)
    print(f"\nsubmit-to-settled (DOM quiet {QUIET} ms), per page and model")
    print(f"{'page':<24} {'alone ms':>9} {'at once ms':>11} {'worst ms':>9} {'ratio':>6}")
    for name, times in sorted(busy.by_kind.items()):
        mine = alone.get(name)
        base = statistics.median(mine) if mine else float("nan")
        at_once = statistics.median(times)
        print(
            f"{name:<24} {base:>9,.0f} {at_once:>11,.0f} {max(times):>9,.0f} {at_once / base:>6.1f}"
        )
    print(f"\n{'':<34} {'median ms':>10} {'worst ms':>10} {'median/ref':>11} {'worst/ref':>10}")
    print(f"{'1 session alone (reference)':<34} {ref:>10,.0f} {max(ref_all):>10,.0f} {1:>11.1f}")
    print(
        f"{f'{args.sessions} sessions at once':<34} {med:>10,.0f} {worst:>10,.0f} "
        f"{med / ref:>11.1f} {worst / ref:>10.1f}"
    )
    again = [ms for v in after.values() for ms in v]
    print(f"{'1 session after the load':<34} {statistics.median(again):>10,.0f}")
    print(
        f"Submits settled: {len(busy.times)} of {args.sessions * args.rounds}; timeouts "
        f"{busy.timeouts}; stException elements {busy.exceptions}; pages showing another "
        f"session's marker {busy.crosstalk}"
    )
    cpu = busy.cpu
    print(
        f"All {args.sessions} pages opened and idle after {busy.open_s:.0f} s. During the submit "
        f"rounds ({cpu['wall']:.0f} s, {os.cpu_count()} CPUs): server {cpu['server']:.0f} "
        f"CPU-s, Chromium {cpu['browser']:.0f} CPU-s"
    )
    print(f"After: {uptime()}")


if __name__ == "__main__":
    main()
