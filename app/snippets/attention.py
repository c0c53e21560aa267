"""Snippet of the Attention page."""

from __future__ import annotations

from app.snippets import python_snippet
from app.state import ModelChoice


def attention_snippet(
    choice: ModelChoice,
    sentences: list[str],
    sentence: int,
    layer: int,
    head: int,
    compare: tuple[int, int, int] | None = None,
) -> str:
    """The Attention page's numbers: one head's map, the rollout and the head statistics; with
    ``compare`` (other sentence, query position in each), Compare's rows word by word."""
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
    if compare is not None:
        other, qa, qb = compare
        lines += [
            "",
            "# Compare: one query token of each sentence, its weight on each word (tokens summed)",
            f"b2, qa, qb = {other}, {qa}, {qb}  # the other sentence; the two query positions",
            "n2 = int(batch.attention_mask[b2].sum())",
            "att2 = torch.stack(out.attentions)[:, b2, :, :n2, :n2].numpy()",
            "row = [(w, float(att[layer, head, qa, i].sum()))",
            "       for w, i in batch.encodings[b].words()]",
            "row2 = [(w, float(att2[layer, head, qb, i].sum()))",
            "        for w, i in batch.encodings[b2].words()]",
            "print([(w, round(x, 3)) for w, x in row])",
            "print([(w, round(x, 3)) for w, x in row2])",
        ]
    return "\n".join(lines) + "\n"
