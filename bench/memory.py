"""Memory stays bounded: 500 distinct sentences in a row, across pages and both models, to one
server; its resident memory (RSS of the streamlit process tree, from /proc) at intervals and at
the end, against the RSS after the first page load, and the bound the cache audit implies.

Run: .venv/bin/python bench/memory.py [--sentences 500] [--every 50]
     .venv/bin/python bench/memory.py --case classroom [--sessions 6] [--idle 60] [--script X]
     .venv/bin/python bench/memory.py --case peaks

Thirteen sessions stay open (one browser context each: a page and a model) and take the sentences
in turn, so every cache sees new keys all the time: Pretrained on six pages; From scratch in
four small configs; and the biggest model the sidebar allows (d_model 768, 12 layers, d_ff
4096: 511 MB of weights) in eval and in train mode, plus, every 50th sentence, with another
seed, so the scratch models' byte budget (1,100 MB, two of those) has to drop one.

``--case classroom`` (issue 17): six sessions at once, each with the largest from-scratch model
(d_model 768, 12 layers, d_ff 4096, max_len 512, the link a teacher shares) and its own 8
sentences of about 700 words, walk every page that reads the sentences in step (Encode,
Attention, Positions' order test, Layer by layer, Padding & masks, Inside a layer). RSS is
sampled every 0.2 s: its peak, right after the walk and after --idle seconds, against the bound
(after the first page load + every cache at its worst + the work the limiter lets run at once).
A fresh session opens the default Encode page (the pretrained model) halfway through: how long
it took is printed too. --script runs another checkout's app (the numbers before a change).

``--case peaks``: each heavy computation the limiter admits, run alone in this process at its
largest, with its estimated peak bytes next to the measured rise of peak RSS (VmHWM, reset
through /proc/self/clear_refs before each).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright
from streamlit import logger

logger.set_log_level("error")  # the audit imports app/compute: no "No runtime found" warnings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.load import (  # noqa: E402
    BOX,
    WORDS,
    Spec,
    arm_and_submit,
    exceptions,
    open_session,
    rss_bytes,
    server_pid,
    settled_ms,
    tree_of,
    uptime,
)
from tests.browser import launch, streamlit_server, wait_idle  # noqa: E402
from tests.test_cache_limits import audit, beyond_pretrained, table  # noqa: E402

MB = 1_000_000
QUIET = 150  # ms: enough to know the run is over; this bench does not time it
TRANSIENT = 500 * MB  # a run's own copies: cache_data hits unpickled, figures, a model being built
SCRATCH = {"model": "From scratch"}
BIG = {**SCRATCH, "d_model": "768", "n_heads": "12", "n_layers": "12", "d_ff": "4096"}
SESSIONS = [
    Spec("", {"model": "Pretrained"}),
    Spec("attention", {"model": "Pretrained"}),
    Spec("projections", {"model": "Pretrained"}),
    Spec("padding", {"model": "Pretrained"}),
    Spec("inside", {"model": "Pretrained"}),
    Spec("positional", {"model": "Pretrained", "pe_view": "Order test"}),
    Spec("", {**SCRATCH, "seed": "1"}),
    Spec("attention", {**SCRATCH, "d_model": "128", "n_heads": "8", "n_layers": "4", "seed": "2"}),
    Spec("inside", {**SCRATCH, "norm": "pre-norm", "positional": "learned", "seed": "3"}),
    Spec("padding", {**SCRATCH, "max_len": "512", "seed": "4"}),
    Spec("", {**BIG, "seed": "7"}),
    Spec("attention", {**BIG, "seed": "7", "train": "true"}),
]
EVERY_BIG = 50  # every 50th sentence goes to a third big model (another seed)
THIRD = Spec("projections", {**BIG, "seed": "8"})


def schedule(n: int) -> list[int]:
    """Which session takes sentence i: in turn, and the third big model every 50th."""
    return [
        len(SESSIONS) if i % EVERY_BIG == EVERY_BIG - 1 else i % len(SESSIONS) for i in range(n)
    ]


def text_of(i: int, last: str | None) -> tuple[str, str]:
    """Sentence i (never sent before) and its marker word, not the session's last marker."""
    k = i % len(WORDS)
    marker = WORDS[k] if WORDS[k] != last else WORDS[(k + 1) % len(WORDS)]
    other = WORDS[(i * 7 + 3) % len(WORDS)]
    return f"Sentence {i} tells of the {marker} and the {other}.\nIts second line, {i * 3}.", marker


def mb(n: float) -> str:
    return f"{n / MB:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["sentences", "classroom", "peaks"], default="sentences")
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--every", type=int, default=50, help="print RSS every N sentences")
    parser.add_argument("--sessions", type=int, default=6, help="classroom: sessions at once")
    parser.add_argument("--idle", type=int, default=60, help="classroom: idle seconds at the end")
    parser.add_argument(
        "--closed", type=int, default=130, help="classroom: seconds after closing the tabs "
        "(Streamlit keeps a closed tab's session 2 minutes for a reconnect)",
    )  # fmt: skip
    parser.add_argument("--script", type=Path, default=ROOT / "app" / "main.py")
    args = parser.parse_args()
    if args.case == "classroom":
        classroom(args)
        return
    if args.case == "peaks":
        from bench.memory_peaks import peaks

        peaks()
        return
    rows = audit()
    caches = beyond_pretrained(rows)
    print("Cache audit (tests/test_cache_limits.py):")
    print(table(rows))
    print(f"\n{args.sentences} sentences over {len(SESSIONS) + 1} sessions; {uptime()}")
    specs = [*SESSIONS, THIRD]
    with streamlit_server() as url, sync_playwright() as pw:
        pid = server_pid(url)
        browser = launch(pw)
        try:
            first = open_session(browser, url, specs[0], "The first page load.")
            base = rss_bytes(tree_of(pid))
            bound = base + caches + TRANSIENT
            print(f"RSS after the first page load: {mb(base)}")
            print(
                f"Bound: that + every cache at its worst ({mb(caches)}) + one run's own copies "
                f"({mb(TRANSIENT)}) = {mb(bound)}\n"
            )
            pages = [first] + [open_session(browser, url, s, "Opening.") for s in specs[1:]]
            print(f"{len(pages)} sessions open: RSS {mb(rss_bytes(tree_of(pid)))}", flush=True)
            times, errors, missed, last = [], 0, 0, [None] * len(pages)
            started = time.perf_counter()
            for i, who in enumerate(schedule(args.sentences)):
                text, last[who] = text_of(i, last[who])
                arm_and_submit(pages[who], text, last[who], quiet=QUIET)
                ms = settled_ms(pages[who])
                missed += ms is None
                times.append(ms or 0.0)
                errors += exceptions(pages[who])
                if (i + 1) % args.every == 0 or i + 1 == args.sentences:
                    rss = rss_bytes(tree_of(pid))
                    print(
                        f"after {i + 1:>4} sentences: RSS {mb(rss):>9} ({mb(rss - base):>8} over "
                        f"the first load), {time.perf_counter() - started:,.0f} s",
                        flush=True,
                    )
            end = rss_bytes(tree_of(pid))
        finally:
            browser.close()
        peak = (
            int(
                next(
                    line.split()[1]
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("VmHWM")
                )
            )
            * 1024
        )
    verdict = "within" if peak <= bound else "OVER"
    print(
        f"\nEnd: RSS {mb(end)}; peak (VmHWM) {mb(peak)}; first load {mb(base)}; bound {mb(bound)}:"
        f" peak {verdict} the bound"
    )
    print(
        f"Submits: {args.sentences}, median {statistics.median(times):,.0f} ms; timeouts {missed};"
        f" stException elements {errors}; {uptime()}"
    )
    print(f"(server pid {pid}, {os.cpu_count()} CPUs)")


# ---- the classroom's worst case (issue 17) ----------------------------------------------------

BIGGEST = {**BIG, "max_len": "512"}
STEPS = [  # (sidebar link title, view to click once there)
    ("Encode", None),
    ("Attention", None),
    ("Positions", "Order test"),
    ("Layer by layer", None),
    ("Padding & masks", None),
    ("Inside a layer", None),
]
WORDS_PER_LINE = 700
STEP_TIMEOUT = 1_800_000  # ms: six giants share two cores


def essay(session: int, lines: int = 8) -> str:
    """Eight lines of about 700 words, different in every session (no cache is shared)."""
    out = []
    for line in range(lines):
        words = [WORDS[(session * 31 + line * 7 + k * k) % len(WORDS)] for k in range(700)]
        out.append(f"Student {session} line {line}: " + " ".join(words) + ".")
    return "\n".join(out)


class Sampler(threading.Thread):
    """RSS of the server's process tree every 0.2 s; keeps the peak and the last value."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.last, self.running = pid, 0, 0, True

    def run(self) -> None:
        while self.running:
            self.last = rss_bytes(tree_of(self.pid))
            self.peak = max(self.peak, self.last)
            time.sleep(0.2)


def goto(page, title: str, view: str | None) -> None:
    """Click a page in the sidebar (the session and its text stay), then a view if asked."""
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).first.click()
    if view:
        page.wait_for_selector(f'[data-testid="stMain"] button:has-text("{view}")', timeout=60_000)
        page.locator('[data-testid="stMain"] button', has_text=view).first.click()


def classroom(args) -> None:
    rows = audit()
    caches = beyond_pretrained(rows)
    work = limiter_bound()  # the work in flight the limiter allows (the old allowance: TRANSIENT)
    print(f"Classroom: {args.sessions} sessions, the largest model, 8 x ~{WORDS_PER_LINE} words")
    print(f"app: {args.script}; {uptime()}")
    with streamlit_server(args.script.resolve()) as url, sync_playwright() as pw:
        pid = server_pid(url)
        browser = launch(pw)
        sampler = Sampler(pid)
        try:
            first = open_session(browser, url, Spec("", {"model": "Pretrained"}), "First load.")
            base = rss_bytes(tree_of(pid))
            bound, audit_bound = base + caches + work, base + caches + TRANSIENT
            print(f"RSS after the first page load: {mb(base)}")
            print(
                f"Bound: that + every cache at its worst ({mb(caches)}) + work in flight "
                f"({mb(work)}) = {mb(bound)}; the audit's bound (+ {mb(TRANSIENT)} for one "
                f"run's copies) {mb(audit_bound)}",
                flush=True,
            )
            first.context.close()
            sampler.start()
            pages = []
            for _ in range(args.sessions):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(f"{url}/?{urlencode({**BIGGEST, 'seed': '0'})}")
                wait_idle(page, STEP_TIMEOUT)
                pages.append(page)
            started = time.perf_counter()
            for i, page in enumerate(pages):  # every session submits its essay at once
                box = page.locator(BOX)
                box.fill(essay(i))
                box.press("Control+Enter")
            fresh_ms = None
            for step, (title, view) in enumerate(STEPS):
                t0 = time.perf_counter()
                if step:
                    for page in pages:
                        goto(page, title, view)
                if title == "Padding & masks":  # a new student arrives meanwhile
                    fresh_ms = fresh_session(browser, url)
                for page in pages:
                    page.wait_for_timeout(300)
                    wait_idle(page, STEP_TIMEOUT)
                errors = sum(exceptions(p) for p in pages)
                print(
                    f"  {title:<16} all idle after {time.perf_counter() - t0:6.1f} s; RSS now "
                    f"{mb(sampler.last):>9}, peak so far {mb(sampler.peak):>9}; "
                    f"stException {errors}",
                    flush=True,
                )
            walked = time.perf_counter() - started
            after = sampler.last
            time.sleep(args.idle)
            idle = sampler.last
            for page in pages:
                page.context.close()
            time.sleep(args.closed)
            closed = sampler.last
        finally:
            sampler.running = False
            browser.close()
    verdict = "within" if sampler.peak <= bound else "OVER"
    print(
        f"\nRSS peak {mb(sampler.peak)} ({verdict} the bound {mb(bound)}; the audit's "
        f"{mb(audit_bound)}); right after the walk "
        f"{mb(after)}; after {args.idle} s idle {mb(idle)}; {args.closed} s after the tabs closed "
        f"{mb(closed)}"
    )
    print(f"Walk: {walked:,.0f} s; a fresh session's Encode page meanwhile: {fresh_ms} ms")
    print(f"{uptime()}")


def fresh_session(browser, url: str) -> float:
    """Open the default Encode page (pretrained model) in a new session: ms until idle."""
    t0 = time.perf_counter()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    wait_idle(page, STEP_TIMEOUT)
    page.locator('[data-testid="stGraphVizChart"] svg').first.wait_for(timeout=STEP_TIMEOUT)
    ms = (time.perf_counter() - t0) * 1e3
    context.close()
    return round(ms)


def limiter_bound() -> int:
    """Bytes the work in flight may take: the limiter's pools, or the old allowance."""
    try:
        from app.compute import limiter
    except ImportError:  # a checkout before the limiter
        return TRANSIENT
    return limiter.bound()


if __name__ == "__main__":
    main()
