"""Checkpoints of toy-task models: one .safetensors file, its JSON config and task in the header.

Saving writes the weights of ``TaskModel`` (encoder + head) as float32 tensors and, in the
safetensors metadata, three JSON strings: ``config`` (EncoderConfig), ``task`` (what the task
is, its tokens and labels) and ``training`` (how it was trained and how well it did).

Loading never executes anything: no pickle, no ``torch.load``. It checks the file size before
reading, what the file is from its first bytes (a pickle, a zip or a text file is named as such),
the declared header size before parsing it, then every tensor's name, shape, dtype and byte
range against what the config implies, and only then hands the bytes to safetensors. The
weights must be finite and below ``filecheck.MAX_WEIGHT``, and one forward pass over inputs
like the pages' must give finite numbers everywhere.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import safetensors.torch
import torch

from . import filecheck
from .config import EncoderConfig
from .model import TaskModel
from .tasks import Task, TaskTokenizer, get_task

FORMAT = "encoder-explorer/task-checkpoint/1"
MAX_BYTES = 32_000_000  # a whole checkpoint; the Train page's biggest model is ~13 MB
MAX_HEADER = 256_000  # the JSON header (tensor table + config); ours are ~6 KB
MAX_LAYERS = 64  # the Train page offers 1 to 4; checking 64 layers' names takes ~1 s at most
DTYPE = "F32"


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the model (eval mode), its task, and how it was trained."""

    model: TaskModel
    task: Task
    training: dict
    digest: str  # SHA-256 of the file: names the exact weights

    def tokenizer(self) -> TaskTokenizer:
        return TaskTokenizer(self.task, self.model.cfg.max_len)


def to_bytes(model: TaskModel, task: Task, training: dict | None = None) -> bytes:
    """Serialise a model and its task as safetensors bytes."""
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "config": json.dumps(model.cfg.to_dict(), sort_keys=True),
        "task": json.dumps(task.describe(), sort_keys=True),
        "training": json.dumps(training or {}, sort_keys=True),
    }
    return safetensors.torch.save(tensors, metadata=metadata)


def save(path: str | Path, model: TaskModel, task: Task, training: dict | None = None) -> Path:
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: a checkpoint file name must end in .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(model, task, training))
    return path


def load(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint file (its size is checked before it is read)."""
    return from_bytes(read_bytes(path), source=str(path))


def read_bytes(path: str | Path) -> bytes:
    """A checkpoint file's bytes, refusing a file over the size limit before reading it."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"a checkpoint path is a str or Path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint file not found: {path}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{path}: {_too_big(size)}")
    return path.read_bytes()


def from_bytes(data: bytes, source: str = "the file") -> Checkpoint:
    """Validate checkpoint bytes and build the model; ValueError says what is wrong."""
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"a checkpoint is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{source}: {_too_big(len(data))}")
    header, offset = read_header(data, source)
    meta = header.pop("__metadata__", None)
    cfg, task, training = _metadata(meta, source)
    last = f"encoder.layers.{cfg.n_layers - 1}.attn.qkv.weight"  # before building the table
    if last not in header:
        raise ValueError(f"{source} is missing tensor {last!r} that its config needs")
    expected = _expected_tensors(cfg, task, source)
    _check_table(header, expected, len(data) - offset, source)
    try:
        tensors = safetensors.torch.load(data)
    except Exception as err:  # the Rust error type says what broke
        raise ValueError(f"{source} is not a readable safetensors file: {err}") from err
    filecheck.check_weights(tensors, source)
    model = TaskModel(cfg, len(task.labels), seed=0)
    model.load_state_dict(tensors, strict=True)
    probe(model.eval(), task, source)
    return Checkpoint(model, task, training, hashlib.sha256(data).hexdigest())


def probe(model: TaskModel, task: Task, source: str = "the model") -> None:
    """Run the model once over inputs like the pages': the task's example, every token repeated
    to max_len, and 16 seeded random examples padded to the longest; refuse it if any hidden
    state, attention weight or output is NaN or infinite."""
    S, V = model.cfg.max_len, len(task.vocab)
    example = TaskTokenizer(task, S).encode_batch([task.example])
    sample = task.sample(16, torch.Generator().manual_seed(0))
    repeated = torch.arange(1, V)[:, None].expand(V - 1, S)  # (V - 1, S)
    batches = [
        (example.input_ids, example.attention_mask),
        (sample.input_ids, sample.attention_mask),
        (repeated, torch.ones_like(repeated)),
    ]
    with torch.inference_mode():
        for ids, mask in batches:
            out = model.encoder(ids, mask, output_attentions=True, output_hidden_states=True)
            outputs = [*out.hidden_states, *out.attentions, model.head(out.last_hidden_state)]
            filecheck.check_outputs(outputs, source)


def read_header(data: bytes, source: str = "the file") -> tuple[dict, int]:
    """The safetensors JSON header and where the tensor bytes start, after saying what the
    file is when it cannot be safetensors, and after size checks."""
    kind = filecheck.what_it_is(data[: filecheck.HEAD], len(data))
    if kind is not None:
        raise ValueError(f"{source} {kind}")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER:
        raise ValueError(
            f"{source} declares a header of {n:,} bytes; a checkpoint's header is at most "
            f"{MAX_HEADER:,} bytes, so it is not read"
        )
    if 8 + n > len(data):
        raise ValueError(
            f"{source} is cut short: its header alone should take {n:,} bytes, the file has "
            f"{len(data) - 8:,} after the size field"
        )
    try:
        header = filecheck.loads(data[8 : 8 + n].decode("utf-8"))
    except filecheck.TooLong as err:
        raise ValueError(f"{source}: its header {err}") from err
    except (ValueError, RecursionError) as err:  # not UTF-8 or not JSON; a nesting bomb
        raise ValueError(f"{source} is not a safetensors file: its header is not JSON") from err
    if not isinstance(header, dict):
        raise ValueError(f"{source} is not a safetensors file: its header is not a table")
    return header, 8 + n


def _metadata(meta: object, source: str) -> tuple[EncoderConfig, Task, dict]:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(
            f"{source} is a safetensors file but not an Encoder Explorer task checkpoint "
            f"(its metadata lacks format = {FORMAT!r}); make one on the Train page or with "
            "python -m encoder.train"
        )
    parsed = {}
    for key in ("config", "task", "training"):
        try:
            parsed[key] = filecheck.loads(meta.get(key, ""))
        except filecheck.TooLong as err:
            raise ValueError(f"{source}: the checkpoint's {key} {err}") from err
        except (TypeError, ValueError, RecursionError) as err:
            raise ValueError(f"{source}: the checkpoint's {key} is not valid JSON") from err
        if not isinstance(parsed[key], dict):
            raise ValueError(f"{source}: the checkpoint's {key} is not a JSON object")
    try:
        cfg = EncoderConfig.from_dict(parsed["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: the checkpoint's config is invalid: {err}") from err
    described = parsed["task"]
    try:
        task = get_task(str(described.get("name")))
    except ValueError as err:
        raise ValueError(f"{source}: the checkpoint's {err}") from err
    for field in ("vocab", "labels", "min_len", "max_len"):
        ours = task.describe()[field]
        if described.get(field) != ours:
            raise ValueError(
                f"{source}: the checkpoint's {task.name} task has {field} "
                f"{described.get(field)!r}, this version's has {ours!r}"
            )
    if cfg.vocab_size != len(task.vocab) or cfg.max_len != task.max_len or cfg.pad_id != 0:
        raise ValueError(
            f"{source}: config (vocab_size {cfg.vocab_size}, max_len {cfg.max_len}) does not "
            f"fit the {task.name} task (vocab_size {len(task.vocab)}, max_len {task.max_len})"
        )
    _check_training(parsed["training"], source)
    return cfg, task, parsed["training"]


# what encoder.train_cli.training_record writes; the app shows these numbers
TRAINING_NUMBERS = ("accuracy", "seconds", "lr")
TRAINING_COUNTS = ("steps", "eval_examples", "seed", "batch_size")


def _check_training(training: dict, source: str) -> None:
    """The training record's numbers must be numbers: the app reads and shows them."""
    for key in TRAINING_NUMBERS + TRAINING_COUNTS:
        if key not in training:
            continue
        value = training[key]
        whole = key in TRAINING_COUNTS
        if (
            isinstance(value, bool)
            or not isinstance(value, int if whole else (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            kind = "a whole number" if whole else "a finite number"
            raise ValueError(
                f"{source}: the checkpoint's training record has {key} {value!r}; "
                f"expected {kind}, at least 0"
            )


def _expected_tensors(cfg: EncoderConfig, task: Task, source: str) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every tensor the config implies, refusing sizes over the limit."""
    if cfg.n_layers > MAX_LAYERS:  # a few bytes of header must not make us build 20,000 layers
        raise ValueError(
            f"{source}: its config has {cfg.n_layers:,} layers; a task checkpoint has at most "
            f"{MAX_LAYERS}"
        )
    with torch.device("meta"):  # shapes only: meta tensors have no storage, nothing is allocated
        shapes = {
            k: tuple(v.shape)
            for k, v in TaskModel(cfg, len(task.labels), seed=None).state_dict().items()
        }
    total = sum(math.prod(s) for s in shapes.values()) * 4
    if total > MAX_BYTES:
        raise ValueError(
            f"{source}: its config (d_model {cfg.d_model}, {cfg.n_layers} layers, d_ff "
            f"{cfg.d_ff}) means {total / 1e6:,.0f} MB of weights, over the "
            f"{MAX_BYTES / 1e6:.0f} MB limit"
        )
    return shapes


def _check_table(
    header: dict, expected: dict[str, tuple[int, ...]], data_len: int, source: str
) -> None:
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing:
        raise ValueError(f"{source} is missing tensor {missing[0]!r} that its config needs")
    if extra:
        raise ValueError(f"{source} has tensor {extra[0]!r} that its config does not explain")
    spans = []
    for name, shape in expected.items():
        entry = header[name]
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: the entry for tensor {name!r} is malformed")
        got = entry.get("shape")
        if not isinstance(got, list) or tuple(got) != shape:
            raise ValueError(
                f"{source}: tensor {name!r} has shape {got}, its config implies {list(shape)}"
            )
        if entry.get("dtype") != DTYPE:
            raise ValueError(
                f"{source}: tensor {name!r} is {entry.get('dtype')}, checkpoints hold {DTYPE} "
                "(float32)"
            )
        offsets = entry.get("data_offsets")
        size = math.prod(shape) * 4
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or offsets[1] - offsets[0] != size
            or not 0 <= offsets[0] <= offsets[1] <= data_len
        ):
            raise ValueError(f"{source}: tensor {name!r} points at bytes outside the file")
        spans.append(tuple(offsets))
    spans.sort()
    if any(a[1] > b[0] for a, b in itertools.pairwise(spans)):
        raise ValueError(f"{source}: two tensors claim the same bytes")


def _too_big(size: int) -> str:
    return (
        f"{size / 1e6:,.1f} MB is too big for a toy-task checkpoint "
        f"(the limit is {MAX_BYTES / 1e6:.0f} MB)"
    )
