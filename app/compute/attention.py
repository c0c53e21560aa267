"""The Attention page's forward pass: per-head weights of the shown sentences, bounded in memory.

``compute.forward(..., attentions=True)`` keeps every layer's (B, H, S, S) weights at once; with
8 sentences of 512 tokens that is refused (or 600 MB+). Here the batch runs layer by layer, in
the same order and with the same dropout draws as ``Encoder.forward``, and only the real-token
block of the sentences asked for is kept: one layer's weights are alive at a time.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import time
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from app import compute
from app.compute.cache import MB, byte_budget
from app.state import ModelChoice
from encoder import EncoderConfig
from encoder.analysis import attention_rollout
from encoder.masks import check_attention_mask, layer_mask
from encoder.tokenizer import Encoding

# Every sentence's maps are kept when the whole batch's would fit in this many floats (32 MB);
# above it only the sentences on screen are, so switching sentence then runs the batch again.
KEEP_ALL_FLOATS = 8_000_000
RESIDUAL = 0.5  # rollout's weight of the residual connection (Mean & rollout)


@dataclass(frozen=True)
class SentenceAttention:
    """Per-head attention of some sentences of a padded batch, real tokens only."""

    encodings: list[Encoding]  # every sentence of the batch, unpadded
    attention_mask: np.ndarray  # (B, S) 1 = real token
    maps: dict[int, np.ndarray]  # sentence index -> (L, H, n, n) float32, n its real tokens
    config: EncoderConfig
    seconds: float  # how long the forward pass took

    def of(self, b: int) -> np.ndarray:
        return self.maps[b]


def keep_for(choice: ModelChoice, sentences: tuple[str, ...], wanted: tuple[int, ...]):
    """None (keep all) when the whole batch's maps are small; otherwise the sentences wanted."""
    cfg = choice.config if choice.config is not None else compute.pretrained_config()
    B, S = compute.batch_shape(sentences, choice.max_len)
    if cfg.n_layers * cfg.n_heads * B * S * S <= KEEP_ALL_FLOATS:
        return None
    return tuple(sorted(set(wanted)))


# cache_resource, not cache_data: cache_data unpickles a copy on every rerun (35-48 ms for two
# 128-token sentences); the arrays are made read-only instead, so no page can change them.
@byte_budget(384 * MB)  # up to compute.MAX_FLOATS (256 MB) of maps each
@st.cache_resource(show_spinner=False, max_entries=6)
def sentence_attention(
    choice: ModelChoice, sentences: tuple[str, ...], keep: tuple[int, ...] | None
) -> SentenceAttention:
    """Run the padded batch and keep the attention of sentences ``keep`` (None: all).

    Raises ValueError with what to change when the input cannot be encoded or kept.
    """
    model = compute.model_for(choice)
    batch = compute.encode_batch(choice, sentences)
    B = len(sentences)
    rows = list(range(B)) if keep is None else [b for b in keep if 0 <= b < B]
    lengths = [len(batch.encodings[b]) for b in rows]
    cfg = model.cfg
    floats = cfg.n_layers * cfg.n_heads * sum(n * n for n in lengths)
    if floats > compute.MAX_FLOATS:
        raise ValueError(
            f"the attention maps of {len(rows)} sentence(s) would take {floats * 4 / 1e6:,.0f} MB "
            f"(the limit is {compute.MAX_FLOATS * 4 / 1e6:,.0f} MB). Use a smaller max_len or "
            "fewer layers."
        )
    # peak: the maps kept + one layer's working tensors; waits for room on the server
    shape = batch.input_ids.shape  # (B, S)
    peak = compute.limiter.forward_bytes(cfg.d_model, cfg.n_heads, cfg.d_ff, *shape, floats)
    started = time.perf_counter()
    with compute.limiter.admit(peak), torch.inference_mode():
        if choice.train:
            with compute.TRAIN_LOCK, torch.random.fork_rng():
                torch.manual_seed(choice.seed)  # the same dropout masks as compute.forward
                kept = run_keeping(model, batch.input_ids, batch.attention_mask, rows)
        else:
            kept = run_keeping(model, batch.input_ids, batch.attention_mask, rows)
    maps = dict(zip(rows, kept, strict=True))
    for array in maps.values():
        array.setflags(write=False)
    return SentenceAttention(
        encodings=batch.encodings,
        attention_mask=batch.attention_mask.numpy(),
        maps=maps,
        config=cfg,
        seconds=time.perf_counter() - started,
    )


def run_keeping(model, input_ids, attention_mask, rows: list[int]) -> list[np.ndarray]:
    """Encoder.forward with output_attentions, keeping only the real tokens of batch rows ``rows``.

    Same operations and random draws, in the same order, as ``Encoder.forward``: the weights
    equal ``model(...).attentions[l][b, :, :n, :n]``. Shape: -> per kept row (L, H, n, n)
    """
    x = model.embed(input_ids)  # (B, S, D)
    mask = layer_mask(attention_mask, input_ids, x.dtype)  # (B, 1, 1, S)
    keep = check_attention_mask(attention_mask, input_ids)
    lengths = [int(keep[b].sum()) for b in rows]  # padding is on the right
    L, H = len(model.layers), model.cfg.n_heads
    kept = [np.empty((L, H, n, n), dtype=np.float32) for n in lengths]
    for i, layer in enumerate(model.layers):
        x, weights = layer(x, mask, need_weights=True)  # weights (B, H, S, S)
        for out, b, n in zip(kept, rows, lengths, strict=True):
            out[i] = weights[b, :, :n, :n].numpy()
        del weights  # only one layer's (B, H, S, S) is alive at a time
    return kept


def without_special(att: np.ndarray, special: list[bool]) -> tuple[np.ndarray, list[int]]:
    """Drop special tokens' rows and columns and renormalise each row to sum to 1.

    A row left with no weight at all (dropout can zero every kept key) stays 0.
    Shape: (..., S, S) -> (..., S', S'); also the positions kept.
    """
    idx = [i for i, s in enumerate(special) if not s]
    sub = att[..., idx, :][..., :, idx]
    total = sub.sum(axis=-1, keepdims=True)
    return np.divide(sub, total, out=np.zeros_like(sub), where=total > 0), idx


def mean_and_rollout(
    maps: np.ndarray, layer: int, residual: float = RESIDUAL
) -> tuple[np.ndarray, np.ndarray]:
    """The Mean & rollout view's two maps at ``layer``: the mean over its heads, and the
    rollout through layers 0 to ``layer`` (``encoder.analysis.attention_rollout``).

    Shape: maps (L, H, S, S) -> (S, S), (S, S)
    """
    return maps[layer].mean(axis=0), attention_rollout(maps, residual=residual)[layer]


def head_csv(matrix: np.ndarray, labels: list[str]) -> str:
    """One head's matrix as CSV: a header of key tokens, one row per query token."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["query \\ key", *labels])
    for label, row in zip(labels, matrix, strict=True):
        writer.writerow([label, *(repr(float(v)) for v in row)])
    return out.getvalue()


def attention_npz(
    att: np.ndarray, tokens: list[str], choice: ModelChoice, cfg: EncoderConfig, text: str
) -> bytes:
    """All of a sentence's attention (L, H, S, S) with what made it: config, seed, tokens."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        attentions=att.astype(np.float32),
        tokens=np.array(tokens, dtype=str),
        text=np.array(text),
        config=np.array(json.dumps(cfg.to_dict())),
        model=np.array(choice.label),
        seed=np.array(choice.seed),
        train=np.array(choice.train),
        max_len=np.array(choice.max_len),
    )
    return buf.getvalue()


# ---- Compare: one query token of each sentence, against the words of its sentence -------------


def word_groups(enc: Encoding, positions: list[int]) -> list[tuple[str, list[int]]]:
    """The words of the tokens shown (``positions``, in order): their text and their indices
    among the shown tokens. A word split into pieces is one group; special tokens stand alone."""
    index = {p: i for i, p in enumerate(positions)}
    groups = []
    for text, tokens in enc.words():
        kept = [index[t] for t in tokens if t in index]
        if kept:
            groups.append((text, kept))
    return groups


def word_weights(rows: np.ndarray, groups: list[tuple[str, list[int]]]) -> np.ndarray:
    """Attention on each word: the sum over its tokens (a row that sums to 1 still does).

    Shape: rows (..., n) -> (..., W)
    """
    return np.stack([rows[..., idx].sum(axis=-1) for _, idx in groups], axis=-1)


def align_words(a: list[str], b: list[str]) -> list[tuple[int | None, int | None]]:
    """Line two sentences' words up: equal words (case aside) pair, as do the words of a stretch
    replaced one for one ("cat" / "dog"); the rest stand alone, (i, None) or (None, j)."""
    pairs: list[tuple[int | None, int | None]] = []
    matcher = difflib.SequenceMatcher(None, [w.lower() for w in a], [w.lower() for w in b], False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            pairs += zip(range(i1, i2), range(j1, j2), strict=True)
        else:
            pairs += [(i, None) for i in range(i1, i2)] + [(None, j) for j in range(j1, j2)]
    return pairs


def row_distance(wa: np.ndarray, wb: np.ndarray, pairs) -> np.ndarray:
    """How differently two query tokens spread their weight over their sentences' words: half
    the summed |difference| on aligned words plus half of each one's weight on words the other
    sentence lacks (total variation). 0: the same weights on the same words; 1: no shared word.

    Shape: wa (..., Wa), wb (..., Wb) -> (...)
    """
    total = np.zeros(wa.shape[:-1], dtype=np.float64)
    for i, j in pairs:
        if i is not None and j is not None:
            total += np.abs(wa[..., i].astype(np.float64) - wb[..., j])
        elif i is not None:
            total += wa[..., i]
        else:
            total += wb[..., j]
    return total / 2
