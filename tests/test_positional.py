"""Positional encodings: the sinusoid formula (section 3.5) and the learned/fixed variants."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from encoder.positional import PositionalEncoding, sinusoidal_table


def reference_table(max_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The formula written out with Python's math module, one entry at a time."""
    rows = []
    for p in range(max_len):
        row = []
        for j in range(d_model):
            two_i = j - j % 2  # columns 2i and 2i+1 share the wavelength base^(2i/d)
            angle = p / base ** (two_i / d_model)
            row.append(math.sin(angle) if j % 2 == 0 else math.cos(angle))
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float64)


def check_against_formula(max_len: int, d_model: int, base: float = 10000.0) -> None:
    table = sinusoidal_table(max_len, d_model, base)
    assert table.shape == (max_len, d_model)
    assert table.dtype == torch.float32
    expected = reference_table(max_len, d_model, base).to(torch.float32)
    torch.testing.assert_close(table, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("d_model", [1, 2, 3, 8, 15, 16, 33])
def test_table_matches_formula_even_and_odd(d_model):
    check_against_formula(20, d_model)


def test_table_matches_formula_with_other_base():
    check_against_formula(12, 10, base=100.0)


def test_odd_d_model_last_column_is_a_sine():
    d = 7
    table = sinusoidal_table(30, d)
    p = torch.arange(30, dtype=torch.float64)
    last = torch.sin(p / 10000.0 ** ((d - 1) / d)).to(torch.float32)
    torch.testing.assert_close(table[:, -1], last, atol=1e-6, rtol=1e-5)
    # and it is not the cosine of the same angle
    assert not torch.allclose(table[1:, -1], torch.cos(p[1:] / 10000.0 ** ((d - 1) / d)).float())


def test_known_values():
    table = sinusoidal_table(4, 4)
    # position 0: sin(0) = 0 in even columns, cos(0) = 1 in odd columns
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    # column 0 has wavelength 2*pi: PE[p, 0] = sin(p)
    torch.testing.assert_close(table[:, 0], torch.sin(torch.arange(4.0)))
    # column 2 (2i = 2, d = 4): angle p / 100
    torch.testing.assert_close(table[3, 2], torch.tensor(math.sin(3 / 100)))
    torch.testing.assert_close(table[3, 3], torch.tensor(math.cos(3 / 100)))


@settings(max_examples=40, deadline=None)
@given(max_len=st.integers(1, 64), d_model=st.integers(1, 64))
def test_table_matches_formula_hypothesis(max_len, d_model):
    check_against_formula(max_len, d_model)


@pytest.mark.parametrize(("max_len", "d_model"), [(0, 4), (4, 0), (-1, 4)])
def test_table_refuses_non_positive_sizes(max_len, d_model):
    with pytest.raises(ValueError):
        sinusoidal_table(max_len, d_model)


def test_learned_has_a_parameter():
    pe = PositionalEncoding(10, 8, "learned")
    params = dict(pe.named_parameters())
    assert list(params) == ["embed.weight"]
    assert params["embed.weight"].shape == (10, 8)
    assert "embed.weight" in pe.state_dict()
    out = pe(4)
    assert out.shape == (4, 8)
    torch.testing.assert_close(out, pe.embed.weight[:4])
    assert out.requires_grad


def test_sinusoidal_has_no_parameter_and_buffer_not_saved():
    pe = PositionalEncoding(10, 8, "sinusoidal")
    assert list(pe.parameters()) == []
    assert "table" in dict(pe.named_buffers())
    assert pe.state_dict() == {}
    out = pe(6)
    assert out.shape == (6, 8)
    assert not out.requires_grad
    torch.testing.assert_close(out, sinusoidal_table(10, 8)[:6])


def test_sinusoidal_uses_base():
    pe = PositionalEncoding(5, 6, "sinusoidal", base=50.0)
    torch.testing.assert_close(pe(5), sinusoidal_table(5, 6, 50.0))


def test_default_kind_is_sinusoidal():
    assert PositionalEncoding(4, 4).kind == "sinusoidal"


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_full_length_is_fine(kind):
    assert PositionalEncoding(7, 4, kind)(7).shape == (7, 4)


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_more_positions_than_max_len_raises(kind):
    pe = PositionalEncoding(7, 4, kind)
    with pytest.raises(ValueError) as info:
        pe(8)
    msg = str(info.value)
    assert "max_len" in msg
    assert "(7)" in msg
    assert "8" in msg


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError) as info:
        PositionalEncoding(4, 4, "rotary")
    assert "'rotary'" in str(info.value)
