"""Experiments that run a model and return numbers: the order test, padding drift, and one
layer recomputed step by step from its weights.

Each runs in eval mode (no dropout, so the numbers are exact) and hands the model back in the
mode it came in. Switching modes is visible to every thread using the same module: an app that
shares a cached model between users should pass its eval-mode instance.
"""

from __future__ import annotations

import contextlib
import math
import operator
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .layers import _ACTIVATIONS
from .masks import additive_mask, check_attention_mask
from .model import Encoder


def _check_model(model: object) -> None:
    if not isinstance(model, Encoder):
        raise ValueError(f"model must be an encoder.Encoder, got {type(model).__name__}")


@contextlib.contextmanager
def evaluating(model: Encoder) -> Iterator[Encoder]:
    """Eval mode and no autograd for the block; the model's own mode afterwards."""
    _check_model(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def _one_sentence(model: Encoder, input_ids: Tensor) -> Tensor:
    """Check (1, S) ids the model can embed; returns them as int64."""
    _check_model(model)
    ids = model._check_ids(input_ids)
    if ids.shape[0] != 1:
        raise ValueError(
            f"input_ids must hold one sentence, shape (1, seq); got {tuple(ids.shape)}"
        )
    return ids.long()


def _whole_numbers(name: str, values: object) -> list[int]:
    """A list of whole numbers (numpy and 0-d tensor ints too, never bools or floats)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a list of whole numbers, got {type(values).__name__}")
    out = []
    for n in values:
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise ValueError(f"{name} must hold whole numbers, got {n!r}")
        out.append(operator.index(n))
        if abs(out[-1]) > 2**63 - 1:
            raise ValueError(f"{name} holds {out[-1]}, far past any sequence length")
    return out


def order_test(
    model: Encoder, input_ids: Tensor, permutation: Sequence[int], *, use_positions: bool
) -> float:
    """Shuffle a sentence's tokens: how far are the outputs from the shuffled outputs?

    Returns max |encode(ids[perm]) − encode(ids)[perm]| over every token and dimension. Without
    positional vectors (``use_positions=False``) self-attention cannot see order, so the two
    agree up to float noise (the encoder is permutation-equivariant); with them they differ.
    The switch is a forward argument: the model is not modified.

    Shape: input_ids (1, S), permutation a reordering of range(S)
    """
    ids = _one_sentence(model, input_ids)
    S = ids.shape[1]
    perm = torch.as_tensor(_whole_numbers("permutation", permutation), dtype=torch.long)
    if perm.ndim != 1 or sorted(perm.tolist()) != list(range(S)):
        raise ValueError(f"permutation must reorder range({S}), each position exactly once")
    with evaluating(model):
        out = model(ids, use_positions=use_positions).last_hidden_state[0]  # (S, D)
        shuffled = model(ids[:, perm], use_positions=use_positions).last_hidden_state[0]
    return float((shuffled - out[perm]).abs().max())


def padding_drift(
    model: Encoder, input_ids: Tensor, pad_counts: Sequence[int], *, use_mask: bool = True
) -> np.ndarray:
    """How far a sentence's outputs move when n padding tokens are appended, for each n.

    Each run appends n ``pad_id`` tokens and passes the matching attention_mask (or none when
    ``use_mask=False``, so attention mixes the padding in). Returns, per n, the max absolute
    difference of the S real tokens' last_hidden_state from the unpadded run: float noise with
    the mask, a real drift without it.

    Shape: input_ids (1, S) with no padding -> (len(pad_counts),) float64
    """
    return _drift(model, input_ids, pad_counts, (use_mask,))[0]


def padding_drift_both(model: Encoder, input_ids: Tensor, pad_counts: Sequence[int]) -> np.ndarray:
    """``padding_drift`` with the mask and without it, the unpadded run made once for both:
    the same runs and operations, so the same numbers, in 2·N + 1 runs instead of 2·N + 2.

    Shape: input_ids (1, S) with no padding -> (2, len(pad_counts)) float64
    """
    return _drift(model, input_ids, pad_counts, (True, False))


def _drift(
    model: Encoder, input_ids: Tensor, pad_counts: Sequence[int], masks: tuple[bool, ...]
) -> np.ndarray:
    ids = _one_sentence(model, input_ids)
    S = ids.shape[1]
    counts = _whole_numbers("pad_counts", pad_counts)
    if any(n < 0 for n in counts):
        raise ValueError("pad_counts must not be negative")
    if counts and S + max(counts) > model.cfg.max_len:
        raise ValueError(
            f"a sentence of {S} tokens plus {max(counts)} padding tokens is longer than "
            f"max_len ({model.cfg.max_len}); pad less or raise max_len"
        )
    drift = np.zeros((len(masks), len(counts)))
    with evaluating(model):
        base = model(ids).last_hidden_state[0]  # (S, D)
        for row, use_mask in enumerate(masks):
            for i, n in enumerate(counts):
                padded = F.pad(ids, (0, n), value=model.cfg.pad_id)  # (1, S + n)
                mask = torch.arange(S + n)[None, :] < S if use_mask else None
                out = model(padded, mask).last_hidden_state[0, :S]
                drift[row, i] = float((out - base).abs().max())
    return drift


def layer_steps(
    model: Encoder, input_ids: Tensor, attention_mask: Tensor | None = None, layer: int = 0
) -> dict[str, Tensor]:
    """One encoder layer recomputed from its weights, every intermediate tensor in step order.

    Not a call of the layer: each step is written out (F.linear, softmax, F.layer_norm with the
    layer's own parameters), so comparing ``output`` with the model's ``hidden_states[layer+1]``
    proves the walkthrough is the model. Keys, in order:

    - "input" (B, S, D): the layer's input, ``hidden_states[layer]``
    - "normed_input" (B, S, D): LayerNorm1(input), pre-norm only
    - "q", "k", "v" (B, H, S, d_head): the projections, split into heads
    - "scores" (B, H, S, S): Q·Kᵀ, not yet scaled
    - "scaled" (B, H, S, S): Q·Kᵀ / √d_head (eq. 1)
    - "masked" (B, H, S, S): scaled + the additive padding mask (finfo.min on padded keys)
    - "weights" (B, H, S, S): softmax over keys, equal to ``attentions[layer]``
    - "context" (B, H, S, d_head): weights · V per head
    - "concat" (B, S, D): the heads side by side
    - "attn_out" (B, S, D): concat · W_Oᵀ + b_O
    - "residual1" (B, S, D): input + attn_out
    - "norm1" (B, S, D): LayerNorm1(residual1), post-norm only
    - "normed_ff_input" (B, S, D): LayerNorm2(residual1), pre-norm only
    - "ff_hidden" (B, S, d_ff): the activation of the first projection (ReLU zeros show here)
    - "ff_out" (B, S, D): the second projection
    - "residual2" (B, S, D): the feed-forward input's residual stream + ff_out
    - "output" (B, S, D): post-norm LayerNorm2(residual2); pre-norm residual2. Equal to
      ``hidden_states[layer + 1]``, except after the last layer of a pre-norm stack, where
    - "final_norm" (B, S, D): the stack's final LayerNorm(output) is ``hidden_states[-1]``.
    """
    _check_model(model)
    n_layers = len(model.layers)
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n_layers:
        raise ValueError(f"layer ({layer!r}) must be a whole number from 0 to {n_layers - 1}")
    ids = model._check_ids(input_ids)
    mask = None
    if attention_mask is not None:
        keep = check_attention_mask(attention_mask, ids)
        if not bool(keep.all()):
            mask = additive_mask(keep)  # (B, 1, 1, S)
    with evaluating(model):
        # the path that returns attentions (not the fused fast path): the same rounding as the
        # hidden_states and attentions a page shows next to these steps
        run = model(ids, attention_mask, output_hidden_states=True, output_attentions=True)
        hidden = run.hidden_states
        return _steps(model, hidden[layer], mask, layer)


def _steps(model: Encoder, x: Tensor, mask: Tensor | None, layer: int) -> dict[str, Tensor]:
    block = model.layers[layer]
    attn, ff = block.attn, block.ff
    B, S, D = x.shape
    H = attn.n_heads
    pre = block.norm_first

    def norm(ln, t: Tensor) -> Tensor:
        return F.layer_norm(t, (D,), ln.weight, ln.bias, ln.eps)

    steps: dict[str, Tensor] = {"input": x}
    a_in = x
    if pre:
        a_in = steps["normed_input"] = norm(block.norm1, x)
    qkv = F.linear(a_in, attn.qkv.weight, attn.qkv.bias)  # (B, S, 3D): W_Q, W_K, W_V stacked
    q, k, v = qkv.view(B, S, 3, H, D // H).permute(2, 0, 3, 1, 4)  # each (B, H, S, Dh)
    steps.update(q=q, k=k, v=v)
    steps["scores"] = q @ k.transpose(-2, -1)  # (B, H, S, S)
    # scale Q before the product, exactly as the model does (same rounding)
    steps["scaled"] = (q * (1.0 / math.sqrt(D // H))) @ k.transpose(-2, -1)
    steps["masked"] = steps["scaled"] + mask if mask is not None else steps["scaled"].clone()
    steps["weights"] = steps["masked"].softmax(dim=-1)
    steps["context"] = steps["weights"] @ v  # (B, H, S, Dh)
    steps["concat"] = steps["context"].transpose(1, 2).reshape(B, S, D)
    steps["attn_out"] = F.linear(steps["concat"], attn.out.weight, attn.out.bias)
    steps["residual1"] = x + steps["attn_out"]
    if pre:
        stream = steps["residual1"]
        ff_in = steps["normed_ff_input"] = norm(block.norm2, stream)
    else:
        stream = ff_in = steps["norm1"] = norm(block.norm1, steps["residual1"])
    act = _ACTIVATIONS[ff.activation]
    steps["ff_hidden"] = act(F.linear(ff_in, ff.linear1.weight, ff.linear1.bias))
    steps["ff_out"] = F.linear(steps["ff_hidden"], ff.linear2.weight, ff.linear2.bias)
    steps["residual2"] = stream + steps["ff_out"]
    steps["output"] = steps["residual2"] if pre else norm(block.norm2, steps["residual2"])
    if model.final_norm is not None and layer == len(model.layers) - 1:
        steps["final_norm"] = norm(model.final_norm, steps["output"])
    return steps
