"""Properties that must hold for any batch, padding pattern and config variant (hypothesis)."""

from __future__ import annotations

import functools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from encoder import Encoder, EncoderConfig
from encoder.masks import padding_mask

TOL = dict(atol=1e-5, rtol=1e-5)
MAX_LEN = 24
SETTINGS = settings(max_examples=25, deadline=None)


def make_cfg(norm_first=False, activation="relu", positional="sinusoidal", **overrides):
    values = dict(
        vocab_size=50,
        d_model=16,
        n_heads=2,
        n_layers=2,
        d_ff=32,
        dropout=0.1,
        max_len=MAX_LEN,
        norm_first=norm_first,
        activation=activation,
        positional=positional,
    )
    values.update(overrides)
    return EncoderConfig(**values)


@functools.cache
def eval_model(variant: tuple) -> Encoder:
    """One model per variant, in eval mode; tests must not change its mode or weights."""
    return Encoder(make_cfg(*variant), seed=0).eval()


variants = st.tuples(
    st.booleans(), st.sampled_from(["relu", "gelu"]), st.sampled_from(["sinusoidal", "learned"])
)


@st.composite
def batches(draw, min_len=0):
    """(variant, ids, attention_mask, lengths): batch 1-3, seq 1-10, length 0..seq per row."""
    variant = draw(variants)
    b = draw(st.integers(1, 3))
    s = draw(st.integers(1, 10))
    lengths = draw(st.lists(st.integers(min_len, s), min_size=b, max_size=b))
    seed = draw(st.integers(0, 2**31 - 1))
    ids = torch.randint(1, 50, (b, s), generator=torch.Generator().manual_seed(seed))
    mask = padding_mask(lengths, s)
    ids = ids.masked_fill(~mask, 0)  # pad_id
    return variant, ids, mask, lengths


def run(model, ids, mask, internals=True):
    with torch.no_grad():
        return model(ids, mask, output_attentions=internals, output_hidden_states=internals)


@SETTINGS
@given(batches())
def test_attention_rows_sum_to_one_over_real_keys_and_zero_on_padding(case):
    variant, ids, mask, lengths = case
    out = run(eval_model(variant), ids, mask)
    for weights in out.attentions:
        for b, n in enumerate(lengths):
            if n == 0:
                continue
            w = weights[b]  # (H, S, S): every query row, padded queries included
            torch.testing.assert_close(w[..., :n].sum(-1), torch.ones(w.shape[:-1]), **TOL)
            assert (w[..., n:] == 0.0).all()
            assert (w[..., :n] >= 0).all()


@SETTINGS
@given(batches(), st.integers(1, MAX_LEN - 10), st.integers(0, 49))
def test_appending_padding_columns_changes_nothing_real(case, extra, fill_id):
    variant, ids, mask, lengths = case
    model = eval_model(variant)
    b = ids.shape[0]
    longer_ids = torch.cat([ids, torch.full((b, extra), fill_id)], dim=1)
    longer_mask = torch.cat([mask, torch.zeros(b, extra, dtype=torch.bool)], dim=1)
    for internals in (False, True):
        short = run(model, ids, mask, internals)
        long = run(model, longer_ids, longer_mask, internals)
        for row, n in enumerate(lengths):
            torch.testing.assert_close(
                long.last_hidden_state[row, :n], short.last_hidden_state[row, :n], **TOL
            )
            if not internals:
                continue
            for h_long, h_short in zip(long.hidden_states, short.hidden_states, strict=True):
                torch.testing.assert_close(h_long[row, :n], h_short[row, :n], **TOL)
            for a_long, a_short in zip(long.attentions, short.attentions, strict=True):
                torch.testing.assert_close(a_long[row, :, :n, :n], a_short[row, :, :n, :n], **TOL)
                assert (a_long[row, :, :n, n:] == 0.0).all()


@SETTINGS
@given(batches(), st.data())
def test_fully_padded_sequence_gives_no_nan(case, data):
    variant, ids, mask, _ = case
    dead = data.draw(st.integers(0, ids.shape[0] - 1))
    mask = mask.clone()
    mask[dead] = False
    model = eval_model(variant)
    fast = run(model, ids, mask, internals=False)
    assert torch.isfinite(fast.last_hidden_state).all()
    out = run(model, ids, mask)
    assert torch.isfinite(out.last_hidden_state).all()
    for h in out.hidden_states:
        assert torch.isfinite(h).all()
    for a in out.attentions:
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a.sum(-1), torch.ones(a.shape[:-1]), **TOL)


@pytest.mark.parametrize("variant", [(False, "relu", "sinusoidal"), (True, "gelu", "learned")])
def test_whole_batch_fully_padded_gives_no_nan(variant):
    model = eval_model(variant)
    ids = torch.zeros(2, 5, dtype=torch.long)
    mask = torch.zeros(2, 5, dtype=torch.long)
    assert torch.isfinite(run(model, ids, mask, internals=False).last_hidden_state).all()
    out = run(model, ids, mask)
    for t in (out.last_hidden_state, *out.hidden_states, *out.attentions):
        assert torch.isfinite(t).all()
    # with every key masked, attention spreads evenly
    for a in out.attentions:
        torch.testing.assert_close(a, torch.full_like(a, 1 / 5))


@SETTINGS
@given(batches())
def test_eval_mode_is_deterministic(case):
    variant, ids, mask, _ = case
    model = eval_model(variant)
    for internals in (False, True):
        first = run(model, ids, mask, internals)
        second = run(model, ids, mask, internals)
        assert torch.equal(first.last_hidden_state, second.last_hidden_state)
        if internals:
            for x, y in zip(
                first.hidden_states + first.attentions,
                second.hidden_states + second.attentions,
                strict=True,
            ):
                assert torch.equal(x, y)


@SETTINGS
@given(batches(min_len=1), variants)
def test_dropout_acts_only_in_train_mode(case, variant):
    _, ids, mask, _ = case
    torch.manual_seed(0)
    model = Encoder(make_cfg(*variant, dropout=0.5), seed=1)
    for internals in (False, True):
        model.train()
        a = run(model, ids, mask, internals).last_hidden_state
        b = run(model, ids, mask, internals).last_hidden_state
        assert not torch.equal(a, b)
        model.eval()
        c = run(model, ids, mask, internals).last_hidden_state
        d = run(model, ids, mask, internals).last_hidden_state
        assert torch.equal(c, d)

    no_dropout = Encoder(make_cfg(*variant, dropout=0.0), seed=1)
    for internals in (False, True):
        train = run(no_dropout.train(), ids, mask, internals)
        evaluated = run(no_dropout.eval(), ids, mask, internals)
        torch.testing.assert_close(
            train.last_hidden_state, evaluated.last_hidden_state, atol=0, rtol=0
        )
        if internals:
            for x, y in zip(train.attentions, evaluated.attentions, strict=True):
                torch.testing.assert_close(x, y, atol=0, rtol=0)


@SETTINGS
@given(batches(), st.integers(1, 3))
def test_hidden_states_layout(case, n_layers):
    variant, ids, mask, _ = case
    cfg = make_cfg(*variant, n_layers=n_layers)
    model = Encoder(cfg, seed=0).eval()
    out = run(model, ids, mask)
    b, s = ids.shape
    assert len(out.hidden_states) == n_layers + 1
    assert out.hidden_states[-1] is out.last_hidden_state
    assert all(h.shape == (b, s, cfg.d_model) for h in out.hidden_states)
    assert len(out.attentions) == n_layers
    assert all(a.shape == (b, cfg.n_heads, s, s) for a in out.attentions)
    # first entry: embeddings + positions (no dropout in eval)
    embedded = model.tok_embed(ids) * model.embed_scale + model.pos(s)
    torch.testing.assert_close(out.hidden_states[0], embedded)


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@SETTINGS
@given(variants, st.integers(0, 2**32 - 1))
def test_same_config_and_seed_give_identical_weights(variant, seed):
    cfg = make_cfg(*variant)
    torch.manual_seed(123)
    first = state(Encoder(cfg, seed=seed))
    torch.manual_seed(456)  # the global RNG must not matter when a seed is given
    second = state(Encoder(cfg, seed=seed))
    assert same_weights(first, second)


@SETTINGS
@given(variants, st.integers(0, 2**32 - 1))
def test_seeded_construction_leaves_global_rng_alone(variant, seed):
    cfg = make_cfg(*variant)
    before = torch.random.get_rng_state()
    Encoder(cfg, seed=seed)
    after = torch.random.get_rng_state()
    assert torch.equal(after, before), "Encoder(cfg, seed=...) advanced the global torch RNG"


@SETTINGS
@given(variants, st.integers(0, 2**32 - 1), st.integers(1, 1000))
def test_different_seeds_give_different_weights(variant, seed, delta):
    cfg = make_cfg(*variant)
    a, b = state(Encoder(cfg, seed=seed)), state(Encoder(cfg, seed=seed + delta))
    assert a.keys() == b.keys()
    for name in a:
        if a[name].ndim == 2:  # embeddings and projections are random; biases/norms are constant
            assert not torch.equal(a[name], b[name]), name
