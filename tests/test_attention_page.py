"""AppTest: the Attention page draws the library's numbers (per-head weights, rollout, head
statistics) for both models, padded batches, train mode, hidden special tokens and links."""

from __future__ import annotations

import base64
import csv
import io
import json
from functools import cache

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app.compute import attention as attn
from app.state import ModelChoice
from encoder import Encoder, EncoderConfig
from encoder.analysis import attention_rollout, head_statistics
from encoder.pretrained import load_minilm
from tests.test_app import MAIN, assert_clean

PAGE = "views/attention.py"
SCRATCH = dict(d_model=32, n_heads=4, n_layers=2, d_ff=64)


def page(**params: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(PAGE).run()
    assert_clean(at)
    return at


def canvas(at: AppTest, key: str) -> list[dict]:
    """The panels a canvas component was given (its JSON data)."""
    (el,) = [e for e in at.get("bidi_component") if e.key == key]
    return json.loads(el.proto.json)["panels"]


@cache
def minilm():
    return load_minilm()


def reference(texts: list[str], model: Encoder | None = None, *, train=False, seed=0, max_len=128):
    """The library's own forward pass: (L, B, H, S, S) attention and the batch."""
    pretrained, tokenizer = minilm()
    model = model or pretrained
    batch = tokenizer.encode_batch(texts, max_len=max_len)
    model.train(train)
    with torch.inference_mode():
        torch.manual_seed(seed)
        out = model(batch.input_ids, batch.attention_mask, output_attentions=True)
    model.eval()
    return torch.stack(out.attentions).numpy(), batch


def real(att: np.ndarray, batch, b: int) -> np.ndarray:
    """Sentence b's real-token block of every head. Shape: (L, B, H, S, S) -> (L, H, n, n)"""
    n = int(batch.attention_mask[b].sum())
    return att[:, b, :, :n, :n]


def test_opens_on_every_head_and_the_chosen_one_with_the_library_numbers():
    text = "The animal didn't cross the street because it was too tired."
    at = page(text=text, layer="2", head="5")
    assert at.selectbox(key="layer").value == 2 and at.selectbox(key="head").value == 5
    grid, detail = canvas(at, "overview")
    assert grid["kind"] == "grid" and (grid["layers"], grid["heads"]) == (6, 12)
    assert grid["selected"] == [2, 5]
    att, _ = reference([text])
    np.testing.assert_allclose(detail["z"], att[2, 0, 5], atol=1e-6)
    n = att.shape[-1]  # the overview: one colour index (0..255 for 0..1) per weight, tiled
    pixels = np.frombuffer(base64.b64decode(grid["pixels"]), np.uint8).reshape(6 * n, 12 * n)
    tiles = pixels.reshape(6, n, 12, n).transpose(0, 2, 1, 3)  # (L, H, n, n)
    expected = np.rint(att[:, 0] * 255)
    assert np.abs(tiles.astype(int) - expected).max() <= 1
    assert detail["rows"] == detail["cols"]
    assert detail["rows"][0] == "0 · [CLS]" and detail["rows"][-1].endswith("[SEP]")
    assert detail["title"] == "L2 H5" and "query" in detail["ylabel"]
    assert "key" in detail["xlabel"] and (detail["zmin"], detail["zmax"]) == (0, 1)
    assert "0 to 1" in detail["xlabel"]


def test_own_max_scale_is_labelled():
    at = page(text="bank account", ownmax="true")
    _, detail = canvas(at, "overview")
    assert detail["zmax"] == pytest.approx(np.max(detail["z"]), abs=1e-6)
    assert "own max" in detail["scale"] and detail["scale"] in detail["xlabel"]


def test_from_scratch_in_train_mode_draws_the_same_dropout_masks():
    params = {k: str(v) for k, v in SCRATCH.items()}
    at = page(model="From scratch", text="hello there world", train="true", seed="3",
              dropout="0.5", layer="1", head="3", **params)  # fmt: skip
    assert "Train mode" in " ".join(c.value for c in at.caption)
    model = Encoder(EncoderConfig(**SCRATCH, dropout=0.5), seed=3)
    att, _ = reference(["hello there world"], model, train=True, seed=3)
    _, detail = canvas(at, "overview")
    np.testing.assert_allclose(detail["z"], att[1, 0, 3], atol=1e-6)
    assert not np.allclose(np.sum(detail["z"], axis=1), 1.0)  # dropout: rows no longer sum to 1


def test_padded_batch_shows_only_the_real_tokens():
    texts = ["A much longer sentence that needs plenty of tokens to say it.", "Short one."]
    at = page(text="\n".join(texts), layer="4", head="7")
    at.selectbox(key="sentence").set_value(at.selectbox(key="sentence").options[1]).run()
    att, batch = reference(texts)
    _, detail = canvas(at, "overview")
    n = int(batch.attention_mask[1].sum())
    assert len(detail["rows"]) == n < att.shape[-1]
    np.testing.assert_allclose(detail["z"], att[4, 1, 7, :n, :n], atol=1e-6)
    assert np.all(att[4, 1, 7, :n, n:] == 0)  # what was left out is padding, with no weight


def test_hidden_special_tokens_renormalise_the_rows():
    text = "The cat sat on the mat."
    at = page(text=text, hide="true", layer="1", head="2")
    grid, detail = canvas(at, "overview")
    assert "renormalised" in detail["title"] and "renormalised" in grid["title"]
    assert all("[CLS]" not in r and "[SEP]" not in r for r in detail["rows"])
    att, _ = reference([text])
    inner = att[1, 0, 2, 1:-1, 1:-1]
    np.testing.assert_allclose(detail["z"], inner / inner.sum(-1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(np.sum(detail["z"], axis=1), 1.0, atol=1e-5)


def test_mean_and_rollout_are_the_library_functions():
    text = "Rollout follows the residual stream."
    at = page(text=text, view="Mean & rollout", layer="3")
    mean, rollout = canvas(at, "aggregate")
    att, batch = reference([text])
    a = real(att, batch, 0)
    np.testing.assert_allclose(mean["z"], a[3].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(rollout["z"], attention_rollout(a, residual=0.5)[3], atol=1e-6)
    said = " ".join(m.value for m in at.markdown)
    assert "Mean over heads" in said and "Rollout" in said and "not an explanation" in said


def test_head_statistics_table_and_jumping_to_a_named_head():
    text = "The quick brown fox jumps over the lazy dog."
    at = page(text=text, view="Head statistics", layer="1", head="4")
    (table,) = canvas(at, "stats")
    att, batch = reference([text])
    stats = head_statistics(real(att, batch, 0))
    rows, labels = table["rows"], [c["label"] for c in table["columns"]]
    assert (
        table["kind"] == "table"
        and len(rows) == 72
        and [r[0] for r in rows[:2]]
        == [
            "L0 H0",
            "L0 H1",
        ]
    )
    shown = dict(entropy="entropy", distance="dist.", self="self", previous="prev.")
    shown |= dict(first="[CLS]", last="[SEP]", max="max")
    for key, label in shown.items():
        column = np.array([r[labels.index(label)] for r in rows]).reshape(6, 12)
        np.testing.assert_allclose(column, stats[key], atol=1e-9)
    # a click on a row sends its head: the table knows each row's head, and marks the chosen
    assert table["pick"][1 * 12 + 4] == [1, 4] and table["chosen"] == 16
    named = [b for b in at.button if b.key and b.key.startswith("go_")]
    assert named, "MiniLM has heads that look positional, broad or sink-like"
    target = named[0]
    target.click().run()
    assert_clean(at)
    layer, head = (int(x) for x in target.key.split("_")[1:])
    assert at.segmented_control(key="view").value == "Heads"
    assert (at.selectbox(key="layer").value, at.selectbox(key="head").value) == (layer, head)
    _, detail = canvas(at, "overview")
    np.testing.assert_allclose(detail["z"], real(att, batch, 0)[layer, head], atol=1e-6)


def test_head_statistics_columns_have_one_format_each_and_short_headers():
    at = page(text="The quick brown fox.", view="Head statistics")
    (table,) = canvas(at, "stats")
    columns = {c["label"]: c for c in table["columns"]}
    for label in ("self", "prev.", "[CLS]", "[SEP]"):  # shares: "23.3%", "0.0%", "99.9%"
        assert columns[label]["format"] == "pct", label
    for label in ("entropy", "dist.", "max"):
        assert columns[label]["format"] == "f2", label
    assert columns["head"]["format"] == columns["looks like"]["format"] == "text"
    assert all(len(c["label"]) <= 10 and c["help"] for c in table["columns"])  # meaning: help
    assert 0 < table["height"] <= 460  # scrolls within the page at 72 rows or 144


def test_token_lines_follow_the_query_and_the_threshold():
    text = "The animal didn't cross the street because it was too tired."
    at = page(text=text, view="Token lines", layer="2")
    tokens = at.selectbox(key="token").options
    it = next(t for t in tokens if t.endswith(" · it"))
    at.selectbox(key="token").set_value(it).run()
    at.pills(key="lheads").set_value([0, 5, 11]).run()
    (lines,) = canvas(at, "lines")
    att, _ = reference([text])
    q = tokens.index(it)
    assert lines["query"] == q and [h["head"] for h in lines["heads"]] == [0, 5, 11]
    for h in lines["heads"]:
        row = att[2, 0, h["head"], q]
        np.testing.assert_allclose(h["all"], row, atol=1e-6)
        assert [j for j, _ in h["lines"]] == [j for j in range(len(row)) if row[j] >= 0.01]
    said = " ".join(c.value for c in at.caption)
    assert "under 0.01 are not drawn" in said and "one lane per head" in said
    assert not at.warning
    at.segmented_control(key="view").set_value("Heads").run()
    at.segmented_control(key="view").set_value("Token lines").run()
    assert at.selectbox(key="token").value == it  # a view's pickers survive a trip away


def test_link_reproduces_layer_head_and_view():
    at = page(text="A link to this head\nand another", view="Token lines", layer="3",
              head="9", ownmax="true", token="2 · link")  # fmt: skip
    assert at.segmented_control(key="view").value == "Token lines"
    assert not at.warning  # head and ownmax apply to other views: greyed out here, not refused
    assert at.selectbox(key="head").disabled and at.selectbox(key="head").value == 9
    assert at.selectbox(key="layer").value == 3 and at.selectbox(key="token").value == "2 · link"
    link = next(c.value for c in at.code if "?" in c.value)
    for part in ("view=Token+lines", "layer=3", "token=2+%C2%B7+link"):
        assert part in link


def test_snippet_reproduces_the_detail_numbers():
    at = page(model="From scratch", text="short\nsecond sentence here", layer="1", head="2",
              **{k: str(v) for k, v in SCRATCH.items()})  # fmt: skip
    at.selectbox(key="sentence").set_value(at.selectbox(key="sentence").options[1]).run()
    code = next(c.value for c in at.code if "head_statistics" in c.value)
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), namespace)
    _, detail = canvas(at, "overview")
    np.testing.assert_allclose(detail["z"], namespace["att"][1, 2], atol=1e-6)
    assert namespace["stats"]["entropy"].shape == (2, 4)


def test_exports_hold_the_head_and_every_layer_with_config_seed_and_tokens():
    text = "Export me, please."
    at = page(text=text, layer="1", head="4")
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["L1 H4 as CSV", "All attention of this sentence (.npz)"]
    att, batch = reference([text])
    a = real(att, batch, 0)
    tokens = batch.encodings[0].tokens
    rows = list(csv.reader(io.StringIO(attn.head_csv(a[1, 4], [f"{i} · {t}" for i, t in
                                                              enumerate(tokens)]))))  # fmt: skip
    assert rows[0][1:] == [f"{i} · {t}" for i, t in enumerate(tokens)]
    np.testing.assert_array_equal(np.array([r[1:] for r in rows[1:]], dtype=np.float32), a[1, 4])
    choice = ModelChoice("pretrained", None, 0, False, 128)
    saved = np.load(io.BytesIO(attn.attention_npz(a, tokens, choice, minilm()[0].cfg, text)))
    np.testing.assert_array_equal(saved["attentions"], a)
    assert list(saved["tokens"]) == tokens and int(saved["seed"]) == 0
    assert json.loads(str(saved["config"]))["n_heads"] == 12 and str(saved["text"]) == text


@pytest.mark.parametrize(
    "params",
    [
        {"text": "a"},
        {"text": "\n".join(f"Sentence number {i} is here." for i in range(8))},
        {"text": "word " * 40, "max_len": "8", "hide": "true"},
        {"text": "[CLS] [SEP]", "view": "Head statistics"},
        {"text": "only one sentence", "view": "Compare"},
        {"text": "<script>alert(1)</script> <img src=x onerror=alert(1)>", "hide": "true"},
        {"text": "x", "layer": "99", "head": "-1", "view": "Nope"},
    ],
    ids=[
        "one word",
        "8 sentences",
        "max_len 8",
        "typed specials",
        "compare alone",
        "html",
        "bad link",
    ],
)
def test_odd_input_never_crashes(params):
    at = page(**params)
    assert at.get("bidi_component") or at.dataframe
    if params.get("max_len") == "8":
        assert "kept the first 8 of 42 tokens" in " ".join(w.value for w in at.warning)


def test_eight_sentences_of_512_tokens_keep_only_what_is_shown():
    texts = tuple(f"Sentence {i} goes on and on " + "and on " * 300 for i in range(8))
    choice = ModelChoice("pretrained", None, 0, False, 512)
    assert attn.keep_for(choice, texts, (0, 1)) == (0, 1)  # all eight would be 600 MB
    at = page(text="\n".join(texts), max_len="512")
    grid, detail = canvas(at, "overview")
    assert len(detail["rows"]) == 512 and grid["block"] == 11 and grid["cells"] == 47
    assert "11×11 block" in grid["note"]


def test_token_lines_of_a_long_sentence_draw_a_window_and_say_so():
    at = page(text="word " * 300, max_len="512", view="Token lines")
    tokens = at.selectbox(key="token").options
    at.selectbox(key="token").set_value(tokens[200]).run()
    (lines,) = canvas(at, "lines")
    assert len(lines["tokens"]) == 128 and lines["offset"] == 136
    assert lines["tokens"][lines["query"]] == tokens[200]
    assert "showing positions 136–263 around the query" in lines["note"]


def test_hide_special_tokens_is_offered_only_where_there_are_some():
    at = page(text="The cat sat.")
    assert not at.toggle(key="hide").disabled
    at = page(model="Trained", trained="reverse", text="3 1 4 1 5")
    assert_clean(at)
    assert at.toggle(key="hide").disabled
    assert "no [CLS] or [SEP]" in at.toggle(key="hide").help
