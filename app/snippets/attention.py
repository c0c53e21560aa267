"""Snippet of the Attention page."""

from __future__ import annotations

from app.snippets import python_snippet
from app.state import ModelChoice


def attention_snippet(
    choice: ModelChoice, sentences: list[str], sentence: int, layer: int, head: int
) -> str:
    """The Attention page's numbers: one head's map, the rollout and the head statistics."""
    lines = [
        python_snippet(choice, sentences, attentions=True).rstrip("\n"),
        "",
        "import numpy as np",
        "from encoder.analysis import attention_rollout, head_statistics",
        "",
        f"b, layer, head = {sentence}, {layer}, {head}  # counted from 0",
        "n = int(batch.attention_mask[b].sum())  # sentence b's real tokens (padding left out)",
        "att = torch.stack(out.attentions)[:, b, :, :n, :n].numpy()  # (layers, heads, n, n)",
        "print(batch.encodings[b].tokens)",
        "print(np.round(att[layer, head], 3))  # query rows, key columns: the detail view",
        "rollout = attention_rollout(att, residual=0.5)  # (layers, n, n)",
        "stats = head_statistics(att)  # dict of (layers, heads) arrays",
        'print(np.round(stats["entropy"], 2))  # bits: 0 = one key, log2(n) = uniform',
    ]
    return "\n".join(lines) + "\n"
