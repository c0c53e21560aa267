"""Inside a layer: one layer of one sentence recomputed from its weights, cached, numpy out.

Always in eval mode: dropout would make every step random, and the proof (the walkthrough
equals the model's own output) only holds without it. The eval-mode model instance is used,
so the shared train-mode instance never switches mode under another session.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import streamlit as st
import torch

from app import compute
from app.compute.cache import MB
from app.state import ModelChoice
from encoder import EncoderConfig
from encoder.experiments import layer_steps

TOLERANCE = 1e-4  # float32 noise stays far below this; a real mismatch is far above


@dataclass(frozen=True)
class Walkthrough:
    """``layer_steps`` for one sentence of the batch, plus what the page derives from them."""

    steps: dict[str, np.ndarray]  # step order; batch axis dropped: "q" (H, S, Dh), "input" (S, D)
    keep: np.ndarray  # (S,) True = real token, False = padding
    attentions: np.ndarray  # (H, S, S) the model's own attentions[layer] for this sentence
    unscaled_weights: np.ndarray  # (H, S, S) softmax(Q·Kᵀ + mask): what-if without 1/√d_k
    entropy: np.ndarray  # (H, S) bits per query row of the model's weights
    entropy_unscaled: np.ndarray  # (H, S) bits per query row without the scaling


def eval_choice(choice: ModelChoice) -> ModelChoice:
    """The same model in eval mode (its own cached instance)."""
    return dataclasses.replace(choice, train=False)


def row_entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row of attention weights (0 · log 0 = 0). Shape: (..., S) -> (...)"""
    p = np.asarray(weights, dtype=np.float64)
    return -(p * np.log2(np.where(p > 0, p, 1.0))).sum(axis=-1)


def unscaled_softmax(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """softmax(Q·Kᵀ + mask): what attention would give without dividing by √d_k.

    Shape: scores (B, H, S, S), keep (B, S) bool -> (B, H, S, S)
    """
    blocked = torch.finfo(scores.dtype).min
    return torch.where(keep[:, None, None, :], scores, blocked).softmax(dim=-1)


def walkthrough_peak(cfg: EncoderConfig, S: int) -> int:
    """Peak bytes of ``walkthrough``: two runs keeping every layer's maps and hidden states,
    one layer's steps (6 x (H, S, S), 13 x (S, D), (S, d_ff)), one layer's working tensors."""
    L, H, D = cfg.n_layers, cfg.n_heads, cfg.d_model
    kept = 2 * (L * H * S * S + (L + 1) * S * D) + 6 * H * S * S + 13 * S * D + S * cfg.d_ff
    return compute.limiter.forward_bytes(D, H, cfg.d_ff, 1, S, kept)


@st.cache_data(
    show_spinner="Recomputing the layer from its weights…", max_entries=3, max_size=256 * MB
)  # up to ~130 MB each at 512 tokens and 16 heads
def walkthrough(
    choice: ModelChoice, sentences: tuple[str, ...], row: int, layer: int
) -> Walkthrough:
    """Layer ``layer`` recomputed step by step for sentence ``row``, padded as in the batch."""
    choice = eval_choice(choice)
    model = compute.model_for(choice)
    batch = compute.encode_batch(choice, sentences)
    ids = batch.input_ids[row : row + 1]  # (1, S): the sentence with the batch's padding
    mask = batch.attention_mask[row : row + 1]
    with compute.limiter.admit(walkthrough_peak(model.cfg, ids.shape[1])):  # room on the server
        steps = layer_steps(model, ids, mask, layer=layer)
        with torch.inference_mode():
            own = model(ids, mask, output_attentions=True)  # the model's own attention weights
            unscaled = unscaled_softmax(steps["scores"], mask.bool())
    weights = steps["weights"][0].numpy()
    loose = unscaled[0].numpy()
    return Walkthrough(
        steps={k: v[0].numpy() for k, v in steps.items()},
        keep=mask[0].bool().numpy(),
        attentions=own.attentions[layer][0].numpy(),
        unscaled_weights=loose,
        entropy=row_entropy(weights),
        entropy_unscaled=row_entropy(loose),
    )


@dataclass(frozen=True)
class Check:
    ours: str  # the walkthrough's tensor
    theirs: str  # the model's own tensor it must equal
    diff: float  # max |ours − theirs| over every position and dimension


def proof(walk: Walkthrough, hidden: np.ndarray, layer: int) -> list[Check]:
    """Compare the walkthrough with the model's own forward pass.

    ``hidden`` is the sentence's hidden_states from the batch forward pass, (L+1, S, D). The
    last check is the headline: the layer's recomputed output against hidden_states[layer+1]
    (for the last layer of a pre-norm stack, after the final LayerNorm).
    """
    s = walk.steps
    out = "final_norm" if "final_norm" in s else "output"
    return [
        Check("input", f"hidden_states[{layer}]", _diff(s["input"], hidden[layer])),
        Check("weights", f"attentions[{layer}]", _diff(s["weights"], walk.attentions)),
        Check(out, f"hidden_states[{layer + 1}]", _diff(s[out], hidden[layer + 1])),
    ]


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


# ---- what each step shows ------------------------------------------------------------------
STEPS = [
    "1 · Input",
    "2 · Q K V",
    "3 · Scores",
    "4 · Mask",
    "5 · Softmax",
    "6 · Mix heads",
    "7 · Add & norm",
    "8 · Feed-forward",
]
VIEWS = ["Step by step", "Whole page"]
SQUARE = {"scores", "scaled", "masked", "weights", "masked_unscaled", "unscaled_weights"}
WHAT_IF = {"masked_unscaled": "scores", "unscaled_weights": "weights"}  # shaped like these
PER_HEAD = SQUARE | {"q", "k", "v", "context"}
NAMES = {  # chart titles: the layer_steps key, then what it is
    "input": "input · X",
    "normed_input": "normed_input · LayerNorm₁(X)",
    "q": "q · queries",
    "k": "k · keys",
    "v": "v · values",
    "scores": "scores · Q·Kᵀ",
    "scaled": "scaled · Q·Kᵀ / √d_k",
    "masked": "masked · scaled + mask",
    "masked_unscaled": "no scaling · Q·Kᵀ + mask",
    "weights": "weights · softmax (the model)",
    "unscaled_weights": "no scaling · softmax(Q·Kᵀ + mask)",
    "context": "context · A·V",
    "concat": "concat · all heads",
    "attn_out": "attn_out · concat·W_O",
    "residual1": "residual1 · X + attn_out",
    "norm1": "norm1 · LayerNorm₁(residual1)",
    "normed_ff_input": "normed_ff_input · LayerNorm₂",
    "ff_hidden": "ff_hidden · after the activation",
    "ff_out": "ff_out · second projection",
    "residual2": "residual2 · + ff_out",
    "output": "output",
    "final_norm": "final_norm · the stack's last LayerNorm",
}


class Recipe(NamedTuple):
    formula: list[str]  # LaTeX lines, with this model's sizes
    explanation: str  # one line
    panels: list[str]  # tensors drawn as heatmaps (layer_steps keys, or the what-if ones)
    groups: list[list[str]]  # the chosen token's vectors: one bar chart per group


def step_recipe(
    k: int, cfg: EncoderConfig, layer: int, walk: Walkthrough, n: int, scale: bool
) -> Recipe:
    """What step k (0-based) shows: formula, one line of explanation, heatmaps, vectors.

    ``n`` real tokens; ``scale`` False shows the what-if without 1/√d_k in steps 3 to 5.
    """
    S, d_k, steps, pre = walk.keep.size, cfg.d_head, walk.steps, cfg.norm_first
    x = r"\tilde X" if pre else "X"
    qk = r"Q_i K_i^\top"
    if k == 0 and pre:
        return Recipe(
            [
                r"\tilde X = \mathrm{LayerNorm}_1(X) = \gamma \odot \frac{X - \mu}"
                r"{\sqrt{\sigma^2 + \epsilon}} + \beta"
            ],
            "Pre-norm: attention reads a normalised copy X̃ (each row: mean 0, variance 1, "
            "then γ and β); the raw X stays on the residual path.",
            ["input", "normed_input"],
            [["input", "normed_input"]],
        )
    if k == 0:
        return Recipe(
            [
                rf"X = \text{{hidden\_states}}[{layer}] \in "
                rf"\mathbb{{R}}^{{{S} \times {cfg.d_model}}}"
            ],
            "The layer's input: one d_model-wide row per token (the embeddings plus positions "
            "for layer 0, the previous layer's output after that).",
            ["input"],
            [["input"]],
        )
    if k == 1:
        return Recipe(
            [
                rf"Q_i = {x} W^Q_i + b^Q_i,\quad K_i = {x} W^K_i + b^K_i,\quad "
                rf"V_i = {x} W^V_i + b^V_i",
                rf"W^Q_i, W^K_i, W^V_i \in \mathbb{{R}}^{{{cfg.d_model} \times {d_k}}},\quad "
                rf"i = 0, \dots, {cfg.n_heads - 1}",
            ],
            f"Three linear maps of every token, split into {cfg.n_heads} heads of d_k = {d_k}: "
            "the query asks, the key is matched against queries, the value is what is passed on.",
            ["q", "k", "v"],
            [["q", "k", "v"]],
        )
    if k == 2:
        shown = ["scores", "scaled"] if scale else ["scores"]
        return Recipe(
            [
                rf"\text{{scores}} = {qk}",
                rf"\text{{scaled}} = \frac{{{qk}}}{{\sqrt{{d_k}}}} = "
                rf"\frac{{{qk}}}{{\sqrt{{{d_k}}}}} = \frac{{{qk}}}{{{math.sqrt(d_k):.2f}}}",
            ],
            "Row q, column k: how well query token q matches key token k. Dividing by √d_k "
            "keeps the numbers small enough for softmax to spread its weight"
            + ("." if scale else " (turned off above: softmax gets the raw scores)."),
            shown,
            [shown],
        )
    if k == 3:
        m = "masked" if scale else "masked_unscaled"
        base = "scaled" if scale else "scores"
        return Recipe(
            [
                rf"\text{{masked}}_{{qk}} = \text{{{base}}}_{{qk}} + M_k",
                r"M_k = 0 \text{ for a real token},\quad M_k = -3.4 \times 10^{38}"
                r" \text{ for padding}",
            ],
            "Padding keys get the most negative float32 added, so softmax gives them exactly 0 "
            "weight: a sentence reads the same whatever it is padded with.",
            [m],
            [[m]],
        )
    if k == 4:
        shown = ["weights"] if scale else ["weights", "unscaled_weights"]
        what = "" if scale else r",\qquad A^{\text{no scaling}} = \mathrm{softmax}(Q K^\top + M)"
        return Recipe(
            [r"A_{qk} = \frac{e^{\text{masked}_{qk}}}{\sum_{k'} e^{\text{masked}_{qk'}}}" + what],
            f"Each row becomes a probability distribution over the keys (it sums to 1): these "
            f"are the model's attentions[{layer}].",
            shown,
            [shown],
        )
    if k == 5:
        return Recipe(
            [
                r"\text{head}_i = A_i V_i",
                rf"\text{{concat}} = [\text{{head}}_0, \dots, \text{{head}}_{{{cfg.n_heads - 1}}}]",
                r"\text{attn\_out} = \text{concat}\; W^O + b^O",
            ],
            "Each token's new vector is the weighted average of the values it attends to; the "
            "heads are laid side by side and W_O mixes them back into d_model numbers.",
            ["context", "concat", "attn_out"],
            [["context"], ["attn_out"]],
        )
    if k == 6 and pre:
        return Recipe(
            [r"Y = \text{residual1} = X + \text{attn\_out}"],
            "Pre-norm: the residual stream carries X + attention on without a norm; the next "
            "LayerNorm sits in front of the feed-forward network.",
            ["residual1"],
            [["residual1"]],
        )
    if k == 6:
        return Recipe(
            [
                r"\text{residual1} = X + \text{attn\_out}",
                r"Y = \text{norm1} = \mathrm{LayerNorm}_1(\text{residual1})",
            ],
            "The residual connection adds attention's output to the input; LayerNorm then "
            "rescales each token's row to mean 0 and variance 1 (times γ, plus β).",
            ["residual1", "norm1"],
            [["residual1", "norm1"]],
        )
    act = r"\max(0,\ " if cfg.activation == "relu" else r"\mathrm{GELU}("
    hidden = steps["ff_hidden"][:n]
    if cfg.activation == "relu":
        note = f"ReLU sets every negative to exactly 0: {np.mean(hidden == 0):.0%} of ff_hidden"
    else:
        note = (
            f"GELU keeps small negatives (never below −0.17): {np.mean(hidden < 0):.0%} of "
            f"ff_hidden is negative, {np.mean(hidden == 0):.0%} exactly 0"
        )
    ff_in = r"\mathrm{LayerNorm}_2(Y)" if pre else "Y"
    out = r"Y + \text{ff\_out}" if pre else r"\mathrm{LayerNorm}_2(Y + \text{ff\_out})"
    formula = [
        rf"\text{{ff\_hidden}} = {act}{ff_in}\, W_1 + b_1)",
        r"\text{ff\_out} = \text{ff\_hidden}\; W_2 + b_2",
        rf"\text{{output}} = {out}",
    ]
    keys = ["ff_hidden", "ff_out", "residual2", "output"]
    if pre:
        keys = ["normed_ff_input", "ff_hidden", "ff_out", "output"]
        if "final_norm" in steps:
            keys.append("final_norm")
            formula.append(r"\text{final\_norm} = \mathrm{LayerNorm}_{\text{final}}(\text{output})")
    return Recipe(
        formula,
        f"Each token alone goes {cfg.d_model} → {cfg.d_ff} → {cfg.d_model}. {note}.",
        keys,
        [["ff_hidden"], ["ff_out", keys[-1]]],
    )
