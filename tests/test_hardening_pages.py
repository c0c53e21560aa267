"""Every page against the nasty corpus, sliders at both ends, model switches and hand-edited
links (issue 14): no exception, no HTML injection, a visible message where something was cut."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.state import MAX_SENTENCES
from tests.nasty import NASTY
from tests.test_app import MAIN

PAGES = {
    "encode": "views/encode.py",
    "attention": "views/attention.py",
    "positional": "views/positional.py",
    "projections": "views/projections.py",
    "padding": "views/padding.py",
    "inside": "views/inside_layer.py",
    "train": "views/train.py",
}


def page_app(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(PAGES[page])
    return at.run()


def assert_safe(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    for md in at.get("markdown"):  # only our own static HTML may be unsafe
        if md.proto.allow_html:
            body = md.proto.body.lower()
            assert "onerror" not in body and "<script" not in body and "<img" not in body


def said(at: AppTest) -> str:
    return " ".join(m.value for kind in ("warning", "info", "error") for m in at.get(kind))


@pytest.mark.parametrize("text", NASTY.values(), ids=NASTY.keys())
@pytest.mark.parametrize("page", PAGES)
def test_nasty_text_on_every_page(page, text):
    # the Positions page reads the sentences in its order test; its other views draw tables
    at = page_app(page, **({"pe_view": "Order test"} if page == "positional" else {}))
    at.sidebar.text_area(key="text").set_value(text).run()
    assert_safe(at)
    if page == "train":
        return  # the train page reads its own task inputs, not the sidebar's sentences
    if not text.strip():
        assert "Type a sentence" in said(at)
    elif len(text) >= 20_000:
        assert "kept the first" in said(at)
    elif len(text) >= 10_000:  # one word too long for WordPiece: said, not silent
        assert "the model reads [UNK] (unknown)" in said(at)
    elif text.count("\n") >= MAX_SENTENCES:
        assert f"Kept the first {MAX_SENTENCES} of" in said(at)


@pytest.mark.parametrize("page", PAGES)
def test_model_switches_mid_session(page):
    at = page_app(page, text="The cat sat on the mat.\nA dog barked.")
    for model in ("From scratch", "Pretrained", "From scratch"):
        at.sidebar.radio(key="model").set_value(model).run()
        assert_safe(at)


def ends(widget) -> list:
    if widget.type == "select_slider":
        return [widget.options[0], widget.options[-1]]
    return [widget.min, widget.max]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_slider_at_both_ends(page):
    at = page_app(page, model="From scratch", text="one two three\nfour")
    keys = [w.key for w in at.main.get("slider") + at.main.get("select_slider")]
    for key in keys:
        for end in (0, -1):
            found = [
                w for w in at.main.get("slider") + at.main.get("select_slider") if w.key == key
            ]
            if not found:  # another slider's end hid this one: that is allowed
                continue
            (widget,) = found
            widget.set_value(ends(widget)[end]).run()
            assert_safe(at)


@pytest.mark.parametrize("page", PAGES)
def test_hand_edited_links_with_out_of_range_values(page):
    at = page_app(page, model="From scratch", text="one two three\nfour")
    keys = list(at.session_state["_linked_keys"]) if "_linked_keys" in at.session_state else []
    for value in ("999999", "-7", "garbage", ""):
        params = {k: value for k in keys if k not in ("text", "model")}
        broken = page_app(page, model="From scratch", text="one two three\nfour", **params)
        assert_safe(broken)
        if value and params:
            assert "This link could not be followed exactly" in said(broken)
