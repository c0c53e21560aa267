"""Snippet of the Layer-by-layer page."""

from __future__ import annotations

from app.snippets import python_snippet
from app.snippets.models import second_model_lines
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
    second: ModelChoice | None = None,
    cka: bool = False,
) -> str:
    """The Layer-by-layer page: real tokens at every depth, projected with analysis.project;
    with ``second`` a second model's forward pass beside it (``cka``: and their similarity)."""
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
    if second is not None:
        lines += second_model_lines(second, cka=cka)
    return "\n".join(lines) + "\n"
