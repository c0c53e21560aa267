"""Inside a layer, the library: every step of ``layer_steps`` against the model's own forward
pass (caught with hooks), for post- and pre-norm, ReLU and GELU, and MiniLM; the page's proof."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.testing import assert_close

from app.compute import inside_layer as inside
from encoder import Encoder, EncoderConfig
from encoder.experiments import layer_steps
from encoder.masks import additive_mask
from encoder.pretrained import load_minilm

TWO = "The cat sat on the mat.\nA dog barked at the cat all night long, loudly."
IDS = torch.tensor([[101, 7, 9, 30, 12, 102], [101, 5, 6, 102, 0, 0]])
MASK = torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0]])


@cache
def minilm():
    return load_minilm()


def tiny(**overrides) -> Encoder:
    fields = dict(vocab_size=120, d_model=16, n_heads=4, n_layers=2, d_ff=32, max_len=16)
    return Encoder(EncoderConfig(**{**fields, **overrides}), seed=1)


# ---- the library: every step against the model's own forward pass ------------------------------
def own_forward(model: Encoder, ids, mask, layer: int) -> dict[str, torch.Tensor]:
    """Each layer_steps key, taken from the model's own forward pass by forward hooks."""
    block, caught = model.layers[layer], {}

    def catch(name):
        return lambda module, args, out: caught.update({f"{name}_in": args[0], name: out})

    modules = dict(qkv=block.attn.qkv, out=block.attn.out, lin2=block.ff.linear2)
    modules |= dict(norm1=block.norm1, norm2=block.norm2)
    if model.final_norm is not None:
        modules["final"] = model.final_norm
    hooks = [m.register_forward_hook(catch(name)) for name, m in modules.items()]
    training = model.training
    try:
        with torch.no_grad():
            run = model.eval()(ids, mask, output_hidden_states=True, output_attentions=True)
    finally:
        for h in hooks:
            h.remove()
        model.train(training)
    B, S, _D = run.hidden_states[layer].shape
    H, Dh = model.cfg.n_heads, model.cfg.d_head
    q, k, v = caught["qkv"].view(B, S, 3, H, Dh).permute(2, 0, 3, 1, 4)
    scaled = (q * (1.0 / math.sqrt(Dh))) @ k.transpose(-2, -1)  # as the model does it
    add = additive_mask(mask.bool()) if mask is not None and not mask.all() else 0.0
    want = dict(input=run.hidden_states[layer], q=q, k=k, v=v, scores=q @ k.transpose(-2, -1))
    want |= dict(scaled=scaled, masked=scaled + add, weights=run.attentions[layer])
    want |= dict(context=caught["out_in"].view(B, S, H, Dh).transpose(1, 2))
    want |= dict(concat=caught["out_in"], attn_out=caught["out"])
    last = layer == len(model.layers) - 1
    if model.cfg.norm_first:
        want |= dict(normed_input=caught["norm1"], residual1=caught["norm2_in"])
        want |= dict(normed_ff_input=caught["norm2"])
        after = caught["final_in"] if last else run.hidden_states[layer + 1]
        want |= dict(residual2=after, output=after)
        if last:
            want["final_norm"] = run.hidden_states[-1]
    else:
        want |= dict(residual1=caught["norm1_in"], norm1=caught["norm1"])
        want |= dict(residual2=caught["norm2_in"], output=run.hidden_states[layer + 1])
    want |= dict(ff_hidden=caught["lin2_in"], ff_out=caught["lin2"])
    return want


def assert_every_step(model: Encoder, ids, mask, layer: int) -> dict[str, torch.Tensor]:
    steps = layer_steps(model, ids, mask, layer=layer)
    want = own_forward(model, ids, mask, layer)
    assert set(steps) == set(want)
    for key, value in want.items():
        assert_close(steps[key], value, rtol=1e-5, atol=2e-5, msg=lambda m, k=key: f"{k}: {m}")
    return steps


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_every_step_is_the_models_own_tensor(norm_first, activation):
    model = tiny(n_layers=2, norm_first=norm_first, activation=activation, dropout=0.3).train()
    for layer in range(2):
        steps = assert_every_step(model, IDS, MASK, layer)
        assert model.training  # handed back in its own mode
        assert (steps["weights"][1, :, :, 4:] == 0).all()  # padded keys: exactly no weight
        assert (steps["masked"][1, :, :, 4:] < -1e38).all()
        hidden = steps["ff_hidden"]
        if activation == "relu":
            assert (hidden >= 0).all() and (hidden == 0).float().mean() > 0.2
        else:
            assert (hidden < 0).any() and hidden.min() >= -0.17
    assert ("final_norm" in steps) == norm_first  # only after the last pre-norm layer


def test_every_step_of_minilm_is_the_models_own_tensor():
    model, tokenizer = minilm()
    batch = tokenizer.encode_batch(TWO.splitlines())
    for layer in (0, 5):
        assert_every_step(model, batch.input_ids, batch.attention_mask, layer)


@settings(max_examples=15, deadline=None)
@given(length=st.integers(1, 7), pads=st.integers(1, 6), layer=st.integers(0, 1))
def test_a_padded_sentence_walks_through_like_the_unpadded_one(length, pads, layer):
    model = tiny(norm_first=bool(length % 2))
    ids = torch.arange(1, length + 1)[None, :] + 10
    alone = layer_steps(model, ids, None, layer=layer)
    padded = torch.cat([ids, torch.zeros(1, pads, dtype=torch.long)], dim=1)
    mask = torch.arange(length + pads)[None, :] < length
    steps = layer_steps(model, padded, mask, layer=layer)
    for key in ("q", "weights", "context", "ff_hidden", "output"):
        real = steps[key][..., :length, :]
        if key == "weights":
            assert (real[..., length:] == 0).all()
            real = real[..., :length]
        assert_close(real, alone[key], rtol=1e-5, atol=1e-5)


def test_entropy_and_the_unscaled_what_if_by_hand():
    weights = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    np.testing.assert_allclose(inside.row_entropy(weights), [2.0, 0.0, 1.0])
    scores = torch.tensor([[[[0.0, 1.0, 50.0]]]])
    keep = torch.tensor([[True, True, False]])
    e = math.e
    want = torch.tensor([[[[1 / (1 + e), e / (1 + e), 0.0]]]])
    assert_close(inside.unscaled_softmax(scores, keep), want)


def test_the_proof_catches_a_model_that_changed():
    model = tiny().eval()
    walk_steps = {k: v[0].numpy() for k, v in layer_steps(model, IDS[:1], None, layer=0).items()}
    with torch.no_grad():
        run = model(IDS[:1], output_hidden_states=True, output_attentions=True)
        hidden = torch.stack(run.hidden_states)[:, 0].numpy()
    walk = inside.Walkthrough(
        walk_steps, np.ones(6, bool), run.attentions[0][0].numpy(), *[None] * 3
    )
    assert max(c.diff for c in inside.proof(walk, hidden, 0)) < inside.TOLERANCE
    hidden[1] += 0.01  # the model's output moved: the walkthrough no longer describes it
    assert inside.proof(walk, hidden, 0)[-1].diff > inside.TOLERANCE
