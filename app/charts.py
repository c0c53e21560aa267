"""Pure figure builders: arrays in, plotly figures (or DOT text) out. No st.* calls here."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from encoder import EncoderConfig

FONT = dict(
    family="Source Sans, Source Sans Pro, Segoe UI, Helvetica, Arial, sans-serif",
    size=14,
    color="#31333f",
)
DIVERGING = "RdBu_r"  # red positive, blue negative, white zero


def safe_label(text: str) -> str:
    """Token text for a plotly label: plotly reads a subset of HTML, so escape it."""
    return html.escape(text, quote=False)


def token_labels(tokens: list[str]) -> list[str]:
    """Unique axis labels ("3 · cat"): plotly merges equal category labels, tokens repeat."""
    return [f"{i} · {safe_label(t)}" for i, t in enumerate(tokens)]


def _layout_dict(*, height: int, title: str | None = None) -> dict:
    return dict(
        template="plotly_white",
        height=height,
        title=dict(text=title, x=0, xanchor="left", font=dict(size=16)) if title else None,
        font=FONT,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )


def _layout(fig: go.Figure, *, height: int, title: str | None = None) -> go.Figure:
    return fig.update_layout(**_layout_dict(height=height, title=title))


def token_vector_heatmap(vectors: np.ndarray, tokens: list[str], title: str) -> go.Figure:
    """One row per token, one column per dimension. Shape: vectors (S, D)"""
    bound = float(np.percentile(np.abs(vectors), 99)) or 1.0  # outliers saturate, hover is exact
    heatmap = go.Heatmap(
        z=vectors,  # no x: columns are 0 … D-1 by default, and plotly validates no 384-long list
        y=token_labels(tokens),
        colorscale=DIVERGING,
        zmid=0,
        zmin=-bound,
        zmax=bound,
        colorbar=dict(title=dict(text="value"), thickness=12),
        hovertemplate="token %{y}<br>dimension %{x}<br>value %{z:.4f}<extra></extra>",
    )
    # one constructor call: update_layout/update_yaxes re-validate the figure each time (~4 ms)
    layout = _layout_dict(height=max(220, 90 + 22 * len(vectors)), title=title)
    layout["yaxis"] = dict(autorange="reversed", title_text="token", type="category")
    layout["xaxis"] = dict(title_text="dimension")
    return go.Figure(heatmap, layout)


def similarity_heatmap(sim: np.ndarray, labels: list[str], title: str) -> go.Figure:
    """Pairwise cosine similarity with the values written in the cells. Shape: (N, N)"""
    names = [f"{i + 1} · {safe_label(_short(s))}" for i, s in enumerate(labels)]
    fig = go.Figure(
        go.Heatmap(
            z=sim,
            x=names,
            y=names,
            zmin=-1,
            zmax=1,
            colorscale=DIVERGING,
            text=np.round(sim, 3),
            texttemplate="%{text:.3f}",
            textfont=dict(size=15),
            colorbar=dict(title=dict(text="cosine"), thickness=12),
            hovertemplate="%{y}<br>%{x}<br>cosine %{z:.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", tickangle=-20)
    return _layout(fig, height=max(260, 120 + 60 * len(labels)), title=title)


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    layer = [f'label="× {cfg.n_layers} layer{"s" if cfg.n_layers > 1 else ""}"; labeljust=r;']
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
