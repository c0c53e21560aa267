"""Forward-pass speed of our Encoder against PyTorch's nn.TransformerEncoder, side by side, and,
with the all-MiniLM-L6-v2 weights loaded, against transformers.BertModel.

Run: .venv/bin/python bench/forward.py   (CPU, batch 1; prints milliseconds, ratios, goals)
     --threads 1 as the app runs (app/compute sets one thread per forward pass)
     --skip-pretrained leaves out the MiniLM table (no transformers needed)
     --fast-cpu runs our encoder with encoder.linear.FAST_CPU (oneDNN, packed weights: the
       last bits of every output differ from the default path's; off in the library)
Goals (issue 23): with attentions and hidden states at most GOAL_INTERNALS x BertModel eager;
flags off at most GOAL_FAST x nn.TransformerEncoder's fast path (and BertModel sdpa).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import encoder.linear
from bench._timing import median_times
from encoder import Encoder, EncoderConfig

SEQS = (16, 64, 256, 512)
GOAL_INTERNALS = 0.85  # ours with attentions + hidden states / BertModel eager with the same
GOAL_FAST = 1.0  # ours, flags off / nn.TransformerEncoder fast path, and / BertModel sdpa
CLS_ID, SEP_ID = 101, 102


def scratch_times(ours, ref, ids, x, repeat):
    return median_times(
        {
            "ref": lambda: ref(x),
            "ours": lambda: ours(ids),
            "ours_internals": lambda: ours(ids, output_attentions=True, output_hidden_states=True),
        },
        repeat=repeat,
    )


def scratch_rows(seqs, repeat):
    cfg = EncoderConfig(d_model=384, n_heads=12, n_layers=6, d_ff=1536, dropout=0.1, max_len=512)
    ours = Encoder(cfg, seed=0).eval()
    layer = nn.TransformerEncoderLayer(384, 12, 1536, dropout=0.1, batch_first=True)
    ref = nn.TransformerEncoder(layer, 6, enable_nested_tensor=False).eval()
    rows = []
    for s in seqs:
        ids = torch.randint(0, cfg.vocab_size, (1, s))
        x = ours.tok_embed(ids).detach()
        rows.append((s, scratch_times(ours, ref, ids, x, repeat)))
    return rows


def bert_ids(seq, generator):
    """Random word-piece ids in 1000..29000 framed by [CLS] ... [SEP]. Shape: (1, seq)"""
    ids = torch.randint(1000, 29001, (1, seq), generator=generator)
    ids[0, 0], ids[0, -1] = CLS_ID, SEP_ID
    return ids


def pretrained_times(ours, eager, sdpa, ids, mask, repeat):
    internals = {"output_attentions": True, "output_hidden_states": True}
    return median_times(
        {
            "ours_internals": lambda: ours(ids, mask, **internals),
            "eager": lambda: eager(input_ids=ids, attention_mask=mask, **internals),
            "ours": lambda: ours(ids, mask),
            "sdpa": lambda: sdpa(input_ids=ids, attention_mask=mask),
        },
        repeat=repeat,
    )


def pretrained_rows(seqs, repeat):
    # the weights ship in a local package: never reach the Hugging Face hub
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    from encoder.pretrained import load_minilm, minilm_dir

    hf_logging.disable_progress_bar()
    ours = load_minilm().model
    path = str(minilm_dir())
    eager = BertModel.from_pretrained(path, attn_implementation="eager").eval()
    sdpa = BertModel.from_pretrained(path, attn_implementation="sdpa").eval()
    generator = torch.Generator().manual_seed(0)
    rows = []
    for s in seqs:
        ids = bert_ids(s, generator)
        mask = torch.ones_like(ids)
        rows.append((s, pretrained_times(ours, eager, sdpa, ids, mask, repeat)))
    return rows


def verdict(ratio: float, goal: float) -> str:
    return "ok" if ratio <= goal else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--skip-pretrained", action="store_true", help="leave out the MiniLM vs BertModel table"
    )
    parser.add_argument(
        "--fast-cpu", action="store_true", help="our linears through oneDNN (encoder.linear)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    encoder.linear.FAST_CPU = args.fast_cpu
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1, median of "
        f"{args.repeat}; d_model 384, 12 heads, 6 layers, d_ff 1536; our linears: "
        + ("oneDNN, packed weights (FAST_CPU)" if args.fast_cpu else "MKL (the default)")
    )
    print("\nFrom scratch vs nn.TransformerEncoder (fast path, eval, inference_mode)")
    print(f"  fast: ours with flags off vs nn.TransformerEncoder, goal ratio <= {GOAL_FAST}")
    print(
        f"{'seq':>5} {'ref ms':>8} {'ours ms':>8} {'ratio':>6} {'goal':>5} "
        f"{'+internals ms':>14} {'overhead':>9}"
    )
    with torch.inference_mode():
        for s, t in scratch_rows(SEQS, args.repeat):
            ratio = t["ours"] / t["ref"]
            print(
                f"{s:>5} {t['ref'] * 1e3:>8.2f} {t['ours'] * 1e3:>8.2f} "
                f"{ratio:>6.2f} {verdict(ratio, GOAL_FAST):>5} "
                f"{t['ours_internals'] * 1e3:>14.2f} {t['ours_internals'] / t['ours']:>9.2f}"
            )
    if args.skip_pretrained:
        return
    import transformers

    print(
        f"\nMiniLM weights vs transformers.BertModel {transformers.__version__} (eval, "
        "inference_mode, attention_mask all ones)"
    )
    print(
        f"  internals: ours with output_attentions + output_hidden_states vs BertModel eager with "
        f"the same, goal ratio <= {GOAL_INTERNALS}"
    )
    print(f"  fast:      ours with flags off vs BertModel sdpa, goal ratio <= {GOAL_FAST}")
    print(
        f"{'seq':>5} {'eager ms':>9} {'ours+int ms':>12} {'ratio':>6} {'goal':>5} "
        f"{'sdpa ms':>8} {'ours ms':>8} {'ratio':>6} {'goal':>5}"
    )
    with torch.inference_mode():
        for s, t in pretrained_rows(SEQS, args.repeat):
            r_int, r_fast = t["ours_internals"] / t["eager"], t["ours"] / t["sdpa"]
            print(
                f"{s:>5} {t['eager'] * 1e3:>9.2f} {t['ours_internals'] * 1e3:>12.2f} "
                f"{r_int:>6.2f} {verdict(r_int, GOAL_INTERNALS):>5} "
                f"{t['sdpa'] * 1e3:>8.2f} {t['ours'] * 1e3:>8.2f} "
                f"{r_fast:>6.2f} {verdict(r_fast, GOAL_FAST):>5}"
            )


if __name__ == "__main__":
    main()
