"""How long the layer-by-layer projections take: PCA and t-SNE over every real token at every
depth, next to the forward pass that produced the vectors (measured in the same run).

Run: .venv/bin/python bench/projections.py [--repeat 5] [--tsne-repeat 1] [--skip-full-tsne]

Everything runs on one thread (threadpoolctl), as the page runs it: on a shared 2-core machine
OpenMP's spinning threads made t-SNE 10-50x slower; one page-sized t-SNE is also timed with the
default threads to show it.

The issue's size: 8 sentences x 128 tokens x 7 depths (all-MiniLM-L6-v2) = 7,168 points of 384
dimensions. The page caps t-SNE at app.compute.projections.MAX_POINTS["t-SNE"] points; that
size is timed too, since it is what a person waits for.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._timing import median_times
from encoder.analysis import project
from encoder.pretrained import load_minilm

WORDS = ("the", "river", "bank", "money", "account", "guitar", "market", "music", "plays")
WORDS += ("someone", "stock", "fell", "sharply")


def long_sentences(n: int, seed: int = 0) -> list[str]:
    """n sentences of ~200 words: each is cut to 128 tokens, so the batch is full."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, 200)) + "." for _ in range(n)]


def hidden_states(batch: int = 8, max_len: int = 128) -> tuple[np.ndarray, float]:
    """(L+1, B·S, D) real-token vectors of the batch, and the forward pass's seconds."""
    model, tok = load_minilm()
    model.eval()
    enc = tok.encode_batch(long_sentences(batch), max_len=max_len)
    torch.set_num_threads(1)  # as the app does
    with torch.inference_mode():
        fwd = lambda: model(enc.input_ids, enc.attention_mask, output_hidden_states=True)  # noqa: E731
        secs = median_times({"forward": fwd}, repeat=3, warmup=1)["forward"]
        out = fwd()
    h = torch.stack(out.hidden_states).numpy()  # (L+1, B, S, D)
    real = enc.attention_mask.numpy().astype(bool)  # (B, S)
    return h[:, real], secs


def once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> tuple[np.ndarray, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="PCA repeats (median)")
    parser.add_argument("--tsne-repeat", type=int, default=1, help="t-SNE repeats (median)")
    parser.add_argument("--skip-full-tsne", action="store_true", help="leave out 7,168-point t-SNE")
    args = parser.parse_args()

    from app.compute.projections import MAX_POINTS  # the page's caps

    hidden, forward_s = hidden_states()
    from sklearn.manifold import TSNE  # noqa: F401  (import once, outside the timings: ~5 s)

    depths, n, d = hidden.shape
    print(f"points: {depths} depths x {n} tokens = {depths * n:,} of {d} dims")
    print(f"reference: forward pass, 8 x 128 tokens, 1 thread   {forward_s * 1e3:8.1f} ms")

    from sklearn.decomposition import PCA

    stacked = hidden.reshape(-1, d)
    pca = median_times(
        {
            "project pca shared": lambda: project(hidden, "pca", 2, shared=True),
            "project pca per layer": lambda: project(hidden, "pca", 2, shared=False),
            "project pca shared 3-D": lambda: project(hidden, "pca", 3, shared=True),
            "sklearn PCA (reference)": lambda: PCA(2, svd_solver="full").fit_transform(stacked),
        },
        repeat=args.repeat,
        warmup=1,
    )
    for name, secs in pca.items():
        print(f"{name:<34} {secs * 1e3:8.1f} ms   x{secs / forward_s:5.2f} forward")

    cap = MAX_POINTS["t-SNE"] // depths  # tokens the page keeps for t-SNE at this depth count
    sizes = {f"t-SNE shared, page cap ({cap * depths:,} points)": hidden[:, :cap]}
    sizes[f"t-SNE per layer, page cap ({depths} x {cap})"] = hidden[:, :cap]
    if not args.skip_full_tsne:
        sizes[f"t-SNE shared, all {depths * n:,} points"] = hidden
    repeat = args.tsne_repeat
    for name, h in sizes.items():
        shared = "per layer" not in name
        runs = [once(lambda h=h, s=shared: project(h, "tsne", 2, s)) for _ in range(repeat)]
        secs = float(np.median(runs))
        print(f"{name:<44} {secs:7.1f} s   x{secs / forward_s:6.0f} forward")
    return hidden[:, :cap], forward_s


def default_threads(h: np.ndarray, forward_s: float) -> None:
    with threadpool_limits(limits=None):  # whatever OpenMP / BLAS pick
        secs = once(lambda: project(h, "tsne", 2, True))
    name = "t-SNE shared, page cap, default threads"
    print(f"{name:<44} {secs:7.1f} s   x{secs / forward_s:6.0f} forward")


if __name__ == "__main__":
    with threadpool_limits(limits=1):
        capped, forward_s = main()
    default_threads(capped, forward_s)
