"""Load BERT-family checkpoints (config.json + model.safetensors + tokenizer.json) into Encoder.

Only safetensors are read: no pickle is ever loaded and no checkpoint code is ever run. A
weights file that is something else (a pickle, a zip, a text file) is named as such; weights
must be finite and below ``filecheck.MAX_WEIGHT``, and one forward pass must give finite numbers.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors.torch import load_file
from torch import Tensor

from . import filecheck
from .config import EncoderConfig
from .minilm import minilm_dir
from .model import Encoder
from .tokenizer import Tokenizer
from .tokenizer import default_tokenizer as default_tokenizer  # the shipped vocabulary, here too

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
FILES = ("config.json", "model.safetensors", "tokenizer.json")
# not part of the encoder: the pooler, a saved buffer, and the task heads of fine-tuned models
# (BertForSequenceClassification's classifier, BertForMaskedLM's cls, BertForQuestionAnswering's
# qa_outputs): their encoder is what is loaded
_IGNORED = re.compile(
    r"^(pooler\..*|embeddings\.position_ids|classifier\..*|cls\..*|qa_outputs\..*)$"
)
_ACTIVATIONS = {"gelu": "gelu", "relu": "relu"}  # HF "gelu" is the exact erf GELU


class Pretrained(NamedTuple):
    model: Encoder
    tokenizer: Tokenizer


def load_minilm() -> Pretrained:
    """all-MiniLM-L6-v2 (6 layers, 12 heads, d_model 384), its weights checked by SHA-256."""
    return load_bert(minilm_dir(), sha256=MINILM_SHA256)


def load_bert(directory: str | Path, *, sha256: str | None = None) -> Pretrained:
    """Build our Encoder and Tokenizer from a local BERT checkpoint directory, in eval mode."""
    directory = Path(directory)
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise ValueError(f"{directory} is missing {', '.join(missing)}; a checkpoint needs {FILES}")
    cfg = config_from_bert(read_config(directory / "config.json"))
    weights_path = directory / "model.safetensors"
    with open(weights_path, "rb") as handle:
        kind = filecheck.what_it_is(handle.read(filecheck.HEAD), weights_path.stat().st_size)
    if kind is not None:
        raise ValueError(f"{weights_path} {kind}")
    if sha256 is not None:
        actual = file_sha256(weights_path)
        if actual != sha256:
            raise ValueError(
                f"refusing {weights_path}: its SHA-256 is {actual}, expected {sha256}. "
                "The file was changed or damaged; reinstall the package that ships it."
            )
    try:
        tensors = load_file(str(weights_path))
    except Exception as err:  # safetensors raises its own error type for malformed files
        raise ValueError(f"{weights_path} is not a readable safetensors file: {err}") from err
    filecheck.check_weights(tensors, str(weights_path))
    model = Encoder(cfg, seed=0)
    model.load_state_dict(state_dict_from_bert(tensors, model), strict=True)
    probe(model.eval(), str(weights_path))
    return Pretrained(model, Tokenizer.from_file(directory / "tokenizer.json"))


def read_config(path: Path) -> dict:
    """config.json as a dict, refused in words when it is not one."""
    try:
        values = filecheck.loads(path.read_bytes())
    except filecheck.TooLong as err:
        raise ValueError(f"{path} {err}") from err
    except (ValueError, RecursionError) as err:  # not UTF-8, not JSON, a nesting bomb
        raise ValueError(f"{path} is not a JSON file") from err
    if not isinstance(values, dict):
        raise ValueError(f"{path} is not a JSON object of settings")
    return values


def probe(model: Encoder, source: str = "the model") -> None:
    """One forward pass over the first token ids, one row padded: refuse the model if any
    hidden state or attention weight is NaN or infinite."""
    S = min(model.cfg.max_len, 16)
    ids = torch.arange(S)[None, :].expand(2, S) % model.cfg.vocab_size  # (2, S)
    mask = torch.ones_like(ids)
    mask[1, S // 2 :] = 0
    with torch.inference_mode():
        out = model(ids, mask, output_attentions=True, output_hidden_states=True)
    filecheck.check_outputs([*out.hidden_states, *out.attentions], source)


def config_from_bert(hf: dict) -> EncoderConfig:
    """Translate a Hugging Face BertConfig dict into an EncoderConfig."""
    kind = hf.get("model_type")
    if kind != "bert":
        raise ValueError(
            f"unsupported architecture {kind!r}: only BERT-family checkpoints (model_type 'bert') "
            "can be loaded"
        )
    act = hf.get("hidden_act", "gelu")
    if not isinstance(act, str) or act not in _ACTIVATIONS:
        raise ValueError(f"unsupported hidden_act {act!r}: only {sorted(_ACTIVATIONS)} are built")
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings are supported")
    try:
        return EncoderConfig(
            vocab_size=hf["vocab_size"],
            d_model=hf["hidden_size"],
            n_heads=hf["num_attention_heads"],
            n_layers=hf["num_hidden_layers"],
            d_ff=hf["intermediate_size"],
            dropout=_float(hf.get("hidden_dropout_prob", 0.1)),
            max_len=hf["max_position_embeddings"],
            pad_id=hf.get("pad_token_id", 0) or 0,
            positional="learned",
            activation=_ACTIVATIONS[act],
            norm_first=False,
            layer_norm_eps=_float(hf.get("layer_norm_eps", 1e-12)),
            scale_embeddings=False,
            embedding_norm=True,
            type_vocab_size=hf.get("type_vocab_size", 2),
        )
    except KeyError as err:
        raise ValueError(f"config.json lacks {err.args[0]!r}") from err


def _float(value: object) -> object:
    """A number as a float; anything else as it is, for EncoderConfig to refuse by name."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if is_number and abs(value) < 1e308 else value


def _bert_name(ours: str) -> str | tuple[str, ...]:
    """Our parameter name -> the Hugging Face name(s) it is built from."""
    fixed = {
        "tok_embed.weight": "embeddings.word_embeddings.weight",
        "pos.embed.weight": "embeddings.position_embeddings.weight",
        "type_embed.weight": "embeddings.token_type_embeddings.weight",
        "embed_norm.weight": "embeddings.LayerNorm.weight",
        "embed_norm.bias": "embeddings.LayerNorm.bias",
    }
    if ours in fixed:
        return fixed[ours]
    _, i, module, *rest = ours.split(".")
    leaf = rest[-1]
    prefix = f"encoder.layer.{i}."
    if module == "attn" and rest[0] == "qkv":
        return tuple(f"{prefix}attention.self.{p}.{leaf}" for p in ("query", "key", "value"))
    where = {
        ("attn", "out"): "attention.output.dense",
        ("norm1",): "attention.output.LayerNorm",
        ("ff", "linear1"): "intermediate.dense",
        ("ff", "linear2"): "output.dense",
        ("norm2",): "output.LayerNorm",
    }[(module, *rest[:-1])]
    return f"{prefix}{where}.{leaf}"


def state_dict_from_bert(tensors: dict[str, Tensor], model: Encoder) -> dict[str, Tensor]:
    """Map Hugging Face BERT tensor names onto ours; fail by name on anything missing or extra."""
    renamed = {}
    for name, tensor in tensors.items():
        name = name.removeprefix("bert.")
        name = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", name)  # old TF-era names
        name = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name)
        renamed[name] = tensor
    used: set[str] = set()
    out: dict[str, Tensor] = {}
    for ours, param in model.state_dict().items():
        sources = _bert_name(ours)
        sources = (sources,) if isinstance(sources, str) else sources
        absent = [s for s in sources if s not in renamed]
        if absent:
            raise ValueError(f"checkpoint is missing tensor {absent[0]!r} (needed for {ours})")
        # query, key and value each fill a third of our packed qkv rows
        part = (param.shape[0] // len(sources), *param.shape[1:])
        for source in sources:
            if tuple(renamed[source].shape) != part:
                raise ValueError(
                    f"tensor {source!r} has shape {tuple(renamed[source].shape)}, "
                    f"config.json implies {part}"
                )
        value = torch.cat([renamed[s] for s in sources])
        out[ours] = value.to(param.dtype)
        used.update(sources)
    extra = sorted(n for n in renamed if n not in used and not _IGNORED.match(n))
    if extra:
        raise ValueError(f"checkpoint has unexpected tensor(s) {extra[:5]} that this encoder lacks")
    return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
