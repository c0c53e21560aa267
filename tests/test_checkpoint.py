"""Toy-task checkpoints: a round trip keeps every weight and answer; every damaged, foreign or
oversized file is refused with a reason before anything is built, and nothing is ever unpickled."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch

from encoder import checkpoint
from encoder.checkpoint import FORMAT, MAX_BYTES, MAX_HEADER, from_bytes
from encoder.tasks import get_task
from encoder.train import TaskModel, model_config, predict

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(d_model=16, n_heads=2, n_layers=1, d_ff=32)


@pytest.fixture(scope="module")
def model() -> TaskModel:
    return TaskModel(model_config(get_task("reverse"), **TINY), 10, seed=3).eval()


@pytest.fixture(scope="module")
def good(model) -> bytes:
    return checkpoint.to_bytes(model, get_task("reverse"), {"steps": 7, "accuracy": 0.5})


def parts(data: bytes) -> tuple[dict, bytes]:
    """The header (with metadata) and the tensor bytes of a safetensors file."""
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def rebuild(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def tensors_of(model: TaskModel) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_round_trip_keeps_weights_answers_task_and_training(model, good, tmp_path):
    ckpt = from_bytes(good)
    assert ckpt.task.name == "reverse" and ckpt.training == {"steps": 7, "accuracy": 0.5}
    assert ckpt.model.cfg == model.cfg and not ckpt.model.training
    assert ckpt.digest == hashlib.sha256(good).hexdigest()
    for name, value in model.state_dict().items():
        torch.testing.assert_close(ckpt.model.state_dict()[name], value, rtol=0, atol=0)
    assert predict(ckpt.model, ckpt.task, "3 1 4") == predict(model, ckpt.task, "3 1 4")
    path = checkpoint.save(tmp_path / "reverse.safetensors", model, get_task("reverse"))
    assert checkpoint.load(path).model.cfg == model.cfg
    assert ckpt.tokenizer().encode("3 1 4").ids == [4, 2, 5]
    header, _ = parts(good)
    assert header["__metadata__"]["format"] == FORMAT
    assert json.loads(header["__metadata__"]["config"])["d_model"] == 16


@pytest.mark.parametrize("name", ["reverse", "copy-back", "sort"])
def test_shipped_checkpoints_load_and_solve_their_task(name):
    ckpt = checkpoint.load(ROOT / "assets" / "checkpoints" / f"{name}.safetensors")
    assert ckpt.task.name == name and ckpt.training["accuracy"] >= 0.99
    text = "3 1 4 1 5 9 2"
    assert predict(ckpt.model, ckpt.task, text) == ckpt.task.solve(text)
    readme = (ROOT / "assets" / "checkpoints" / "README.md").read_text()
    assert f"python -m encoder.train --task {name}" in readme


def bad_cases(model: TaskModel, good: bytes) -> dict[str, tuple[bytes, str]]:
    header, body = parts(good)
    meta = header["__metadata__"]
    pickled = io.BytesIO()
    torch.save(model.state_dict(), pickled)

    def edited(**changes) -> bytes:
        h = json.loads(json.dumps(header))
        for name, entry in changes.items():
            if entry is None:
                h.pop(name)
            else:
                h[name] = entry
        return rebuild(h, body)

    def with_meta(**changes) -> bytes:
        return edited(__metadata__={**meta, **changes})

    def with_tensors(**changes) -> bytes:
        t = tensors_of(model) | changes
        return safetensors.torch.save({k: v for k, v in t.items() if v is not None}, meta)

    qkv = "encoder.layers.0.attn.qkv.weight"
    wrong_shape = dict(header[qkv], shape=[48, 8])
    config = json.loads(meta["config"])
    return {
        "torch.save zip renamed": (pickled.getvalue(), "is a pickle (a PyTorch torch.save zip"),
        "raw pickle": (pickle.dumps({"a": 1}), "is a pickle (Python pickle protocol"),
        "random bytes": (b"\x13\x37" * 50, "is not a safetensors checkpoint: it does not begin"),
        "huge declared header": (struct.pack("<Q", 2**40) + b"{}", "declares a header of"),
        "cut short": (good[: len(good) // 3], "points at bytes outside the file"),
        "header cut": (good[:100], "is cut short"),
        "tiny": (b"\x01\x02\x03", "too short to be a safetensors checkpoint (3 bytes)"),
        "header not json": (struct.pack("<Q", 4) + b"{\xff\xfe}", "header is not JSON"),
        "header a list": (rebuild([], b""), "does not begin like one"),  # type: ignore[arg-type]
        "no metadata": (safetensors.torch.save(tensors_of(model)), "not an Encoder Explorer"),
        "metadata not json": (with_meta(config="{oops"), "config is not valid JSON"),
        "config invalid": (
            with_meta(config=json.dumps({**config, "n_heads": 3})),
            "config is invalid: d_model (16) must be divisible by n_heads (3)",
        ),
        "config for another task": (
            with_meta(config=json.dumps({**config, "vocab_size": 12})),
            "does not fit the reverse task",
        ),
        "unknown task": (with_meta(task=json.dumps({"name": "count"})), "unknown task 'count'"),
        "task with other labels": (
            with_meta(task=json.dumps({**json.loads(meta["task"]), "labels": ["a"]})),
            "has labels ['a']",
        ),
        "huge config": (
            with_meta(config=json.dumps({**config, "d_model": 4096, "d_ff": 16384})),
            "MB of weights, over the 32 MB limit",
        ),
        "mismatched shape": (edited(**{qkv: wrong_shape}), "has shape [48, 8], its config implies"),
        "mismatched shape, real tensor": (
            with_tensors(**{qkv: torch.zeros(48, 8)}),
            "has shape [48, 8], its config implies [48, 16]",
        ),
        "wrong dtype": (with_tensors(**{"head.bias": torch.zeros(10, dtype=torch.float16)}), "F16"),
        "missing tensor": (with_tensors(**{"head.bias": None}), "missing tensor 'head.bias'"),
        "extra tensor": (with_tensors(extra=torch.zeros(2)), "tensor 'extra' that its config"),
        "overlapping bytes": (
            edited(**{"head.bias": dict(header["head.bias"], data_offsets=[0, 40])}),
            "claim the same bytes",
        ),
        "nan weights": (
            with_tensors(**{"head.bias": torch.full((10,), float("nan"))}),
            "NaN or infinite",
        ),
    }


def test_every_bad_file_is_refused_with_its_reason(model, good):
    for case, (data, said) in bad_cases(model, good).items():
        with pytest.raises(ValueError) as err:
            from_bytes(data, source="up.safetensors")
        assert said in str(err.value), (case, str(err.value))
        assert str(err.value).startswith("up.safetensors"), case


def test_nothing_is_unpickled_or_torch_loaded(model, good, monkeypatch, tmp_path):
    """A pickle that would run code is refused unread; a good load never calls pickle."""
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (Path.write_text, (marker, "pwned"))

    evil = pickle.dumps(Evil())

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint load must never unpickle")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    with pytest.raises(ValueError, match="is a pickle"):
        from_bytes(evil)
    assert not marker.exists()
    from_bytes(good)  # the good path does not touch pickle either


def test_size_is_checked_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.safetensors"
    with open(big, "wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: no disk used

    def never(*args, **kwargs):
        raise AssertionError("an oversized file must not be read")

    monkeypatch.setattr(Path, "read_bytes", never)
    with pytest.raises(ValueError, match="too big for a toy-task checkpoint"):
        checkpoint.load(big)
    with pytest.raises(ValueError, match="not found"):
        checkpoint.load(tmp_path / "missing.safetensors")


def test_oversized_bytes_and_header_limits(good):
    with pytest.raises(ValueError, match="32 MB"):
        from_bytes(b"\0" * (MAX_BYTES + 1))
    header, body = parts(good)
    header["__metadata__"]["padding"] = "x" * MAX_HEADER
    with pytest.raises(ValueError, match="declares a header of"):
        from_bytes(rebuild(header, body))
    with pytest.raises(ValueError, match="a checkpoint is bytes"):
        from_bytes("not bytes")  # type: ignore[arg-type]


def test_save_wants_the_safetensors_suffix(model, tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.safetensors"):
        checkpoint.save(tmp_path / "model.pt", model, get_task("reverse"))
