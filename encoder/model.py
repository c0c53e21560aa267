"""The encoder: embeddings + positions -> dropout -> N layers, returning its internals; and
TaskModel, the encoder plus a linear head (the toy tasks' model, trained by train.py)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .config import EncoderConfig, check_int
from .layers import EncoderLayer
from .masks import layer_mask
from .positional import PositionalEncoding


class EncoderOutput(NamedTuple):
    """What ``Encoder.forward`` returns; internals are None unless asked for.

    last_hidden_state: (B, S, D) the final token vectors.
    hidden_states: n_layers + 1 tensors (B, S, D): embeddings + positions (after dropout) first,
        then each layer's output. The last entry is always ``last_hidden_state``.
    attentions: n_layers tensors (B, H, S, S): per-head weights after softmax;
        query on rows, key on columns.
    """

    last_hidden_state: Tensor
    hidden_states: tuple[Tensor, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


class Encoder(nn.Module):
    """Transformer encoder (Vaswani et al. 2017), also able to hold BERT-family weights.

    ``seed`` makes construction deterministic without touching the global RNG: the same config
    and seed give the same weights on every machine. With ``seed=None`` the global RNG is used.
    """

    def __init__(self, cfg: EncoderConfig, *, seed: int | None = None) -> None:
        super().__init__()
        if not isinstance(cfg, EncoderConfig):
            raise ValueError(f"cfg must be an EncoderConfig, got {type(cfg).__name__}")
        if seed is not None and (not isinstance(seed, int) or not 0 <= seed < 2**63):
            raise ValueError(f"seed ({seed!r}) must be a whole number from 0 to 2**63 - 1")
        self.cfg = cfg
        # module constructors draw default weights from the global RNG; with a seed, put its
        # state back afterwards: reset_parameters() overwrites every weight from the seed anyway
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            self._build(cfg)
        self.reset_parameters(seed)

    def _build(self, cfg: EncoderConfig) -> None:
        self.tok_embed = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=None)
        self.pos = PositionalEncoding(cfg.max_len, cfg.d_model, cfg.positional, cfg.positional_base)
        self.type_embed = (
            nn.Embedding(cfg.type_vocab_size, cfg.d_model) if cfg.type_vocab_size else None
        )
        self.embed_norm = (
            nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps) if cfg.embedding_norm else None
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_layers))
        # pre-norm stacks end with a LayerNorm, as nn.TransformerEncoder(norm=...) and GPT-2 do
        self.final_norm = (
            nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps) if cfg.norm_first else None
        )
        self.embed_scale = math.sqrt(cfg.d_model) if cfg.scale_embeddings else 1.0

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Initialise every weight, in a fixed order, from ``seed`` (or the global RNG)."""
        gen = None if seed is None else torch.Generator().manual_seed(int(seed))
        # scaled by sqrt(d_model) in forward, token embeddings start at unit scale like the PE
        std = self.cfg.d_model**-0.5 if self.cfg.scale_embeddings else 0.02
        for name, p in self.named_parameters():
            if "embed" in name and name.endswith("weight") and p.ndim == 2:
                nn.init.normal_(p, 0.0, std, generator=gen)
            elif "norm" in name:
                nn.init.ones_(p) if name.endswith("weight") else nn.init.zeros_(p)
            elif p.ndim == 2:
                nn.init.xavier_uniform_(p, generator=gen)  # as the Annotated Transformer does
            else:
                nn.init.zeros_(p)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        *,
        token_type_ids: Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        use_positions: bool = True,
    ) -> EncoderOutput:
        """Encode a batch of token ids. attention_mask: 1/True = real token, 0/False = padding.

        ``use_positions=False`` leaves the position vectors out (an experiment switch: without
        them the encoder cannot tell word order, see ``experiments.order_test``); the model
        itself is not changed.

        Shape: input_ids (B, S), attention_mask (B, S) -> last_hidden_state (B, S, D)
        """
        input_ids = self._check_ids(input_ids)
        x = self.embed(input_ids, token_type_ids, use_positions=use_positions)  # (B, S, D)
        mask = layer_mask(attention_mask, input_ids, x.dtype)  # (B, 1, 1, S), for every layer
        hidden = [x] if output_hidden_states else None
        attentions = [] if output_attentions else None
        for layer in self.layers:
            x, weights = layer(x, mask, need_weights=output_attentions)
            if hidden is not None:
                hidden.append(x)
            if attentions is not None:
                attentions.append(weights)
        if self.final_norm is not None:
            x = self.final_norm(x)
            if hidden is not None:
                hidden[-1] = x
        return EncoderOutput(
            x,
            tuple(hidden) if hidden is not None else None,
            tuple(attentions) if attentions is not None else None,
        )

    def embed(
        self,
        input_ids: Tensor,
        token_type_ids: Tensor | None = None,
        *,
        use_positions: bool = True,
    ) -> Tensor:
        """What the first layer reads: token embeddings (× embed_scale) + positions (+ token
        types where the checkpoint has them), LayerNorm where it has one, then dropout.

        Shape: input_ids (B, S) -> (B, S, D)
        """
        input_ids = self._check_ids(input_ids)
        B, S = input_ids.shape
        x = self.tok_embed(input_ids) * self.embed_scale  # (B, S, D), section 3.4
        if use_positions:
            x = x + self.pos(S)
        if self.type_embed is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            token_type_ids = self._check_ids(
                token_type_ids, "token_type_ids", self.cfg.type_vocab_size, (B, S)
            )
            x = x + self.type_embed(token_type_ids)
        if self.embed_norm is not None:
            x = self.embed_norm(x)
        return self.dropout(x)

    def _check_ids(
        self,
        ids: Tensor,
        name: str = "input_ids",
        limit: int | None = None,
        shape: tuple[int, int] | None = None,
    ) -> Tensor:
        """Refuse ids the model cannot embed, with the reason; return them as int64."""
        limit = self.cfg.vocab_size if limit is None else limit
        if not isinstance(ids, Tensor):
            raise ValueError(
                f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}"
            )
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise ValueError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
        if ids.ndim != 2:
            raise ValueError(
                f"{name} must have shape (batch, seq), got {tuple(ids.shape)}; "
                "for one sentence use ids.unsqueeze(0)"
            )
        if shape is not None and tuple(ids.shape) != shape:
            raise ValueError(f"{name} shape {tuple(ids.shape)} does not match input_ids {shape}")
        if ids.shape[1] == 0:
            raise ValueError(f"{name} is empty: give at least one token per sequence")
        if ids.shape[1] > self.cfg.max_len:
            raise ValueError(
                f"sequence of {ids.shape[1]} tokens is longer than max_len ({self.cfg.max_len}); "
                "shorten the text or raise max_len"
            )
        if ids.numel():
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= limit:
                bad = lo if lo < 0 else hi
                raise ValueError(f"{name} holds {bad}, outside the vocabulary 0 .. {limit - 1}")
        return ids if ids.dtype in (torch.int64, torch.int32) else ids.long()


class TaskModel(nn.Module):
    """The encoder plus a linear head that predicts one label per position.

    Shape: input_ids (B, S), attention_mask (B, S) -> logits (B, S, n_labels)
    """

    def __init__(self, cfg: EncoderConfig, n_labels: int, *, seed: int | None = 0) -> None:
        super().__init__()
        check_int("n_labels", n_labels, minimum=1)
        self.encoder = Encoder(cfg, seed=seed)
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            self.head = nn.Linear(cfg.d_model, n_labels)
        gen = None if seed is None else torch.Generator().manual_seed(int(seed) + 1)
        with torch.no_grad():
            nn.init.xavier_uniform_(self.head.weight, generator=gen)
            nn.init.zeros_(self.head.bias)

    @property
    def cfg(self) -> EncoderConfig:
        return self.encoder.cfg

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, **kwargs
    ) -> tuple[Tensor, tuple[Tensor, ...] | None]:
        out = self.encoder(input_ids, attention_mask, **kwargs)
        return self.head(out.last_hidden_state), out.attentions
