"""Training speed on this machine's CPU, against references measured in the same run.

1. reverse: python -m encoder.train's loop on the reversal task until 99% token accuracy on 2000
   fresh examples (goal: within 20 s of training on 2 cores); prints seconds and steps.
2. throughput: examples per second of the same training loop (AdamW, clipping, padded batches
   with their mask) built on our Encoder and on nn.TransformerEncoder with the same sizes
   (goal: ours within 1.2x), measured in interleaved rounds, side by side.
3. dropout's own RNG: seconds per step of a Trainer with dropout, which swaps its own RNG state
   into torch's global RNG under a lock for each forward pass (issue 17.10), against the same
   steps drawing straight from the global RNG (goal: within 1.05x).
4. --app: a second browser session's wait while the first trains on the Train page, next to the
   same wait with nobody training (needs Chromium).

Run: .venv/bin/python bench/train.py [--threads 2] [--repeat 15] [--skip-reverse] [--app]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._timing import median_times  # noqa: E402
from encoder.positional import sinusoidal_table  # noqa: E402
from encoder.tasks import IGNORE, get_task  # noqa: E402
from encoder.train import Settings, TaskModel, Trainer, model_config  # noqa: E402

GOAL_SECONDS = 20.0
GOAL_RATIO = 1.2  # ours / nn.TransformerEncoder, seconds per step
GOAL_SWAP = 1.05  # steps with the RNG swap / the same steps without it


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


class Reference(nn.Module):
    """The same model on nn.TransformerEncoder: scaled embeddings + sinusoids, pre-norm layers
    with a final LayerNorm, a linear head."""

    def __init__(self, cfg, n_labels: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.register_buffer("pe", sinusoidal_table(cfg.max_len, cfg.d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, cfg.n_layers, norm=nn.LayerNorm(cfg.d_model), enable_nested_tensor=False
        )
        self.head = nn.Linear(cfg.d_model, n_labels)
        self.scale = math.sqrt(cfg.d_model)

    def forward(self, ids, mask):
        x = self.embed(ids) * self.scale + self.pe[: ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=mask == 0)  # True = ignore: the opposite of ours
        return self.head(x), None


def loop(model: nn.Module, batches: list, steps: int):
    """A training step function over a fixed pool of batches (data generation is not timed)."""
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    state = {"i": 0}

    def run() -> None:
        for _ in range(steps):
            b = batches[state["i"] % len(batches)]
            state["i"] += 1
            logits, _ = model(b.input_ids, b.attention_mask)
            loss = F.cross_entropy(logits.flatten(0, 1), b.labels.flatten(), ignore_index=IGNORE)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

    return run


def throughput(repeat: int, steps: int = 10, batch: int = 64) -> None:
    task = get_task("reverse")
    cfg = model_config(task)
    gen = torch.Generator().manual_seed(0)
    batches = [task.sample(batch, gen) for _ in range(50)]
    ours, ref = TaskModel(cfg, len(task.labels), seed=0), Reference(cfg, len(task.labels))
    n_ours = sum(p.numel() for p in ours.parameters())
    n_ref = sum(p.numel() for p in ref.parameters())
    times = median_times(
        {"ours": loop(ours, batches, steps), "ref": loop(ref, batches, steps)}, repeat=repeat
    )
    rate = {k: steps * batch / v for k, v in times.items()}
    ratio = times["ours"] / times["ref"]
    print(f"\ntraining throughput on reverse: batch {batch}, d_model {cfg.d_model}, ", end="")
    print(f"{cfg.n_heads} heads, {cfg.n_layers} layers, d_ff {cfg.d_ff}, pre-norm")
    print(f"parameters: ours {n_ours:,}, reference {n_ref:,}")
    print(f"{'':24}{'ours':>12}{'nn.TransformerEncoder':>24}{'ours/ref':>10}")
    print(
        f"{'ms per step':24}{1000 * times['ours'] / steps:12.2f}"
        f"{1000 * times['ref'] / steps:24.2f}{ratio:10.2f}"
    )
    print(f"{'examples per second':24}{rate['ours']:12,.0f}{rate['ref']:24,.0f}")
    verdict = "within" if ratio <= GOAL_RATIO else "NOT within"
    print(f"ours takes {ratio:.2f}x the reference's time per step: {verdict} {GOAL_RATIO}x")


def rng_swap(repeat: int, steps: int = 10) -> None:
    task = get_task("reverse")
    cfg = model_config(task, dropout=0.1)
    endless = Settings(max_steps=10**9, max_seconds=math.inf)
    swapped, plain = Trainer(task, cfg, endless), Trainer(task, cfg, endless)
    plain._dropout_rng = contextlib.nullcontext  # draws straight from the global RNG
    times = median_times(
        {
            "swap": lambda: swapped.run(steps=steps),
            "plain": lambda: plain.run(steps=steps),
        },
        repeat=repeat,
    )
    ratio = times["swap"] / times["plain"]
    verdict = "within" if ratio <= GOAL_SWAP else "NOT within"
    ms = {k: 1000 * v / steps for k, v in times.items()}
    print(
        f"\nreverse with dropout 0.1, ms per step: own RNG state swapped in {ms['swap']:.2f}, ",
        end="",
    )
    print(f"straight from the global RNG {ms['plain']:.2f}")
    print(f"ratio {ratio:.3f}: {verdict} {GOAL_SWAP}x")


def reverse(seconds: float) -> None:
    task = get_task("reverse")
    trainer = Trainer(task, model_config(task), Settings(max_seconds=seconds))
    while not trainer.done:
        trainer.run(seconds=5)
    verdict = "within" if trainer.reached and trainer.seconds <= GOAL_SECONDS else "NOT within"
    print(f"\n{trainer.summary()}")
    rate = trainer.steps / trainer.seconds
    print(f"reached 99% {verdict} {GOAL_SECONDS:.0f} s ({rate:.0f} steps/s)")


def app_wait(rounds: int, query: str) -> None:
    """Time a second session's Encode rerun while the first one trains, and with nobody."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch, streamlit_server, wait_idle

    def rerun(page) -> float:
        box = page.locator('[data-testid="stSidebar"] textarea')
        box.fill(f"word {time.perf_counter_ns()} here")
        start = time.perf_counter()
        box.press("Control+Enter")
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']")
        wait_idle(page)
        return time.perf_counter() - start

    with streamlit_server() as url, sync_playwright() as p:
        browser = launch(p)
        trainer, other = (browser.new_context().new_page() for _ in range(2))
        other.goto(url)
        wait_idle(other)
        idle = [rerun(other) for _ in range(rounds)]
        trainer.goto(f"{url}/train?{query}")  # the page's defaults unless --app-query
        wait_idle(trainer)
        trainer.get_by_role("button", name="Start training").click()
        trainer.wait_for_selector("text=Training…")
        time.sleep(2)
        busy = [rerun(other) for _ in range(rounds)]
        steps = trainer.locator('[data-testid="stProgress"]').inner_text()
        trainer.get_by_role("button", name="Stop").click()
        wait_idle(trainer)
        browser.close()
    a, b = statistics.median(idle), statistics.median(busy)
    print(f"\nsecond session, Encode page rerun (median of {rounds}), {load()}")
    print(f"nobody training {1000 * a:8.0f} ms   one session training {1000 * b:8.0f} ms")
    print(f"ratio {b / a:.2f} (the trainer meanwhile: {steps.splitlines()[0]})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch threads (2: the 2-core goal)")
    p.add_argument("--repeat", type=int, default=15, help="interleaved throughput rounds")
    p.add_argument("--seconds", type=float, default=60, help="time limit of the reversal run")
    p.add_argument("--skip-reverse", action="store_true")
    p.add_argument("--app", action="store_true", help="also time a second browser session")
    p.add_argument("--rounds", type=int, default=5, help="reruns per condition with --app")
    p.add_argument(
        "--app-query",
        default="task=reverse&secs=300&steps=20000",
        help="the Train page's settings while the other session is timed",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {load()}")
    if not args.skip_reverse:
        reverse(args.seconds)
    throughput(args.repeat)
    rng_swap(args.repeat)
    if args.app:
        app_wait(args.rounds, args.app_query)
    print(f"\n{load()} at the end")


if __name__ == "__main__":
    main()
