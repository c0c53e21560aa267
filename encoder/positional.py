"""Positional encodings: the paper's fixed sinusoids (section 3.5) or learned positions (BERT)."""

from __future__ import annotations

import math
import numbers
import operator

import torch
from torch import Tensor, nn

from .config import POSITIONAL_KINDS, check_int, check_number

MAX_TABLE = 1 << 28  # numbers in one sinusoidal table (1 GB of float32): far past any model


def sinusoidal_table(max_len: int, d_model: int, base: float = 10000.0) -> Tensor:
    """PE[p, 2i] = sin(p / base^(2i/d_model)), PE[p, 2i+1] = cos(p / base^(2i/d_model)).

    Computed in float64 and returned as float32. An odd d_model works: its last column is a sine.

    Shape: (max_len, d_model)
    """
    max_len, d_model, base = _check_table(max_len, d_model, base)
    position = torch.arange(max_len, dtype=torch.float64)[:, None]  # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(D/2),)
    angle = position / base ** (two_i / d_model)  # (L, ceil(D/2)), eq. in section 3.5
    table = torch.empty(max_len, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return table.to(torch.float32)


def wavelengths(d_model: int, base: float = 10000.0) -> Tensor:
    """Wavelength (in positions) of each column's sinusoid: 2*pi*base^(2i/d_model). Shape: (D,)"""
    _, d_model, base = _check_table(1, d_model, base)
    two_i = torch.arange(d_model, dtype=torch.float64) // 2 * 2
    return 2 * math.pi * base ** (two_i / d_model)


def relative_rotation(d_model: int, offset: int, base: float = 10000.0) -> Tensor:
    """M_k with PE(p + k) = M_k · PE(p) for every position p: the reason sinusoids encode
    relative positions linearly (section 3.5).

    Each (sin, cos) pair of frequency w is rotated by the angle w·k:
    sin(w(p+k)) = cos(wk)·sin(wp) + sin(wk)·cos(wp),
    cos(w(p+k)) = −sin(wk)·sin(wp) + cos(wk)·cos(wp).
    The matrix is block-diagonal and orthogonal; it does not depend on p. Computed in float64,
    returned as float32 like ``sinusoidal_table``.

    Shape: (d_model, d_model)
    """
    check_int("d_model", d_model, minimum=2)
    if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > 2**63 - 1:
        raise ValueError(f"offset ({offset!r}) must be a whole number of positions")
    if d_model % 2:
        raise ValueError(
            f"d_model ({d_model}) must be even: the last sine column has no cosine partner, so "
            "no rotation maps PE(p) to PE(p + k) for it"
        )
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not base > 1:
        raise ValueError(f"base ({base!r}) must be a number above 1")
    if d_model * d_model > MAX_TABLE:
        raise ValueError(f"d_model ({d_model:,}) is too wide for a {d_model} x {d_model} matrix")
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = offset / base ** (two_i / d_model)  # (D/2,) the rotation of each pair
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(d_model, d_model, dtype=torch.float64)
    even, odd = torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)
    rot[even, even], rot[even, odd] = cos, sin  # new sin = cos·sin + sin·cos
    rot[odd, even], rot[odd, odd] = -sin, cos  # new cos = −sin·sin + cos·cos
    return rot.to(torch.float32)


def _check_table(max_len: object, d_model: object, base: object) -> tuple[int, int, float]:
    """Sizes as ints (numpy ints too) and base as a float above 1, or a ValueError."""
    max_len, d_model = (
        operator.index(v) if hasattr(v, "__index__") and not isinstance(v, bool) else v
        for v in (max_len, d_model)
    )
    check_int("max_len", max_len, minimum=1)
    check_int("d_model", d_model, minimum=1)
    if isinstance(base, numbers.Real) and not isinstance(base, bool):
        base = float(base)  # numpy floats too
    check_number("base", base, above=1)
    if max_len * d_model > MAX_TABLE:
        raise ValueError(
            f"a table of {max_len:,} positions x {d_model:,} dimensions is too big "
            f"(at most {MAX_TABLE:,} numbers)"
        )
    return max_len, d_model, base


class PositionalEncoding(nn.Module):
    """Position vectors to add to token embeddings: fixed sinusoids or a learned table."""

    def __init__(
        self, max_len: int, d_model: int, kind: str = "sinusoidal", base: float = 10000.0
    ) -> None:
        super().__init__()
        if kind not in POSITIONAL_KINDS:
            raise ValueError(f"positional kind ({kind!r}) must be one of {POSITIONAL_KINDS}")
        self.kind = kind
        self.max_len = max_len
        if kind == "sinusoidal":
            # a buffer, not a parameter: fixed, moves with .to(), not saved in state_dict
            self.register_buffer(
                "table", sinusoidal_table(max_len, d_model, base), persistent=False
            )
            self.embed = None
        else:
            self.embed = nn.Embedding(max_len, d_model)

    def forward(self, seq_len: int) -> Tensor:
        """Position vectors for positions 0 .. seq_len - 1. Shape: (S, D)"""
        if seq_len > self.max_len:
            raise ValueError(
                f"sequence of {seq_len} tokens is longer than max_len ({self.max_len}); "
                f"shorten the text or raise max_len"
            )
        if self.embed is None:
            return self.table[:seq_len]
        return self.embed.weight[:seq_len]
