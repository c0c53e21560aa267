"""Crafted checkpoints (issue 17, points 3, 11, 22): a file that is not safetensors is named for
what it is first (a pickle, a zip, a text file, a web page); a config declaring huge sizes, an
infinite or vanishing layer_norm_eps, a 5,000-digit number or weights that overflow float32 are
refused in plain words before any page can fail on them; task checkpoints and BERT folders alike."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch

from encoder import checkpoint, filecheck
from encoder.checkpoint import from_bytes
from encoder.pretrained import FILES, load_bert, minilm_dir
from encoder.tasks import get_task
from encoder.train import TaskModel, model_config
from tests.test_checkpoint import parts, rebuild

TASK = get_task("reverse")


@pytest.fixture(scope="module")
def model() -> TaskModel:
    cfg = model_config(TASK, d_model=16, n_heads=2, n_layers=1, d_ff=32)
    return TaskModel(cfg, 10, seed=5).eval()


@pytest.fixture(scope="module")
def good(model) -> bytes:
    return checkpoint.to_bytes(model, TASK, {"steps": 3})


def torch_saved(model, **kwargs) -> bytes:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf, **kwargs)
    return buf.getvalue()


def zipped(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, data)
    return buf.getvalue()


PICKLE = "is a pickle"
FORMATS = {
    "empty": (lambda m, g: b"", "is empty (0 bytes), not a safetensors checkpoint"),
    "torch.save zip": (lambda m, g: torch_saved(m), "is a pickle (a PyTorch torch.save zip"),
    **{
        f"pickle protocol {p}": (
            lambda m, g, p=p: pickle.dumps(m.state_dict(), protocol=p),
            f"is a pickle (Python pickle protocol {p if p >= 2 else '0 or 1'}",
        )
        for p in range(6)
    },
    "old torch.save, protocol 0": (
        lambda m, g: torch_saved(m, _use_new_zipfile_serialization=False, pickle_protocol=0),
        "is a pickle (Python pickle protocol 0 or 1",
    ),
    "old torch.save, protocol 2": (
        lambda m, g: torch_saved(m, _use_new_zipfile_serialization=False),
        "is a pickle (Python pickle protocol 2",
    ),
    "os.system pickle": (lambda m, g: b"cposix\nsystem\n(S'echo hi'\ntR.", PICKLE),
    "zip of the checkpoint": (
        lambda m, g: zipped("reverse.safetensors", g),
        "is a zip archive, not a safetensors checkpoint: unpack it",
    ),
    "text": (lambda m, g: b"hello there\n" * 100, "is a text file, not a safetensors checkpoint"),
    "utf-8 text cut mid-character": (
        lambda m, g: "Grüße ✓ ".encode() * 20_000,
        "is a text file, not a safetensors checkpoint",
    ),
    "web page": (
        lambda m, g: b"\n<!DOCTYPE html>\n<html><body>Download</body></html>",
        "is a web page (HTML), not a safetensors checkpoint",
    ),
    "config.json": (
        lambda m, g: json.dumps({"model_type": "bert"}).encode(),
        "is a JSON text file (a config.json, perhaps), not a safetensors checkpoint",
    ),
    "gzip": (lambda m, g: gzip.compress(g), "is a gzip archive, not a safetensors checkpoint"),
    "npy": (lambda m, g: b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}", "is a NumPy array file"),
    "random bytes": (lambda m, g: bytes(range(256)) * 4, "is not a safetensors checkpoint: it"),
    "two bytes": (lambda m, g: b"\x01\x02", "is too short to be a safetensors checkpoint (2"),
}


@pytest.mark.parametrize("case", list(FORMATS))
def test_a_file_that_is_not_safetensors_is_named_first(model, good, case):
    make, said = FORMATS[case]
    with pytest.raises(ValueError) as err:
        from_bytes(make(model, good), source="up.safetensors")
    assert str(err.value).startswith(f"up.safetensors {said}"), str(err.value)
    assert "declares a header" not in str(err.value)


def test_pickles_say_why_they_are_never_opened(model):
    with pytest.raises(ValueError, match="Pickles can run code when loaded, so they are never"):
        from_bytes(pickle.dumps(model.state_dict(), protocol=0))


@pytest.mark.parametrize("second", [2, 3, 4, 5])
def test_a_checkpoint_whose_header_length_starts_like_a_pickle_loads(good, second):
    """A header of 0x0480 + 65,536 bytes begins with the bytes 80 04, like a pickle; the old
    check refused such a real checkpoint as "a pickle"."""
    header, body = parts(good)
    raw = json.dumps(header).encode()
    n = 0x80 + (second << 8) + 65_536
    assert len(raw) <= n
    data = struct.pack("<Q", n) + raw + b" " * (n - len(raw)) + body  # spaces pad a header
    assert data[0] == 0x80 and data[1] == second
    assert from_bytes(data).task.name == "reverse"


def with_config(good: bytes, **changes) -> bytes:
    header, body = parts(good)
    meta = header["__metadata__"]
    meta["config"] = json.dumps({**json.loads(meta["config"]), **changes})
    return rebuild(header, body)


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"d_model": 10**18, "n_heads": 2}, "d_model (1000000000000000000) must be at most 8,192"),
        ({"d_ff": 10**18}, "d_ff (1000000000000000000) must be at most 65,536"),
        ({"vocab_size": 2**62}, "vocab_size (4611686018427387904) must be at most 1,000,000"),
        ({"n_layers": 10**12}, "n_layers (1000000000000) must be at most 128"),
        ({"layer_norm_eps": float("inf")}, "layer_norm_eps (inf) must be a number from 1e-20"),
        ({"layer_norm_eps": 5e-324}, "layer_norm_eps (5e-324) must be a number from 1e-20"),
        ({"positional_base": 1e308}, "positional_base (1e+308) must be a number above 1 and"),
    ],
    ids=["d_model", "d_ff", "vocab_size", "n_layers", "eps inf", "eps 5e-324", "base 1e308"],
)
def test_a_config_with_absurd_numbers_is_refused_before_anything_is_built(
    good, monkeypatch, changes, said
):
    """Before: d_model 10^18 reached torch ("Storage size calculation overflowed"), the eps and
    base were accepted. The header even names the last layer its config asks for."""
    header, body = parts(with_config(good, **changes))
    last = f"encoder.layers.{changes.get('n_layers', 1) - 1}.attn.qkv.weight"
    header[last] = header["encoder.layers.0.attn.qkv.weight"]

    def never(*args, **kwargs):
        raise AssertionError("nothing is built for a config that is refused")

    monkeypatch.setattr(checkpoint, "TaskModel", never)
    with pytest.raises(ValueError) as err:
        from_bytes(rebuild(header, body), source="up.safetensors")
    assert str(err.value).startswith("up.safetensors: the checkpoint's config is invalid: ")
    assert said in str(err.value)


def test_a_5000_digit_number_is_refused_in_words(good):
    digits = "9" * 5000
    header, body = parts(good)
    raw = json.dumps(header).replace('"data_offsets": [0,', f'"data_offsets": [{digits},', 1)
    data = struct.pack("<Q", len(raw)) + raw.encode() + body
    with pytest.raises(ValueError) as err:
        from_bytes(data, source="up.safetensors")
    assert str(err.value) == (
        "up.safetensors: its header holds a whole number 5,000 digits long; a checkpoint's "
        "numbers have at most 19"
    )
    for key in ("config", "task", "training"):
        header, body = parts(good)
        header["__metadata__"][key] = json.dumps({"steps": 1}).replace("1", digits)
        with pytest.raises(ValueError) as err:
            from_bytes(rebuild(header, body), source="up.safetensors")
        assert str(err.value).startswith(f"up.safetensors: the checkpoint's {key} holds a whole")
        assert "4300" not in str(err.value)


def with_weights(model: TaskModel, **changes: float) -> bytes:
    data = checkpoint.to_bytes(model, TASK, {})
    tensors = safetensors.torch.load(data)
    for name, value in changes.items():
        tensors[name] = torch.full_like(tensors[name], value)
    return safetensors.torch.save(tensors, parts(data)[0]["__metadata__"])


@pytest.mark.parametrize("value", [3e38, -2e5, float("inf"), float("nan")])
def test_weights_a_float32_model_cannot_carry_are_refused(model, value):
    """Before: weights of 3e38 loaded, then Encode and Padding failed (cosine_matrix: NaN or
    infinite values)."""
    data = with_weights(model, **{"encoder.tok_embed.weight": value})
    with pytest.raises(ValueError, match=r"tensor 'encoder\.tok_embed\.weight' holds"):
        from_bytes(data)


def test_a_model_whose_outputs_overflow_is_refused_by_its_test_forward_pass(model, monkeypatch):
    """Weights under any bound can still multiply up to infinity: one forward pass over inputs
    like the pages' catches it (here the bound is lifted to let 3e38 through)."""
    monkeypatch.setattr(filecheck, "MAX_WEIGHT", float("inf"))
    data = with_weights(model, **{"encoder.tok_embed.weight": 3e38})
    with pytest.raises(ValueError, match="outputs on a test input hold NaN or infinite values"):
        from_bytes(data, source="up.safetensors")


def test_large_but_finite_vectors_still_have_a_cosine():
    from encoder.analysis import cosine_matrix

    small = np.array([[3.0, 1.0], [1.0, 3.0], [-3.0, -1.0]])
    unit = small / np.linalg.norm(small, axis=1, keepdims=True)
    cos = cosine_matrix((small * 1e30).astype(np.float32))  # squares overflow float32
    np.testing.assert_allclose(cos, unit @ unit.T, atol=1e-6)  # 0.6 and -1, not 0


# --- the same checks on a BERT folder ---------------------------------------------------------


def bert_folder(tmp_path, weights: bytes | None = None, config: object = None):
    for name in FILES:
        target = tmp_path / name
        if name == "model.safetensors" and weights is not None:
            target.write_bytes(weights)
        elif name == "config.json" and config is not None:
            target.write_text(config if isinstance(config, str) else json.dumps(config))
        else:
            target.symlink_to(minilm_dir() / name)
    return tmp_path


def minilm_config() -> dict:
    return json.loads((minilm_dir() / "config.json").read_text())


@pytest.mark.slow
def test_a_bert_folder_holding_a_pickle_says_so(tmp_path, model):
    with pytest.raises(ValueError, match=r"model\.safetensors is a pickle \(a PyTorch torch"):
        load_bert(bert_folder(tmp_path, weights=torch_saved(model)))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "said"),
    [
        ('{"hidden_size": ' + "9" * 5000 + "}", "holds a whole number 5,000 digits long"),
        ("[1, 2]", "is not a JSON object of settings"),
        ("{oops", "is not a JSON file"),
        ({**json.loads('{"model_type": "bert"}'), "hidden_size": 10**18}, "lacks"),
    ],
    ids=["5000 digits", "a list", "not json", "lacks sizes"],
)
def test_a_bert_config_json_that_is_not_sane_is_refused_in_words(tmp_path, config, said):
    with pytest.raises(ValueError, match=said):
        load_bert(bert_folder(tmp_path, config=config))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"hidden_size": 10**18}, r"d_model \(1000000000000000000\) must be at most 8,192"),
        ({"layer_norm_eps": 5e-324}, r"layer_norm_eps \(5e-324\) must be a number from"),
        ({"hidden_dropout_prob": "lots"}, r"dropout \('lots'\) must be a number in"),
        ({"hidden_act": ["gelu"]}, "unsupported hidden_act"),
    ],
    ids=["hidden_size", "eps", "dropout", "act"],
)
def test_a_bert_config_with_absurd_numbers_is_refused(tmp_path, changes, said):
    with pytest.raises(ValueError, match=said):
        load_bert(bert_folder(tmp_path, config={**minilm_config(), **changes}))


@pytest.mark.slow
def test_bert_weights_that_overflow_are_refused(tmp_path):
    tensors = safetensors.torch.load_file(str(minilm_dir() / "model.safetensors"))
    name = "embeddings.word_embeddings.weight"
    tensors[name] = torch.full_like(tensors[name], 3e38)
    with pytest.raises(ValueError, match=f"tensor '{name}' holds a weight of 3e\\+38"):
        load_bert(bert_folder(tmp_path, weights=safetensors.torch.save(tensors)))
