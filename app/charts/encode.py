"""Figures of the Encode page: token vectors, sentence similarity, the architecture diagram."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from encoder import EncoderConfig

from .common import (
    DIVERGING,
    TICKS,
    VECTOR_BAR,
    VECTOR_BOTTOM,
    layout_dict,
    margins,
    safe_label,
    short,
    text_px,
    token_labels,
    vector_heatmap,
    vector_margins,
)


def token_vector_heatmap(vectors: np.ndarray, tokens: list[str], title: str) -> go.Figure:
    """One row per token, one column per dimension. Shape: vectors (S, D)"""
    labels = token_labels(tokens)
    heatmap = vector_heatmap(vectors, "token", labels=labels)
    # one constructor call: update_layout/update_yaxes re-validate the figure each time (~4 ms)
    layout = layout_dict(height=max(220, 90 + 22 * len(vectors)), title=title)
    layout["margin"] = vector_margins(labels)
    layout["yaxis"] = dict(autorange="reversed", title_text="token", type="category")
    layout["xaxis"] = dict(title_text="dimension")
    return go.Figure(heatmap, layout)


def similarity_heatmap(sim: np.ndarray, labels: list[str], title: str) -> go.Figure:
    """Pairwise cosine similarity with the values written in the cells. Shape: (N, N)

    Rows carry a short label of each sentence, columns only its number, so eight sentences
    still fit: the cell text shrinks with the number of sentences.
    """
    n = len(labels)
    rows = [f"{i + 1} · {safe_label(short(s, 24))}" for i, s in enumerate(labels)]
    cols = [str(i + 1) for i in range(n)]
    heatmap = go.Heatmap(
        z=sim,
        x=cols,
        y=rows,
        zmin=-1,
        zmax=1,
        colorscale=DIVERGING,
        texttemplate="%{z:.2f}" if n > 4 else "%{z:.3f}",
        textfont=dict(size=15 if n <= 4 else 12),
        colorbar=dict(title=dict(text="cosine"), thickness=12),
        hovertemplate="%{y}<br>with sentence %{x}<br>cosine %{z:.4f}<extra></extra>",
        xgap=1,
        ygap=1,
    )
    layout = layout_dict(height=140 + 46 * n, title=title)
    layout["margin"] = margins(
        left=TICKS + 4 + text_px(rows), right=VECTOR_BAR, bottom=VECTOR_BOTTOM
    )
    layout["yaxis"] = dict(autorange="reversed", type="category", automargin=True)
    layout["xaxis"] = dict(type="category", side="bottom", title_text="sentence")
    return go.Figure(heatmap, layout)


def architecture_dot(cfg: EncoderConfig, name: str) -> str:
    """Graphviz DOT of the encoder as the config builds it, drawn bottom-up like the paper."""
    node = 'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=12'
    sub = "Add" if cfg.norm_first else "Add & Norm"
    attn = f"Multi-head attention\\n{cfg.n_heads} heads × {cfg.d_head} dims"
    ffn = f"Feed-forward\\n{cfg.d_model} → {cfg.d_ff} → {cfg.d_model}, {cfg.activation.upper()}"
    embed = f"Token embedding\\n{cfg.vocab_size:,} × {cfg.d_model}"
    if cfg.scale_embeddings:
        embed += f", × √{cfg.d_model}"
    lines = [
        "digraph encoder {",
        "rankdir=BT; bgcolor=transparent; nodesep=0.3; ranksep=0.25;",
        f'{node}, fillcolor="#eef2ff", color="#6366f1"];',
        'edge [color="#475569", arrowsize=0.7];',
        'ids [label="Token ids\\n(batch × seq)", fillcolor="#f1f5f9", color="#94a3b8"];',
        f'emb [label="{embed}", fillcolor="#fce7f3", color="#db2777"];',
        f'pos [label="+ {cfg.positional} positions\\n(max_len {cfg.max_len})", '
        'fillcolor="#fef3c7", color="#d97706"];',
        "ids -> emb -> pos;",
    ]
    last = "pos"
    if cfg.type_vocab_size:
        lines += [f'typ [label="+ token types ({cfg.type_vocab_size})"];', f"{last} -> typ;"]
        last = "typ"
    if cfg.embedding_norm:
        lines += ['enorm [label="LayerNorm"];', f"{last} -> enorm;"]
        last = "enorm"
    lines += [f'drop [label="Dropout p={cfg.dropout:g}"];', f"{last} -> drop;"]
    # top left, clear of the residual arrows that run up the right side (rankdir=BT turns the
    # cluster upside down, so labelloc=b is its top)
    many = "s" if cfg.n_layers > 1 else ""
    layer = [f'label="× {cfg.n_layers} layer{many}"; labeljust=l; labelloc=b;']
    layer += ['style="rounded,dashed"; color="#64748b"; fontname="Helvetica"; fontsize=13;']
    if cfg.norm_first:
        layer += ['n1 [label="LayerNorm"];', f'mha [label="{attn}"];', f'add1 [label="{sub}"];']
        layer += ['n2 [label="LayerNorm"];', f'ff [label="{ffn}"];', f'add2 [label="{sub}"];']
        layer += ["n1 -> mha -> add1 -> n2 -> ff -> add2;"]
        first = "n1"
    else:
        layer += [f'mha [label="{attn}"];', f'add1 [label="{sub}"];']
        layer += [f'ff [label="{ffn}"];', f'add2 [label="{sub}"];', "mha -> add1 -> ff -> add2;"]
        first = "mha"
    lines += ["subgraph cluster_layer {", *layer, "}"]
    lines += [f"drop -> {first};", 'drop -> add1 [style=dashed, label=" residual", fontsize=10];']
    lines += ['add1 -> add2 [style=dashed, label=" residual", fontsize=10];']
    last = "add2"
    if cfg.norm_first:
        lines += ['fnorm [label="Final LayerNorm"];', f"{last} -> fnorm;"]
        last = "fnorm"
    lines += [
        f'out [label="{name}\\noutput: one {cfg.d_model}-d vector per token", '
        'fillcolor="#dcfce7", color="#16a34a"];',
        f"{last} -> out;",
        "}",
    ]
    return "\n".join(lines)
