"""``python -m encoder``: build an encoder from the command line and run a random padded batch."""

from __future__ import annotations

import argparse
import sys

import torch

from .config import EncoderConfig
from .masks import padding_mask
from .model import Encoder


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2
        self.exit(2, f"error: {message} (see python -m encoder --help)\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog="python -m encoder", description=__doc__)
    p.add_argument("--d-model", type=int, default=512, help="token vector width (512)")
    p.add_argument("--heads", type=int, default=8, help="attention heads per layer (8)")
    p.add_argument("--layers", type=int, default=6, help="encoder layers (6)")
    p.add_argument("--d-ff", type=int, default=2048, help="feed-forward hidden width (2048)")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout probability (0.1)")
    p.add_argument("--max-len", type=int, default=512, help="longest sequence accepted (512)")
    p.add_argument("--vocab", type=int, default=1000, help="vocabulary size (1000)")
    p.add_argument("--batch", type=int, default=2, help="sentences in the batch (2)")
    p.add_argument("--seq", type=int, default=10, help="padded sequence length (10)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and data (0)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = EncoderConfig(
            vocab_size=args.vocab,
            d_model=args.d_model,
            n_heads=args.heads,
            n_layers=args.layers,
            d_ff=args.d_ff,
            dropout=args.dropout,
            max_len=args.max_len,
        )
        if args.vocab < 2:
            raise ValueError(
                f"--vocab ({args.vocab}) needs at least 2 tokens: padding and one real"
            )
        if args.batch < 1 or args.seq < 1:
            raise ValueError(f"--batch ({args.batch}) and --seq ({args.seq}) must be positive")
        if args.seq > args.max_len:
            raise ValueError(f"--seq ({args.seq}) must not exceed --max-len ({args.max_len})")
        model = Encoder(cfg, seed=args.seed).eval()  # checks the seed's range
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    gen = torch.Generator().manual_seed(args.seed)
    # the first row is full length, the others random lengths; padding positions hold pad_id
    lengths = torch.randint(1, args.seq + 1, (args.batch,), generator=gen)
    lengths[0] = args.seq
    mask = padding_mask(lengths, args.seq)
    ids = torch.randint(1, cfg.vocab_size, (args.batch, args.seq), generator=gen)
    ids = ids.masked_fill(~mask, cfg.pad_id)
    with torch.inference_mode():
        out = model(ids, mask).last_hidden_state

    torch.set_printoptions(linewidth=120)
    print(f"config: {cfg}")
    print(f"input ids shape: {tuple(ids.shape)}  (batch, seq)")
    print(f"attention mask (1 = real token, 0 = padding), lengths {lengths.tolist()}:")
    print(mask.int())
    print(f"output shape: {tuple(out.shape)}  (batch, seq, d_model)")
    print(f"parameters: {model.num_parameters():,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
