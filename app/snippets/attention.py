"""Snippet of the Attention page."""

from __future__ import annotations

from app.snippets import python_snippet
from app.snippets.models import second_model_lines
from app.state import ModelChoice


def attention_snippet(
    choice: ModelChoice,
    sentences: list[str],
    sentence: int,
    layer: int,
    head: int,
    compare: tuple[int, int, int] | None = None,
    *,
    headmap: tuple[int, ...] | None = None,
    qk: bool | None = None,
    queries: list[int] | None = None,
    second: ModelChoice | None = None,
    cka: bool = False,
) -> str:
    """The Attention page's numbers: one head's map, the rollout and the head statistics; with
    ``compare`` (other sentence, query position in each), Compare's rows word by word; with
    ``headmap`` (the sentences it rests on) the Head map; with ``qk`` (joint_qk on or off)
    Queries & keys; with ``queries`` (positions) several query tokens' rows summed; with
    ``second`` (a model) Two models, and with ``cka`` their similarity at every depth."""
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
    if queries:
        lines += [
            "",
            "# Several query tokens: their rows summed over the keys, and the mean",
            f"qs = {list(queries)}  # query positions (hiding [CLS]/[SEP] renormalises rows)",
            "summed = att[layer][:, qs, :].sum(axis=1)  # (heads, n): every head of the layer",
            "mean = summed / len(qs)",
            "print(np.round(summed[head], 3), np.round(mean[head], 3))",
        ]
    if headmap is not None:
        lines += [
            "",
            "# Head map: every head placed by how it attends (eval mode: rows sum to 1)",
            "from encoder.analysis import head_distances, head_map",
            "",
            "model.eval()",
            "with torch.inference_mode():",
            "    ev = model(batch.input_ids, batch.attention_mask, output_attentions=True)",
            "stacked = torch.stack(ev.attentions).numpy()  # (layers, batch, heads, seq, seq)",
            "lengths = batch.attention_mask.sum(dim=1).tolist()",
            f"used = {list(headmap)}  # the sentences the map rests on",
            "atts = [stacked[:, i, :, : lengths[i], : lengths[i]] for i in used]",
            "distances = head_distances(atts)  # (layers·heads, layers·heads), JS in bits",
            "xy = head_map(distances, seed=0)  # (layers·heads, 2): head h of layer l at l·H + h",
            "print(np.round(distances[: 4, : 4], 3))",
        ]
    if qk is not None:
        lines += [
            "",
            "# Queries & keys: one head's queries and keys in one plane (eval mode)",
            "from encoder.analysis import joint_qk, project",
            "from encoder.experiments import layer_steps",
            "",
            "row = slice(b, b + 1)",
            "steps = layer_steps(model, batch.input_ids[row], batch.attention_mask[row], layer)",
            "keep = batch.attention_mask[b].bool()",
            "q = steps['q'][0, head][keep].numpy()  # (n, d_k)",
            "k = steps['k'][0, head][keep].numpy()",
            *(["q, k = joint_qk(q, k)  # same softmax, one space"] if qk else []),
            "plane, _ = project(np.concatenate([q, k])[None], 'pca', 2)  # (1, 2n, 2)",
            "print(np.round(plane[0, :n], 3))  # the queries; plane[0, n:] the keys",
        ]
    if second is not None:
        lines += second_model_lines(second, cka=cka)
    return "\n".join(lines) + "\n"
