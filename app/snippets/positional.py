"""Snippet of the Positions page, one per view."""

from __future__ import annotations

from app.snippets import model_lines
from app.state import ModelChoice


def positional_snippet(view: str, choice: ModelChoice, **v) -> str:
    """The Positions page's numbers for one view, as a runnable script.

    ``v`` holds what the view shows: d_model, max_len, base, dims, start, offset (table views);
    max_len, base (Learned vs fixed); sentence, permutation (Order test).
    """
    if view in ("Curves", "Table", "Similarity", "Rotation"):
        d, n, base = v["d_model"], v["max_len"], float(v["base"])
        names = {
            "Curves": "sinusoidal_table, wavelengths",
            "Rotation": "relative_rotation, sinusoidal_table",
        }
        lines = ["import numpy as np"] if view == "Similarity" else []
        lines += [
            f"from encoder.positional import {names.get(view, 'sinusoidal_table')}",
            "",
            f"d_model, max_len, base = {d}, {n}, {base!r}",
            "pe = sinusoidal_table(max_len, d_model, base)  # (max_len, d_model)",
        ]
        if view == "Curves":
            lines += [
                f"dims = {list(v['dims'])}",
                "lam = wavelengths(d_model, base)  # positions per cycle of each column",
                "curves = pe[:, dims]  # one line per chosen dimension",
                "print({j: round(float(lam[j]), 2) for j in dims})",
            ]
        elif view == "Similarity":
            lines += [
                "sim = pe @ pe.T  # PE·PE between every pair of positions",
                f"start = {v['start']}",
                "longer = sinusoidal_table(start + max_len, d_model, base).numpy()",
                "k = np.arange(max_len)",
                "from_0 = longer[k] @ longer[0]  # PE(0)·PE(k)",
                "from_start = longer[start + k] @ longer[start]  # PE(start)·PE(start + k)",
                'print(f"the profiles differ by {np.abs(from_0 - from_start).max():.2e}")',
            ]
        elif view == "Rotation":
            lines += [
                f"offset = {v['offset']}",
                "M = relative_rotation(d_model, offset, base)  # PE(p + k) = M @ PE(p)",
                "longer = sinusoidal_table(max_len + offset, d_model, base)",
                "err = (longer[offset:] - longer[:max_len] @ M.T).abs().max()",
                'print(f"worst error over all p: {err:.2e}")',
            ]
            if d % 2:  # the library refuses odd widths: say so instead of raising
                lines[-4:] = ["# an odd d_model has no M: its last sine has no cosine partner"]
        return "\n".join(lines) + "\n"
    if view == "Learned vs fixed":
        n, base = v["max_len"], float(v["base"])
        lines = [
            "import numpy as np",
            "from encoder.analysis import cosine_matrix",
            "from encoder.positional import sinusoidal_table",
            "from encoder.pretrained import load_minilm",
            "",
            "model, _ = load_minilm()",
            f"learned = model.pos.embed.weight[:{n}].detach().numpy()  # ({n}, 384)",
            f"fixed = sinusoidal_table({n}, 384, {base!r}).numpy()",
            "similarity = cosine_matrix(learned), cosine_matrix(fixed)",
            "",
            "def pca_2d(x):",
            "    x = x - x.mean(axis=0)",
            "    _, s, vt = np.linalg.svd(x.astype(np.float64), full_matrices=False)",
            "    return x @ vt[:2].T, s[:2] ** 2 / (s**2).sum()  # points, variance share",
            "",
            "# position 0 ([CLS]) is left out, as on the page: it would take PC1 alone",
            "points, share = pca_2d(learned[1:])",
            "print(share, pca_2d(fixed[1:])[1])",
        ]
        return "\n".join(lines) + "\n"
    lines = ["import torch", ""]
    if view != "Sizes":
        lines += ["from encoder.experiments import order_test"]
    lines += model_lines(choice, eval_only=True)
    if view == "Sizes":
        lines += [
            "with torch.inference_mode():",
            "    token = torch.linalg.vector_norm(model.tok_embed.weight, dim=1)",
            "    position = torch.linalg.vector_norm(model.pos(model.cfg.max_len), dim=1)",
            "scaled = token * model.cfg.d_model**0.5",
            "for name, norms in [('token', token), ('token x sqrt(d)', scaled), "
            "('position', position)]:",
            '    print(f"median ||{name}|| = {norms.quantile(0.5):.3g}")',
            'print(f"this model multiplies token embeddings by {model.embed_scale:.3g}")',
        ]
        return "\n".join(lines) + "\n"
    lines += [
        "",
        f"encoding = tokenizer.encode({v['sentence']!r}, max_len={choice.max_len})",
        "ids = torch.tensor([encoding.ids])  # (1, S)",
        f"permutation = {list(v['permutation'])}  # special tokens ([CLS], [SEP]) stay put",
        "without = order_test(model, ids, permutation, use_positions=False)",
        "with_positions = order_test(model, ids, permutation, use_positions=True)",
        'print(f"without positions {without:.2e}, with positions {with_positions:.3g}")',
    ]
    return "\n".join(lines) + "\n"
