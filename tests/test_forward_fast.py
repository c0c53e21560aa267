"""encoder.linear: the default path is nn.Linear's to the last bit; FAST_CPU (oneDNN, packed
weights) stays within float32 rounding of it, follows weight changes and never meets autograd."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import encoder.linear
from encoder import Encoder, EncoderConfig
from encoder.linear import _PACKED, Linear

TOL = dict(atol=2e-5, rtol=1e-5)
needs_onednn = pytest.mark.skipif(not encoder.linear._ONEDNN, reason="no oneDNN in this torch")


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(encoder.linear, "FAST_CPU", True)


def model(**overrides) -> Encoder:
    fields = dict(vocab_size=100, d_model=32, n_heads=4, n_layers=2, d_ff=64, max_len=24)
    return Encoder(EncoderConfig(**{**fields, **overrides}), seed=2).eval()


def run(m: Encoder, ids, mask=None):
    out = m(ids, mask, output_attentions=True, output_hidden_states=True)
    return [*out.hidden_states, *out.attentions]


def ids_and_mask():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 100, (3, 20), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0
    return ids, mask


def test_default_path_is_nn_linear_exactly():
    assert encoder.linear.FAST_CPU is False
    lin = Linear(48, 40)
    x = torch.randn(2, 7, 48)
    with torch.inference_mode():
        assert torch.equal(lin(x), F.linear(x, lin.weight, lin.bias))
    assert list(lin.state_dict()) == ["weight", "bias"]
    assert not _PACKED.get(lin)


@needs_onednn
def test_fast_path_is_within_rounding_of_the_default(fast):
    m = model()
    ids, mask = ids_and_mask()
    with torch.inference_mode():
        fast_out = run(m, ids, mask)
        assert all(_PACKED.get(lin) for lin in m.modules() if isinstance(lin, Linear))
        encoder.linear.FAST_CPU = False
        exact = run(m, ids, mask)
    for a, b in zip(fast_out, exact, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@needs_onednn
def test_fast_path_follows_weight_changes(fast):
    m = model()
    ids, _ = ids_and_mask()
    other = model(positional="sinusoidal")
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.1)
    with torch.inference_mode():
        before = m(ids).last_hidden_state
    m.load_state_dict(other.state_dict())  # copy_ into the same tensors: new versions
    with torch.inference_mode():
        after = m(ids).last_hidden_state
        encoder.linear.FAST_CPU = False
        want = m(ids).last_hidden_state
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, want, **TOL)


@needs_onednn
def test_autograd_and_float64_take_the_default_path(fast):
    m = model().train()
    ids, mask = ids_and_mask()
    torch.manual_seed(0)
    out = m(ids, mask).last_hidden_state
    out.square().sum().backward()  # no packed weight can reach autograd
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)
    m.eval()
    with torch.inference_mode():
        fast64 = copy.deepcopy(m).double()(ids, mask).last_hidden_state
        encoder.linear.FAST_CPU = False
        exact64 = copy.deepcopy(m).double()(ids, mask).last_hidden_state
    assert fast64.dtype == torch.float64 and torch.equal(fast64, exact64)


@needs_onednn
def test_a_model_made_under_inference_mode(fast):
    with torch.inference_mode():
        m = model()
        ids, mask = ids_and_mask()
        fast_out = run(m, ids, mask)
        encoder.linear.FAST_CPU = False
        exact = run(m, ids, mask)
    for a, b in zip(fast_out, exact, strict=True):
        torch.testing.assert_close(a, b, **TOL)
