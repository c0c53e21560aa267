"""The position-wise feed-forward network (eq. 2) and one encoder layer (section 3.1)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .attention import MultiHeadAttention
from .config import ACTIVATIONS, EncoderConfig
from .linear import Linear

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}  # F.gelu is the exact, erf-based GELU


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2 (eq. 2), or with GELU in place of the max.

    Dropout sits after the activation, as in ``nn.TransformerEncoderLayer``.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation ({activation!r}) must be one of {ACTIVATIONS}")
        self.activation = activation
        self.linear1 = Linear(d_model, d_ff)
        self.linear2 = Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Shape: (B, S, D) -> (B, S, D)"""
        return self.linear2(self.dropout(_ACTIVATIONS[self.activation](self.linear1(x))))


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each wrapped in dropout, a residual and a LayerNorm.

    Post-norm (the paper's and BERT's): x = LayerNorm(x + Dropout(Sublayer(x))).
    Pre-norm (``norm_first=True``): x = x + Dropout(Sublayer(LayerNorm(x))).
    """

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.norm_first = cfg.norm_first
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.dropout)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout, cfg.activation)
        self.norm1 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.norm2 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.dropout1 = nn.Dropout(cfg.dropout)
        self.dropout2 = nn.Dropout(cfg.dropout)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, *, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Shape: x (B, S, D), mask (B, 1, 1, S) additive -> (B, S, D), weights (B, H, S, S)"""
        if self.norm_first:
            a, weights = self.attn(self.norm1(x), mask, need_weights=need_weights)
            x = x + self.dropout1(a)
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            a, weights = self.attn(x, mask, need_weights=need_weights)
            x = self.norm1(x + self.dropout1(a))
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return x, weights
