"""Cached experiments of the Padding & masks page: one sentence padded, run with and without
its mask; the drift of padding_drift; the NaN trap. Numpy out.

Each goes through the server's limiter (``limiter.admit``) and reports its progress, layer by
layer, to the slot the page keeps at its top (``_status``: an st.empty, not part of the key).
Only what the page shows is computed and kept: one layer's attention, and the run without the
mask only up to that layer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app import compute
from app.compute import limiter, progress
from app.compute.cache import MB
from app.state import ModelChoice
from encoder import Encoder, EncoderConfig
from encoder.analysis import cosine_matrix, mean_pool
from encoder.attention import scaled_dot_product_attention
from encoder.experiments import padding_drift_both
from encoder.masks import additive_mask, layer_mask

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


def padded_tokens(tokens: list[str], width: int, pad_token: str) -> list[str]:
    """One sentence's tokens followed by ``pad_token`` up to ``width`` positions."""
    return list(tokens) + [pad_token] * (width - len(tokens))


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


def layer_runs(
    model: Encoder,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    layer: int,
    *,
    to_the_end: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Encoder.forward(..., output_attentions=True) as the page needs it: the same modules and
    operations in the same order (so the same numbers), but only layer ``layer``'s weights are
    kept, and without ``to_the_end`` the run stops after that layer.

    Returns layer ``layer``'s input (1, W, D) and weights (1, H, W, W), and last_hidden_state
    (1, W, D) (None unless ``to_the_end``).
    """
    x = model.embed(input_ids)  # (1, W, D)
    mask = layer_mask(attention_mask, input_ids, x.dtype)  # (1, 1, 1, W)
    layer_input = weights = None
    for i, block in enumerate(model.layers):
        if i == layer:
            layer_input = x
        x, w = block(x, mask, need_weights=True)
        if i == layer:
            weights = w
            if not to_the_end:
                return layer_input, weights, None
        del w  # one layer's (1, H, W, W) alive at a time
    if model.final_norm is not None:
        x = model.final_norm(x)
    return layer_input, weights, x


def padded_flops(cfg: EncoderConfig, width: int, layers: int) -> float:
    """Multiply-adds x 2 of ``layers`` layers of one sentence of ``width`` tokens."""
    return compute.forward_flops(cfg, 1, width) * layers / cfg.n_layers


def padded_peak(cfg: EncoderConfig, width: int) -> int:
    """Peak bytes of padded_view: one run, with one layer's maps, causal and NaN-trap extras
    (measured: 187 MB at 512 tokens through d_model 768, 12 heads; bench/memory.py --case peaks)."""
    kept = 9 * cfg.n_heads * width * width + 4 * width * cfg.d_model
    return limiter.forward_bytes(cfg.d_model, cfg.n_heads, cfg.d_ff, 1, width, kept)


@st.cache_data(show_spinner=False, max_entries=16, max_size=128 * MB)  # <= 52 MB each
def padded_view(
    choice: ModelChoice, ids: tuple[int, ...], width: int, layer: int, _status=None
) -> PaddedView:
    """The sentence padded to ``width``, with and without its mask (up to max_len: one layer's
    maps are kept, 52 MB at most)."""
    model = compute.model_for(choice)
    input_ids, mask = padded(ids, width, model.cfg.pad_id)
    cfg = model.cfg
    total = padded_flops(cfg, width, cfg.n_layers) + padded_flops(cfg, width, layer + 1)

    def run(attention_mask, to_the_end: bool):
        if not choice.train:
            return layer_runs(model, input_ids, attention_mask, layer, to_the_end=to_the_end)
        with compute.TRAIN_LOCK, torch.random.fork_rng():
            torch.manual_seed(choice.seed)  # the same dropout masks in both runs
            return layer_runs(model, input_ids, attention_mask, layer, to_the_end=to_the_end)

    with (
        progress.messages_to(_status),
        limiter.admit(padded_peak(cfg, width)),
        progress.progress(f"Padding sentence to {width} tokens", total, compute.rate()) as work,
        torch.inference_mode(),
    ):
        x, with_mask, hidden = run(mask, to_the_end=True)
        q, k, v = layer_qkv(model, x, layer)
        _, causal = scaled_dot_product_attention(q, k, v, causal_mask(mask, q.dtype))
        nan_inf, nan_min, out_nan = nan_trap(q, k, v)
        _, without_mask, _ = run(None, to_the_end=False)
    compute.note_rate(total, work.elapsed())
    return PaddedView(
        attention_mask=mask[0].numpy(),
        with_mask=with_mask[0].numpy(),
        without_mask=without_mask[0].numpy(),
        causal=causal[0].numpy(),
        hidden=hidden[0].numpy(),
        nan_inf=nan_inf,
        nan_min=nan_min,
        out_nan=out_nan,
    )


def drift_runs(n_real: int, pad_counts: tuple[int, ...]) -> list[int]:
    """Widths of the runs ``drift`` makes (``padding_drift_both``): the sentence alone once,
    then the sentence + n [PAD] for each n, with the mask and without."""
    return [n_real] + 2 * [n_real + n for n in pad_counts]


def drift_seconds(choice: ModelChoice, n_real: int, pad_counts: tuple[int, ...]) -> float:
    """About how long ``drift`` takes on this server (from the measured forward speed)."""
    cfg = eval_model(choice).cfg
    return sum(compute.forward_flops(cfg, 1, w) for w in drift_runs(n_real, pad_counts)) / (
        compute.rate()
    )


@st.cache_data(show_spinner=False, max_entries=64)
def drift(
    choice: ModelChoice, ids: tuple[int, ...], pad_counts: tuple[int, ...], _status=None
) -> np.ndarray:
    """padding_drift with the mask and without it, in eval mode. Shape: (2, len(pad_counts))

    The two share the sentence's run alone (``padding_drift_both``): 2·N + 1 runs, not 2·N + 2."""
    model = eval_model(choice)
    cfg = model.cfg
    input_ids = torch.tensor([ids], dtype=torch.long)
    widths = drift_runs(len(ids), pad_counts)
    total = sum(compute.forward_flops(cfg, 1, w) for w in widths)
    what = f"Padding sentence with up to {max(pad_counts, default=0)} [PAD], mask on and off"
    with (
        progress.messages_to(_status),
        limiter.admit(limiter.forward_bytes(cfg.d_model, cfg.n_heads, cfg.d_ff, 1, max(widths))),
        progress.progress(what, total, compute.rate()) as work,
        torch.inference_mode(),
    ):
        curves = padding_drift_both(model, input_ids, list(pad_counts))
    compute.note_rate(total, work.elapsed())
    return curves


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


def trap_table(view: PaddedView, head: int) -> pd.DataFrame:
    """The NaN trap of one head: a fully padded row masked with -inf, then with finfo.min."""

    def row(fill: str, weights: np.ndarray, nans: int) -> dict:
        shown = ", ".join("nan" if np.isnan(w) else f"{w:.4f}" for w in weights[:4])
        return {
            "masked with": fill,
            f"weights of the row (first 4 of {len(weights)})": shown + ", …",
            "row sum": "nan" if np.isnan(weights.sum()) else f"{weights.sum():.4f}",
            "NaN values in the heads' outputs": nans,
        }

    return pd.DataFrame(
        [
            row("−inf", view.nan_inf[head], view.out_nan[0]),
            row("torch.finfo(float32).min", view.nan_min[head], view.out_nan[1]),
        ]
    )
