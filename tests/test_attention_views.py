"""AppTest: the Attention page's Head map, Queries & keys and several query tokens, against the
library's numbers (head_distances, head_map, joint_qk, the forward pass); links and snippet."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

from app.charts import attention_stats as head_table
from app.charts.attention_heads import KIND_COLOURS, qk_panel, strongest
from app.compute import attention_heads as attn
from encoder.analysis import head_distances, head_map, head_statistics, joint_qk, project
from encoder.experiments import layer_steps
from tests.test_app import assert_clean
from tests.test_attention_page import SCRATCH, canvas, minilm, page, real, reference

TWO = ["The cat sat on the mat because it was tired.", "He opened a bank account."]


def points(panel: dict, group: str | None = None) -> np.ndarray:
    """A scatter panel's points (of the group whose name starts with ``group``). Shape: (n, 2)"""
    xy = np.c_[panel["x"], panel["y"]]
    if group is None:
        return xy
    g = next(i for i, grp in enumerate(panel["groups"]) if grp["name"].startswith(group))
    return xy[np.array(panel["group"]) == g]


def said(at) -> str:
    return " ".join(m.value for m in [*at.markdown, *at.caption])


def test_head_map_is_the_library_map_of_every_sentence():
    at = page(text="\n".join(TWO), view="Head map", layer="1", head="4")
    att, batch = reference(TWO)
    atts = [real(att, batch, b) for b in range(2)]
    d = head_distances(atts)
    xy = head_map(d, seed=0)
    (panel,) = canvas(at, "headmap")
    assert panel["kind"] == "scatter"
    np.testing.assert_allclose(points(panel), xy, atol=1e-4)
    assert panel["pick"][1 * 12 + 4] == [1, 4] and panel["pick"][71] == [5, 11]
    assert panel["selected"] == 16 and panel["selected_label"] == "L1 H4"
    names = [g["name"] for g in panel["groups"]]
    assert names == [f"layer {i}" for i in range(6)]
    assert [names[g] for g in panel["group"]] == [f"layer {i // 12}" for i in range(72)]
    tokens = int(batch.attention_mask.sum())
    assert f"2 sentences and {tokens} tokens" in said(at) and "steadier" in said(at)
    assert "What it cannot show" in said(at) and "Near" in said(at)
    hm = attn.head_map_of(at.session_state["choice"], tuple(TWO))
    np.testing.assert_allclose(hm.distances, d, atol=1e-6)


def test_head_map_coloured_by_family_names_the_statistics_kinds():
    at = page(text=TWO[0], view="Head map", hmcolour="looks like")
    att, batch = reference(TWO[:1])
    stats = head_statistics(real(att, batch, 0))
    n = real(att, batch, 0).shape[-1]
    (panel,) = canvas(at, "headmap")
    names = [g["name"] for g in panel["groups"]]
    for (layer, head), g in zip(panel["pick"], panel["group"], strict=True):
        assert names[g] == (head_table.short_kind(stats, layer, head, n) or "no clear pattern")
    colours = {g["name"]: g["color"] for g in panel["groups"]}
    assert all(colours[k] == KIND_COLOURS[k] for k in colours)
    hover = panel["hover"][0]
    assert hover.startswith("L0 H0") and "entropy" in hover and "previous" in hover
    assert "click to open" in hover


def test_a_click_on_the_head_map_opens_that_head(monkeypatch):
    """The canvas's on_pick callback (the browser test clicks for real)."""
    from functools import partial

    from app.components import attention_canvas as component

    session = {"headmap": {"pick": {"layer": 3, "head": 7}}, "view": "Head map"}
    monkeypatch.setattr(component.st, "session_state", session)
    partial(component.pick_head, "headmap", "Heads")()
    assert session["view"] == "Heads" and (session["layer"], session["head"]) == (3, 7)


def test_queries_and_keys_draw_joint_qk_of_the_layer_steps():
    text = TWO[0]
    at = page(text=text, view="Queries & keys", layer="2", head="5")
    model, tokenizer = minilm()
    batch = tokenizer.encode_batch([text])
    steps = layer_steps(model, batch.input_ids, batch.attention_mask, layer=2)
    q, k = steps["q"][0, 5].numpy(), steps["k"][0, 5].numpy()
    qj, kj = joint_qk(q, k)
    plane, _ = project(np.concatenate([qj, kj])[None], "pca", 2)
    (panel,) = canvas(at, "qkplot")
    n = len(q)
    np.testing.assert_allclose(points(panel, "queries"), plane[0, :n], atol=1e-4)
    np.testing.assert_allclose(points(panel, "keys"), plane[0, n:], atol=1e-4)
    assert [g["shape"] for g in panel["groups"]] == ["circle", "diamond"]
    assert panel["group"] == [0] * n + [1] * n
    # the lines: a query to each key of weight ≥ QK_LINE, the model's own attention
    att, _ = reference([text])
    strong = att[2, 0, 5] >= attn.QK_LINE
    assert len(panel["lines"]) == int(strong.sum())
    for i, j, w in panel["lines"]:
        assert j >= n and strong[i, j - n] and w == pytest.approx(att[2, 0, 5][i, j - n], abs=1e-5)
    # ≤ 30 tokens: every point labelled with its token
    words = [h.split("\n")[0].split(" · ", 1)[1] for h in panel["hover"][:n]]
    assert words[0] == "[CLS]" and words[-1] == "[SEP]" and "cat" in words
    assert panel["labels"] == words + words and panel["force_labels"]
    assert "at least 10% of its weight" in said(at)
    assert "softmax ignores a constant" in said(at)
    # the switch: the raw projections
    at.toggle(key="qkjoint").set_value(False).run()
    raw, _ = project(np.concatenate([q, k])[None], "pca", 2)
    (panel,) = canvas(at, "qkplot")
    np.testing.assert_allclose(points(panel, "queries"), raw[0, :n], atol=1e-4)
    assert "qkjoint=false" in next(c.value for c in at.code if "?" in c.value)


def test_queries_and_keys_run_no_forward_pass_of_the_batch(monkeypatch):
    """The view needs one sentence's queries and keys at one layer, not the batch's maps."""
    from app.compute import attention as batch_pass

    def refused(*args, **kwargs):
        raise AssertionError("the batch's forward pass ran")

    monkeypatch.setattr(batch_pass, "sentence_attention", refused)
    at = page(text="\n".join(TWO), view="Queries & keys", layer="3", head="0")
    assert_clean(at)
    at.selectbox(key="head").set_value(7).run()
    assert_clean(at)
    assert canvas(at, "qkplot")[0]["title"].startswith("L3 H7: queries and keys of sentence 1")


def test_a_long_sentence_labels_only_its_strongest_points():
    rng = np.random.default_rng(0)
    n = 40
    q, k = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    lines = [(i, (i * 7) % n, 0.2 + 0.01 * i) for i in range(n)] + [(0, 5, 0.9)]
    panel = qk_panel(q, k, [f"{i} · t{i}" for i in range(n)], lines, "t", ("a", "b"))
    shown = [i for i, t in enumerate(panel["labels"]) if t]
    assert shown == strongest(lines, n) and len(shown) == 30 and not panel["force_labels"]
    assert n + 5 in shown and 0 in shown  # the key and the query of the heaviest line
    assert panel["labels"][n + 5] == "t5" and [0, n + 5, 0.9] in panel["lines"]
    assert strongest(lines[:3], 3) == [0, 1, 2, 3, 4, 5]  # few tokens: every point


def test_several_query_tokens_in_the_detail_and_in_token_lines():
    text = TWO[0]
    qs = ["3 · sat", "4 · on", "6 · mat"]
    at = page(text=text, layer="2", head="5", queries=qs)
    att, _ = reference([text])
    summed, mean = canvas(at, "queries_detail")
    rows = att[2, 0, 5][[3, 4, 6]]
    np.testing.assert_allclose(summed["values"], rows.sum(0), atol=1e-6)
    np.testing.assert_allclose(mean["values"], rows.mean(0), atol=1e-6)
    assert "summed" in summed["title"] and "“sat”, “on”, “mat”" in summed["title"]
    assert sum(mean["values"]) == pytest.approx(1.0, abs=1e-5)
    at.segmented_control(key="view").set_value("Token lines").run()
    at.pills(key="lheads").set_value([1, 5]).run()
    (heads,) = canvas(at, "queries_lines")
    np.testing.assert_allclose(heads["z"], att[2, 0, [1, 5]][:, [3, 4, 6]].sum(1), atol=1e-6)
    assert heads["rows"] == ["H1", "H5"] and "mean = sum / 3" in heads["scale"]
    link = next(c.value for c in at.code if "?" in c.value)
    assert "queries=3+%C2%B7+sat" in link and "queries=6+%C2%B7+mat" in link
    assert at.multiselect(key="queries").value == qs


def test_exports_of_the_new_views():
    hm = attn.head_map_of(page(text=TWO[0], view="Head map").session_state["choice"], (TWO[0],))
    names = [f"L{i // 12} H{i % 12}" for i in range(72)]
    rows = list(csv.reader(io.StringIO(attn.head_map_csv(hm.distances, names))))
    assert rows[0][:3] == ["head \\ head", "L0 H0", "L0 H1"] and len(rows) == 73
    np.testing.assert_allclose(np.array([r[1:] for r in rows[1:]], float), hm.distances)
    saved = np.load(io.BytesIO(attn.head_map_npz(hm, names, ["x"] * 72)))
    assert saved["xy"].shape == (72, 2) and list(saved["sentences"]) == [0]
    table = attn.query_sum_csv(np.array([[0.5, 1.5]]), 2, ["0 · a", "1 · b"], ["L0 H0"])
    assert list(csv.reader(io.StringIO(table)))[2] == ["1 · b", "1.5", "0.75"]


def test_snippet_reproduces_the_new_views():
    params = {k: str(v) for k, v in SCRATCH.items()}
    text = "one two three four\nfive six seven"
    at = page(model="From scratch", text=text, view="Head map", layer="1", head="2", **params)
    code = next(c.value for c in at.code if "head_distances" in c.value)
    ns: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), ns)
    hm = attn.head_map_of(at.session_state["choice"], tuple(text.splitlines()))
    np.testing.assert_allclose(ns["distances"], hm.distances, atol=1e-6)
    np.testing.assert_allclose(ns["xy"], hm.xy, atol=1e-4)

    at.segmented_control(key="view").set_value("Queries & keys").run()
    code = next(c.value for c in at.code if "joint_qk" in c.value)
    ns = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), ns)
    (panel,) = canvas(at, "qkplot")
    np.testing.assert_allclose(points(panel, "queries"), ns["plane"][0, :6], atol=1e-4)

    at.segmented_control(key="view").set_value("Heads").run()
    at.multiselect(key="queries").set_value(["1 · one", "3 · three"]).run()
    code = next(c.value for c in at.code if "summed" in c.value)
    ns = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), ns)
    summed, _ = canvas(at, "queries_detail")
    np.testing.assert_allclose(summed["values"], ns["summed"][2], atol=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        {"text": "a", "view": "Head map"},
        {"text": "a", "view": "Queries & keys"},
        {"text": "[CLS]", "view": "Head map", "hmcolour": "nope"},
        {"text": "x y", "view": "Queries & keys", "qkjoint": "maybe"},
        {"text": "x y", "queries": ["9 · zz", "1 · x"]},
        {"text": "word " * 300, "max_len": "512", "view": "Head map"},
        {"text": "hello there", "view": "Head map", "train": "true"},
    ],
    ids=["one word map", "one word qk", "bad colour", "bad switch", "stale query", "long", "train"],
)
def test_odd_input_never_crashes(params):
    at = page(**params)
    assert_clean(at)
    if params.get("view") == "Head map":
        assert canvas(at, "headmap")


def test_train_mode_maps_in_eval_mode():
    at = page(model="From scratch", text="a b c d", view="Head map", train="true",
              dropout="0.5", **{k: str(v) for k, v in SCRATCH.items()})  # fmt: skip
    assert "in eval mode" in said(at)
    torch.manual_seed(0)  # nothing random reaches the map: rows sum to 1


def test_the_statistics_table_panel_carries_every_head_its_pick_and_no_nan():
    keys = ("entropy", "distance", "self", "previous", "first", "last", "max")
    stats = {k: np.arange(6, dtype=float).reshape(2, 3) / 10 for k in keys}
    stats["distance"][1, 2] = np.nan  # JSON has no NaN: the cell travels as null ("–")
    panel = head_table.table_panel(head_table.table(stats, 5), chosen=(1, 1))
    assert panel["kind"] == "table" and len(panel["rows"]) == 6
    assert panel["pick"] == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    assert panel["chosen"] == 4 and panel["rows"][4][0] == "L1 H1"
    assert panel["rows"][5][2] is None
    json.dumps(panel, allow_nan=False)
    assert [c["label"] for c in panel["columns"]][:3] == ["head", "entropy", "dist."]
