"""AppTest: the Positions page's order test (shuffle a sentence, with and without positions)
against encoder.experiments.order_test, on every model; links and odd input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app.compute import positional as pc
from encoder import Encoder, EncoderConfig
from encoder.experiments import order_test
from encoder.pretrained import load_minilm
from encoder.tokenizer import default_tokenizer
from tests.test_app import MAIN, assert_clean
from tests.test_positional_page import (
    SCRATCH,
    box_medians,
    exec_snippet,
    figure,
    metrics,
    page,
    page_text,
    sidebar_config,
)


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    return load_minilm().model


# ---- the order test -------------------------------------------------------------------------


def expected_order(model: Encoder, text: str, seed: int, max_len: int = 128) -> tuple:
    enc = default_tokenizer().encode(text, max_len=max_len)
    perm = pc.shuffle(len(enc), seed, tuple(enc.special))
    ids = torch.tensor([enc.ids])
    return (
        order_test(model, ids, list(perm), use_positions=False),
        order_test(model, ids, list(perm), use_positions=True),
        [enc.tokens[j] for j in perm],
    )


def check_order(at: AppTest, model: Encoder, text: str, seed: int) -> None:
    without, with_pos, shuffled = expected_order(model, text, seed)
    shown = metrics(at)
    assert shown["Without position vectors"] == f"{without:.2e}"
    assert shown["With position vectors"] == f"{with_pos:.3g}"
    bars = figure(at, "max |outputs(shuffled)")["data"][0]["customdata"]
    assert list(bars) == [without, with_pos]
    assert without < 1e-4 and with_pos > 1e-2  # float noise, then a clear change
    assert at.text[1].value == "shuffled:  " + "  ".join(shuffled)
    ns = exec_snippet(at)
    assert (ns["without"], ns["with_positions"]) == (without, with_pos)


def test_order_test_on_the_pretrained_model_and_a_new_shuffle(minilm):
    text = "the dog bites the man in the park"
    at = page(pe_view="Order test", text=text)
    check_order(at, minilm, text, 0)
    before = at.text[1].value
    at.button[0].click().run()
    assert_clean(at)
    assert at.number_input(key="pe_shuffle").value == 1
    assert at.text[1].value != before
    check_order(at, minilm, text, 1)


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_order_test_on_from_scratch_models_in_train_mode_too(positional):
    text = "man bites dog"
    at = page(pe_view="Order test", text=text, positional=positional, train="true", **SCRATCH)
    model = Encoder(EncoderConfig(**sidebar_config(positional)), seed=0)
    check_order(at, model, text, 0)  # the test runs in eval mode whatever the sidebar says
    assert "dropout is off for this test" in page_text(at)


def test_a_link_reproduces_the_shuffle_and_the_picked_sentence(minilm):
    text = "one two three\nthe cat sat on the warm mat\nshort one"
    at = page(pe_view="Order test", text=text, sentence="2 · the cat sat on the warm mat")
    at.button[0].click().run()
    at.button[0].click().run()
    link = dict(pe_view="Order test", text=text, pe_shuffle="2")
    link["sentence"] = "2 · the cat sat on the warm mat"
    again = page(**link)
    assert again.text[1].value == at.text[1].value
    assert metrics(again) == metrics(at)
    check_order(again, minilm, "the cat sat on the warm mat", 2)


def test_order_test_and_sizes_on_a_shipped_trained_model(monkeypatch):
    from encoder import checkpoint

    root = Path(MAIN).parents[1]
    ckpt = checkpoint.load(root / "assets" / "checkpoints" / "reverse.safetensors")
    model, tok = ckpt.model.encoder, ckpt.tokenizer()
    at = page(pe_view="Order test", model="Trained", trained="reverse", text="3 1 4 1 5 9")
    enc = tok.encode("3 1 4 1 5 9")
    perm = list(pc.shuffle(len(enc), 0, tuple(enc.special)))
    ids = torch.tensor([enc.ids])
    without = order_test(model, ids, perm, use_positions=False)
    with_pos = order_test(model, ids, perm, use_positions=True)
    assert metrics(at)["Without position vectors"] == f"{without:.2e}"
    assert metrics(at)["With position vectors"] == f"{with_pos:.3g}"
    monkeypatch.chdir(root)  # the snippet loads assets/checkpoints/reverse.safetensors
    ns = exec_snippet(at)
    assert (ns["without"], ns["with_positions"]) == (without, with_pos)
    at.segmented_control(key="pe_view").set_value("Sizes").run()
    assert_clean(at)
    token = torch.linalg.vector_norm(model.tok_embed.weight.detach(), dim=1).numpy()
    assert box_medians(at)["token embedding"] == pytest.approx(np.median(token), rel=1e-6)


def test_text_a_trained_model_cannot_read_gets_a_message():
    at = page(pe_view="Order test", model="Trained", trained="reverse", text="the cat sat")
    assert "Could not read sentence 1" in at.error[0].value
    assert "Use the task's inputs" in at.error[0].value


@pytest.mark.parametrize(
    "text,message",
    [("hello", "nothing to shuffle"), ("", "Type a sentence"), ("   \n  ", "Type a sentence")],
)
def test_order_test_with_nothing_to_shuffle_says_so(text, message):
    at = page(pe_view="Order test", text=text)
    assert message in at.info[0].value


def test_order_test_on_a_long_text_says_where_it_was_cut():
    at = page(pe_view="Order test", text="word " * 300, max_len="32")
    assert "kept the first 32 of 302 tokens" in at.warning[0].value
    assert len(at.text[0].value.split()) == 1 + 32  # "original:" and the kept tokens


def test_eight_sentences_give_a_picker_and_weird_text_does_not_break_it():
    lines = [
        "<script>alert(1)</script> dog bites man",
        "🤖 bites 🧠",
        *[f"s {i}" for i in range(6)],
    ]
    at = page(pe_view="Order test", text="\n".join(lines))
    assert len(at.selectbox(key="sentence").options) == 8
    assert "<script>" not in "".join(m.value for m in at.markdown)
