"""How long the app keeps a user waiting, next to a blank Streamlit page measured the same way.

Run: .venv/bin/python bench/app_latency.py [--repeat 5] [--start-repeat 3] [--width 1280]

1. submit-to-painted: in a loaded page, type a new sentence and submit it (Enter in the blank
   page's st.text_input, Control+Enter in our sidebar st.text_area); time from the keydown, with
   performance.now() in the page, to the first animation frame where the script is idle again,
   nothing is stale and every chart shows the new sentence.
2. start-to-render: from launching `streamlit run` to the first page fully rendered in the
   browser (a fresh server process and a fresh browser context each repeat).
3. attention submit-to-settled: the Attention page (all-MiniLM-L6-v2, 6 x 12 heads) with a
   sentence of 20 and of 128 tokens, as it opens (overview + detail) and in each other view.
   Settled = the script is idle, the page shows the new sentence, and the DOM (charts, canvas
   redraws, tables included) has not changed for QUIET ms; the time is that of the last change.
   The blank page is measured the same way, in alternation.
bench/views.py walks every view of every page the same way as 3, in one table.
The two apps run in alternation (blank, ours, blank, ours, ...) so both see the same noise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._stats import ratio_interval, verdict  # noqa: E402
from tests.browser import launch, streamlit_server, wait_idle, wait_painted  # noqa: E402

GOAL_SUBMIT = 2.0  # ours / blank, submit-to-painted
GOAL_START = 3.0  # ours / blank, server start to first full render
HEIGHT = 900
TIMEOUT = 120_000  # ms
# single WordPiece tokens, so each shows up whole in the heatmap's token labels ("5 · apple")
WORDS = ("apple", "river", "garden", "window", "planet", "yellow", "silver", "forest", "island")
WORDS += ("winter", "castle", "doctor")

# Arms a one-shot probe: the next Enter keydown notes t0, then each animation frame checks
# whether the app is done. "done" needs the script to have left notRunning (or the watched text
# to have changed) first, so a check that runs before the rerun even started cannot pass.
PROBE = """([marker, plotly, graphviz, watch]) => {
  const q = (s) => document.querySelector(s);
  const text = () => [...document.querySelectorAll(watch)].map((e) => e.textContent).join('\\n');
  const b = (window.__bench = { t0: null, done: null, left: false, before: text() });
  if (!window.__benchArmed) {
    window.__benchArmed = true;
    window.addEventListener('keydown', (e) => {
      const p = window.__bench;
      if (p && e.key === 'Enter' && p.t0 === null) p.t0 = performance.now();
    }, true);
  }
  const painted = () => {
    const drawn = [...document.querySelectorAll('.js-plotly-plot')]
      .filter((el) => el.querySelector('.main-svg .cartesianlayer')).length;
    const graphs = document.querySelectorAll('[data-testid="stGraphVizChart"] svg').length;
    return drawn >= plotly && graphs >= graphviz;
  };
  const tick = () => {
    if (window.__bench !== b) return;
    if (b.t0 !== null) {
      const app = q("[data-testid='stApp']");
      const state = app && app.getAttribute('data-test-script-state');
      const now = text();
      if (state !== 'notRunning' || now !== b.before) b.left = true;
      if (b.left && state === 'notRunning' && now.includes(marker) && painted()
          && app.getAttribute('data-test-connection-state') === 'CONNECTED'
          && !q('[data-testid="stSkeleton"]') && !q('[data-stale="true"]')) {
        b.done = performance.now();
        return;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


@dataclass(frozen=True)
class App:
    name: str
    script: Path
    box: str  # the text widget to type into
    key: str  # the key press that submits it
    watch: str  # elements whose text must show the new sentence
    plotly: int
    graphviz: int

    def ready(self, page) -> None:
        """First load: idle, and the content drawn."""
        wait_idle(page, TIMEOUT)
        if self.plotly or self.graphviz:
            wait_painted(page, self.plotly, self.graphviz, TIMEOUT)
        page.locator(self.box).wait_for(state="visible", timeout=TIMEOUT)
        page.locator(self.watch).first.wait_for(state="visible", timeout=TIMEOUT)


BLANK = App(
    "blank",
    ROOT / "bench" / "blank_app.py",
    box="[data-testid='stTextInput'] input",
    key="Enter",
    watch="[data-testid='stMain'] [data-testid='stMarkdownContainer']",
    plotly=0,
    graphviz=0,
)
OURS = App(
    "ours",
    ROOT / "app" / "main.py",  # what `make run` serves
    box="[data-testid='stSidebar'] textarea",
    key="Control+Enter",  # st.text_area applies on Ctrl/⌘+Enter (or on blur); Enter is a newline
    watch=".js-plotly-plot",  # the token-vector heatmap labels its rows with the tokens
    plotly=1,  # one sentence: the token-vector heatmap (the similarity heatmap needs two)
    graphviz=1,
)


def sentence(i: int) -> tuple[str, str]:
    """A sentence never submitted before in this run (so no cache hit), and its marker word."""
    word = WORDS[i % len(WORDS)]
    return f"Sentence {i} is about the {word} on the hill.", word


def submit_ms(page, app: App, i: int) -> float:
    """Type a fresh sentence, arm the probe, submit; milliseconds from keydown to painted."""
    text, marker = sentence(i)
    box = page.locator(app.box)
    box.fill(text)
    page.evaluate(PROBE, [marker, app.plotly, app.graphviz, app.watch])
    box.press(app.key)
    page.wait_for_function("() => window.__bench.done !== null", timeout=TIMEOUT, polling=50)
    return page.evaluate("() => window.__bench.done - window.__bench.t0")


def bench_submit(browser, apps: list[App], repeat: int, warmup: int, width: int) -> dict:
    """Both apps served and loaded at once; one submit each, in turn, per round."""
    samples: dict[str, list[float]] = {a.name: [] for a in apps}
    with streamlit_server(apps[0].script) as url0, streamlit_server(apps[1].script) as url1:
        pages = []
        for app, url in zip(apps, (url0, url1), strict=True):
            page = browser.new_context(viewport={"width": width, "height": HEIGHT}).new_page()
            page.goto(url)
            app.ready(page)
            pages.append(page)
        for i in range(warmup + repeat):
            for app, page in zip(apps, pages, strict=True):
                ms = submit_ms(page, app, i)
                if i >= warmup:
                    samples[app.name].append(ms)
        for page in pages:
            page.context.close()
    return samples


def start_s(browser, app: App, width: int) -> tuple[float, float]:
    """Seconds from Popen to first full render, and from Popen to /_stcore/health answering."""
    t0 = time.perf_counter()
    with streamlit_server(app.script, timeout=TIMEOUT / 1000) as url:
        healthy = time.perf_counter() - t0
        context = browser.new_context(viewport={"width": width, "height": HEIGHT})
        page = context.new_page()
        page.goto(url)
        app.ready(page)
        rendered = time.perf_counter() - t0
        context.close()
    return rendered, healthy


def bench_start(browser, apps: list[App], repeat: int, width: int) -> tuple[dict, dict]:
    total: dict[str, list[float]] = {a.name: [] for a in apps}
    health: dict[str, list[float]] = {a.name: [] for a in apps}
    for _ in range(repeat):
        for app in apps:
            rendered, healthy = start_s(browser, app, width)
            total[app.name].append(rendered * 1e3)
            health[app.name].append(healthy * 1e3)
    return total, health


def fmt(values: list[float]) -> str:
    return " ".join(f"{v:.0f}" for v in values)


HEADER = f"{'metric':<30} {'blank ms':>9} {'ours ms':>9} {'ratio':>6} {'90%':>11} {'goal':>7}"


def row(metric: str, samples: dict, goal: float) -> str:
    """One line under HEADER: the medians, the paired ratio, its interval and the verdict."""
    blank, ours = statistics.median(samples["blank"]), statistics.median(samples["ours"])
    mid, low, high = ratio_interval(samples["ours"], samples["blank"])
    return (
        f"{metric:<30} {blank:>9.0f} {ours:>9.0f} {mid:>6.2f} {f'{low:.2f}-{high:.2f}':>11} "
        f"{f'<= {goal:g}x':>7} {verdict(low, high, goal)}"
    )


# ---- the Attention page: submit-to-settled, per view ------------------------------------------

VIEWS = ("Heads", "Token lines", "Mean & rollout", "Head statistics", "Compare", "Head map")
VIEWS += ("Queries & keys", "Several queries")  # the last: Token lines, two queries picked
CASES = {"Several queries": {"view": "Token lines", "queries": ["1 · sentence", "2 · about"]}}
GOALS_SETTLED = {20: 2.0, 128: 3.0}  # tokens -> ours / blank, every view (issue 23)
QUIET = 500  # ms without a DOM change that count as settled
FILLER = "and the old river ran past a quiet town where many people walked".split()  # noqa: SIM905


def arm_settle(probe: str) -> str:
    """JS, once per page: the Enter keydown starts window[probe]'s clock (t0) and every DOM
    change after it is noted (last), until the probe is done. Shared with bench/load.py."""
    return """
  if (!window.PROBESettleArmed) {
    window.PROBESettleArmed = true;
    window.addEventListener('keydown', (e) => {
      const p = window.PROBE;
      if (p && e.key === 'Enter' && p.t0 === null) p.t0 = performance.now();
    }, true);
    new MutationObserver(() => {
      const p = window.PROBE;
      if (p && p.t0 !== null && p.done === null) p.last = performance.now();
    }).observe(document.body,
      { subtree: true, childList: true, attributes: true, characterData: true });
  }""".replace("PROBE", probe)


# Like PROBE, but done = the last DOM change before QUIET ms of calm, once the script is idle
# and the watched text shows the marker (so a rerun that has not started cannot count).
SETTLE = """([marker, watch, quiet]) => {
  const q = (s) => document.querySelector(s);
  const text = () => [...document.querySelectorAll(watch)].map((e) => e.textContent).join('\\n');
  const b = (window.__bench = { t0: null, done: null, last: null, left: false, before: text() });
ARM
  const tick = () => {
    if (window.__bench !== b) return;
    if (b.t0 !== null) {
      const app = q("[data-testid='stApp']");
      const state = app && app.getAttribute('data-test-script-state');
      if (state !== 'notRunning' || text() !== b.before) b.left = true;
      const ready = b.left && state === 'notRunning' && text().includes(marker)
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && !q('[data-testid="stSkeleton"]') && !q('[data-stale="true"]');
      const now = performance.now();
      if (ready && now - (b.last ?? b.t0) >= quiet) {
        b.done = b.last ?? now;
        return;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}""".replace("ARM", arm_settle("__bench"), 1)
ATTENTION_WATCH = "[data-testid='stMain'] [data-testid='stCode']"  # the snippet names the text


def sentence_of(n_tokens: int, i: int) -> tuple[str, str]:
    """A fresh sentence of exactly n_tokens WordPiece tokens ([CLS] and [SEP] included)."""
    from encoder.tokenizer import default_tokenizer

    tok = default_tokenizer()
    word = f"{WORDS[i % len(WORDS)]}{'s' * (i // len(WORDS))}"
    words = ["Sentence", "about", "the", word]
    k = 0
    while len(tok.encode(" ".join(words))) < n_tokens:
        words.append(FILLER[k % len(FILLER)])
        k += 1
    return " ".join(words), word


def settled_ms(page, app: App, text: str, marker: str, watch: str) -> float:
    box = page.locator(app.box)
    box.fill(text)
    page.evaluate(SETTLE, [marker, watch, QUIET])
    box.press(app.key)
    page.wait_for_function("() => window.__bench.done !== null", timeout=TIMEOUT, polling=100)
    return page.evaluate("() => window.__bench.done - window.__bench.t0")


def bench_attention(browser, args, n_tokens: int, views: list[str]) -> dict[str, dict]:
    """Per view: blank and ours, one settled submit each in turn; a fresh sentence every time."""
    out = {}
    with streamlit_server(BLANK.script) as blank_url, streamlit_server(args.script) as url:
        blank = browser.new_context(viewport={"width": args.width, "height": HEIGHT}).new_page()
        blank.goto(blank_url)
        BLANK.ready(blank)
        ours = browser.new_context(viewport={"width": args.width, "height": HEIGHT}).new_page()
        ours.goto(f"{url}/attention")
        wait_idle(ours, TIMEOUT)
        counter = 0
        for _ in range(3):  # warm the fresh server first: else the first view measured pays
            counter += 1  # first-use costs (measured: 2.7x for Heads first, 2.1x after)
            text, marker = sentence_of(n_tokens, counter)
            settled_ms(ours, OURS, f"{text}\nThe cat sat on the mat.", marker, ATTENTION_WATCH)
        for view in views:
            start = sentence_of(n_tokens, 999 + counter)[0] + "\nThe cat sat on the mat."
            query = urlencode({**CASES.get(view, {"view": view}), "text": start}, doseq=True)
            ours.goto(f"{url}/attention?{query}")
            wait_idle(ours, TIMEOUT)
            ours.locator(ATTENTION_WATCH).first.wait_for(state="visible", timeout=TIMEOUT)
            samples: dict[str, list[float]] = {"blank": [], "ours": []}
            for r in range(args.warmup + args.repeat):
                counter += 1
                text, marker = sentence_of(n_tokens, counter)
                pair = f"{text}\nThe cat sat on the mat."  # Compare's partner; the first shown
                b_ms = settled_ms(blank, BLANK, text, marker, BLANK.watch)
                o_ms = settled_ms(ours, OURS, pair, marker, ATTENTION_WATCH)
                if r >= args.warmup:
                    samples["blank"].append(b_ms)
                    samples["ours"].append(o_ms)
            out[view] = samples
        blank.context.close()
        ours.context.close()
    return out


def settled_goal(n_tokens: int) -> float:
    """ours / blank at a sentence length (beyond the table, the longest length's goal)."""
    return GOALS_SETTLED.get(n_tokens, GOALS_SETTLED[max(GOALS_SETTLED)])


def report_attention(browser, args) -> None:
    """Per view, ours against the blank page: the median of the rounds' paired ratios, its 90%
    interval, and the verdict against its goal (bench/_stats.py)."""
    views = [v for v in args.views.split(",") if v]
    goals = ", ".join(f"<= {g:g}x at {n} tokens" for n, g in GOALS_SETTLED.items())
    print(
        f"\nAttention page, submit-to-settled (DOM quiet {QUIET} ms), ratio to the blank page "
        f"in the same rounds; goals: {goals}"
    )
    print(f"{HEADER}  samples (ours)")
    for n in (int(t) for t in args.tokens.split(",")):
        results = bench_attention(browser, args, n, views)
        for view, samples in results.items():
            line = row(f"{n} tokens, {view}", samples, settled_goal(n))
            print(f"{line}  {fmt(samples['ours'])}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="submits per app (median)")
    parser.add_argument("--start-repeat", type=int, default=3, help="fresh server starts per app")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured submits first")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in CSS px")
    parser.add_argument(
        "--script", type=Path, default=OURS.script, help="our entry script (default app/main.py)"
    )
    parser.add_argument(
        "--only", choices=["all", "encode", "attention"], default="all",
        help="encode: the Encode page's submit and the server start; attention: its views",
    )  # fmt: skip
    parser.add_argument("--views", default=",".join(VIEWS), help="Attention views, comma-separated")
    parser.add_argument("--tokens", default="20,128", help="Attention sentence lengths in tokens")
    args = parser.parse_args()
    args.script = args.script.resolve()
    ours = replace(OURS, script=args.script)
    apps = [BLANK, ours]
    print(
        f"App latency, blank Streamlit page vs {ours.script}; viewport "
        f"{args.width}x{HEIGHT}; medians of {args.repeat} submits and {args.start_repeat} starts"
    )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Machine: {os.cpu_count()} CPUs, load average {load} (other work inflates both columns)")
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            if args.only != "attention":
                encode_report(browser, apps, args)
            if args.only != "encode":
                report_attention(browser, args)
        finally:
            browser.close()


def encode_report(browser, apps: list[App], args) -> None:
    print(
        f"Goals: submit-to-painted ours <= {GOAL_SUBMIT:g}x blank (one plotly subplot per head "
        f"measured ~14x); server start to first full render <= {GOAL_START:g}x blank"
    )
    submit = bench_submit(browser, apps, args.repeat, args.warmup, args.width)
    start, health = bench_start(browser, apps, args.start_repeat, args.width)
    print("\nSamples (ms)")
    for app in apps:
        print(f"  submit-to-painted {app.name:<5}: {fmt(submit[app.name])}")
    for app in apps:
        print(
            f"  start-to-render   {app.name:<5}: {fmt(start[app.name])}   "
            f"(of which until /_stcore/health: {fmt(health[app.name])})"
        )
    print(f"\n{HEADER}")
    print(row("submit-to-painted", submit, GOAL_SUBMIT))
    print(row("start-to-render", start, GOAL_START))


if __name__ == "__main__":
    main()
