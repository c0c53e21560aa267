"""Padding masks.

Convention (as in Hugging Face): the public ``attention_mask`` is (batch, seq) with 1/True for a
real token and 0/False for padding. It is converted once, at the top of the stack, into an
additive (batch, 1, 1, seq) mask holding 0 for real keys and ``torch.finfo(dtype).min`` for padded
keys. The most negative finite number (never -inf) keeps a fully padded row finite: softmax then
spreads evenly instead of returning NaN.

Beware: ``nn.MultiheadAttention``'s ``key_padding_mask`` (and ``nn.TransformerEncoder``'s
``src_key_padding_mask``) mean the opposite: True = ignore this key. Use ``to_key_padding_mask``.
"""

from __future__ import annotations

import operator

import torch
from torch import Tensor

from .config import check_int


def padding_mask(lengths: list[int] | Tensor, seq_len: int | None = None) -> Tensor:
    """attention_mask from sequence lengths: True for the first length[b] positions of row b.

    Shape: (B,) -> (B, S)
    """
    lengths = _whole_numbers(lengths)
    if lengths.ndim != 1:
        raise ValueError(f"lengths must be a list of numbers, got shape {tuple(lengths.shape)}")
    if (lengths < 0).any():
        raise ValueError("lengths must not be negative")
    longest = int(lengths.max()) if len(lengths) else 0
    if seq_len is not None:
        if not isinstance(seq_len, bool) and hasattr(seq_len, "__index__"):
            seq_len = operator.index(seq_len)  # numpy and 0-d tensor ints too
        check_int("seq_len", seq_len, minimum=0)
    seq_len = longest if seq_len is None else seq_len
    if longest > seq_len:
        raise ValueError(f"a length ({longest}) is longer than seq_len ({seq_len})")
    return torch.arange(seq_len)[None, :] < lengths[:, None]


def _whole_numbers(lengths: object) -> Tensor:
    """lengths as an int64 tensor; ValueError for anything that is not whole numbers."""
    if isinstance(lengths, Tensor):
        if lengths.dtype.is_floating_point or lengths.is_complex() or lengths.dtype == torch.bool:
            raise ValueError(f"lengths must be whole numbers, got dtype {lengths.dtype}")
        return lengths.long()
    if isinstance(lengths, (str, bytes)) or not hasattr(lengths, "__iter__"):
        raise ValueError(f"lengths must be a list of whole numbers, got {type(lengths).__name__}")
    values = []
    items = list(lengths)
    if any(hasattr(n, "__iter__") and not isinstance(n, (str, bytes)) for n in items):
        try:
            shape = str(tuple(torch.as_tensor(items).shape))
        except (TypeError, ValueError, RuntimeError):
            shape = "ragged"
        raise ValueError(f"lengths must be a list of numbers, got nested lists of shape {shape}")
    for n in items:
        try:
            if isinstance(n, bool):
                raise TypeError
            values.append(operator.index(n))
        except TypeError:
            raise ValueError(f"lengths must be whole numbers, got {n!r}") from None
        check_int("a length", values[-1], minimum=-(2**63))
    return torch.tensor(values, dtype=torch.long)


def _keep(attention_mask: object) -> Tensor:
    """A (batch, seq) mask of 1/0 (any real dtype) or True/False, as bool."""
    if not isinstance(attention_mask, Tensor):
        raise ValueError(
            f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}"
        )
    if attention_mask.ndim != 2:
        raise ValueError(
            f"attention_mask must have shape (batch, seq), got {tuple(attention_mask.shape)}"
        )
    if attention_mask.dtype == torch.bool:
        return attention_mask
    if attention_mask.is_complex() or not ((attention_mask == 0) | (attention_mask == 1)).all():
        raise ValueError("attention_mask must hold only 1 (real token) and 0 (padding)")
    return attention_mask != 0


def check_attention_mask(attention_mask: Tensor, input_ids: Tensor) -> Tensor:
    """Validate an attention_mask against its input_ids and return it as bool. Shape: (B, S)"""
    if not isinstance(attention_mask, Tensor):
        raise ValueError(
            f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}"
        )
    if attention_mask.shape != input_ids.shape:
        raise ValueError(
            f"attention_mask shape {tuple(attention_mask.shape)} does not match "
            f"input_ids shape {tuple(input_ids.shape)}; give one 1/0 per token"
        )
    if attention_mask.dtype == torch.bool:
        return attention_mask
    if attention_mask.is_complex() or not ((attention_mask == 0) | (attention_mask == 1)).all():
        raise ValueError("attention_mask must hold only 1 (real token) and 0 (padding)")
    return attention_mask != 0


def additive_mask(attention_mask: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """0 for real keys, finfo(dtype).min for padded keys, broadcastable over heads and queries.

    Shape: (B, S) -> (B, 1, 1, S)
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype ({dtype!r}) must be a floating-point torch dtype")
    keep = _keep(attention_mask)[:, None, None, :]
    zero = torch.zeros((), dtype=dtype)
    return torch.where(keep, zero, torch.finfo(dtype).min)


def layer_mask(
    attention_mask: Tensor | None, input_ids: Tensor, dtype: torch.dtype = torch.float32
) -> Tensor | None:
    """The additive mask every layer adds to its scores, built once per forward pass: None
    without a mask or when nothing is padded (adding zeros would only cost time).

    Shape: attention_mask (B, S) -> (B, 1, 1, S)
    """
    if attention_mask is None:
        return None
    keep = check_attention_mask(attention_mask, input_ids)
    return None if bool(keep.all()) else additive_mask(keep, dtype)


def to_key_padding_mask(attention_mask: Tensor) -> Tensor:
    """Convert to PyTorch's key_padding_mask, where True means "ignore this key". Shape: (B, S)"""
    return ~_keep(attention_mask)
