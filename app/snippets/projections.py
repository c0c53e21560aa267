"""Snippet of the Layer-by-layer page."""

from __future__ import annotations

from app.snippets import python_snippet
from app.state import ModelChoice


def projections_snippet(
    choice: ModelChoice,
    sentences: list[str],
    *,
    method: str,
    k: int,
    shared: bool,
    seed: int,
    perplexity: float | None,
    keep: int | None,
) -> str:
    """The Layer-by-layer page: real tokens at every depth, projected with analysis.project."""
    lines = [
        python_snippet(choice, sentences).rstrip("\n"),
        "",
        "import numpy as np",
        "from encoder.analysis import project",
        "",
        "real = batch.attention_mask.bool()  # (batch, seq): padding never drawn",
    ]
    if keep is not None:
        lines.append(f"real &= torch.arange(real.shape[1]) < {keep}  # the page's token cap")
    extra = f", perplexity={perplexity!r}" if method == "tsne" else ""
    lines += [
        "hidden = torch.stack(out.hidden_states)[:, real].numpy()  # (depths, tokens, d_model)",
        f"coords, ratios = project(hidden, method={method!r}, k={k}, shared={shared}, "
        f"seed={seed}{extra})",
        "print(coords.shape)  # (depths, tokens, k): the page's points, in sentence order",
    ]
    if method == "pca":
        lines.append("print(np.round(100 * ratios, 1))  # % of each depth's variance per axis")
    return "\n".join(lines) + "\n"
