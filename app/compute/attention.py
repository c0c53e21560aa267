"""The Attention page's forward pass: per-head weights of the shown sentences, bounded in memory.

``compute.forward(..., attentions=True)`` keeps every layer's (B, H, S, S) weights at once; with
8 sentences of 512 tokens that is refused (or 600 MB+). Here the batch runs layer by layer, in
the same order and with the same dropout draws as ``Encoder.forward``, and only the real-token
block of the sentences asked for is kept: one layer's weights are alive at a time.
"""

from __future__ import annotations

import csv
import dataclasses
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
from encoder.analysis import (
    attention_rollout,
    head_distances,
    head_map,
    head_statistics,
    joint_qk,
    project,
)
from encoder.heads import CHUNK
from encoder.masks import check_attention_mask, layer_mask
from encoder.threads import one_blas_thread
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
    tokenizer = getattr(compute, "tokenizer_for", lambda _: compute.tokenizer())(choice)
    batch = tokenizer.encode_batch(list(sentences), max_len=choice.max_len)
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


# ---- Head map, Queries & keys, several query tokens ----------------------------------------

HEADMAP_CELLS = 65_536  # Σ S_i² (query rows × keys) the head map reads at most: ~0.2 s
QK_LINE = 0.1  # Queries & keys: a line from a query to each key holding this much of its weight


@dataclass(frozen=True)
class HeadMap:
    """Every head of the model placed by how it attends (``head_distances`` then ``head_map``)."""

    distances: np.ndarray  # (L·H, L·H) mean Jensen–Shannon divergence in bits, layer-major
    xy: np.ndarray  # (L·H, 2) the map
    used: tuple[int, ...]  # the sentences it rests on
    tokens: int  # their tokens: the query rows averaged over
    stats: dict[str, np.ndarray]  # head_statistics over those rows, each (L, H)
    n: float  # the tokens the statistics' "broad" rule compares with (rows-weighted)


def map_sentences(lengths: list[int], cells: int = HEADMAP_CELLS) -> tuple[int, ...]:
    """The sentences the head map reads: in order, while their S² fit ``cells`` (the first
    always)."""
    used, total = [], 0
    for b, n in enumerate(lengths):
        if used and total + n * n > cells:
            continue
        used.append(b)
        total += n * n
    return tuple(used)


@st.cache_data(show_spinner=False, max_entries=8, max_size=16 * MB)  # ~0.3 MB each at 144 heads
def head_map_of(choice: ModelChoice, sentences: tuple[str, ...]) -> HeadMap:
    """The Head map view's numbers, always in eval mode (dropout would make rows not sum to 1)."""
    choice = dataclasses.replace(choice, train=False)
    tokenizer = getattr(compute, "tokenizer_for", lambda _: compute.tokenizer())(choice)
    batch = tokenizer.encode_batch(list(sentences), max_len=choice.max_len)
    used = map_sentences([len(e) for e in batch.encodings])
    keep = keep_for(choice, sentences, used)
    result = sentence_attention(choice, sentences, keep)
    atts = [result.of(b) for b in used]
    L, H = atts[0].shape[:2]
    cells = sum(a.shape[-1] ** 2 for a in atts)
    with compute.limiter.admit(L * H * (cells * 4 + 3 * CHUNK * 4)):  # smoothed rows + chunks
        distances = head_distances(atts)
        # the same map without scikit-learn's checks of each SMACOF step's input, in one BLAS
        # thread (two fight over a 72×72 eigh on a busy machine): 55-60 ms -> ~17 ms
        from sklearn import config_context  # slow to import: only here, as encoder.heads

        with (
            config_context(assume_finite=True, skip_parameter_validation=True),
            one_blas_thread(),
        ):
            xy = head_map(distances, seed=0)
    rows = [a.shape[-1] for a in atts]
    stats = [head_statistics(a) for a in atts]
    pooled = {k: sum(s[k] * r for s, r in zip(stats, rows, strict=True)) / sum(rows)
              for k in stats[0]}  # fmt: skip
    n_eff = 2 ** (sum(r * np.log2(r) for r in rows) / sum(rows))
    return HeadMap(distances, xy, used, sum(rows), pooled, float(n_eff))


def head_map_csv(distances: np.ndarray, names: list[str]) -> str:
    """The distance between every pair of heads as CSV, headed by the heads' names."""
    return head_csv(distances, names).replace("query \\ key", "head \\ head", 1)


def head_map_npz(hm: HeadMap, names: list[str], kinds: list[str]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(
        buf, distances=hm.distances, xy=hm.xy, heads=np.array(names), looks_like=np.array(kinds),
        sentences=np.array(hm.used), tokens=np.array(hm.tokens),
        **{f"stat_{k}": v for k, v in hm.stats.items()},
    )  # fmt: skip
    return buf.getvalue()


def queries_keys(
    choice: ModelChoice, sentences: tuple[str, ...], row: int, layer: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every head's queries and keys at ``layer`` for sentence ``row``'s real tokens (eval mode,
    padded as in the batch): the model up to that layer, then its W_Q and W_K, equal to
    ``layer_steps``'s (which runs the whole model twice). Shape: -> q, k (H, n, d_k)"""
    choice = dataclasses.replace(choice, train=False)
    model = compute.model_for(choice)
    tokenizer = getattr(compute, "tokenizer_for", lambda _: compute.tokenizer())(choice)
    batch = tokenizer.encode_batch(list(sentences), max_len=choice.max_len)
    ids = batch.input_ids[row : row + 1]  # (1, S)
    attention_mask = batch.attention_mask[row : row + 1]
    S, D, H = ids.shape[1], model.cfg.d_model, model.cfg.n_heads
    peak = compute.limiter.forward_bytes(D, H, model.cfg.d_ff, 1, S, 2 * S * D)
    with compute.limiter.admit(peak), torch.inference_mode():
        x = model.embed(ids)  # (1, S, D)
        mask = layer_mask(attention_mask, ids, x.dtype)
        for block in model.layers[:layer]:
            x, _ = block(x, mask, need_weights=True)  # the path that returns attentions
        block = model.layers[layer]
        a_in = block.norm1(x) if block.norm_first else x
        qkv = torch.nn.functional.linear(a_in, block.attn.qkv.weight, block.attn.qkv.bias)
        q, k, _ = qkv.view(1, S, 3, H, D // H).permute(2, 0, 3, 1, 4)  # each (1, H, S, d_k)
    return q[0][:, attention_mask[0].bool()].numpy(), k[0][:, attention_mask[0].bool()].numpy()


@dataclass(frozen=True)
class QueriesKeys:
    """One head's queries and keys drawn in one plane."""

    q: np.ndarray  # (n, 2) the queries in the plane
    k: np.ndarray  # (n, 2) the keys
    weights: np.ndarray  # (n, n) softmax(q·kᵀ / √d_k): the head's attention, query rows
    lines: list[tuple[int, int, float]]  # (query, key, weight) of weight ≥ QK_LINE
    explained: float  # the share of the joint set's variance the plane shows


def qk_plane(q: np.ndarray, k: np.ndarray, joint: bool) -> QueriesKeys:
    """PCA of the queries and keys together, after joint_qk if ``joint``. Shape: q, k (n, d_k)"""
    q, k = q.astype(np.float64), k.astype(np.float64)
    with one_blas_thread():  # small products: two threads spin (0.6 ms, 12-17 when they do)
        scores = q @ k.T / np.sqrt(q.shape[1])
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        if joint:
            q, k = joint_qk(q, k)
        coords, ratios = project(np.concatenate([q, k])[None], "pca", 2)  # (1, 2n, 2)
    n = len(q)
    strong = zip(*np.nonzero(weights >= QK_LINE), strict=True)
    lines = [(int(i), int(j), float(weights[i, j])) for i, j in strong]
    return QueriesKeys(coords[0, :n], coords[0, n:], weights, lines, float(ratios[0].sum()))


def qk_csv(plane: QueriesKeys, labels: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["token", "role", "x", "y"])
    for role, xy in (("query", plane.q), ("key", plane.k)):
        for label, (x, y) in zip(labels, xy, strict=True):
            writer.writerow([label, role, repr(float(x)), repr(float(y))])
    return out.getvalue()


def query_sum(rows: np.ndarray, queries: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Several query tokens' attention over the keys: their rows summed, and the mean.

    Shape: rows (..., S, S) -> (..., S), (..., S)"""
    summed = rows[..., queries, :].sum(axis=-2, dtype=np.float64)
    return summed, summed / max(len(queries), 1)


def query_sum_csv(summed: np.ndarray, count: int, keys: list[str], heads: list[str]) -> str:
    """Summed and mean attention per key (columns: key, then sum and mean for each head)."""
    summed = np.atleast_2d(summed)  # (heads, S)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key", *(f"{h} {w}" for h in heads for w in ("sum", "mean"))])
    for j, key in enumerate(keys):
        values = [v for h in range(len(heads)) for v in (summed[h, j], summed[h, j] / count)]
        writer.writerow([key, *(repr(float(v)) for v in values)])
    return out.getvalue()
