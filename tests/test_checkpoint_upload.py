"""Uploads the checkpoint tests did not feed yet (issue 14): a file cut at every length, JSON
nesting bombs, a few header bytes asking for 20,000 layers, a training record that is not
numbers; each is a ValueError with its reason, and on the Train page an error, never a crash."""

from __future__ import annotations

import json
import struct

import pytest
from streamlit.testing.v1 import AppTest

from encoder import checkpoint
from encoder.checkpoint import MAX_LAYERS, from_bytes
from encoder.tasks import get_task
from encoder.train import TaskModel, model_config
from tests.test_app import MAIN, assert_clean
from tests.test_checkpoint import parts, rebuild


@pytest.fixture(scope="module")
def good() -> bytes:
    task = get_task("reverse")
    model = TaskModel(model_config(task, d_model=8, n_heads=2, n_layers=1, d_ff=16), 10, seed=1)
    return checkpoint.to_bytes(model, task, {"steps": 3, "seconds": 0.5, "accuracy": 0.1})


def with_meta(good: bytes, **changes: str) -> bytes:
    header, body = parts(good)
    header["__metadata__"] = {**header["__metadata__"], **changes}
    return rebuild(header, body)


def test_a_file_cut_at_any_length_is_refused(good):
    (n,) = struct.unpack("<Q", good[:8])
    lengths = [*range(0, 8 + n + 16), *range(8 + n + 16, len(good), 61)]
    for cut in lengths:
        with pytest.raises(ValueError) as err:
            from_bytes(good[:cut], source="up.safetensors")
        assert str(err.value).startswith("up.safetensors"), (cut, str(err.value))
    assert from_bytes(good).task.name == "reverse"


def test_json_nesting_bombs_are_refused(good):
    bomb = b'{"a":' * 20_000  # json.loads would raise RecursionError
    with pytest.raises(ValueError, match="header is not JSON"):
        from_bytes(struct.pack("<Q", len(bomb)) + bomb)
    with pytest.raises(ValueError, match="does not begin like one"):  # not even a table
        from_bytes(struct.pack("<Q", 100_000) + b"[" * 100_000)
    for key in ("config", "task", "training"):
        with pytest.raises(ValueError, match=f"the checkpoint's {key} is not valid JSON"):
            from_bytes(with_meta(good, **{key: "[" * 50_000}))


def test_a_config_asking_for_thousands_of_layers_is_refused_before_building(good, monkeypatch):
    """A 6 KB header naming 20,000 layers took 47 s of CPU to refuse: now nothing is built."""
    config = json.loads(parts(good)[0]["__metadata__"]["config"])
    built = []
    monkeypatch.setattr(
        checkpoint, "TaskModel", lambda *a, **k: built.append(a) or TaskModel(*a, **k)
    )
    bogus = with_meta(good, config=json.dumps({**config, "n_layers": 20_000}))
    with pytest.raises(ValueError, match=r"n_layers \(20000\) must be at most 128"):
        from_bytes(bogus)  # the config's own bound (issue 17)
    bogus = with_meta(good, config=json.dumps({**config, "n_layers": MAX_LAYERS}))
    with pytest.raises(ValueError, match=f"missing tensor 'encoder.layers.{MAX_LAYERS - 1}.attn"):
        from_bytes(bogus)  # the header lacks its last layer
    header, body = parts(with_meta(good, config=json.dumps({**config, "n_layers": 100})))
    header["encoder.layers.99.attn.qkv.weight"] = header["encoder.layers.0.attn.qkv.weight"]
    with pytest.raises(ValueError, match=f"100 layers; a task checkpoint has at most {MAX_LAYERS}"):
        from_bytes(rebuild(header, body))
    assert built == []


@pytest.mark.parametrize(
    ("record", "said"),
    [
        ({"steps": [1]}, "steps [1]; expected a whole number"),
        ({"seconds": "x"}, "seconds 'x'; expected a finite number"),
        ({"accuracy": float("nan")}, "accuracy nan"),
        ({"seconds": float("inf")}, "seconds inf"),
        ({"steps": -4}, "steps -4"),
        ({"steps": True}, "steps True"),
    ],
)
def test_a_training_record_that_is_not_numbers_is_refused(good, record, said):
    with pytest.raises(ValueError, match=said.replace("[", r"\[").replace("]", r"\]")):
        from_bytes(with_meta(good, training=json.dumps(record)))


def test_extra_training_fields_are_kept(good):
    record = {"steps": 3, "note": "made by hand", "reached_target": False}
    assert from_bytes(with_meta(good, training=json.dumps(record))).training == record


def test_the_train_page_says_why_and_does_not_crash(good):
    config = json.loads(parts(good)[0]["__metadata__"]["config"])
    bad = {
        "bomb": struct.pack("<Q", 60_000) + b"[" * 60_000,
        "layers": with_meta(good, config=json.dumps({**config, "n_layers": 20_000})),
        "record": with_meta(good, training=json.dumps({"steps": [1], "seconds": "x"})),
    }
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.switch_page("views/train.py").run()
    for name, data in bad.items():
        at.file_uploader(key="upload").upload(f"{name}.safetensors", data).run()
        assert_clean(at)
        (error,) = at.error
        assert error.value.startswith("Not loaded, nothing changed"), (name, error.value)
        at.file_uploader(key="upload").set_value(None).run()
    assert "trained_models" not in at.session_state
