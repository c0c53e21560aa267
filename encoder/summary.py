"""Plain-data summaries of an encoder: tensor shapes along the forward pass, parameter counts."""

from __future__ import annotations

from typing import NamedTuple

from .config import EncoderConfig
from .model import Encoder


class Stage(NamedTuple):
    name: str
    shape: tuple[int, ...]
    note: str


def shape_trace(cfg: EncoderConfig, batch: int, seq: int) -> list[Stage]:
    """Every tensor's shape from token ids to output, for this config and input size."""
    B, S, D, H = batch, seq, cfg.d_model, cfg.n_heads
    scale = f" × √{D}" if cfg.scale_embeddings else ""
    stages = [
        Stage("input_ids", (B, S), "token ids, padded to the longest sentence"),
        Stage("attention_mask", (B, S), "1 = real token, 0 = padding"),
        Stage("token embeddings", (B, S, D), f"lookup in a {cfg.vocab_size} × {D} table{scale}"),
        Stage("+ positions", (S, D), f"{cfg.positional} positional encoding, broadcast over batch"),
    ]
    if cfg.type_vocab_size:
        stages.append(Stage("+ token types", (B, S, D), "segment embeddings (all type 0 here)"))
    if cfg.embedding_norm:
        stages.append(Stage("LayerNorm", (B, S, D), "normalise each token vector"))
    stages.append(Stage("dropout → hidden_states[0]", (B, S, D), f"p = {cfg.dropout}"))
    for i in range(cfg.n_layers):
        stages += [
            Stage(f"layer {i} Q, K, V", (B, H, S, D // H), f"{H} heads of width {D // H}"),
            Stage(f"layer {i} attention", (B, H, S, S), "softmax(QKᵀ/√d_k) per head"),
            Stage(f"layer {i} feed-forward", (B, S, cfg.d_ff), f"{cfg.activation}, width d_ff"),
            Stage(f"layer {i} output", (B, S, D), f"hidden_states[{i + 1}]"),
        ]
    if cfg.norm_first:
        stages.append(Stage("final LayerNorm", (B, S, D), "pre-norm stacks end with one"))
    stages.append(Stage("last_hidden_state", (B, S, D), "one vector per token"))
    return stages


def parameter_counts(model: Encoder) -> list[tuple[str, int]]:
    """Parameters per module (embeddings, each layer's parts), ending with the total."""
    groups: dict[str, int] = {}
    names = {
        "tok_embed": "token embeddings",
        "pos": "learned positions",
        "type_embed": "token-type embeddings",
        "embed_norm": "embedding LayerNorm",
        "final_norm": "final LayerNorm",
        "attn": "attention",
        "ff": "feed-forward",
        "norm1": "LayerNorms",
        "norm2": "LayerNorms",
    }
    for full, p in model.named_parameters():
        parts = full.split(".")
        group = f"layer {parts[1]} {names[parts[2]]}" if parts[0] == "layers" else names[parts[0]]
        groups[group] = groups.get(group, 0) + p.numel()
    rows = list(groups.items())
    rows.append(("total", sum(groups.values())))
    return rows


def group_layers(stages: list[Stage], n_layers: int) -> list[Stage]:
    """The trace with its identical layers folded into one block ("each of 6 layers")."""
    if n_layers < 2:
        return stages
    out = []
    for s in stages:
        if s.name.startswith("layer 0 "):
            name = s.name.replace("layer 0 ", f"each of {n_layers} layers: ", 1)
            note = s.note.replace("hidden_states[1]", f"hidden_states[1 … {n_layers}]")
            out.append(Stage(name, s.shape, note))
        elif not s.name.startswith("layer "):
            out.append(s)
    return out


def group_parameters(rows: list[tuple[str, int]], n_layers: int) -> list[tuple[str, int, int]]:
    """(module, parameters per copy, copies) with every layer's parts folded into one row each.

    ``rows`` as ``parameter_counts`` returns them, total last; the total stays last.
    """
    out: dict[str, tuple[int, int]] = {}
    for name, count in rows:
        if name.startswith("layer "):
            part = name.split(" ", 2)[2]
            out.setdefault(f"{part} (each layer)", (count, 0))
            per, copies = out[f"{part} (each layer)"]
            out[f"{part} (each layer)"] = (per, copies + 1)
        else:
            out[name] = (count, 1)
    return [(name, per, copies) for name, (per, copies) in out.items()]
