"""Memory stays bounded: 500 distinct sentences in a row, across pages and both models, to one
server; its resident memory (RSS of the streamlit process tree, from /proc) at intervals and at
the end, against the RSS after the first page load, and the bound the cache audit implies.

Run: .venv/bin/python bench/memory.py [--sentences 500] [--every 50]

Thirteen sessions stay open (one browser context each: a page and a model) and take the sentences
in turn, so every cache sees new keys all the time: Pretrained on six pages; From scratch in
four small configs; and the biggest model the sidebar allows (d_model 768, 12 layers, d_ff
4096: 511 MB of weights) in eval and in train mode, plus, every 50th sentence, with another
seed, so the scratch models' byte budget (1,100 MB, two of those) has to drop one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from streamlit import logger

logger.set_log_level("error")  # the audit imports app/compute: no "No runtime found" warnings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.load import (  # noqa: E402
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
from tests.browser import launch, streamlit_server  # noqa: E402
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
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--every", type=int, default=50, help="print RSS every N sentences")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
