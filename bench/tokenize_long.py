"""Pasted essays (issue 17, point 9): ``Tokenizer.encode_batch`` on 8 lines of 1,000,000
characters with max_len 512, next to the raw ``tokenizers`` call on the same lines (the reference:
what tokenizing the whole text costs, with no wrapper at all).

Run: .venv/bin/python bench/tokenize_long.py [--chars 1000000] [--lines 8] [--max-len 512]

Two kinds of line: English words (the text can be cut at a space before tokenizing) and one
unbroken run of letters (no space to cut at: the whole line is tokenized).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from encoder.tokenizer import default_tokenizer  # noqa: E402

SENTENCE = "The quick brown fox jumps over the lazy dog while the tokenizer counts pieces. "


def lines(kind: str, chars: int, n: int) -> list[str]:
    unit = SENTENCE if kind == "words" else "abcdefghij"
    return [(unit * (chars // len(unit) + 1))[:chars] for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=8)
    parser.add_argument("--max-len", type=int, default=512)
    args = parser.parse_args()
    tok = default_tokenizer()
    for kind in ("words", "one word"):
        texts = lines(kind, args.chars, args.lines)
        start = time.perf_counter()
        raw = [tok._tok.encode(t) for t in texts]  # the reference: the library alone
        t_raw = time.perf_counter() - start
        start = time.perf_counter()
        batch = tok.encode_batch(texts, max_len=args.max_len)
        t_ours = time.perf_counter() - start
        enc = batch.encodings[0]
        print(
            f"{kind}: {args.lines} lines x {args.chars:,} chars, max_len {args.max_len}: "
            f"encode_batch {t_ours:.2f} s, raw tokenizer (whole text) {t_raw:.2f} s, "
            f"ratio {t_ours / t_raw:.3f}; {enc.truncation_message} "
            f"(whole text: {len(raw[0].ids):,} tokens)"
        )


if __name__ == "__main__":
    main()
