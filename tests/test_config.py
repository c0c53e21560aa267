"""EncoderConfig: paper defaults, frozen + hashable, validation with actionable messages."""

from __future__ import annotations

import dataclasses

import pytest

from encoder.config import EPS_RANGE, LIMITS, MAX_BASE, EncoderConfig, divisors

SIZES = ("vocab_size", "d_model", "n_heads", "n_layers", "d_ff", "max_len")


def small(**overrides) -> EncoderConfig:
    values = dict(vocab_size=50, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=16)
    values.update(overrides)
    return EncoderConfig(**values)


def test_defaults_are_the_paper_base_encoder():
    cfg = EncoderConfig()
    assert cfg.d_model == 512
    assert cfg.n_heads == 8
    assert cfg.n_layers == 6
    assert cfg.d_ff == 2048
    assert cfg.dropout == 0.1
    assert cfg.activation == "relu"
    assert cfg.positional == "sinusoidal"
    assert cfg.norm_first is False
    assert cfg.scale_embeddings is True
    assert cfg.d_head == 64


def test_frozen():
    cfg = EncoderConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.d_model = 256


def test_hashable_and_usable_as_dict_key():
    a, b = small(), small()
    assert a is not b
    assert a == b
    assert hash(a) == hash(b)
    cache = {a: "model"}
    assert cache[b] == "model"
    c = small(n_layers=2)
    assert c != a
    assert c not in cache
    assert len({a, b, c}) == 2


def test_to_dict_from_dict_round_trip():
    cfg = small(activation="gelu", norm_first=True, positional="learned")
    assert EncoderConfig.from_dict(cfg.to_dict()) == cfg


def test_d_model_not_divisible_by_heads_message():
    with pytest.raises(ValueError) as info:
        EncoderConfig(d_model=100, n_heads=3)
    err = info.value
    assert "d_model (100) must be divisible by n_heads (3)" in str(err)
    # actionable: suggests head counts that do work
    assert str(divisors(100)) in str(err)


@pytest.mark.parametrize("name", SIZES)
@pytest.mark.parametrize("value", [0, -1])
def test_non_positive_sizes_are_refused(name, value):
    with pytest.raises(ValueError) as info:
        small(**{name: value})
    msg = str(info.value)
    assert name in msg
    assert f"({value})" in msg
    assert "positive" in msg


@pytest.mark.parametrize("name", SIZES)
@pytest.mark.parametrize("value", [2.5, True, "8", None])
def test_non_int_sizes_are_refused(name, value):
    with pytest.raises(ValueError) as info:
        small(**{name: value})
    msg = str(info.value)
    assert name in msg
    assert "whole number" in msg


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, "x", None, True])
def test_bad_dropout_is_refused(value):
    with pytest.raises(ValueError) as info:
        small(dropout=value)
    msg = str(info.value)
    assert "dropout" in msg
    assert repr(value) in msg
    assert "[0, 1)" in msg


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 0.999])
def test_good_dropout_is_accepted(value):
    assert small(dropout=value).dropout == value


def test_unknown_positional_is_refused():
    with pytest.raises(ValueError) as info:
        small(positional="rotary")
    msg = str(info.value)
    assert "positional" in msg
    assert "'rotary'" in msg
    assert "sinusoidal" in msg and "learned" in msg


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError) as info:
        small(activation="swish")
    msg = str(info.value)
    assert "activation" in msg
    assert "'swish'" in msg
    assert "relu" in msg and "gelu" in msg


@pytest.mark.parametrize("pad_id", [50, 51, 1000])
def test_pad_id_must_be_below_vocab_size(pad_id):
    with pytest.raises(ValueError) as info:
        small(pad_id=pad_id)
    msg = str(info.value)
    assert f"pad_id ({pad_id})" in msg
    assert "vocab_size (50)" in msg


def test_pad_id_at_top_of_vocab_is_fine():
    assert small(pad_id=49).pad_id == 49


def test_negative_pad_id_is_refused():
    with pytest.raises(ValueError, match="pad_id"):
        small(pad_id=-1)


@pytest.mark.parametrize("name", ["norm_first", "scale_embeddings", "embedding_norm"])
def test_flags_must_be_bool(name):
    with pytest.raises(ValueError, match=name):
        small(**{name: 1})


@pytest.mark.parametrize("value", [0, -1e-5, "x"])
def test_bad_layer_norm_eps(value):
    with pytest.raises(ValueError, match="layer_norm_eps"):
        small(layer_norm_eps=value)


@pytest.mark.parametrize("value", [1, 0.5, "x"])
def test_bad_positional_base(value):
    with pytest.raises(ValueError, match="positional_base"):
        small(positional_base=value)


def test_from_dict_refuses_unknown_keys_by_name():
    values = small().to_dict()
    values["heads"] = 4
    values["zeta"] = 1
    with pytest.raises(ValueError) as info:
        EncoderConfig.from_dict(values)
    msg = str(info.value)
    assert "heads" in msg
    assert "zeta" in msg


def test_from_dict_partial_uses_defaults():
    cfg = EncoderConfig.from_dict({"d_model": 64, "n_heads": 4})
    assert cfg.d_model == 64 and cfg.n_heads == 4
    assert cfg.n_layers == 6


def test_from_dict_still_validates():
    with pytest.raises(ValueError, match="divisible"):
        EncoderConfig.from_dict({"d_model": 10, "n_heads": 3})


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, [1]),
        (7, [1, 7]),
        (12, [1, 2, 3, 4, 6, 12]),
        (100, [1, 2, 4, 5, 10, 20, 25, 50, 100]),
        (512, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]),
    ],
)
def test_divisors(n, expected):
    assert divisors(n) == expected


def test_every_divisor_is_a_valid_head_count():
    for heads in divisors(24):
        assert small(d_model=24, n_heads=heads).d_head * heads == 24


# issue 17, point 3: a checkpoint's config declaring huge sizes reached torch while shapes were
# computed ("Storage size calculation overflowed"); every size now has an upper bound, said
@pytest.mark.parametrize("name", [*SIZES, "type_vocab_size"])
@pytest.mark.parametrize("value", [10**18, 2**63, 10**5000], ids=["1e18", "2^63", "5001 digits"])
def test_huge_sizes_are_refused_with_the_bound(name, value):
    most = LIMITS[name]
    overrides = {name: value}
    if name == "d_model":
        overrides["n_heads"] = 1
    with pytest.raises(ValueError, match=f"{name} .* must be at most {most:,}") as err:
        small(**overrides)
    if value == 10**5000:  # Python cannot print it (4,300 digits at most): its length is said
        assert "a whole number of about 5,001 digits" in str(err.value)


@pytest.mark.parametrize("name", [*SIZES, "type_vocab_size"])
def test_sizes_at_the_bound_are_accepted_without_building_anything(name):
    overrides = {name: LIMITS[name]}
    if name == "n_heads":
        overrides["d_model"] = LIMITS["n_heads"]
    assert getattr(small(**overrides), name) == LIMITS[name]


def test_the_bounds_hold_every_model_the_app_and_bert_large_need():
    assert EncoderConfig(vocab_size=30522, d_model=1024, n_heads=16, n_layers=24, d_ff=4096)
    assert LIMITS["vocab_size"] >= 250_002  # XLM-R's vocabulary


@pytest.mark.parametrize(
    "value",
    [float("inf"), float("nan"), 5e-324, 1e-30, 2.0, 10**400],
    ids=["inf", "nan", "5e-324", "1e-30", "2", "401 digits"],
)
def test_layer_norm_eps_must_be_finite_and_sensible(value):
    with pytest.raises(ValueError, match=r"layer_norm_eps .* must be a number from 1e-20 to 1 "):
        small(layer_norm_eps=value)


@pytest.mark.parametrize("value", [1e-12, 1e-5, EPS_RANGE[0], EPS_RANGE[1]])
def test_usual_layer_norm_eps_are_accepted(value):
    assert small(layer_norm_eps=value).layer_norm_eps == value


@pytest.mark.parametrize("value", [1e308, float("inf"), float("nan"), MAX_BASE * 10])
def test_positional_base_must_be_finite_and_at_most_a_billion(value):
    with pytest.raises(ValueError, match=r"positional_base .* at most 1,000,000,000"):
        small(positional_base=value)


def test_dropout_too_long_to_print_is_still_refused_in_words():
    with pytest.raises(ValueError, match=r"dropout .*about 5,001 digits.* must be a number"):
        small(dropout=10**5000)
