"""Encoder Explorer's library: a transformer encoder that shows its internals. No streamlit here."""

from .attention import MultiHeadAttention, scaled_dot_product_attention
from .config import EncoderConfig
from .layers import EncoderLayer, FeedForward
from .masks import additive_mask, padding_mask, to_key_padding_mask
from .model import Encoder, EncoderOutput
from .positional import PositionalEncoding, sinusoidal_table

__all__ = [
    "Encoder",
    "EncoderConfig",
    "EncoderLayer",
    "EncoderOutput",
    "FeedForward",
    "MultiHeadAttention",
    "PositionalEncoding",
    "additive_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "sinusoidal_table",
    "to_key_padding_mask",
]
