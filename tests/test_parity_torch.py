"""Exact parity (eval mode) with PyTorch's own transformer modules, weights copied across."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from encoder import Encoder, EncoderConfig, MultiHeadAttention
from encoder.layers import EncoderLayer
from encoder.masks import additive_mask, padding_mask, to_key_padding_mask

TOL = dict(atol=1e-5, rtol=1e-5)
B, S = 3, 7
LENGTHS = [7, 3, 5]  # row 0 unpadded, rows 1 and 2 padded; no fully padded row (PyTorch -> NaN)


def make_cfg(norm_first: bool, activation: str, **overrides) -> EncoderConfig:
    values = dict(
        vocab_size=50,
        d_model=32,
        n_heads=4,
        n_layers=2,
        d_ff=64,
        dropout=0.1,
        max_len=16,
        norm_first=norm_first,
        activation=activation,
        layer_norm_eps=1e-6,
    )
    values.update(overrides)
    return EncoderConfig(**values)


@torch.no_grad()
def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Random values in every parameter (biases and LayerNorm affine too), so nothing hides."""
    gen = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return module


@torch.no_grad()
def copy_layer(ours: EncoderLayer, ref: nn.TransformerEncoderLayer) -> None:
    ref.self_attn.in_proj_weight.copy_(ours.attn.qkv.weight)  # rows q, k, v
    ref.self_attn.in_proj_bias.copy_(ours.attn.qkv.bias)
    ref.self_attn.out_proj.weight.copy_(ours.attn.out.weight)
    ref.self_attn.out_proj.bias.copy_(ours.attn.out.bias)
    ref.linear1.load_state_dict(ours.ff.linear1.state_dict())
    ref.linear2.load_state_dict(ours.ff.linear2.state_dict())
    ref.norm1.load_state_dict(ours.norm1.state_dict())
    ref.norm2.load_state_dict(ours.norm2.state_dict())


def ref_layer(cfg: EncoderConfig) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(
        cfg.d_model,
        cfg.n_heads,
        cfg.d_ff,
        cfg.dropout,
        cfg.activation,
        layer_norm_eps=cfg.layer_norm_eps,
        batch_first=True,
        norm_first=cfg.norm_first,
    )


def ref_stack(model: Encoder) -> nn.TransformerEncoder:
    cfg = model.cfg
    norm = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps) if cfg.norm_first else None
    ref = nn.TransformerEncoder(ref_layer(cfg), cfg.n_layers, norm=norm, enable_nested_tensor=False)
    for ours, theirs in zip(model.layers, ref.layers, strict=True):
        copy_layer(ours, theirs)
    if cfg.norm_first:
        ref.norm.load_state_dict(model.final_norm.state_dict())
    return ref.eval()


def run_our_layers(model: Encoder, x: torch.Tensor, attention_mask: torch.Tensor | None):
    mask = None if attention_mask is None else additive_mask(attention_mask)
    for layer in model.layers:
        x, _ = layer(x, mask)
    if model.final_norm is not None:
        x = model.final_norm(x)
    return x


def assert_close_on_real_tokens(ours, theirs, attention_mask):
    """All positions of unpadded rows; only real-token positions of padded rows."""
    if attention_mask is None:
        torch.testing.assert_close(ours, theirs, **TOL)
        return
    for b in range(ours.shape[0]):
        real = attention_mask[b]
        if bool(real.all()):
            torch.testing.assert_close(ours[b], theirs[b], **TOL)
        else:
            torch.testing.assert_close(ours[b][real], theirs[b][real], **TOL)


def inputs(cfg: EncoderConfig, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, S, cfg.d_model, generator=gen)
    ids = torch.randint(1, cfg.vocab_size, (B, S), generator=gen)
    return x, ids


VARIANTS = pytest.mark.parametrize(
    ("norm_first", "activation"),
    [(False, "relu"), (False, "gelu"), (True, "relu"), (True, "gelu")],
)
PADDED = pytest.mark.parametrize("padded", [False, True], ids=["nopad", "pad"])
GRAD = pytest.mark.parametrize("no_grad", [False, True], ids=["grad", "no_grad"])


def grad_ctx(no_grad: bool):
    return torch.no_grad() if no_grad else contextlib.nullcontext()


@VARIANTS
@PADDED
@GRAD
def test_one_layer_matches_transformer_encoder_layer(norm_first, activation, padded, no_grad):
    cfg = make_cfg(norm_first, activation)
    torch.manual_seed(0)
    ours = randomize(EncoderLayer(cfg), seed=1).eval()
    ref = ref_layer(cfg).eval()
    copy_layer(ours, ref)
    x, _ = inputs(cfg)
    am = padding_mask(LENGTHS, S) if padded else None
    with grad_ctx(no_grad):
        mine, _ = ours(x, None if am is None else additive_mask(am))
        kpm = None if am is None else to_key_padding_mask(am)
        theirs = ref(x, src_key_padding_mask=kpm)
    assert_close_on_real_tokens(mine, theirs, am)


@VARIANTS
@PADDED
@GRAD
def test_stack_matches_transformer_encoder(norm_first, activation, padded, no_grad):
    cfg = make_cfg(norm_first, activation)
    model = randomize(Encoder(cfg, seed=0), seed=2).eval()
    ref = ref_stack(model)
    x, _ = inputs(cfg, seed=3)
    am = padding_mask(LENGTHS, S) if padded else None
    with grad_ctx(no_grad):
        mine = run_our_layers(model, x, am)
        kpm = None if am is None else to_key_padding_mask(am)
        theirs = ref(x, src_key_padding_mask=kpm)
    assert_close_on_real_tokens(mine, theirs, am)


@VARIANTS
@PADDED
@GRAD
@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_full_forward_matches_transformer_encoder(
    norm_first, activation, padded, no_grad, positional
):
    cfg = make_cfg(norm_first, activation, positional=positional)
    model = randomize(Encoder(cfg, seed=0), seed=4).eval()
    ref = ref_stack(model)
    _, ids = inputs(cfg, seed=5)
    am = padding_mask(LENGTHS, S) if padded else None
    with grad_ctx(no_grad):
        mine = model(ids, am).last_hidden_state
        x = model.tok_embed(ids) * model.embed_scale + model.pos(S)
        kpm = None if am is None else to_key_padding_mask(am)
        theirs = ref(x, src_key_padding_mask=kpm)
    assert_close_on_real_tokens(mine, theirs, am)


def test_embed_scale_is_sqrt_d_model():
    cfg = make_cfg(False, "relu")
    assert Encoder(cfg, seed=0).embed_scale == pytest.approx(32**0.5)
    unscaled = make_cfg(False, "relu", scale_embeddings=False)
    assert Encoder(unscaled, seed=0).embed_scale == 1.0


@PADDED
@GRAD
@pytest.mark.parametrize(("d_model", "n_heads"), [(16, 2), (32, 4)])
def test_per_head_attention_weights_match_multihead_attention(padded, no_grad, d_model, n_heads):
    torch.manual_seed(0)
    ours = randomize(MultiHeadAttention(d_model, n_heads, dropout=0.1), seed=6).eval()
    ref = nn.MultiheadAttention(d_model, n_heads, dropout=0.1, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(ours.qkv.bias)
        ref.out_proj.weight.copy_(ours.out.weight)
        ref.out_proj.bias.copy_(ours.out.bias)
    x = torch.randn(B, S, d_model, generator=torch.Generator().manual_seed(7))
    am = padding_mask(LENGTHS, S) if padded else None
    with grad_ctx(no_grad):
        out, weights = ours(x, None if am is None else additive_mask(am), need_weights=True)
        kpm = None if am is None else to_key_padding_mask(am)
        ref_out, ref_weights = ref(
            x, x, x, key_padding_mask=kpm, need_weights=True, average_attn_weights=False
        )
    assert weights.shape == (B, n_heads, S, S)
    torch.testing.assert_close(weights, ref_weights, **TOL)
    # every query position, padded ones included, attends only to real keys on both sides
    torch.testing.assert_close(out, ref_out, **TOL)
    if am is not None:
        assert (weights[~am[:, None, None, :].expand_as(weights)] == 0).all()


@PADDED
def test_without_weights_matches_with_weights(padded):
    ours = randomize(MultiHeadAttention(32, 4), seed=8).eval()
    x = torch.randn(B, S, 32, generator=torch.Generator().manual_seed(9))
    mask = additive_mask(padding_mask(LENGTHS, S)) if padded else None
    fast, none = ours(x, mask)
    assert none is None
    manual, _ = ours(x, mask, need_weights=True)
    torch.testing.assert_close(fast, manual, **TOL)


@VARIANTS
@PADDED
@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_internals_path_equals_fast_path(norm_first, activation, padded, positional):
    cfg = make_cfg(norm_first, activation, positional=positional)
    model = randomize(Encoder(cfg, seed=0), seed=10).eval()
    _, ids = inputs(cfg, seed=11)
    am = padding_mask(LENGTHS, S) if padded else None
    with torch.no_grad():
        fast = model(ids, am)
        full = model(ids, am, output_attentions=True, output_hidden_states=True)
    assert fast.hidden_states is None and fast.attentions is None
    assert len(full.attentions) == cfg.n_layers
    # all positions, padded ones included: both paths use the same additive mask
    torch.testing.assert_close(full.last_hidden_state, fast.last_hidden_state, **TOL)
