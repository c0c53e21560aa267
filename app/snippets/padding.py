"""Snippet of the Padding & masks page."""

from __future__ import annotations

from app.snippets import model_lines
from app.state import ModelChoice


def padding_snippet(
    choice: ModelChoice, sentence: str, n: int, width: int, layer: int, head: int
) -> str:
    """The Padding & masks page's numbers: drift with and without the mask, pooling, NaN trap."""
    lines = [
        "import numpy as np",
        "import torch",
        "",
        "from encoder.analysis import cosine_matrix, mean_pool",
        "from encoder.attention import scaled_dot_product_attention",
        "from encoder.experiments import padding_drift",
        "from encoder.masks import additive_mask",
    ]
    lines += model_lines(choice, eval_only=True)
    lines += [
        f"enc = tokenizer.encode({sentence!r}, max_len={choice.max_len})",
        "ids = torch.tensor([enc.ids])  # (1, S): the sentence alone, no padding",
        "",
        "# 3 · the invariance proof: the sentence alone vs with N [PAD] tokens appended",
        f"n = {n}",
        "with_mask = padding_drift(model, ids, [n])  # max |difference| of the real tokens",
        "without_mask = padding_drift(model, ids, [n], use_mask=False)",
        'print(f"N = {n}: with the mask {with_mask[0]:.3g}, without {without_mask[0]:.3g}")',
        "",
        "# 4 · the sentence padded, through the model with its mask; pooling with and without it",
        f"width = {width}",
        "padded = torch.full((1, width), model.cfg.pad_id)",
        "padded[0, : len(enc)] = ids[0]",
        "mask = (torch.arange(width) < len(enc)).long()[None]  # 1 = real token, 0 = [PAD]",
    ]
    if choice.train:
        lines += [
            "model.train()  # train mode: dropout on",
            f"torch.manual_seed({choice.seed})  # the page's dropout masks",
        ]
    lines += [
        "with torch.inference_mode():",
        "    out = model(padded, mask, output_attentions=True, output_hidden_states=True)",
        "hidden = out.last_hidden_state.numpy()",
        "pooled = np.concatenate(",
        "    [mean_pool(hidden, mask.numpy()), mean_pool(hidden, np.ones_like(mask.numpy()))]",
        ")",
        'print(f"cosine, pooling with vs without the mask: {cosine_matrix(pooled)[0, 1]:.4f}")',
        "",
        f"# 5 · the NaN trap: a query whose every key is padding, layer {layer}, head {head}",
        f"block = model.layers[{layer}]",
        f"x = out.hidden_states[{layer}]  # the layer's input",
        "H = block.attn.n_heads",
        "with torch.inference_mode():",
        "    x = block.norm1(x) if block.norm_first else x",
        "    q, k, v = block.attn.qkv(x).view(1, width, 3, H, -1).permute(2, 0, 3, 1, 4)",
        "    all_pad = torch.zeros(1, width, dtype=torch.long)  # attention_mask: no real token",
        '    minus_inf = torch.full((1, 1, 1, width), float("-inf"))  # every key masked',
        "    _, w_inf = scaled_dot_product_attention(q, k, v, minus_inf)",
        "    _, w_min = scaled_dot_product_attention(q, k, v, additive_mask(all_pad))",
        f"print(w_inf[0, {head}, 0, :4])  # nan: softmax of a row of -inf",
        f"print(w_min[0, {head}, 0, :4])  # 1/width each: finite",
    ]
    return "\n".join(lines) + "\n"
