"""Whole pages, submit-to-settled, next to a blank Streamlit page measured the same way.

Run: .venv/bin/python bench/page_latency.py [--repeat 5] [--pages encode,padding]
         [--script app/main.py --script /other/checkout/app/main.py]

Each page opens with all-MiniLM-L6-v2 and a two-line text (a sentence of --tokens tokens and a
short one); every round types a fresh sentence into the blank page and into each app in turn
(so they all see the same noise on a shared machine), and times it from the Ctrl+Enter keydown
to the last DOM change before QUIET ms of calm, once the script is idle and the page shows the
new sentence (bench/app_latency.py's SETTLE probe). Several --script values compare checkouts
(before and after a change) in the same run. Goal (issue 17, point 31): Padding & masks within
2x the Encode page.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.app_latency import (  # noqa: E402
    ATTENTION_WATCH,
    BLANK,
    HEIGHT,
    OURS,
    QUIET,
    TIMEOUT,
    fmt,
    sentence_of,
    settled_ms,
)
from tests.browser import launch, streamlit_server, wait_idle  # noqa: E402

PAGE_PATHS = {"encode": "", "padding": "padding"}  # name -> url path (Encode is the default page)
GOAL_PADDING = 2.0  # Padding & masks / Encode
SHORT = "The cat sat on the mat."


def bench(browser, args) -> dict[str, dict[str, list[float]]]:
    """samples[page][app] in ms; app is "blank" or the index of a --script."""
    names = [n for n in args.pages.split(",") if n]
    out: dict[str, dict[str, list[float]]] = {}
    with contextlib.ExitStack() as stack:
        blank_url = stack.enter_context(streamlit_server(BLANK.script))
        urls = [stack.enter_context(streamlit_server(s)) for s in args.script]
        viewport = {"width": args.width, "height": HEIGHT}
        blank = browser.new_context(viewport=viewport).new_page()
        blank.goto(blank_url)
        BLANK.ready(blank)
        counter = 0
        for name in names:
            pages = []
            for url in urls:
                page = browser.new_context(viewport=viewport).new_page()
                start, _ = sentence_of(args.tokens, 5000 + counter)
                query = urlencode({"model": "Pretrained", "text": f"{start}\n{SHORT}"})
                page.goto(f"{url}/{PAGE_PATHS[name]}?{query}")
                wait_idle(page, TIMEOUT)
                page.locator(ATTENTION_WATCH).first.wait_for(state="visible", timeout=TIMEOUT)
                pages.append(page)
            samples: dict[str, list[float]] = {"blank": []} | {str(i): [] for i in range(len(urls))}
            for r in range(args.warmup + args.repeat):
                counter += 1
                text, marker = sentence_of(args.tokens, counter)
                times = {"blank": settled_ms(blank, BLANK, text, marker, BLANK.watch)}
                for i, page in enumerate(pages):
                    times[str(i)] = settled_ms(
                        page, OURS, f"{text}\n{SHORT}", marker, ATTENTION_WATCH
                    )
                if r >= args.warmup:
                    for key, ms in times.items():
                        samples[key].append(ms)
            out[name] = samples
            for page in pages:
                page.context.close()
        blank.context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="submits per app and page")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured submits first")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in CSS px")
    parser.add_argument("--pages", default="encode,padding", help="comma-separated")
    parser.add_argument("--tokens", type=int, default=20, help="tokens of the first sentence")
    parser.add_argument(
        "--script", type=Path, action="append", help="an app's entry script (repeatable)"
    )
    args = parser.parse_args()
    args.script = [s.resolve() for s in (args.script or [OURS.script])]
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Whole pages, submit-to-settled (DOM quiet {QUIET} ms), all-MiniLM-L6-v2, a "
        f"{args.tokens}-token sentence + a short one; medians of {args.repeat}; viewport "
        f"{args.width}x{HEIGHT}; {os.cpu_count()} CPUs, load average {load}"
    )
    for i, script in enumerate(args.script):
        print(f"  app {i}: {script}")
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            results = bench(browser, args)
        finally:
            browser.close()
    print(f"\n{'page':<10} {'app':>4} {'blank ms':>9} {'ours ms':>9} {'ratio':>6}  samples (ours)")
    for name, samples in results.items():
        blank = statistics.median(samples["blank"])
        for i in range(len(args.script)):
            ours = statistics.median(samples[str(i)])
            print(
                f"{name:<10} {i:>4} {blank:>9.0f} {ours:>9.0f} {ours / blank:>6.2f}  "
                f"{fmt(samples[str(i)])}"
            )
    if {"encode", "padding"} <= results.keys():
        for i in range(len(args.script)):
            ratio = statistics.median(results["padding"][str(i)]) / statistics.median(
                results["encode"][str(i)]
            )
            verdict = "ok" if ratio <= GOAL_PADDING else "MISS"
            print(f"app {i}: Padding & masks / Encode {ratio:.2f}x (goal <= {GOAL_PADDING:g}x) "
                  f"{verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
