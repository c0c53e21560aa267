"""The checkpoint loader refuses tampered, incomplete or foreign checkpoints by name, and reads
safetensors only: it never unpickles and never connects anywhere."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import socket
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import encoder.pretrained as pretrained
from encoder.pretrained import FILES, MINILM_SHA256, load_bert, load_minilm, minilm_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    return load_minilm().model


@pytest.fixture(scope="module")
def tensors() -> dict[str, torch.Tensor]:
    """The original checkpoint's tensors, to build broken variants from."""
    return load_file(str(minilm_dir() / "model.safetensors"))


@pytest.fixture(scope="module")
def config() -> dict:
    return json.loads((minilm_dir() / "config.json").read_text())


# --- refusing bad checkpoints -------------------------------------------------------------------


def make_checkpoint(
    folder: Path,
    tensors: dict[str, torch.Tensor] | None = None,
    config: dict | None = None,
    skip: tuple[str, ...] = (),
) -> Path:
    """A checkpoint folder; unchanged files are symlinked to the originals to save copying."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if name in skip:
            continue
        target = folder / name
        if name == "model.safetensors" and tensors is not None:
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(target))
        elif name == "config.json" and config is not None:
            target.write_text(json.dumps(config))
        else:
            target.symlink_to(minilm_dir() / name)
    return folder


@pytest.fixture(scope="module")
def tampered(tmp_path_factory) -> Path:
    """A real copy of the three files with one byte flipped in the middle of the weights."""
    folder = tmp_path_factory.mktemp("tampered")
    for name in FILES:
        shutil.copyfile(minilm_dir() / name, folder / name)
    weights = folder / "model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as handle:
        handle.seek(size // 2)
        byte = handle.read(1)
        handle.seek(size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return folder


def test_tampered_weights_are_refused(tampered):
    with pytest.raises(ValueError, match="SHA-256") as err:
        load_bert(tampered, sha256=MINILM_SHA256)
    assert MINILM_SHA256 in str(err.value)


def test_tampered_weights_load_without_a_hash(tampered):
    # the file is still valid safetensors: only the checksum tells the change apart
    model, _ = load_bert(tampered)
    assert model.cfg.n_layers == 6


def test_load_minilm_refuses_a_tampered_package(tampered, monkeypatch):
    monkeypatch.setattr(pretrained, "minilm_dir", lambda: tampered)
    with pytest.raises(ValueError, match="SHA-256"):
        load_minilm()


def test_load_minilm_checks_the_shipped_file():
    assert pretrained.file_sha256(minilm_dir() / "model.safetensors") == MINILM_SHA256


def test_missing_tensor_is_named(tmp_path, tensors):
    name = "encoder.layer.3.attention.self.key.weight"
    broken = {k: v for k, v in tensors.items() if k != name}
    with pytest.raises(ValueError, match=re.escape(f"missing tensor '{name}'")):
        load_bert(make_checkpoint(tmp_path, broken))


@pytest.mark.parametrize(
    "name", ["encoder.layer.6.attention.self.query.weight", "adapter.weight", "head.bias"]
)  # task heads of fine-tuned models (classifier, cls, qa_outputs) are left out, not refused
def test_extra_tensor_is_named(tmp_path, tensors, name):
    broken = dict(tensors)
    broken[name] = torch.zeros(2, 384)
    with pytest.raises(ValueError, match=r"unexpected tensor.*" + re.escape(f"'{name}'")):
        load_bert(make_checkpoint(tmp_path, broken))


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("encoder.layer.2.intermediate.dense.weight", (1536, 383)),
        ("encoder.layer.0.output.LayerNorm.bias", (385,)),
        ("embeddings.word_embeddings.weight", (30521, 384)),
    ],
)
def test_misshaped_tensor_is_named(tmp_path, tensors, name, shape):
    broken = dict(tensors)
    broken[name] = torch.zeros(shape)
    with pytest.raises(ValueError, match=re.escape(f"'{name}' has shape {shape}")):
        load_bert(make_checkpoint(tmp_path, broken))


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("encoder.layer.3.attention.self.key.weight", (384, 383)),  # RuntimeError from torch.cat
        ("encoder.layer.3.attention.self.value.weight", (383, 384)),  # names query, (1151, 384)
        ("encoder.layer.3.attention.self.key.bias", (2, 384)),  # RuntimeError from torch.cat
        ("encoder.layer.5.attention.self.query.weight", (384, 383)),  # RuntimeError
        ("encoder.layer.5.attention.self.query.weight", (383, 384)),  # says shape (1151, 384)
    ],
)
def test_misshaped_query_key_or_value_is_named(tmp_path, tensors, name, shape):
    broken = dict(tensors)
    broken[name] = torch.zeros(shape)
    with pytest.raises(ValueError, match=re.escape(f"'{name}' has shape {shape}")):
        load_bert(make_checkpoint(tmp_path, broken))


@pytest.mark.parametrize("missing", FILES)
def test_missing_file_is_named(tmp_path, missing):
    with pytest.raises(ValueError, match=f"missing {missing}"):
        load_bert(make_checkpoint(tmp_path, skip=(missing,)))


def test_non_bert_architecture_is_refused(tmp_path, config):
    with pytest.raises(ValueError, match="unsupported architecture 'roberta'"):
        load_bert(make_checkpoint(tmp_path, config={**config, "model_type": "roberta"}))


def test_config_without_a_size_is_refused(tmp_path, config):
    broken = {k: v for k, v in config.items() if k != "hidden_size"}
    with pytest.raises(ValueError, match="lacks 'hidden_size'"):
        load_bert(make_checkpoint(tmp_path, config=broken))


def test_truncated_weights_file_is_refused(tmp_path):
    folder = make_checkpoint(tmp_path, skip=("model.safetensors",))
    data = (minilm_dir() / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_bert(folder)


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_pooler_tensors_are_ignored(tmp_path, tensors, model):
    assert any(k.startswith("pooler.") for k in tensors)  # the shipped file has them
    with_pooler = dict(tensors)
    with_pooler["pooler.extra.weight"] = torch.ones(3, 3)
    loaded, _ = load_bert(make_checkpoint(tmp_path / "with", with_pooler))
    assert same_weights(loaded, model)
    without = {k: v for k, v in tensors.items() if not k.startswith("pooler.")}
    loaded, _ = load_bert(make_checkpoint(tmp_path / "without", without))
    assert same_weights(loaded, model)


def test_bert_prefixed_checkpoint_loads(tmp_path, tensors, model):
    prefixed = {f"bert.{k}": v for k, v in tensors.items()}
    loaded, tok = load_bert(make_checkpoint(tmp_path, prefixed))
    assert same_weights(loaded, model)
    assert not loaded.training
    assert tok.vocab_size == 30522


def test_tf_era_layernorm_names_load(tmp_path, tensors, model):
    def tf_name(name: str) -> str:
        return name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        )

    old = {tf_name(k): v for k, v in tensors.items()}
    assert any(k.endswith("LayerNorm.gamma") for k in old)
    loaded, _ = load_bert(make_checkpoint(tmp_path, old))
    assert same_weights(loaded, model)


# --- no pickle, no network ----------------------------------------------------------------------


def test_load_minilm_never_unpickles_or_connects(monkeypatch, model):
    def forbidden(*args, **kwargs):
        raise AssertionError("load_minilm must not unpickle or open a connection")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(torch.serialization, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    loaded, tok = load_minilm()
    assert same_weights(loaded, model)
    assert not loaded.training
    assert tok.vocab_size == 30522
