"""Scaled dot-product attention (eq. 1) and multi-head attention (section 3.2.2)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .linear import Linear


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, dropout_p: float = 0.0
) -> tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V, returning the output and the weights.

    ``mask`` is additive (0 keep, finfo.min drop), as built by ``masks.additive_mask``.
    The weights returned are the ones multiplied with V: after softmax and, when
    ``dropout_p > 0``, after dropout (as ``nn.MultiheadAttention`` and Hugging Face do).

    Shape: q (B, H, Sq, Dh), k and v (B, H, Sk, Dh), mask (B, 1, 1, Sk)
           -> out (B, H, Sq, Dh), weights (B, H, Sq, Sk)
    """
    # scale Q (B, H, S, Dh) rather than the scores (B, H, S, S): fewer multiplications, and
    # the same order of operations as nn.MultiheadAttention
    scores = (q * (1.0 / math.sqrt(q.size(-1)))) @ k.transpose(-2, -1)  # (B, H, Sq, Sk)
    if mask is not None:
        scores = scores.add_(mask)  # in place: the matmul's output is not needed for backward
    # rows sum to 1 over real keys, exactly 0 on padded keys
    if scores.requires_grad:
        weights = scores.softmax(dim=-1)
    else:  # no autograd: reuse the scores' buffer instead of allocating another (B, H, S, S)
        weights = torch.softmax(scores, dim=-1, out=scores)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights  # (B, H, Sq, Dh), (B, H, Sq, Sk)


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O, head_i = Attention(Q W_i^Q, ...).

    Self-attention only. The three input projections live in one (3*D, D) matrix ``qkv``, rows in
    the order query, key, value, exactly like ``nn.MultiheadAttention.in_proj_weight``.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.dropout = dropout
        self.qkv = Linear(d_model, 3 * d_model)  # W^Q, W^K, W^V stacked
        self.out = Linear(d_model, d_model)  # W^O

    def forward(
        self, x: Tensor, mask: Tensor | None = None, *, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Self-attention over x. Returns (output, per-head weights or None).

        Shape: x (B, S, D), mask (B, 1, 1, S) additive -> (B, S, D), (B, H, S, S)
        """
        B, S, D = x.shape
        q, k, v = (
            self.qkv(x).view(B, S, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        )  # each (B, H, S, Dh)
        p = self.dropout if self.training else 0.0
        if need_weights:
            y, weights = scaled_dot_product_attention(q, k, v, mask, p)
        else:
            y, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p), None
        y = y.transpose(1, 2).reshape(B, S, D)  # concatenate the heads: (B, S, D)
        return self.out(y), weights
