"""The Attention page's Head map, Queries & keys and several-query-tokens numbers (issue 21): a
map of every head by how alike they attend, one head's queries and keys in one plane, and the
summed attention of several query tokens. Built on ``app.compute.attention``'s forward pass."""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from app import compute
from app.compute.attention import head_csv, keep_for, sentence_attention
from app.compute.cache import MB
from app.state import ModelChoice
from encoder.analysis import head_distances, head_map, head_statistics, joint_qk, project
from encoder.heads import CHUNK
from encoder.masks import layer_mask
from encoder.threads import one_blas_thread

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
    batch = compute.encode_batch(choice, sentences)
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


# a switch of head or of joint_qk reruns the page: the same layer's pass is kept (read-only)
@st.cache_resource(show_spinner=False, max_entries=8)  # 2 x S x d_model float32 each
def queries_keys(
    choice: ModelChoice, sentences: tuple[str, ...], row: int, layer: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every head's queries and keys at ``layer`` for sentence ``row``'s real tokens (eval mode,
    padded as in the batch): the model up to that layer, then its W_Q and W_K, equal to
    ``layer_steps``'s (which runs the whole model twice). Shape: -> q, k (H, n, d_k)"""
    choice = dataclasses.replace(choice, train=False)
    model = compute.model_for(choice)
    batch = compute.encode_batch(choice, sentences)
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
    real = attention_mask[0].bool()
    q, k = q[0][:, real].numpy(), k[0][:, real].numpy()
    q.setflags(write=False)
    k.setflags(write=False)
    return q, k


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
