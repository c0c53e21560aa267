"""The library's public functions on arbitrary input (hypothesis, issue 14): every call gives a
right result with no NaN, or a ValueError whose message says what to change; never another
exception type, never a message from deep inside torch or numpy."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from encoder import Encoder, EncoderConfig, analysis, masks

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
FEW = settings(SETTINGS, max_examples=15)
# what a message from inside a library says; ours name the argument and what to change
INTERNAL = (
    "could not convert",
    "too many dimensions",
    "inhomogeneous",
    "could not be broadcast",
    "invalid literal",
    "values to unpack",
    "expected sequence of length",
    "object of type",
    "unsupported operand",
)


def outcome(fn, *args, **kwargs):
    """fn(*args, **kwargs), or the ValueError it raised (any other exception fails the test)."""
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        message = str(err)
        assert len(message) >= 12, f"{fn.__name__}: a message too short to act on: {message!r}"
        low = message.lower()
        assert not any(p in low for p in INTERNAL), f"{fn.__name__}: {message!r}"
        return err


def finite(value) -> None:
    """No NaN anywhere in a result (tensors, arrays, floats, dicts, tuples)."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            assert not value.isnan().any()
    elif isinstance(value, np.ndarray):
        if np.issubdtype(value.dtype, np.floating):
            assert not np.isnan(value).any()
    elif isinstance(value, float):
        assert not math.isnan(value)
    elif isinstance(value, dict):
        for v in value.values():
            finite(v)
    elif isinstance(value, (tuple, list)):
        for v in value:
            finite(v)


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 50),
    st.sampled_from([-(2**70), 2**63, 2**70]),  # past int64; never a huge valid size
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-3, 3), max_size=3),
    st.just(object()),
)
small_ints = st.integers(-3, 40)
reals = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


# ---- EncoderConfig ------------------------------------------------------------------------------

INT_FIELDS = ("vocab_size", "d_model", "n_heads", "n_layers", "d_ff", "max_len", "pad_id")
ALL_FIELDS = (
    *INT_FIELDS,
    "type_vocab_size",
    "dropout",
    "positional",
    "activation",
    "norm_first",
    "layer_norm_eps",
    "scale_embeddings",
    "embedding_norm",
    "positional_base",
)


@SETTINGS
@given(st.dictionaries(st.sampled_from(ALL_FIELDS), st.one_of(anything, small_ints), max_size=6))
def test_encoder_config_with_any_values(values):
    cfg = outcome(EncoderConfig, **values)
    if isinstance(cfg, EncoderConfig):
        assert cfg.d_model % cfg.n_heads == 0 and 0 <= cfg.dropout < 1
        assert EncoderConfig.from_dict(cfg.to_dict()) == cfg and hash(cfg) == hash(cfg)


@SETTINGS
@given(
    st.one_of(anything, st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), anything))
)
def test_encoder_config_from_any_dict(values):
    outcome(EncoderConfig.from_dict, values)


def test_config_refusal_for_a_huge_width_is_immediate():
    """The "try n_heads in ..." hint must not count to a billion; such a width is over the
    bound anyway (issue 17), and the largest allowed width lists its divisors."""
    with pytest.raises(ValueError, match="must be at most 8,192"):
        EncoderConfig(d_model=10**12 + 1, n_heads=2)
    with pytest.raises(ValueError, match=r"divisible by n_heads \(3\); try n_heads in \[1, 2, 4"):
        EncoderConfig(d_model=8192, n_heads=3)


# ---- Encoder.forward ----------------------------------------------------------------------------

CFG = EncoderConfig(vocab_size=40, d_model=8, n_heads=2, n_layers=2, d_ff=16, max_len=12)


@functools.cache
def model(norm_first: bool = False, positional_kind: str = "sinusoidal") -> Encoder:
    cfg = EncoderConfig(
        **{**CFG.to_dict(), "norm_first": norm_first, "positional": positional_kind}
    )
    return Encoder(cfg, seed=0).eval()


DTYPES = [torch.int64, torch.int32, torch.int16, torch.uint8, torch.float32, torch.bool]


@st.composite
def id_tensors(draw):
    """Token ids of any small shape and dtype, mostly valid, sometimes out of range."""
    shape = draw(st.lists(st.integers(0, 14), min_size=1, max_size=3))
    hi = draw(st.sampled_from([CFG.vocab_size, CFG.vocab_size + 5]))
    lo = draw(st.sampled_from([0, 0, 0, -3]))
    ids = torch.randint(lo, hi, tuple(shape), generator=torch.Generator().manual_seed(len(shape)))
    return ids.to(draw(st.sampled_from(DTYPES))) if draw(st.booleans()) else ids


@st.composite
def mask_for(draw, ids):
    """None, a matching 0/1 mask (rows of zeros included), or something wrong."""
    kind = draw(st.sampled_from(["none", "ok", "ok", "zeros", "shape", "values", "list"]))
    shape = tuple(ids.shape)
    if kind == "none":
        return None
    if kind == "list":
        return [[1] * (shape[-1] if shape else 1)]
    if kind == "shape":
        return torch.ones(*shape, 2, dtype=torch.long)
    bits = draw(st.lists(st.booleans(), min_size=math.prod(shape), max_size=math.prod(shape)))
    mask = torch.tensor(bits, dtype=torch.long).reshape(shape) if shape else torch.tensor(1)
    if kind == "zeros" and mask.ndim == 2 and mask.shape[0]:
        mask[0] = 0  # a fully padded row
    if kind == "values":
        mask = mask * 2 - 1  # -1 and 1
    return mask.to(draw(st.sampled_from([torch.long, torch.bool, torch.float32, torch.uint8])))


@SETTINGS
@given(st.data(), st.booleans(), st.sampled_from(["sinusoidal", "learned"]), st.booleans())
def test_forward_with_any_ids_and_mask(data, norm_first, kind, internals):
    ids = data.draw(id_tensors())
    mask = data.draw(mask_for(ids))
    m = model(norm_first, kind)
    out = outcome(m, ids, mask, output_attentions=internals, output_hidden_states=internals)
    if isinstance(out, ValueError):
        return
    B, S = ids.shape
    assert out.last_hidden_state.shape == (B, S, CFG.d_model)
    finite(out.last_hidden_state)
    if internals:
        finite(out.hidden_states)
        for att in out.attentions:
            finite(att)
            if B * S:
                torch.testing.assert_close(att.sum(-1), torch.ones(B, CFG.n_heads, S))


@FEW
@given(anything, anything)
def test_forward_with_anything(ids, mask):
    outcome(model(), ids, mask)


@FEW
@given(anything, anything)
def test_encoder_construction_with_anything(cfg, seed):
    outcome(Encoder, cfg, seed=seed)


# ---- masks ------------------------------------------------------------------------------------

lengths_like = st.one_of(
    st.lists(st.integers(-2, 12), max_size=5),
    st.lists(st.floats(allow_nan=True), max_size=3),
    st.lists(st.lists(st.integers(0, 3), max_size=3), max_size=3),
    anything,
)


@SETTINGS
@given(lengths_like, st.one_of(st.none(), st.integers(-3, 16), anything))
def test_padding_mask_with_any_lengths(lengths, seq_len):
    mask = outcome(masks.padding_mask, lengths, seq_len)
    if isinstance(mask, torch.Tensor):
        assert mask.dtype == torch.bool and mask.ndim == 2
        assert mask.sum(1).tolist() == list(lengths)
        assert (mask.int().diff(dim=1) <= 0).all()  # real tokens first


@st.composite
def any_masks(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=3)))
    values = draw(st.sampled_from([[0, 1], [0, 1, 2], [0.5]]))
    n = math.prod(shape)
    flat = draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))
    dtype = draw(st.sampled_from([torch.long, torch.bool, torch.float32, torch.float16]))
    return torch.tensor(flat, dtype=torch.float32).reshape(shape).to(dtype)


@SETTINGS
@given(st.one_of(any_masks(), anything), st.sampled_from([*DTYPES, torch.float64, "float32"]))
def test_additive_and_key_padding_masks(mask, dtype):
    add = outcome(masks.additive_mask, mask, dtype)
    flip = outcome(masks.to_key_padding_mask, mask)
    if isinstance(add, torch.Tensor):
        B, S = mask.shape
        assert add.shape == (B, 1, 1, S) and add.dtype == dtype
        real = mask.bool()
        assert (add[:, 0, 0][real] == 0).all()
        assert (add[:, 0, 0][~real] == torch.finfo(dtype).min).all()
        assert torch.equal(flip, ~real)


# ---- analysis ---------------------------------------------------------------------------------


@st.composite
def arrays(draw, ndim=None, values=reals):
    nd = draw(st.integers(0, 4)) if ndim is None else ndim
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=nd, max_size=nd)))
    n = math.prod(shape)
    flat = draw(st.lists(values, min_size=n, max_size=n))
    return np.array(flat, dtype=np.float32).reshape(shape)


weights = st.floats(0, 1, allow_nan=False, width=32)
odd_values = st.sampled_from([float("nan"), float("inf"), -1.0, 0.0, 2.0])


@SETTINGS
@given(
    st.one_of(arrays(3), arrays(), anything),
    st.one_of(arrays(2, st.sampled_from([0.0, 1.0])), arrays(), anything),
)
def test_mean_pool(hidden, mask):
    out = outcome(analysis.mean_pool, hidden, mask)
    if isinstance(out, np.ndarray):
        finite(out)
        B, _, D = np.shape(hidden)
        assert out.shape == (B, D)
        m = np.asarray(mask, dtype=np.float64)
        for b in range(B):
            n = m[b].sum()
            want = (hidden[b] * m[b][:, None]).sum(0) / n if n else np.zeros(D)
            np.testing.assert_allclose(out[b], want, rtol=1e-4, atol=1e-2)


@SETTINGS
@given(st.one_of(arrays(2), arrays(), anything))
def test_cosine_matrix(vectors):
    out = outcome(analysis.cosine_matrix, vectors)
    if isinstance(out, np.ndarray):
        finite(out)
        N = len(vectors)
        assert out.shape == (N, N) and (np.abs(out) <= 1).all()
        np.testing.assert_allclose(out, out.T, atol=1e-6)


@SETTINGS
@given(
    st.one_of(arrays(4, weights), arrays(4, st.one_of(weights, odd_values)), arrays(), anything),
    st.one_of(st.floats(0, 1), anything),
)
def test_attention_rollout_and_head_statistics(att, residual):
    roll = outcome(analysis.attention_rollout, att, residual)
    stats = outcome(analysis.head_statistics, att)
    if isinstance(roll, np.ndarray):
        finite(roll)
        L, _, S, _ = att.shape
        assert roll.shape == (L, S, S)
        if (np.asarray(att).sum(-1) > 0).all():
            np.testing.assert_allclose(roll.sum(-1), 1.0, atol=1e-6)
    if isinstance(stats, dict):
        finite(stats)
        assert all(v.shape == att.shape[:2] for v in stats.values())


@FEW
@given(
    st.one_of(arrays(3), arrays(3, st.one_of(reals, odd_values)), arrays(), anything),
    st.one_of(st.sampled_from(["pca", "pca", "tsne"]), anything),
    st.one_of(st.integers(0, 4), anything),
    st.booleans(),
    st.one_of(st.integers(-1, 3), anything),
    st.one_of(st.none(), st.floats(allow_nan=True), anything),
)
def test_project(hidden, method, k, shared, seed, perplexity):
    out = outcome(analysis.project, hidden, method, k, shared, seed, perplexity=perplexity)
    if isinstance(out, tuple):
        coords, ratios = out
        finite(coords)
        finite(ratios)
        depths, n, _ = hidden.shape
        assert coords.shape == (depths, n, k)
        if ratios is not None:
            assert ratios.shape == (depths, k) and (ratios <= 1 + 1e-6).all()
