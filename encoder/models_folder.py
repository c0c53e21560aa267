"""The server's models folder: every subfolder holding a BERT-architecture checkpoint, by name.

Whoever runs the server puts Hugging Face checkpoints in one folder (``models/`` in the project,
or ``$ENCODER_EXPLORER_MODELS``); ``discover`` lists its subfolders with an architecture line,
or with the reason, in plain words, why a subfolder cannot be shown. It is cheap: it reads
config.json and the safetensors header, never the weights, so the app can call it on every run.
A user only ever picks a name from that list; loading stays ``pretrained.load_bert(model.path)``,
which checks the weights themselves.

A subfolder qualifies when it holds config.json, model.safetensors and tokenizer.json, directly
or (a sentence-transformers folder) in the folder its modules.json names for the Transformer
module: usually the top, "0_Transformer" in older saves.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from . import filecheck
from .checkpoint import MAX_HEADER, read_header
from .config import EncoderConfig
from .model import Encoder
from .pretrained import FILES, config_from_bert, read_config, state_dict_from_bert

ENV_FOLDER = "ENCODER_EXPLORER_MODELS"  # the models folder; <project>/models when unset
ENV_BUDGET = "ENCODER_EXPLORER_MODEL_MB"  # the largest model the server loads, in MB
DEFAULT_MB = 1500
MB = 1_000_000
MAX_CONFIG = 1_000_000  # bytes: a config.json is a few KB; a bigger one is not read
# bytes per element of each safetensors dtype
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1}
DTYPE_BYTES |= {"U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
CONVERT = (
    "python -c \"from transformers import BertModel; BertModel.from_pretrained('{name}')"
    ".save_pretrained('{name}')\""
)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FolderModel:
    """One subfolder of the models folder: what it holds, or why it cannot be shown."""

    name: str  # the subfolder's name: all a user ever picks
    path: Path  # the folder holding the three files (what load_bert takes)
    ok: bool  # True when the app can list and load it
    reason: str = ""  # why not, in plain words ("" when ok)
    params: int = 0  # every tensor in model.safetensors (pooler included), from its header
    bytes_on_disk: int = 0  # config.json + model.safetensors + tokenizer.json
    line: str = ""  # "12 layers · 12 heads · d_model 768 · 109.5 M parameters · 440 MB"
    config: EncoderConfig | None = None  # what load_bert builds (None when refused)
    stamp: str = ""  # size and modification time of the weights: changes when they are replaced

    # the architecture, read off the config (0 / "" when refused)
    n_layers = property(lambda self: self.config.n_layers if self.config else 0)
    n_heads = property(lambda self: self.config.n_heads if self.config else 0)
    d_model = property(lambda self: self.config.d_model if self.config else 0)
    d_ff = property(lambda self: self.config.d_ff if self.config else 0)
    activation = property(lambda self: self.config.activation if self.config else "")


class Refused(ValueError):
    """A subfolder that cannot be shown; the message is its reason."""


def models_dir() -> Path:
    """The models folder: ``$ENCODER_EXPLORER_MODELS``, or ``models/`` in the project."""
    value = os.environ.get(ENV_FOLDER, "").strip()
    return Path(value).expanduser() if value else Path(__file__).resolve().parents[1] / "models"


def budget_bytes() -> int:
    """The largest model the server loads: ``$ENCODER_EXPLORER_MODEL_MB`` MB, or 1500 MB."""
    raw = os.environ.get(ENV_BUDGET, "").strip()
    if not raw:
        return DEFAULT_MB * MB
    try:
        mb = float(raw)
    except ValueError:
        mb = math.nan
    if not math.isfinite(mb) or mb <= 0:
        raise ValueError(f"{ENV_BUDGET} must be a number of megabytes above 0, got {raw!r}")
    return int(mb * MB)


def model_path(name: str, folder: Path | None = None) -> Path:
    """The folder ``load_bert`` takes for the models folder's model ``name`` (as ``discover``
    lists it); a ValueError in words when there is no such model or it is refused."""
    for model in discover(models_dir() if folder is None else Path(folder)):
        if model.name == name:
            if not model.ok:
                raise ValueError(f"the model folder {name!r} {model.reason}")
            return model.path
    raise ValueError(f"the models folder has no model named {name!r}")


def discover(folder: Path, *, max_bytes: int | None = None) -> list[FolderModel]:
    """Every subfolder of ``folder`` (hidden ones aside), sorted by name, each ok with its
    architecture or refused with a reason; [] when the folder does not exist.

    ``max_bytes``: the largest model (in memory, as float32) to accept; by default
    ``budget_bytes()``.
    """
    budget = budget_bytes() if max_bytes is None else max_bytes
    folder = Path(folder)
    try:
        root = folder.resolve()
        entries = [e for e in folder.iterdir() if not e.name.startswith(".")]
    except (OSError, RuntimeError):  # missing, not a folder, not readable, a symlink loop
        return []
    found = []
    for entry in entries:
        try:
            if not entry.is_dir():
                continue
            found.append(check_folder(entry, root, budget))
        except Refused as err:
            found.append(FolderModel(entry.name, entry, ok=False, reason=str(err)))
        except OSError as err:
            reason = f"could not be read ({err.strerror or type(err).__name__})"
            found.append(FolderModel(entry.name, entry, ok=False, reason=reason))
        except Exception:  # a case no check above foresaw: one line in the list, not a crash
            log.exception("checking the model folder %s failed", entry)
            reason = "could not be checked (an unexpected error, logged on the server)"
            found.append(FolderModel(entry.name, entry, ok=False, reason=reason))
    return sorted(found, key=lambda m: (m.name.casefold(), m.name))


def check_folder(sub: Path, root: Path, max_bytes: int) -> FolderModel:
    """One subfolder, checked from config.json and the safetensors header; raises Refused."""
    name = sub.name
    _inside(sub, root, "the folder")
    where = _model_folder(sub, root)
    _missing_files(where, name)
    paths = {f: where / f for f in FILES}
    for file, path in paths.items():
        _inside(path, root, file)
    hf = _config(paths["config.json"])
    kind = hf.get("model_type")
    if kind != "bert":
        said = f"model_type {kind!r}" if kind is not None else "no model_type"
        what = f"a {kind} model" if isinstance(kind, str) and kind else "not a BERT model"
        raise Refused(
            f"is {what} (config.json has {said}); only BERT-architecture models (model_type "
            "'bert') can be shown here"
        )
    try:
        cfg = config_from_bert(hf)
    except (ValueError, TypeError) as err:
        raise Refused(f"has a config.json this app cannot build: {err}") from err
    header, size = _header(paths["model.safetensors"])
    params = sum(  # a buffer some old checkpoints saved is no parameter
        math.prod(e["shape"]) for k, e in header.items() if not k.endswith("position_ids")
    )
    need = max(size, 4 * params)  # the weights as float32 in memory
    if need > max_bytes:
        raise Refused(
            f"is too large for this server: it needs about {_size(need)} in memory, over the "
            f"budget of {_size(max_bytes)} per model (set by {ENV_BUDGET})"
        )
    _check_shapes(header, cfg, name)
    _tokenizer(paths["tokenizer.json"])
    on_disk = sum(p.stat().st_size for p in paths.values())
    line = (
        f"{_count(cfg.n_layers, 'layer')} · {_count(cfg.n_heads, 'head')} · d_model "
        f"{cfg.d_model} · {_params(params)} · {_size(on_disk)}"
    )
    weights = paths["model.safetensors"].stat()
    return FolderModel(
        name,
        where,
        ok=True,
        params=params,
        bytes_on_disk=on_disk,
        line=line,
        config=cfg,
        stamp=f"{weights.st_size}:{weights.st_mtime_ns}",
    )


def _inside(path: Path, root: Path, what: str) -> None:
    """Refuse a path whose symbolic links lead out of the models folder."""
    if not path.resolve().is_relative_to(root):
        raise Refused(
            f"{'is' if what == 'the folder' else f'has {what} as'} a link to a place outside "
            "the models folder, which is never followed: copy the files into the folder instead"
        )


def _model_folder(sub: Path, root: Path) -> Path:
    """The folder holding the checkpoint: ``sub`` itself, or the Transformer module's folder
    that a sentence-transformers modules.json names."""
    if all((sub / f).is_file() for f in FILES) or not (sub / "modules.json").is_file():
        return sub
    _inside(sub / "modules.json", root, "modules.json")
    if (sub / "modules.json").stat().st_size > MAX_CONFIG:
        raise Refused("has a modules.json too large to be a sentence-transformers module list")
    try:
        modules = filecheck.loads((sub / "modules.json").read_bytes())
    except (ValueError, RecursionError) as err:
        raise Refused("has a modules.json that is not valid JSON: fix or remove it") from err
    for module in modules if isinstance(modules, list) else []:
        if not isinstance(module, dict) or not str(module.get("type", "")).endswith(
            ("Transformer", "BERT")
        ):
            continue
        rel = module.get("path", "")
        if not isinstance(rel, str) or Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise Refused(f"has a modules.json whose Transformer path {rel!r} leaves the folder")
        where = sub / rel if rel else sub
        _inside(where, root, f"{rel or 'its Transformer module'}")
        return where
    return sub


def _missing_files(where: Path, name: str) -> None:
    have = {f for f in (*FILES, "pytorch_model.bin", "vocab.txt") if (where / f).is_file()}
    advice = f"run {CONVERT.format(name=name)} in the models folder"
    if "model.safetensors" not in have:
        if "pytorch_model.bin" in have:
            raise Refused(
                "holds only pytorch_model.bin, a pickle, which is never loaded here (loading a "
                f"pickle can run code): convert it to safetensors: {advice}"
            )
        if (where / "model.safetensors.index.json").is_file():
            raise Refused(
                "holds a checkpoint split into several safetensors files; save it as one "
                f"model.safetensors: {advice}"
            )
        others = [f for f in ("tf_model.h5", "flax_model.msgpack") if (where / f).is_file()]
        if others:
            raise Refused(
                f"holds only {others[0]} (TensorFlow or Flax weights); save the model with "
                "PyTorch as model.safetensors: BertModel.from_pretrained(folder, from_tf=True) "
                "then save_pretrained(folder)"
            )
    absent = [f for f in FILES if f not in have]
    if len(absent) == len(FILES):
        raise Refused(
            "holds no model: a model folder needs config.json, model.safetensors and "
            "tokenizer.json (as save_pretrained writes them)"
        )
    if absent == ["tokenizer.json"]:
        old = " (it has vocab.txt, the slow tokenizer's file)" if "vocab.txt" in have else ""
        raise Refused(
            f"has no tokenizer.json{old}: save the fast tokenizer beside the model with "
            f"AutoTokenizer.from_pretrained('{name}').save_pretrained('{name}')"
        )
    if absent:
        raise Refused(
            f"is missing {' and '.join(absent)}: a model folder needs config.json, "
            "model.safetensors and tokenizer.json"
        )


def _config(path: Path) -> dict:
    size = path.stat().st_size
    if size > MAX_CONFIG:
        raise Refused(f"has a config.json of {_size(size)}; a model's config is a few KB")
    try:
        return read_config(path)
    except ValueError as err:
        words = str(err).replace(str(path), "config.json")
        raise Refused(f"has a broken config.json: {words}; save it again") from err


def _header(path: Path) -> tuple[dict[str, dict], int]:
    """The safetensors header's tensor table (entries checked against the file's length)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(min(size, 8 + MAX_HEADER))
    try:
        header, offset = read_header(head, "model.safetensors")
    except ValueError as err:
        raise Refused(f"has a model.safetensors that cannot be read: {err}") from err
    header.pop("__metadata__", None)
    for tensor, entry in header.items():
        entry = entry if isinstance(entry, dict) else {}
        shape, span, dtype = entry.get("shape"), entry.get("data_offsets"), entry.get("dtype")
        if (
            dtype not in DTYPE_BYTES
            or not isinstance(shape, list)
            or not all(isinstance(n, int) and n >= 0 for n in shape)
            or not isinstance(span, list)
            or len(span) != 2
            or not all(isinstance(n, int) for n in span)
            or not 0 <= span[0] <= span[1] <= size - offset
            or span[1] - span[0] != math.prod(shape) * DTYPE_BYTES[dtype]
        ):
            raise Refused(
                f"has a model.safetensors whose entry for tensor {tensor!r} is malformed or "
                "points outside the file (cut short?): download or save it again"
            )
    return header, size


def _check_shapes(header: dict[str, dict], cfg: EncoderConfig, name: str) -> None:
    """Every tensor the config implies, with its shape: the header's, mapped as load_bert maps
    them (on the meta device: shapes only, nothing allocated)."""
    with torch.device("meta"):
        model = Encoder(cfg)
        tensors = {k: torch.empty(e["shape"], dtype=torch.float32) for k, e in header.items()}
        try:
            state_dict_from_bert(tensors, model)
        except ValueError as err:
            raise Refused(
                f"has weights that disagree with its config.json ({err}): save the encoder "
                f"again with {CONVERT.format(name=name)}"
            ) from err


def _tokenizer(path: Path) -> None:
    with open(path, "rb") as handle:
        start = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start.startswith(b"{"):
        raise Refused(
            "has a tokenizer.json that is not a JSON tokenizer: save it again with "
            "AutoTokenizer(...).save_pretrained(folder)"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _params(n: int) -> str:
    return f"{n / 1e6:,.1f} M parameters" if n >= 100_000 else f"{n / 1e3:,.1f} K parameters"


def _size(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= 10 * MB else f"{n / MB:,.1f} MB"
