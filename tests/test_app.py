"""AppTest: drive the sidebar and the Encode page; assert on the figures' plotly specs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app.state import DEFAULT_TEXT, MAX_SENTENCES

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")

BAD_INPUTS = {
    "empty": "",
    "whitespace": "   \n\t \n  ",
    "20k characters": "word " * 4000,
    "emoji": "I love 🤖 and 🧠🔥 👩‍👩‍👧",
    "cjk": "我爱自然语言处理。日本語のテキスト。한국어 문장",
    "right-to-left": "مرحبا بالعالم\nשלום עולם",
    "zero-width": "zero\u200bwidth\u200d joiner\ufeff bom",
    "control": "bell\x07 escape\x1b[31m null\x00 end",
    "script tag": "<script>alert('x')</script> <img src=x onerror=alert(1)>",
    "markdown": "# Heading **bold** [link](http://example.com) `code` | table |",
    "latex": r"$\frac{a}{b}$ and $$\sum_i x_i$$ \(x\)",
    "special tokens": "[PAD] [CLS] [SEP] [MASK] [UNK]",
}


def new_app(**params: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def array(value) -> np.ndarray:
    """A plotly spec array: a list, or plotly's typed-array form {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape)
    return np.asarray(value)


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def table_panel(at: AppTest, key: str) -> dict:
    """The table panel a canvas component ``key`` was given (app.charts.tables)."""
    (el,) = [e for e in at.get("bidi_component") if e.key == key]
    (panel,) = json.loads(el.proto.json)["panels"]
    assert panel["kind"] == "table"
    return panel


def table_frame(at: AppTest, key: str) -> pd.DataFrame:
    """That table as the page shows it: its headers and rows, in the page's order."""
    panel = table_panel(at, key)
    return pd.DataFrame(panel["rows"], columns=[c["label"] for c in panel["columns"]])


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    for md in at.markdown:  # user text never reaches markdown (which could carry HTML)
        assert "<script>" not in md.value


@pytest.fixture(scope="module")
def default_app() -> AppTest:
    return new_app()


def test_default_view_shows_tokens_shapes_diagram_vectors_and_code(default_app):
    at = default_app
    assert_clean(at)
    assert at.text_area(key="text").value == DEFAULT_TEXT
    heads = [h.value for h in at.subheader]
    assert heads[:3] == ["1 · Tokens", "2 · Through the encoder", "3 · Output vectors"]
    (fig,) = plotly_specs(at)
    z = array(fig["data"][0]["z"])
    tokens = fig["data"][0]["y"]
    assert z.shape == (len(tokens), 384)  # MiniLM: one 384-d vector per token
    assert tokens[0] == "0 · [CLS]" and tokens[-1].endswith("[SEP]")
    assert len(at.get("graphviz_chart")) == 1
    assert "load_minilm" in at.code[0].value
    assert at.metric[0].value == "22,565,376"  # all-MiniLM-L6-v2 without its pooler


@pytest.mark.parametrize("text", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_never_crashes(text):
    at = new_app()
    at.text_area(key="text").set_value(text).run()
    assert_clean(at)
    assert not at.error
    if not text.strip():
        assert "Type a sentence" in at.info[0].value
    else:
        assert len(plotly_specs(at)) >= 1


def test_long_text_reports_truncation_and_is_kept_out_of_the_link():
    at = new_app()
    at.text_area(key="text").set_value("word " * 4000).run()
    warnings = " ".join(w.value for w in at.warning)
    assert "kept the first 128 of 4002 tokens" in warnings
    assert "too long for a link" in warnings
    assert "text" not in at.query_params


def test_several_sentences_make_a_padded_batch_and_a_similarity_matrix():
    at = new_app()
    lines = ["A man is playing a guitar.", "Someone plays the guitar.", "Stocks fell sharply."]
    at.text_area(key="text").set_value("\n".join(lines)).run()
    assert_clean(at)
    specs = plotly_specs(at)
    sim = array(next(s for s in specs if s["data"][0].get("texttemplate"))["data"][0]["z"])
    assert sim.shape == (3, 3)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[1, 2] + 0.3  # paraphrases closer
    assert at.selectbox(key="sentence").options[0].startswith("1 · A man")


def test_too_many_sentences_are_cut_with_a_message():
    at = new_app()
    at.text_area(key="text").set_value("\n".join(f"sentence {i}" for i in range(11))).run()
    assert f"Kept the first {MAX_SENTENCES} of 11 sentences" in at.warning[0].value


def test_example_picker_fills_the_text_area():
    at = new_app()
    at.selectbox(key="example").set_value("Two meanings of bank").run()
    assert_clean(at)
    assert at.text_area(key="text").value.startswith("She sat on the river bank.")


def scratch(**sliders) -> AppTest:
    at = new_app()
    at.radio(key="model").set_value("From scratch").run()
    for key, value in sliders.items():
        widget = at.get("select_slider") + at.get("slider") + at.get("selectbox")
        (w,) = [x for x in widget if x.key == key]
        w.set_value(value).run()
    assert_clean(at)
    return at


def test_from_scratch_sliders_rebuild_the_model():
    at = scratch(d_model=96, n_layers=3, d_ff=128)
    (fig,) = plotly_specs(at)
    assert array(fig["data"][0]["z"]).shape[1] == 96
    code = at.code[0].value
    assert "d_model=96,\n    n_heads=4,\n    n_layers=3,\n    d_ff=128," in code
    assert at.select_slider(key="n_heads").options == ["1", "2", "3", "4", "6", "8", "12", "16"]


def test_head_choices_follow_d_model():
    at = scratch(d_model=24)
    assert at.select_slider(key="n_heads").options == ["1", "2", "3", "4", "6", "8", "12"]
    at.select_slider(key="n_heads").set_value(3).run()
    at.select_slider(key="d_model").set_value(32).run()  # 3 does not divide 32
    assert_clean(at)
    assert at.select_slider(key="n_heads").value in (2, 4)


@pytest.mark.parametrize(
    "key,value", [("positional", "learned"), ("activation", "GELU"), ("norm", "pre-norm")]
)
def test_architecture_switches(key, value):
    at = scratch(**{key: value})
    dot = at.get("graphviz_chart")[0].proto.spec
    expected = {"positional": "learned positions", "activation": "GELU", "norm": "Final"}
    assert expected[key] in dot


def test_train_mode_dropout_depends_on_seed_and_eval_does_not():
    at = scratch(dropout=0.5)

    def vectors() -> np.ndarray:
        return array(plotly_specs(at)[0]["data"][0]["z"])

    eval_a = vectors()
    at.number_input(key="seed").set_value(0).run()
    at.toggle(key="train").set_value(True).run()
    train_0 = vectors()
    at.number_input(key="seed").set_value(1).run()
    train_1 = vectors()
    at.number_input(key="seed").set_value(0).run()
    assert not np.allclose(train_0, eval_a)
    assert np.array_equal(vectors(), train_0)  # the same seed gives the same dropout masks
    at.toggle(key="train").set_value(False).run()
    assert not np.allclose(train_1, eval_a)  # seed 1 also changes the weights
    assert at.caption[0].value.endswith("eval mode")


def test_link_parameters_reproduce_a_view():
    at = new_app(model="From scratch", d_model="32", n_heads="8", n_layers="3", text="hello world")
    assert_clean(at)
    assert at.radio(key="model").value == "From scratch"
    assert at.select_slider(key="d_model").value == 32
    assert at.select_slider(key="n_heads").value == 8
    assert at.slider(key="n_layers").value == 3
    assert at.text_area(key="text").value == "hello world"
    (fig,) = plotly_specs(at)
    assert fig["data"][0]["y"] == ["0 · [CLS]", "1 · hello", "2 · world", "3 · [SEP]"]


def link_notice(at: AppTest) -> str:
    """The link warning, which sits at the top of the page, above the title."""
    notes = [w.value for w in at.main.warning if w.value.startswith("This link")]
    assert [w.value for w in at.sidebar.warning] == []
    return notes[0] if notes else ""


def test_broken_link_parameters_fall_back_to_defaults():
    at = new_app(model="bogus", d_model="33", n_layers="999", dropout="x", seed="-4")
    assert_clean(at)
    assert at.radio(key="model").value == "Pretrained"
    assert len(plotly_specs(at)) == 1
    said = link_notice(at)
    assert "model = “bogus” is not a valid choice, so the page shows Pretrained." in said
    assert "“d_model” does not apply to the model chosen" in said
    assert "seed = “\\-4”" in said  # markdown-escaped: it renders as -4
    at = new_app(model="From scratch", d_model="33", n_layers="999")
    assert_clean(at)
    said = link_notice(at)
    assert "d_model = “33” is not a valid choice, so the page shows 64." in said
    assert "n_layers = “999”" in said


def test_link_warning_names_snapped_heads_and_escapes_what_it_quotes():
    at = new_app(model="From scratch", d_model="24", n_heads="16", **{"![x](http://e/i.png)": "1"})
    assert_clean(at)
    said = link_notice(at)
    assert "(n_heads must divide d_model, 24), so the page shows 12." in said  # the closest
    assert "![x](" not in said and "\\!\\[x\\]" in said


def test_valid_link_raises_no_warning_and_unknown_parameters_are_named():
    at = new_app(model="From scratch", dropout="0.10", train="true", colour="red")
    assert_clean(at)
    assert link_notice(at) == (
        "This link could not be followed exactly:\n"
        "- “colour” is not a setting of this page, so it was ignored."
    )
    assert link_notice(new_app(model="From scratch", d_model="24", n_heads="12")) == ""


def test_snippet_reproduces_the_page_numbers():
    at = scratch(d_model=32, n_layers=1, d_ff=64)
    code = at.code[0].value
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), namespace)
    ours = namespace["out"].last_hidden_state[0].numpy()
    shown = array(plotly_specs(at)[0]["data"][0]["z"])
    np.testing.assert_allclose(shown, ours, rtol=0, atol=1e-6)


def test_snippet_reproduces_train_mode_dropout_too():
    at = scratch(d_model=32, n_layers=1, d_ff=64, dropout=0.5)
    at.toggle(key="train").set_value(True).run()
    at.number_input(key="seed").set_value(3).run()
    namespace: dict = {}
    exec(
        compile(at.code[0].value.replace("print(", "(lambda *a: None)("), "snippet", "exec"),
        namespace,
    )
    shown = array(plotly_specs(at)[0]["data"][0]["z"])
    np.testing.assert_allclose(shown, namespace["out"].last_hidden_state[0].numpy(), atol=1e-6)


def test_results_too_big_to_keep_are_refused_with_what_to_change():
    from app.compute import check_size
    from encoder import EncoderConfig

    cfg = EncoderConfig(d_model=768, n_heads=16, n_layers=12, d_ff=3072)
    check_size(cfg, 8, 512, attentions=False)  # the largest the sidebar allows: 164 MB, kept
    with pytest.raises(ValueError, match="Use fewer sentences, a smaller max_len, or fewer layers"):
        check_size(cfg, 8, 512, attentions=True)  # 1.8 GB of attention maps


def test_picked_sentence_survives_a_shorter_batch():
    at = new_app()
    at.text_area(key="text").set_value("a\nb\nc").run()
    at.selectbox(key="sentence").set_value("3 · c").run()
    at.text_area(key="text").set_value("a\nb").run()  # sentence 3 is gone
    assert_clean(at)
    assert at.selectbox(key="sentence").value == "1 · a"
