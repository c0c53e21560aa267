"""The lines a page's snippet adds for a second model beside the sidebar's: the same sentences
through it, and linear CKA between the two models' token vectors at every pair of depths."""

from __future__ import annotations

from app.snippets import _load_lines
from app.state import ModelChoice


def second_model_lines(second: ModelChoice, *, cka: bool) -> list[str]:
    """After a page's snippet (``model``, ``batch``, ``out``): ``model2``, ``batch2``, ``out2``,
    and with ``cka`` the (depths, depths2) CKA matrix the page draws."""
    load = [
        line.replace("model, tokenizer = ", "model2, tokenizer2 = ").replace(
            "model.train()", "model2.train()"
        )
        for line in _load_lines(second, second.train)
    ]
    lines = [
        "",
        f"# The second model, {second.name}: the same sentences, the same mode",
        *load,
        f"batch2 = tokenizer2.encode_batch(sentences, max_len={second.max_len})",
        *([f"torch.manual_seed({second.seed})  # its dropout masks"] if second.train else []),
        "with torch.inference_mode():",
        "    out2 = model2(batch2.input_ids, batch2.attention_mask, output_hidden_states=True)",
    ]
    if cka:
        lines += [
            "",
            "# Linear CKA between the two models' real tokens, every depth against every depth",
            "import numpy as np",
            "from encoder.analysis import linear_cka",
            "",
            "a = [h[batch.attention_mask.bool()].numpy() for h in out.hidden_states]",
            "b = [h[batch2.attention_mask.bool()].numpy() for h in out2.hidden_states]",
            "cka = np.array([[linear_cka(x, y) for y in b] for x in a])  # rows: the first model",
            "print(np.round(cka, 2))",
        ]
    return lines
