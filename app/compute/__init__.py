"""The only place the app calls the model: cached loaders and forward passes, numpy out.

This module holds the models and the shared forward pass; pages with experiments of their own
keep their cached wrappers in a module beside it (`app/compute/<page>.py`)."""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from app.compute.cache import MB, byte_budget
from app.state import PRETRAINED, TRAINED, ModelChoice
from encoder import Encoder, EncoderConfig, checkpoint
from encoder.pretrained import load_minilm
from encoder.summary import parameter_counts
from encoder.tasks import TaskTokenizer
from encoder.tokenizer import Encoding, Tokenizer, default_tokenizer

# Cached models are shared by every session and never switch mode: train mode gets its own
# instance. Dropout in train mode draws from the global RNG, so those passes take turns.
TRAIN_LOCK = threading.Lock()


# One thread per forward pass: on a 2-core machine shared by the browser and other sessions,
# two threads fight for the cores (measured: a short sentence took 17-39 ms on 2 threads, 7 on 1).
torch.set_num_threads(1)


@st.cache_resource(show_spinner="Loading all-MiniLM-L6-v2…", max_entries=2)  # eval, train
def pretrained(train: bool = False) -> Encoder:
    model = load_minilm().model.train(train)
    _freeze_heap()
    return model


@st.cache_resource(show_spinner=False, max_entries=1)
def wordpiece() -> Tokenizer:
    """Both models read the same WordPiece vocabulary (bert-base-uncased, 30,522 tokens)."""
    return default_tokenizer()


def tokenizer() -> Tokenizer | TaskTokenizer:
    """The tokenizer of the sidebar's model: WordPiece, or a trained model's task tokens.

    Prefer ``tokenizer_for(choice)``; this follows the session's sidebar choice so that code
    written for WordPiece also feeds a trained toy model the tokens it knows.
    """
    try:
        choice = st.session_state.get("choice")
    except Exception:  # no script run (a bare import or a library test): WordPiece
        choice = None
    return tokenizer_for(choice) if isinstance(choice, ModelChoice) else wordpiece()


def tokenizer_for(choice: ModelChoice) -> Tokenizer | TaskTokenizer:
    """WordPiece for the pretrained and from-scratch models; the task's tokens for a trained one."""
    if choice.kind == TRAINED:
        return task_tokenizer(choice.weights)
    return wordpiece()


@byte_budget(128 * MB)  # up to 32 MB each (encoder.checkpoint.MAX_BYTES)
@st.cache_resource(show_spinner=False, max_entries=16)
def trained_checkpoint(weights: bytes) -> checkpoint.Checkpoint:
    """A validated toy-task checkpoint (safetensors bytes only: nothing in it is executed).

    The weights are content-addressed (the bytes key the cache) and never change after training,
    so sessions can share it; a model still in training is never cached.
    """
    return checkpoint.from_bytes(weights, source="the trained model")


@st.cache_resource(show_spinner=False, max_entries=16)
def task_tokenizer(weights: bytes) -> TaskTokenizer:
    tok = trained_checkpoint(weights).tokenizer()
    tok.hint = "Press “Use the task's inputs” in the sidebar for lines it can read."
    return tok


@byte_budget(128 * MB)
@st.cache_resource(show_spinner=False, max_entries=16)
def trained_model(weights: bytes, train: bool = False) -> Encoder:
    """The trained encoder (without its task head), one instance per mode."""
    return checkpoint.from_bytes(weights, source="the trained model").model.encoder.train(train)


@st.cache_resource(max_entries=1)
def _freeze_heap() -> bool:
    """Move what is loaded so far (torch, plotly, pandas, the weights) out of the GC's sight.

    Streamlit runs gc.collect() after every script run; with ~280k long-lived objects that took
    120-180 ms per rerun, longer than the forward pass. Frozen objects are never collected, which
    is right for modules and the cached pretrained model: they live as long as the server.
    """
    gc.collect()
    gc.freeze()
    return True


# 8 MB at the sidebar's defaults, 511 MB at d_model 768 x 12 layers x d_ff 4096: two of those
@byte_budget(1100 * MB)
@st.cache_resource(show_spinner="Building the model…", max_entries=16)
def scratch_model(config: EncoderConfig, seed: int, train: bool = False) -> Encoder:
    """A randomly initialised encoder; the same config and seed give the same weights."""
    return Encoder(config, seed=seed).train(train)


def model_for(choice: ModelChoice) -> Encoder:
    if choice.kind == PRETRAINED:
        return pretrained(choice.train)
    if choice.kind == TRAINED:
        return trained_model(choice.weights, choice.train)
    return scratch_model(choice.config, choice.seed, choice.train)


MAX_FLOATS = 64_000_000  # 256 MB of float32 kept per forward result: the cache holds several


@dataclass(frozen=True)
class Forward:
    """One forward pass over the sidebar's sentences, as plain numpy for the pages."""

    encodings: list[Encoding]  # per sentence, unpadded
    input_ids: np.ndarray  # (B, S)
    attention_mask: np.ndarray  # (B, S) 1 = real token
    hidden_states: np.ndarray  # (L + 1, B, S, D): embeddings first, then each layer
    attentions: np.ndarray | None  # (L, B, H, S, S) query rows, key columns; None unless asked
    config: EncoderConfig
    parameters: list[tuple[str, int]]  # per module, total last


# Measured floating-point operations per second of one forward pass on one thread; starts at
# a cautious guess and follows what this machine really does (an estimate, for a message).
_RATE = {"flops": 50e9}


def forward_flops(cfg: EncoderConfig, batch: int, seq: int) -> float:
    """Multiply-adds x 2 of one forward pass: projections, attention scores and mixing, FFN."""
    per_token = 8 * cfg.d_model**2 + 4 * cfg.d_model * cfg.d_ff + 4 * seq * cfg.d_model
    return float(batch * seq * cfg.n_layers * per_token)


def estimate_seconds(choice: ModelChoice, batch: int, seq: int) -> float:
    cfg = choice.config if choice.config is not None else pretrained_config()
    return forward_flops(cfg, batch, seq) / _RATE["flops"]


@st.cache_resource(show_spinner=False, max_entries=1)
def pretrained_config() -> EncoderConfig:
    return pretrained().cfg


@st.cache_data(show_spinner=False, max_entries=64)
def batch_shape(sentences: tuple[str, ...], max_len: int) -> tuple[int, int]:
    """(B, S) of the padded batch, without running the model."""
    return tuple(wordpiece().encode_batch(list(sentences), max_len=max_len).input_ids.shape)


# up to MAX_FLOATS (256 MB) each; max_size counts pickled bytes, least recently used out first
@st.cache_data(show_spinner=False, max_entries=24, max_size=512 * MB)
def forward(choice: ModelChoice, sentences: tuple[str, ...], attentions: bool = False) -> Forward:
    """Tokenize, pad and encode; raises ValueError with a readable message on bad input.

    Pages that draw attention ask for ``attentions``; the others take the fast path.
    """
    model = model_for(choice)
    batch = tokenizer_for(choice).encode_batch(list(sentences), max_len=choice.max_len)
    check_size(model.cfg, *batch.input_ids.shape, attentions)
    started = time.perf_counter()
    with torch.inference_mode():
        if choice.train:
            with TRAIN_LOCK, torch.random.fork_rng():
                torch.manual_seed(choice.seed)  # the same dropout masks for everyone
                out = _run(model, batch, attentions)
        else:
            out = _run(model, batch, attentions)
    took = time.perf_counter() - started
    if took > 0.05:  # long enough to say something about this machine's speed
        _RATE["flops"] = forward_flops(model.cfg, *batch.input_ids.shape) / took
    return Forward(
        encodings=batch.encodings,
        input_ids=batch.input_ids.numpy(),
        attention_mask=batch.attention_mask.numpy(),
        hidden_states=torch.stack(out.hidden_states).numpy(),
        attentions=torch.stack(out.attentions).numpy() if attentions else None,
        config=model.cfg,
        parameters=parameter_counts(model),
    )


def check_size(cfg: EncoderConfig, batch: int, seq: int, attentions: bool) -> None:
    """Refuse, with what to change, a result too big to keep: (L+1)·B·S·D (+ L·B·H·S²) floats."""
    floats = (cfg.n_layers + 1) * batch * seq * cfg.d_model
    if attentions:
        floats += cfg.n_layers * batch * cfg.n_heads * seq * seq
    if floats > MAX_FLOATS:
        raise ValueError(
            f"{batch} sentence(s) of {seq} tokens through {cfg.n_layers} layers would keep "
            f"{floats * 4 / 1e6:,.0f} MB of internals (the limit is {MAX_FLOATS * 4 / 1e6:,.0f} "
            "MB). Use fewer sentences, a smaller max_len, or fewer layers."
        )


def _run(model: Encoder, batch, attentions: bool):
    return model(
        batch.input_ids,
        batch.attention_mask,
        output_attentions=attentions,
        output_hidden_states=True,
    )
