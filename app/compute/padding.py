"""Cached experiments of the Padding & masks page: one sentence padded, run with and without
its mask; the drift of padding_drift; the NaN trap. Numpy out."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from app import compute
from app.compute.cache import MB
from app.state import ModelChoice
from encoder import Encoder
from encoder.analysis import cosine_matrix, mean_pool
from encoder.attention import scaled_dot_product_attention
from encoder.experiments import padding_drift
from encoder.masks import additive_mask

GRID_POINTS = 10  # pad counts on the drift chart (each costs two forward passes)


@dataclass(frozen=True)
class PaddedView:
    """One sentence padded to ``width`` tokens, through the model with its mask and without.

    Attention is that of one layer, every head, query rows and key columns.
    """

    attention_mask: np.ndarray  # (W,) 1 = real token
    with_mask: np.ndarray  # (H, W, W) attention with the padding mask
    without_mask: np.ndarray  # (H, W, W) the same sentence, attention_mask=None
    causal: np.ndarray  # (H, W, W) the layer's scores with padding + causal mask, no dropout
    hidden: np.ndarray  # (W, D) last_hidden_state with the mask, padded rows included
    nan_inf: np.ndarray  # (H, W) weights of a fully padded row masked with -inf
    nan_min: np.ndarray  # (H, W) the same row masked with finfo(float32).min
    out_nan: tuple[int, int]  # NaN values in the heads' outputs: (-inf, finfo.min)


def eval_model(choice: ModelChoice) -> Encoder:
    """The eval-mode instance of the sidebar's model: cached models never switch mode."""
    return compute.model_for(dataclasses.replace(choice, train=False))


def model_max_len(choice: ModelChoice) -> int:
    """Longest sequence the model accepts (512 for MiniLM; the sidebar's max_len from scratch)."""
    return eval_model(choice).cfg.max_len


def padded(ids: tuple[int, ...], width: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and attention_mask of one sentence padded to ``width``. Shape: (1, W) each"""
    n = len(ids)
    input_ids = torch.full((1, width), pad_id, dtype=torch.long)
    input_ids[0, :n] = torch.tensor(ids, dtype=torch.long)
    mask = (torch.arange(width) < n).long()[None]
    return input_ids, mask


def layer_qkv(model: Encoder, x: torch.Tensor, layer: int) -> tuple[torch.Tensor, ...]:
    """q, k, v of every head of one layer, from that layer's input. Shape: (1, H, W, Dh) each"""
    block = model.layers[layer]
    if block.norm_first:
        x = block.norm1(x)
    B, S, D = x.shape
    H = block.attn.n_heads
    return tuple(block.attn.qkv(x).view(B, S, 3, H, D // H).permute(2, 0, 3, 1, 4))


def causal_mask(attention_mask: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """Additive padding + causal mask: key j is open to query i when j <= i and j is real.

    Combined with a logical AND: adding two finfo.min would overflow to -inf.
    Shape: (1, W) -> (1, 1, W, W)
    """
    W = attention_mask.shape[-1]
    keep = torch.tril(torch.ones(W, W, dtype=torch.bool)) & attention_mask.bool()[:, None, None, :]
    return torch.where(keep, torch.zeros((), dtype=dtype), torch.finfo(dtype).min)


def mask_as_seen(attention_mask: np.ndarray, causal: bool = False) -> np.ndarray:
    """What attention adds to one sentence's scores: 0 open, finfo(float32).min blocked.

    Shape: (W,) -> (W, W), query rows, key columns."""
    mask = torch.as_tensor(attention_mask)[None]
    if causal:
        return causal_mask(mask)[0, 0].numpy()
    W = mask.shape[-1]
    return additive_mask(mask)[0, 0].expand(W, W).numpy()


def nan_trap(q, k, v) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """A fully padded row (every key masked) with -inf and with finfo.min: weights and NaNs."""
    W = k.shape[-2]
    none_real = torch.zeros(1, W, dtype=torch.long)  # attention_mask of a row of [PAD] only
    inf = torch.full((1, 1, 1, W), float("-inf"))  # every key masked with -inf
    out_inf, w_inf = scaled_dot_product_attention(q, k, v, inf)
    out_min, w_min = scaled_dot_product_attention(q, k, v, additive_mask(none_real, q.dtype))
    nans = (int(out_inf.isnan().sum()), int(out_min.isnan().sum()))
    return w_inf[0, :, 0].numpy(), w_min[0, :, 0].numpy(), nans


@st.cache_data(show_spinner=False, max_entries=16, max_size=128 * MB)  # <= 52 MB each
def padded_view(choice: ModelChoice, ids: tuple[int, ...], width: int, layer: int) -> PaddedView:
    """The sentence padded to ``width``, with and without its mask; raises ValueError if too big."""
    model = compute.model_for(choice)
    compute.check_size(model.cfg, 2, width, attentions=True)
    input_ids, mask = padded(ids, width, model.cfg.pad_id)

    def run(attention_mask):
        if not choice.train:
            return model(
                input_ids, attention_mask, output_attentions=True, output_hidden_states=True
            )
        with compute.TRAIN_LOCK, torch.random.fork_rng():
            torch.manual_seed(choice.seed)  # the same dropout masks in both runs
            return model(
                input_ids, attention_mask, output_attentions=True, output_hidden_states=True
            )

    with torch.inference_mode():
        masked, unmasked = run(mask), run(None)
        q, k, v = layer_qkv(model, masked.hidden_states[layer], layer)
        _, causal = scaled_dot_product_attention(q, k, v, causal_mask(mask, q.dtype))
        nan_inf, nan_min, out_nan = nan_trap(q, k, v)
    return PaddedView(
        attention_mask=mask[0].numpy(),
        with_mask=masked.attentions[layer][0].numpy(),
        without_mask=unmasked.attentions[layer][0].numpy(),
        causal=causal[0].numpy(),
        hidden=masked.last_hidden_state[0].numpy(),
        nan_inf=nan_inf,
        nan_min=nan_min,
        out_nan=out_nan,
    )


@st.cache_data(show_spinner=False, max_entries=64)
def drift(choice: ModelChoice, ids: tuple[int, ...], pad_counts: tuple[int, ...]) -> np.ndarray:
    """padding_drift with the mask and without it, in eval mode. Shape: (2, len(pad_counts))"""
    model = eval_model(choice)
    input_ids = torch.tensor([ids], dtype=torch.long)
    with torch.inference_mode():
        return np.stack(
            [
                padding_drift(model, input_ids, list(pad_counts), use_mask=True),
                padding_drift(model, input_ids, list(pad_counts), use_mask=False),
            ]
        )


def drift_grid(max_n: int, points: int = GRID_POINTS) -> tuple[int, ...]:
    """Pad counts from 1 to max_n for the drift chart: a few small ones, then evenly spaced."""
    if max_n < 1:
        return ()
    small = np.geomspace(1, max(1, max_n / 10), points // 3)
    even = np.linspace(max_n / 10, max_n, points - points // 3)
    return tuple(int(n) for n in np.unique(np.concatenate([small, even]).round().clip(1, max_n)))


def pooled_cosine(hidden: np.ndarray, attention_mask: np.ndarray) -> float:
    """Cosine between mean pooling over the real tokens and over every position, pads included."""
    with_mask = mean_pool(hidden[None], attention_mask[None])
    without = mean_pool(hidden[None], np.ones_like(attention_mask)[None])
    return float(cosine_matrix(np.concatenate([with_mask, without]))[0, 1])


def pad_attention_share(weights: np.ndarray, attention_mask: np.ndarray) -> float:
    """Mean weight that real query rows give to padded keys. Shape: weights (W, W)"""
    real = attention_mask.astype(bool)
    return float(weights[real][:, ~real].sum(axis=-1).mean()) if (~real).any() else 0.0
