"""The only place the app calls the model: cached loaders and forward passes, numpy out.

This module holds the models and the shared forward pass; pages with experiments of their own
keep their cached wrappers in a module beside it (`app/compute/<page>.py`). Every heavy
computation goes through ``limiter.admit`` (a server-wide memory budget for the work in flight),
and every layer of the models cached here checks that its session is still there."""

from __future__ import annotations

import gc
import sys
import threading
import time
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st
import torch

from app.compute import limiter
from app.compute.cache import MB, byte_budget
from app.state import MINILM, PRETRAINED, TRAINED, ModelChoice
from encoder import Encoder, EncoderConfig, checkpoint, models_folder
from encoder.pretrained import load_bert, load_minilm
from encoder.summary import parameter_counts
from encoder.tasks import TaskTokenizer
from encoder.tokenizer import Batch, Encoding, Tokenizer, default_tokenizer

# Cached models are shared by every session and never switch mode: train mode gets its own
# instance. Dropout in train mode draws from the global RNG, so those passes take turns; so do
# the Train page's steps (encoder.train.Trainer's rng_lock) and building a model, whose module
# constructors draw from it too: any of them meanwhile would change a seeded pass's masks.
TRAIN_LOCK = threading.Lock()


# One thread per forward pass: on a 2-core machine shared by the browser and other sessions,
# two threads fight for the cores (measured: a short sentence took 17-39 ms on 2 threads, 7 on 1).
torch.set_num_threads(1)


def _watched(model: Encoder) -> Encoder:
    """Check before every layer that the session is still there (``limiter.layer_hook``: it
    also counts the layer towards a progress bar). The hook keeps no state on the model."""
    for layer in model.layers:
        layer.register_forward_pre_hook(limiter.layer_hook)
    return model


@st.cache_resource(show_spinner="Loading all-MiniLM-L6-v2…", max_entries=2)  # eval, train
def pretrained(train: bool = False) -> Encoder:
    with TRAIN_LOCK:  # building draws from the global RNG (see TRAIN_LOCK)
        model = load_minilm().model.train(train)
    freeze_heap()
    return _watched(model)


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
    """WordPiece for MiniLM and from-scratch models; a folder model's own tokenizer; the task's
    tokens for a trained one."""
    if choice.kind == TRAINED:
        return task_tokenizer(choice.weights)
    if choice.folder:
        return folder_tokenizer(choice.folder, choice.stamp)
    return wordpiece()


def encode_batch(choice: ModelChoice, sentences: tuple[str, ...] | list[str]) -> Batch:
    """The sentences as the model ``choice`` reads them: its tokenizer, its max_len, padded."""
    return tokenizer_for(choice).encode_batch(list(sentences), max_len=choice.max_len)


@byte_budget(128 * MB)  # up to 32 MB each (encoder.checkpoint.MAX_BYTES)
@st.cache_resource(show_spinner=False, max_entries=16)
def trained_checkpoint(weights: bytes) -> checkpoint.Checkpoint:
    """A validated toy-task checkpoint (safetensors bytes only: nothing in it is executed).

    The weights are content-addressed (the bytes key the cache) and never change after training,
    so sessions can share it; a model still in training is never cached.
    """
    with TRAIN_LOCK:  # building draws from the global RNG (see TRAIN_LOCK)
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
    with TRAIN_LOCK:  # building draws from the global RNG (see TRAIN_LOCK)
        ckpt = checkpoint.from_bytes(weights, source="the trained model")
    return _watched(ckpt.model.encoder.train(train))


try:  # the largest folder model the server loads; a bad setting is said in the sidebar
    FOLDER_MODEL_BYTES = models_folder.budget_bytes()
except ValueError:
    FOLDER_MODEL_BYTES = models_folder.DEFAULT_MB * models_folder.MB


@st.cache_data(show_spinner=False, max_entries=1, ttl=5)
def folder_models() -> tuple[tuple[models_folder.FolderModel, ...], str]:
    """The server's models folder, each subfolder ready or refused in words, and a problem with
    the server's settings ("" when none). Read again after 5 s, so a model the operator adds
    shows without a restart; reading checks config.json and the weights' header, never the
    weights (about a millisecond a folder)."""
    try:
        found = models_folder.discover(models_folder.models_dir())
    except ValueError as err:  # ENCODER_EXPLORER_MODEL_MB is not a number
        return (), f"The server's models folder is not read: {err}."
    taken = {MINILM.casefold(), "none"}  # the shipped model's name, and "no second model"
    return tuple(
        replace(m, ok=False, reason="has a name the app keeps for itself: rename the folder")
        if m.ok and m.name.casefold() in taken
        else m
        for m in found
    ), ""


def folder_entry(name: str) -> models_folder.FolderModel:
    """The ready model of that name in the models folder; ValueError in words otherwise."""
    for model in folder_models()[0]:
        if model.name == name and model.ok:
            return model
    raise ValueError(
        f"the model “{name}” is no longer in the server's models folder: pick another model"
    )


# Two models of the largest size the server loads fit at once (two side by side on a page),
# eval and train mode each counted; beyond, the least recently used goes first.
@byte_budget(2 * FOLDER_MODEL_BYTES)
@st.cache_resource(show_spinner="Loading the model from the models folder…", max_entries=4)
def folder_model(name: str, stamp: str, train: bool = False) -> Encoder:
    """A model of the server's models folder, by name (``stamp`` changes when its weights are
    replaced, so the new ones load). Its weights are checked as load_bert checks them."""
    entry = folder_entry(name)
    need = 2 * 4 * entry.params  # the file's tensors and the model's, for a moment both
    with limiter.admit(need), TRAIN_LOCK:  # building draws from the global RNG (see TRAIN_LOCK)
        model = load_bert(entry.path).model.train(train)
    return _watched(model)


@st.cache_resource(show_spinner=False, max_entries=16)
def folder_problem(name: str, stamp: str) -> str:
    """Why the folder model cannot be loaded ("" when it can): weights that only loading checks
    (NaN, huge values). Kept, so a broken model is not read again on every run."""
    try:
        folder_model(name, stamp)
    except ValueError as err:
        return str(err)
    return ""


@st.cache_resource(show_spinner=False, max_entries=2)  # two models side by side
def folder_tokenizer(name: str, stamp: str) -> Tokenizer:
    return Tokenizer.from_file(folder_entry(name).path / "tokenizer.json")


_FREEZE_LOCK = threading.Lock()
_FROZEN_AT = [0]  # len(sys.modules) when the heap was last frozen
# new modules that make a new freeze worth its full collection (~200 ms): scikit-learn brings
# ~900 with the first head map, PCA or t-SNE; a page's own first visit ~30 (a few ms of GC)
REFREEZE_MODULES = 200


def freeze_heap() -> None:
    """Move what is loaded so far (modules, the cached models) out of the GC's sight, and again
    once many modules were imported since (scikit-learn's hundreds come with the first head
    map, PCA or t-SNE): called once the pretrained model is loaded and at the end of every run.

    Streamlit runs gc.collect() after every script run, holding the GIL: the server's other
    threads wait (sending the run's last messages among them). ~280k long-lived objects took
    120-180 ms per rerun, longer than the forward pass, and scikit-learn's ~62k add ~7 ms (more
    on a busy machine) to every later run of every page. Frozen objects are never collected,
    which is right for modules and cached models: they live as long as the server. A freeze
    also holds what the sessions hold at that moment, so a new freeze first unfreezes and
    collects everything (~200 ms, once or twice in a server's life): a session's cycles frozen
    last time and gone since are freed.
    """
    with _FREEZE_LOCK:
        modules = len(sys.modules)
        if _FROZEN_AT[0] and modules < _FROZEN_AT[0] + REFREEZE_MODULES:
            return
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _FROZEN_AT[0] = modules


# 8 MB at the sidebar's defaults, 511 MB at d_model 768 x 12 layers x d_ff 4096: two of those
@byte_budget(1100 * MB)
@st.cache_resource(show_spinner="Building the model…", max_entries=16)
def scratch_model(config: EncoderConfig, seed: int, train: bool = False) -> Encoder:
    """A randomly initialised encoder; the same config and seed give the same weights."""
    # building takes the weights' bytes: admitted first (never while holding TRAIN_LOCK)
    with limiter.admit(model_bytes(config)), TRAIN_LOCK:  # the global RNG (see TRAIN_LOCK)
        return _watched(Encoder(config, seed=seed).train(train))


def model_bytes(cfg: EncoderConfig) -> int:
    """Bytes of a model's float32 weights, from its config."""
    D, F = cfg.d_model, cfg.d_ff
    per_layer = 4 * D * D + 2 * D * F + 9 * D + F
    rows = cfg.vocab_size + cfg.max_len + (cfg.type_vocab_size or 0) + 4
    return 4 * (rows * D + cfg.n_layers * per_layer)


def model_for(choice: ModelChoice) -> Encoder:
    if choice.kind == PRETRAINED and choice.folder:
        return folder_model(choice.folder, choice.stamp, choice.train)
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


def rate() -> float:
    """Floating-point operations per second of a forward pass on this server, as measured."""
    return _RATE["flops"]


def note_rate(flops: float, seconds: float) -> None:
    """Learn this server's speed from a computation long enough to say something (> 50 ms);
    half the old value, half the new: one busy moment does not swing the estimates."""
    if seconds > 0.05:
        _RATE["flops"] = 0.5 * _RATE["flops"] + 0.5 * flops / seconds


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


def forward_peak(cfg: EncoderConfig, batch: int, seq: int, attentions: bool = False) -> int:
    """Peak bytes of ``forward``: what it keeps, (L+1)·B·S·D (+ L·B·H·S²) floats, and one
    layer's working tensors (limiter.forward_bytes)."""
    kept = (cfg.n_layers + 1) * batch * seq * cfg.d_model
    if attentions:
        kept += cfg.n_layers * batch * cfg.n_heads * seq * seq
    return limiter.forward_bytes(cfg.d_model, cfg.n_heads, cfg.d_ff, batch, seq, kept)


# cache_resource, not cache_data: cache_data keeps a pickled copy and unpickles another on every
# rerun of every session (164 MB each for 8 x 512 tokens through d_model 768); the arrays are
# read-only instead, so no page can change them. Up to MAX_FLOATS (256 MB) each.
@byte_budget(512 * MB)
@st.cache_resource(show_spinner=False, max_entries=24)
def forward(choice: ModelChoice, sentences: tuple[str, ...], attentions: bool = False) -> Forward:
    """Tokenize, pad and encode; raises ValueError with a readable message on bad input.

    Pages that draw attention ask for ``attentions``; the others take the fast path. Call it
    with all three arguments, as ui.encode does: Streamlit keys the cache by the arguments as
    passed, so ``forward(c, s)`` and ``forward(c, s, False)`` would be two entries, two runs.
    """
    model = model_for(choice)
    batch = encode_batch(choice, sentences)
    check_size(model.cfg, *batch.input_ids.shape, attentions)
    with limiter.admit(forward_peak(model.cfg, *batch.input_ids.shape, attentions)):
        started = time.perf_counter()
        with torch.inference_mode():
            if choice.train:
                with TRAIN_LOCK, torch.random.fork_rng():
                    torch.manual_seed(choice.seed)  # the same dropout masks for everyone
                    out = _run(model, batch, attentions)
            else:
                out = _run(model, batch, attentions)
        note_rate(forward_flops(model.cfg, *batch.input_ids.shape), time.perf_counter() - started)
        hidden = list(out.hidden_states)
        maps = list(out.attentions) if attentions else None
        del out  # the tensors live in the lists only, so each goes once it is copied
        result = Forward(
            encodings=batch.encodings,
            input_ids=read_only(batch.input_ids.numpy()),
            attention_mask=read_only(batch.attention_mask.numpy()),
            hidden_states=stack_freeing(hidden),
            attentions=stack_freeing(maps) if attentions else None,
            config=model.cfg,
            parameters=parameter_counts(model),
        )
    return result


def stack_freeing(tensors: list[torch.Tensor]) -> np.ndarray:
    """torch.stack(tensors).numpy(), read-only, without two copies at once: each tensor is
    copied into place and dropped from the list."""
    out = np.empty((len(tensors), *tensors[0].shape), dtype=np.float32)
    for i in range(len(tensors)):
        out[i] = tensors[i].numpy()
        tensors[i] = None
    return read_only(out)


def read_only(array: np.ndarray) -> np.ndarray:
    """Cached arrays are shared by every session: nobody may write to them."""
    array.setflags(write=False)
    return array


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
