"""Every view of every page, settled, next to a blank Streamlit page measured in the same run.

Run: .venv/bin/python bench/views.py [--only attention] [--repeat 3] [--tokens 20,128]

Two ways a view is timed, each against the blank page (bench/blank_app.py) timed the same way,
in alternation (blank, ours, blank, ours, ...) so both see the same noise on a shared machine:
- submit: the view opened from its link (every widget is bound to the URL, the key is the
  parameter name), then a fresh sentence of --tokens WordPiece tokens (a short second line
  too) typed into the sidebar and submitted; bench/app_latency.py's SETTLE probe: from the
  Ctrl+Enter keydown to the last DOM change before QUIET ms of calm, once the script is idle and
  the page's snippet names the new sentence.
- click: a view that does not show the sentence (Positions' tables) is timed as a student
  reaches it: in a loaded page, from the click on its option to the last DOM change before
  QUIET ms of calm, once the script is idle (against the blank page's 20-token submits).
- open: Train and Lessons as they open: from navigation start to the last DOM change before
  QUIET ms of calm, once the script is idle and the page shows its content. The blank page is
  opened the same way (a fresh session each time, on a warm server).
Cold start (server start to the first page drawn, bench/app_latency.py's start-to-render) is
the last row. A row's ratio is the median of its rounds' ratios (each round times the blank page
and ours back to back), with a 90% bootstrap interval: "ok" when all of it is within the goal,
"MISS" when all of it is above, "unsure" when this run cannot tell (bench/_stats.py).
Goals (issue 23): <= 2x blank at 20 tokens, <= 3x at 128 tokens, cold start <= 3x.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._stats import ratio_cells, ratio_interval  # noqa: E402
from bench.app_latency import (  # noqa: E402
    ATTENTION_WATCH,
    BLANK,
    HEIGHT,
    OURS,
    QUIET,
    SETTLE,
    TIMEOUT,
    bench_start,
    fmt,
    sentence_of,
    settled_goal,
    settled_ms,
)
from tests.browser import launch, streamlit_server, wait_idle  # noqa: E402

SHORT = "The cat sat on the mat."  # the second line: Compare's partner, a padded batch
GOAL_OPEN = 2.0  # a view that does not depend on the sentence, as it opens
GOAL_START = 3.0


@dataclass(frozen=True)
class View:
    name: str  # "Page / view"
    path: str  # the page's address ("" = Encode, the default page)
    params: dict = field(default_factory=dict)  # the view's link parameters
    kind: str = "submit"  # or "open", or "click"
    click: tuple[str, str] = ("", "")  # click: the control (its key) and the option clicked


def attention(view: str, **extra) -> dict:
    return {"view": view, **extra}


POSITIONS = ["Curves", "Table", "Similarity", "Rotation", "Sizes", "Learned vs fixed"]
QUERIES = ["1 · sentence", "2 · about"]
TWO = {"model": "From scratch", "model2": "all-MiniLM-L6-v2"}  # random weights beside MiniLM
VIEWS = [
    View("Encode", ""),
    *(
        View(f"Attention / {v}", "attention", attention(v))
        for v in ("Heads", "Token lines", "Mean & rollout", "Head statistics", "Compare")
    ),
    View("Attention / Head map", "attention", attention("Head map")),
    View("Attention / Head map, family", "attention", attention("Head map", hmcolour="looks like")),
    View("Attention / Queries & keys", "attention", attention("Queries & keys")),
    View("Attention / Q & K raw", "attention", attention("Queries & keys", qkjoint="false")),
    View("Attention / Several queries", "attention", attention("Token lines", queries=QUERIES)),
    View("Attention / Two models", "attention", attention("Two models", **TWO)),
    *(
        View(f"Positions / {v}", "positions", {"pe_view": back}, "click", ("pe_view", v))
        for v, back in zip(POSITIONS, ["Table", *POSITIONS[:-1]], strict=True)
    ),
    View("Positions / Order test", "positions", {"pe_view": "Order test"}),
    View("Layer by layer / PCA 2-D", "layer-by-layer"),
    View("Layer by layer / PCA 3-D", "layer-by-layer", {"dims": "3-D"}),
    View("Layer by layer / t-SNE", "layer-by-layer", {"method": "t-SNE"}),
    View("Layer by layer / two models", "layer-by-layer", TWO),
    View("Padding & masks", "padding"),
    View("Padding & masks / causal", "padding", {"causal": "true"}),
    View("Inside a layer / Step by step", "inside-a-layer", {"view": "Step by step"}),
    View("Inside a layer / Whole page", "inside-a-layer", {"view": "Whole page"}),
    View("Train", "train", {}, "open"),
    View("Lessons", "lessons", {}, "open"),
]

# Every DOM change since navigation start is noted (performance.now() counts from it).
OPEN_INIT = """
window.__open = { last: 0 };
new MutationObserver(() => { window.__open.last = performance.now(); })
  .observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
"""
OPENED = """([watch, quiet]) => {
  const q = (s) => document.querySelector(s);
  const app = q("[data-testid='stApp']");
  if (!app || !q(watch) || !window.__open) return null;
  if (app.getAttribute('data-test-script-state') !== 'notRunning'
      || app.getAttribute('data-test-connection-state') !== 'CONNECTED'
      || q('[data-testid="stSkeleton"]') || q('[data-stale="true"]')) return null;
  return performance.now() - window.__open.last >= quiet ? window.__open.last : null;
}"""
OPEN_WATCH = "[data-testid='stMain'] [data-testid='stMarkdownContainer']"


def opened_ms(page, url: str) -> float:
    """Milliseconds from navigation start to the last DOM change before QUIET ms of calm."""
    page.goto(url)
    handle = page.wait_for_function(OPENED, arg=[OPEN_WATCH, QUIET], timeout=TIMEOUT, polling=50)
    return float(handle.json_value())


def new_page(browser, width: int, init: bool = False):
    context = browser.new_context(viewport={"width": width, "height": HEIGHT})
    if init:
        context.add_init_script(OPEN_INIT)
    return context.new_page()


def link(url: str, view: View, text: str | None = None) -> str:
    params = dict(view.params) | ({"text": text} if text is not None else {})
    query = urlencode(params, doseq=True)
    return f"{url}/{view.path}" + (f"?{query}" if query else "")


def bench_submit(browser, args, urls: list, blank, view: View, n: int, counter: list) -> dict:
    """One view at n tokens: its link opened once in each app (ours, and --before's), then
    fresh sentences, blank and each app in turn."""
    pages = []
    for url in urls:
        page = new_page(browser, args.width)
        counter[0] += 1
        page.goto(link(url, view, f"{sentence_of(n, 9000 + counter[0])[0]}\n{SHORT}"))
        wait_idle(page, TIMEOUT)
        page.locator(ATTENTION_WATCH).first.wait_for(state="visible", timeout=TIMEOUT)
        pages.append(page)
    names = ["ours", "before"][: len(pages)]
    samples: dict[str, list[float]] = {"blank": []} | {name: [] for name in names}
    for r in range(args.warmup + args.repeat):
        counter[0] += 1
        text, marker = sentence_of(n, counter[0])
        times = {"blank": settled_ms(blank, BLANK, text, marker, BLANK.watch)}
        for name, page in zip(names, pages, strict=True):
            times[name] = settled_ms(page, OURS, f"{text}\n{SHORT}", marker, ATTENTION_WATCH)
        if r >= args.warmup:
            for name, ms in times.items():
                samples[name].append(ms)
    for page in pages:
        page.context.close()
    return samples


# Every DOM change after the keydown, named by its nearest element with a data-testid (and the
# component's key class where there is one), and the script's state changes: what paints last.
TIMELINE = """() => {
  const t = (window.__timeline = { t0: null, log: [] });
  const name = (node) => {
    let e = node.nodeType === 1 ? node : node.parentElement;
    const keyed = e && e.closest('[class*="st-key-"]');
    while (e && !e.dataset.testid) e = e.parentElement;
    const key = keyed ? [...keyed.classList].find((c) => c.startsWith('st-key-')) : '';
    return (e ? e.dataset.testid : '?') + (key ? ' ' + key : '');
  };
  window.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && t.t0 === null) t.t0 = performance.now();
  }, true);
  new MutationObserver((records) => {
    if (t.t0 === null) return;
    const now = performance.now() - t.t0;
    for (const r of records) {
      const what = r.type === 'attributes' && r.attributeName === 'data-test-script-state'
        ? 'script ' + r.target.getAttribute('data-test-script-state') : name(r.target);
      t.log.push([now, what]);
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true,
                              characterData: true });
  new PerformanceObserver((list) => {
    if (t.t0 === null) return;
    for (const e of list.getEntries()) {
      const ms = e.duration.toFixed(0);
      if (e.startTime >= t.t0) t.log.push([e.startTime - t.t0, `long task ${ms} ms`]);
    }
  }).observe({ type: 'longtask' });
}"""


def timeline(browser, args, url: str, view: View, n: int) -> list[str]:
    """One submit of a fresh sentence on the view, after a warm one: per element, the first and
    last DOM change (ms after the keydown) and how many, in the order of the last change."""
    page = new_page(browser, args.width)
    page.goto(link(url, view, f"{sentence_of(n, 1)[0]}\n{SHORT}"))
    wait_idle(page, TIMEOUT)
    page.locator(ATTENTION_WATCH).first.wait_for(state="visible", timeout=TIMEOUT)
    text, marker = sentence_of(n, 2)
    settled_ms(page, OURS, f"{text}\n{SHORT}", marker, ATTENTION_WATCH)  # warm
    page.evaluate(TIMELINE)
    text, marker = sentence_of(n, 3)
    total = settled_ms(page, OURS, f"{text}\n{SHORT}", marker, ATTENTION_WATCH)
    log = page.evaluate("() => window.__timeline.log")
    page.context.close()
    spans: dict[str, list] = {}
    for ms, what in log:
        span = spans.setdefault(what, [ms, ms, 0])
        span[1], span[2] = ms, span[2] + 1
    rows = sorted(spans.items(), key=lambda kv: kv[1][1])
    lines = [f"{view.name} at {n} tokens: settled {total:.0f} ms"]
    lines += [f"  {a:7.0f} {b:7.0f} {c:5d}  {what}" for what, (a, b, c) in rows]
    return lines


# SETTLE, its clock started by a click instead of the Enter key; no text to wait for
CLICKED = SETTLE.replace("'keydown', (e) =>", "'click', (e) =>")
CLICKED = CLICKED.replace("e.key === 'Enter' && ", "")


def clicked_ms(page, key: str, option: str) -> float:
    """Click ``option`` of the control ``key``; ms from the click to settled."""
    page.evaluate(CLICKED, ["", "[data-testid='stMain']", QUIET])
    page.locator(f".st-key-{key}").get_by_role("radio", name=option, exact=True).click()
    page.wait_for_function("() => window.__bench.done !== null", timeout=TIMEOUT, polling=100)
    return page.evaluate("() => window.__bench.done - window.__bench.t0")


def bench_click(browser, args, url: str, blank, view: View, counter: list) -> dict:
    """A view reached by clicking its option in a loaded page (from the link's view, clicked
    back between rounds), against the blank page's submit, in turn."""
    ours = new_page(browser, args.width)
    ours.goto(link(url, view))
    wait_idle(ours, TIMEOUT)
    key, option = view.click
    samples: dict[str, list[float]] = {"blank": [], "ours": []}
    for r in range(args.warmup + args.repeat):
        counter[0] += 1
        text, marker = sentence_of(20, counter[0])
        b_ms = settled_ms(blank, BLANK, text, marker, BLANK.watch)
        o_ms = clicked_ms(ours, key, option)
        clicked_ms(ours, key, view.params[key])  # back, unmeasured
        if r >= args.warmup:
            samples["blank"].append(b_ms)
            samples["ours"].append(o_ms)
    ours.context.close()
    return samples


def bench_open(browser, args, url: str, blank_url: str, view: View) -> dict:
    """One view as it opens (a fresh session each time, on a warm server), blank and ours."""
    ours, blank = new_page(browser, args.width, True), new_page(browser, args.width, True)
    samples: dict[str, list[float]] = {"blank": [], "ours": []}
    for r in range(args.warmup + args.repeat):
        b_ms = opened_ms(blank, blank_url)
        o_ms = opened_ms(ours, link(url, view))
        if r >= args.warmup:
            samples["blank"].append(b_ms)
            samples["ours"].append(o_ms)
    ours.context.close()
    blank.context.close()
    return samples


def run(browser, args, views: list[View]) -> list[tuple[View, int | None, dict]]:
    """(view, tokens or None for an opened view, samples) for every view and length asked."""
    out = []
    counter = [0]
    with contextlib.ExitStack() as stack:
        blank_url = stack.enter_context(streamlit_server(BLANK.script))
        url = stack.enter_context(streamlit_server(args.script))
        urls = [url] + [stack.enter_context(streamlit_server(b)) for b in args.before]
        blank = new_page(browser, args.width)
        blank.goto(blank_url)
        BLANK.ready(blank)
        warm = new_page(browser, args.width)  # a fresh server's first-use costs, paid here
        warm.goto(link(url, View("", "attention"), f"{sentence_of(20, 0)[0]}\n{SHORT}"))
        wait_idle(warm, TIMEOUT)
        warm.context.close()
        for view in views:
            for n in args.tokens if view.kind == "submit" else [None]:
                try:
                    if view.kind == "click":
                        samples = bench_click(browser, args, url, blank, view, counter)
                    elif n is None:
                        samples = bench_open(browser, args, url, blank_url, view)
                    else:
                        samples = bench_submit(browser, args, urls, blank, view, n, counter)
                except Exception as err:  # a broken view is a row, not the end of the run
                    samples = {"blank": [], "ours": [], "error": str(err).splitlines()[0]}
                out.append((view, n, samples))
                ours = statistics.median(samples["ours"]) if samples["ours"] else float("nan")
                error = samples.get("error", "")
                print(f"  {view.name} at {n or view.kind}: {ours:.0f} ms {error}", file=sys.stderr)
        blank.context.close()
    return out


def table(results: list[tuple[View, int | None, dict]], start: dict | None) -> list[str]:
    head = f"| {'view':<32} | tokens | ms | blank ms | ratio | 90% interval | goal | | samples |"
    lines = [head, "|---|---:|---:|---:|---:|---|---:|---|---|"]
    for view, n, samples in results:
        if not samples["ours"]:
            lines.append(f"| {view.name:<32} | {n or view.kind:>6} | failed: {samples['error']} |")
            continue
        goal = GOAL_OPEN if n is None else settled_goal(n)
        line = row(view.name, str(n or view.kind), samples["ours"], samples["blank"], goal)
        if samples.get("before"):  # --before: its ms and ratio, same rounds
            before = statistics.median(samples["before"])
            mid, low, high = ratio_interval(samples["before"], samples["blank"])
            line += f" before: {before:.0f} ms, {mid:.2f}x ({low:.2f}–{high:.2f}) |"
        lines.append(line)
    if start:
        lines.append(row("Cold start", "-", start["ours"], start["blank"], GOAL_START))
    return lines


def row(name: str, tokens: str, ours: list[float], blank: list[float], goal: float) -> str:
    ms, blank_ms = statistics.median(ours), statistics.median(blank)
    cells = ratio_cells(ours, blank, goal)
    return f"| {name:<32} | {tokens:>6} | {ms:.0f} | {blank_ms:.0f} | {cells} | {fmt(ours)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="views whose name contains this (any of a,b)")
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds per view")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument("--tokens", default="20,128", help="sentence lengths in tokens")
    parser.add_argument("--start-repeat", type=int, default=3, help="cold starts (0: none)")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in CSS px")
    parser.add_argument("--script", type=Path, default=OURS.script, help="our entry script")
    parser.add_argument("--list", action="store_true", help="print the views and stop")
    parser.add_argument(
        "--before", type=Path, action="append", default=[],
        help="another checkout's entry script, timed in the same rounds (submit views)",
    )  # fmt: skip
    parser.add_argument(
        "--timeline", action="store_true", help="what paints when, per submit view (no table)"
    )
    args = parser.parse_args()
    args.script = args.script.resolve()
    args.before = [b.resolve() for b in args.before[:1]]
    args.tokens = [int(t) for t in args.tokens.split(",") if t]
    wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
    views = [v for v in VIEWS if not wanted or any(w in v.name.lower() for w in wanted)]
    if args.list:
        print("\n".join(f"{v.name}  ({v.kind}: {link('', v)})" for v in views))
        return
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Every view settled (DOM quiet {QUIET} ms) against a blank Streamlit page, MiniLM, "
        f"viewport {args.width}x{HEIGHT}, medians of {args.repeat}; {os.cpu_count()} CPUs, "
        f"load average {load}"
    )
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            if args.timeline:
                with streamlit_server(args.script) as url:
                    for view in (v for v in views if v.kind == "submit"):
                        for n in args.tokens:
                            print("\n".join(timeline(browser, args, url, view, n)), flush=True)
                return
            results = run(browser, args, views)
            start = None
            if args.start_repeat and (not wanted or "start" in wanted):
                apps = [BLANK, OURS.__class__(**{**OURS.__dict__, "script": args.script})]
                start = bench_start(browser, apps, args.start_repeat, args.width)[0]
        finally:
            browser.close()
    print("\n".join(table(results, start)))


if __name__ == "__main__":
    main()
