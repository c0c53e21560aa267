"""encoder.experiments and relative_rotation: numbers the pages show, checked against the model's
own forward pass and against hand-derived identities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from encoder import Encoder, EncoderConfig
from encoder.experiments import layer_steps, order_test, padding_drift, padding_drift_both
from encoder.positional import relative_rotation, sinusoidal_table


def tiny(seed: int = 0, **kw) -> Encoder:
    base = dict(vocab_size=50, d_model=16, n_heads=4, n_layers=2, d_ff=32, max_len=64)
    return Encoder(EncoderConfig(**{**base, **kw}), seed=seed)


IDS = torch.tensor([[3, 17, 5, 42, 8, 11]])


# ---- relative_rotation ----------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    half=st.integers(1, 40),
    offset=st.integers(-50, 50),
    base=st.sampled_from([10.0, 100.0, 10000.0]),
)
def test_rotation_maps_every_position_to_the_one_offset_later(half, offset, base):
    d = 2 * half
    table = sinusoidal_table(120, d, base)
    rot = relative_rotation(d, offset, base)
    lo, hi = max(0, -offset), 120 - max(0, offset)
    assert_close(table[lo + offset : hi + offset], table[lo:hi] @ rot.T, atol=2e-6, rtol=0)
    assert_close(rot @ rot.T, torch.eye(d), atol=1e-6, rtol=0)  # orthogonal


def test_rotation_is_block_diagonal_and_zero_offset_is_identity():
    rot = relative_rotation(8, 3)
    assert rot[0, 2] == 0 and rot[2, 0] == 0 and rot[0, 1] != 0
    assert_close(relative_rotation(8, 0), torch.eye(8))


@pytest.mark.parametrize(
    "args,message",
    [
        ((7, 1), "must be even: the last sine column has no cosine partner"),
        ((8, 1.5), "offset"),
        ((0, 1), "d_model"),
        ((8, 1, 1.0), "base"),
    ],
)
def test_rotation_refuses_what_has_no_rotation(args, message):
    with pytest.raises(ValueError, match=message):
        relative_rotation(*args)


# ---- order_test -----------------------------------------------------------------------------


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_order_test_is_noise_without_positions_and_clear_with_them(positional):
    model = tiny(positional=positional).train()  # comes back in train mode
    before = {k: v.clone() for k, v in model.state_dict().items()}
    perm = [0, 4, 2, 5, 1, 3]
    without = order_test(model, IDS, perm, use_positions=False)
    with_pe = order_test(model, IDS, perm, use_positions=True)
    assert without < 1e-5 < 1e-2 < with_pe
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert order_test(model, IDS, range(6), use_positions=True) == 0.0  # identity: no change


def test_order_test_matches_a_hand_shuffle():
    model = tiny().eval()
    perm = torch.tensor([5, 4, 3, 2, 1, 0])
    with torch.no_grad():
        a = model(IDS).last_hidden_state[0]
        b = model(IDS[:, perm]).last_hidden_state[0]
    assert order_test(model, IDS, perm.tolist(), use_positions=True) == float(
        (b - a[perm]).abs().max()
    )


@pytest.mark.parametrize(
    "ids,perm,message",
    [
        (IDS, [0, 1, 2], "reorder range"),
        (IDS, [0, 0, 1, 2, 3, 4], "reorder range"),
        (torch.tensor([[1, 2], [3, 4]]), [0, 1], "one sentence"),
        (torch.tensor([[1, 99]]), [0, 1], "outside the vocabulary"),
    ],
)
def test_order_test_refuses_bad_input(ids, perm, message):
    with pytest.raises(ValueError, match=message):
        order_test(tiny(), ids, perm, use_positions=True)


# ---- padding_drift --------------------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [False, True])
def test_padding_drift_is_noise_with_the_mask_and_real_without(norm_first):
    model = tiny(norm_first=norm_first).train()
    counts = [0, 1, 5, 30]
    masked = padding_drift(model, IDS, counts)
    unmasked = padding_drift(model, IDS, counts, use_mask=False)
    assert masked.shape == (4,) and masked.max() < 1e-5
    assert unmasked[0] == 0.0 and (unmasked[1:] > 1e-3).all()
    assert model.training


def test_padding_drift_equals_a_hand_computation():
    model = tiny().eval()
    with torch.no_grad():
        base = model(IDS).last_hidden_state[0]
        padded = torch.cat([IDS, torch.zeros(1, 7, dtype=torch.long)], dim=1)
        free = model(padded).last_hidden_state[0, :6]
    assert padding_drift(model, IDS, [7], use_mask=False)[0] == float((free - base).abs().max())


def test_padding_drift_both_is_the_two_curves_with_one_unpadded_run():
    model = tiny().train()
    counts = [0, 2, 9]
    both = padding_drift_both(model, IDS, counts)
    want = [padding_drift(model, IDS, counts, use_mask=m) for m in (True, False)]
    np.testing.assert_array_equal(both, np.stack(want))  # the same runs: the same numbers
    assert model.training
    with pytest.raises(ValueError, match="longer than max_len"):
        padding_drift_both(model, IDS, [59])


def test_padding_drift_refuses_more_than_max_len():
    with pytest.raises(ValueError, match="plus 59 padding tokens is longer than max_len"):
        padding_drift(tiny(), IDS, [3, 59])
    with pytest.raises(ValueError, match="negative"):
        padding_drift(tiny(), IDS, [-1])


# ---- layer_steps ----------------------------------------------------------------------------

POST_KEYS = ["input", "q", "k", "v", "scores", "scaled", "masked", "weights", "context"]
POST_KEYS += ["concat", "attn_out", "residual1", "norm1", "ff_hidden", "ff_out", "residual2"]
POST_KEYS += ["output"]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("padded", [False, True])
def test_layer_steps_reproduce_the_forward_pass(norm_first, activation, padded):
    model = tiny(n_layers=3, norm_first=norm_first, activation=activation).train()
    ids = torch.tensor([[3, 17, 5, 42, 8, 11], [7, 9, 2, 0, 0, 0]])
    mask = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0]]) if padded else None
    with torch.no_grad():
        ref = model.eval()(ids, mask, output_hidden_states=True, output_attentions=True)
    model.train()
    for layer in range(3):
        steps = layer_steps(model, ids, mask, layer=layer)
        assert_close(steps["input"], ref.hidden_states[layer], rtol=0, atol=0)
        assert_close(steps["weights"], ref.attentions[layer], rtol=1e-5, atol=1e-6)
        last = layer == 2
        if norm_first and last:
            assert_close(steps["final_norm"], ref.hidden_states[-1], rtol=1e-5, atol=1e-5)
        else:
            assert_close(steps["output"], ref.hidden_states[layer + 1], rtol=1e-5, atol=1e-5)
        if norm_first:
            assert "normed_input" in steps and "normed_ff_input" in steps and "norm1" not in steps
        else:
            assert list(steps) == POST_KEYS
        if padded:  # padded keys get exactly no weight
            assert (steps["weights"][1, :, :, 3:] == 0).all()
    assert model.training


def test_layer_steps_intermediates_match_pytorch_attention():
    model = tiny(n_layers=1).eval()
    steps = layer_steps(model, IDS)
    attn = model.layers[0].attn
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(attn.qkv.weight)
        mha.in_proj_bias.copy_(attn.qkv.bias)
        mha.out_proj.weight.copy_(attn.out.weight)
        mha.out_proj.bias.copy_(attn.out.bias)
        x = steps["input"]
        out, weights = mha(x, x, x, average_attn_weights=False)
    assert_close(steps["attn_out"], out, rtol=1e-5, atol=1e-6)
    assert_close(steps["weights"], weights, rtol=1e-5, atol=1e-6)
    assert_close(steps["scaled"], steps["scores"] / 2.0, rtol=1e-6, atol=1e-6)  # sqrt(d_head=4)
    assert (steps["ff_hidden"] >= 0).all() and (steps["ff_hidden"] == 0).any()  # ReLU zeros


def test_layer_steps_refuses_a_layer_that_is_not_there():
    with pytest.raises(ValueError, match="layer \\(2\\) must be a whole number from 0 to 1"):
        layer_steps(tiny(), IDS, layer=2)
    with pytest.raises(ValueError, match=r"must be an encoder\.Encoder"):
        layer_steps(nn.Linear(2, 2), IDS)


@pytest.mark.slow
def test_experiments_run_on_the_pretrained_bert():
    from encoder.pretrained import load_minilm

    model, tok = load_minilm()
    batch = tok.encode_batch(["the river bank flooded", "a much longer sentence about money"])
    one = torch.tensor([batch.encodings[0].ids])
    assert padding_drift(model, one, [0, 20]).max() < 1e-4
    assert padding_drift(model, one, [20], use_mask=False)[0] > 1e-2
    S = one.shape[1]
    perm = list(reversed(range(S)))
    assert order_test(model, one, perm, use_positions=False) < 1e-4
    assert order_test(model, one, perm, use_positions=True) > 1e-2
    ref = model(batch.input_ids, batch.attention_mask, output_hidden_states=True)
    steps = layer_steps(model, batch.input_ids, batch.attention_mask, layer=5)
    real = batch.attention_mask.bool()
    assert_close(steps["output"][real], ref.hidden_states[6][real], rtol=1e-4, atol=1e-4)
