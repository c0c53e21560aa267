"""Snippet of the Encode page."""

from __future__ import annotations

from app.snippets import python_snippet
from app.state import ModelChoice


def encode_snippet(choice: ModelChoice, sentences: list[str]) -> str:
    """The Encode page's numbers: the output vectors, the parameter count and, for several
    sentences, the sentence similarity (mean of the real tokens, then cosine)."""
    lines = [
        python_snippet(choice, sentences).rstrip("\n"),
        "",
        "n_parameters = sum(p.numel() for p in model.parameters())",
        'print(f"{n_parameters:,} parameters")',
    ]
    if len(sentences) > 1:
        lines += [
            "",
            "from encoder.analysis import cosine_matrix, mean_pool",
            "",
            "hidden = out.last_hidden_state.numpy()  # (batch, seq, d_model)",
            "pooled = mean_pool(hidden, batch.attention_mask.numpy())  # padding left out",
            "similarity = cosine_matrix(pooled)  # (batch, batch): the sentence similarity",
            "print(similarity.round(3))",
        ]
    return "\n".join(lines) + "\n"
