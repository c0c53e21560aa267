"""Bad input to Encoder.forward and masks.padding_mask: ValueError with a useful message."""

from __future__ import annotations

import pytest
import torch

from encoder import Encoder, EncoderConfig
from encoder.masks import check_attention_mask, padding_mask

CFG = EncoderConfig(vocab_size=50, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=8)


@pytest.fixture(scope="module")
def model():
    return Encoder(CFG, seed=0).eval()


def ids_of(*shape, dtype=torch.long):
    return torch.randint(0, 50, shape, generator=torch.Generator().manual_seed(0)).to(dtype)


def raises(model, *args, words, **kwargs):
    with pytest.raises(ValueError) as info:
        model(*args, **kwargs)
    msg = str(info.value)
    for word in words:
        assert word in msg, f"{word!r} not in {msg!r}"
    return msg


def test_valid_input_works(model):
    out = model(ids_of(2, 8), torch.ones(2, 8, dtype=torch.long))
    assert out.last_hidden_state.shape == (2, 8, 16)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.int8, torch.uint8])
def test_other_integer_dtypes_work_or_are_refused_clearly(model, dtype):
    """_check_ids accepts these dtypes, so they must either give the int64 result or a
    ValueError naming the dtype, never a RuntimeError from deep inside nn.Embedding."""
    expected = model(ids_of(1, 4)).last_hidden_state
    try:
        got = model(ids_of(1, 4, dtype=dtype)).last_hidden_state
    except ValueError as err:
        assert str(dtype) in str(err)
    else:
        torch.testing.assert_close(got, expected)


def test_sequence_longer_than_max_len(model):
    raises(model, ids_of(1, 9), words=["9", "max_len", "(8)"])


def test_token_id_equal_to_vocab_size(model):
    ids = ids_of(1, 4)
    ids[0, 2] = 50
    raises(model, ids, words=["50", "vocabulary", "0 .. 49"])


def test_negative_token_id(model):
    ids = ids_of(1, 4)
    ids[0, 1] = -1
    raises(model, ids, words=["-1", "vocabulary"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_non_integer_ids(model, dtype):
    raises(model, ids_of(1, 4, dtype=dtype), words=["integer", str(dtype)])


def test_one_dimensional_ids_suggest_unsqueeze(model):
    raises(model, ids_of(4), words=["(batch, seq)", "(4,)", "unsqueeze(0)"])


def test_three_dimensional_ids(model):
    raises(model, ids_of(1, 2, 3), words=["(batch, seq)", "(1, 2, 3)"])


def test_mask_shape_mismatch(model):
    raises(
        model,
        ids_of(2, 4),
        torch.ones(2, 5, dtype=torch.long),
        words=["attention_mask", "(2, 5)", "(2, 4)"],
    )


def test_mask_with_batch_mismatch(model):
    raises(model, ids_of(2, 4), torch.ones(1, 4), words=["attention_mask", "(1, 4)"])


@pytest.mark.parametrize("bad", [2, -1, 0.5])
def test_mask_values_other_than_zero_or_one(model, bad):
    mask = torch.ones(2, 4)
    mask[1, 3] = bad
    raises(model, ids_of(2, 4), mask, words=["attention_mask", "only 1", "0 (padding)"])


@pytest.mark.parametrize("dtype", [torch.long, torch.float32, torch.bool, torch.int8])
def test_mask_of_zeros_and_ones_in_any_dtype_is_fine(model, dtype):
    mask = padding_mask([4, 2], 4)
    expected = model(ids_of(2, 4), mask).last_hidden_state
    got = model(ids_of(2, 4), mask.to(dtype)).last_hidden_state
    torch.testing.assert_close(got, expected)


def test_mask_not_a_tensor(model):
    raises(model, ids_of(1, 3), [[1, 1, 0]], words=["attention_mask", "torch.Tensor", "list"])


def test_empty_sequence(model):
    raises(model, torch.zeros(1, 0, dtype=torch.long), words=["empty", "at least one token"])


@pytest.mark.parametrize("ids", [[[1, 2, 3]], (1, 2), "hello", None])
def test_non_tensor_ids(model, ids):
    raises(model, ids, words=["torch.Tensor", type(ids).__name__])


def test_token_type_ids_checked():
    cfg = EncoderConfig(
        vocab_size=50, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=8, type_vocab_size=2
    )
    model = Encoder(cfg, seed=0).eval()
    ids = ids_of(1, 4)
    assert model(ids, token_type_ids=torch.tensor([[0, 0, 1, 1]])).last_hidden_state.shape
    with pytest.raises(ValueError, match="token_type_ids holds 2"):
        model(ids, token_type_ids=torch.tensor([[0, 0, 1, 2]]))
    with pytest.raises(ValueError, match="token_type_ids shape"):
        model(ids, token_type_ids=torch.tensor([[0, 0, 1]]))


# masks.padding_mask


@pytest.mark.parametrize("make", [list, torch.tensor], ids=["list", "tensor"])
def test_padding_mask_from_lengths(make):
    mask = padding_mask(make([3, 1, 0]), 4)
    expected = torch.tensor(
        [[True, True, True, False], [True, False, False, False], [False, False, False, False]]
    )
    assert mask.dtype == torch.bool
    assert torch.equal(mask, expected)


@pytest.mark.parametrize("make", [list, torch.tensor], ids=["list", "tensor"])
def test_padding_mask_default_seq_len_is_longest(make):
    mask = padding_mask(make([2, 5]))
    assert mask.shape == (2, 5)
    assert mask.sum(1).tolist() == [2, 5]


@pytest.mark.parametrize("make", [list, torch.tensor], ids=["list", "tensor"])
def test_padding_mask_refuses_length_longer_than_seq_len(make):
    with pytest.raises(ValueError) as info:
        padding_mask(make([2, 6]), 4)
    msg = str(info.value)
    assert "(6)" in msg
    assert "seq_len (4)" in msg


def test_padding_mask_refuses_negative_length():
    with pytest.raises(ValueError, match="negative"):
        padding_mask([2, -1], 4)


def test_padding_mask_refuses_nested_lengths():
    with pytest.raises(ValueError, match="shape"):
        padding_mask([[1, 2]], 4)


def test_check_attention_mask_returns_bool():
    ids = ids_of(1, 3)
    out = check_attention_mask(torch.tensor([[1, 1, 0]]), ids)
    assert out.dtype == torch.bool
    assert out.tolist() == [[True, True, False]]
