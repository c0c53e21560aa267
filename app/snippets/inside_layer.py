"""Snippet of the Inside-a-layer page."""

from __future__ import annotations

from app.snippets import model_lines
from app.state import ModelChoice


def inside_layer_snippet(choice: ModelChoice, sentences: list[str], row: int, layer: int) -> str:
    """The Inside-a-layer page: one layer recomputed from its weights, checked against the model.

    Always eval mode, as the page: layer_steps switches to it and hands the model back.
    """
    lines = ["import torch", "", "from encoder.experiments import layer_steps"]
    lines += model_lines(choice, eval_only=True)
    lines += [
        "sentences = [" + "".join(f"\n    {t!r}," for t in sentences) + "\n]",
        f"batch = tokenizer.encode_batch(sentences, max_len={choice.max_len})",
        f"row, layer = {row}, {layer}  # sentence {row + 1}, layer {layer}",
        "ids = batch.input_ids[row : row + 1]  # (1, S): the sentence, padded as in the batch",
        "mask = batch.attention_mask[row : row + 1]",
        "steps = layer_steps(model, ids, mask, layer=layer)  # every step, from the weights",
        "for name, t in steps.items():",
        "    print(f'{name:16}', tuple(t.shape))",
        "with torch.inference_mode():",
        "    out = model(batch.input_ids, batch.attention_mask, output_hidden_states=True)",
        "ours = steps['final_norm' if 'final_norm' in steps else 'output'][0]",
        "theirs = out.hidden_states[layer + 1][row]",
        "print('max |recomputed - model|:', (ours - theirs).abs().max().item())",
    ]
    return "\n".join(lines) + "\n"
