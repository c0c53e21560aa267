"""Each heavy computation the limiter admits, run alone in this process at its largest: its
estimated peak bytes (``app.compute.limiter``) beside the measured rise of peak RSS (VmHWM,
reset through /proc/self/clear_refs before each). Part of bench/memory.py:

Run: .venv/bin/python bench/memory.py --case peaks
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.load import WORDS  # noqa: E402

MB = 1_000_000


def peaks() -> None:
    """Estimated vs measured peak bytes of the admitted computations, largest shapes."""
    import ctypes
    import gc

    import torch

    from app import compute
    from app.compute import attention, inside_layer, limiter, padding
    from app.state import PRETRAINED, SCRATCH, ModelChoice
    from encoder import EncoderConfig

    libc = ctypes.CDLL("libc.so.6")

    def status(field: str) -> int:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if field in x)
        return int(line.split()[1]) * 1024

    def measure(run) -> int:
        gc.collect()
        libc.malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        base = status("VmRSS")
        result = run()
        peak = status("VmHWM") - base
        del result
        return peak

    big = EncoderConfig(d_model=768, n_heads=12, n_layers=12, d_ff=4096, max_len=512)
    scratch = ModelChoice(SCRATCH, big, 0, False, 512)
    mini = ModelChoice(PRETRAINED, None, 0, False, 128)
    compute.model_for(scratch), compute.model_for(mini)  # built before measuring
    essay = " ".join(WORDS * 12)  # > 512 tokens: cut at max_len
    ids = tuple(compute.wordpiece().encode(essay, max_len=500).ids)
    cases = [
        (
            "forward, MiniLM, 2 x 24 tokens",
            compute.forward_peak(compute.pretrained_config(), 2, 24),
            lambda: compute.forward(mini, ("A short line about a cat.", "And one more.")),
        ),
        (
            "forward, largest model, 8 x 512",
            compute.forward_peak(big, 8, 512),
            lambda: compute.forward(scratch, tuple(f"{i} {essay}" for i in range(8))),
        ),
        (
            "attention maps, largest model, 8 x 512 (one kept)",
            limiter.forward_bytes(768, 12, 4096, 8, 512, 12 * 12 * 512 * 512),
            lambda: attention.sentence_attention(
                scratch, tuple(f"{i} {essay}" for i in range(8)), (0,)
            ),
        ),
        (
            "padded view, largest model, 512",
            padding.padded_peak(big, 512),
            lambda: padding.padded_view(scratch, ids, 512, 0),
        ),
        (
            "walkthrough, largest model, 512",
            inside_layer.walkthrough_peak(big, 512),
            lambda: inside_layer.walkthrough(scratch, (f"c {essay}",), 0, 5),
        ),
        (
            "drift, largest model, 500 + 12",
            limiter.forward_bytes(768, 12, 4096, 1, 512),
            lambda: padding.drift(scratch, ids, (12,)),
        ),
    ]
    torch.set_num_threads(1)
    print(f"{'computation':<52} {'estimate MB':>11} {'measured MB':>11} {'ratio':>6}")
    for name, estimate, run in cases:
        peak = measure(run)
        print(f"{name:<52} {estimate / MB:>11,.0f} {peak / MB:>11,.0f} {peak / estimate:>6.2f}")
