"""AppTest (issue 17, points 9, 11, 22): the sentence box holds 50,000 characters and says so
when a paste reaches that; a file uploaded as a checkpoint is named for what it is before
anything else, a checkpoint whose weights overflow or whose config is huge is refused in the
library's words; "Try it" keeps the rule the sidebar states (2 to 10 tokens)."""

from __future__ import annotations

import io
import json
import struct

import pytest
import safetensors.torch
import torch
from streamlit.testing.v1 import AppTest

from app.compute import train as jobs
from app.state import ASSETS
from tests.test_app import MAIN, assert_clean

pytestmark = pytest.mark.slow
SHIPPED = ASSETS / "checkpoints"
LIMIT = 50_000


def train_page() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.switch_page("views/train.py").run()
    assert_clean(at)
    return at


def test_the_sentence_box_holds_50000_characters_and_says_so_when_full():
    at = AppTest.from_file(MAIN, default_timeout=300).run()
    box = at.sidebar.text_area(key="text")
    assert box.proto.max_chars == LIMIT and f"{LIMIT:,} characters" in box.proto.help
    assert not [w for w in at.sidebar.warning if "characters at most" in w.value]
    # what a hostile client sends: a browser itself cuts a paste at the box's maxlength
    box.set_value("A long pasted line of words. " * 2000).run()  # 58,000 characters, one line
    assert_clean(at)
    assert len(at.sidebar.text_area(key="text").value) == LIMIT
    (full,) = [w for w in at.sidebar.warning if "characters at most" in w.value]
    assert full.value.startswith(f"The box holds {LIMIT:,} characters at most, and it is full")
    assert "kept the first 128 of " in " ".join(w.value for w in at.warning)


def parts(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def refusals() -> dict[str, tuple[bytes, str]]:
    good = (SHIPPED / "reverse.safetensors").read_bytes()
    header, _ = parts(good)
    meta = header["__metadata__"]
    tensors = safetensors.torch.load(good)
    tensors["encoder.tok_embed.weight"] = torch.full_like(tensors["encoder.tok_embed.weight"], 3e38)
    huge = dict(meta, config=json.dumps({**json.loads(meta["config"]), "d_model": 10**18}))
    pickled = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, pickled)
    return {
        "text": (b"hello there, my weights\n" * 40, "is a text file, not a safetensors checkpoint"),
        "html": (b"<!doctype html><html><body>Download</body></html>", "is a web page (HTML)"),
        "torch zip": (pickled.getvalue(), "is a pickle (a PyTorch torch.save zip archive"),
        "old pickle": (
            b"cposix\nsystem\n(S'echo hi'\ntR.",
            "is a pickle (Python pickle protocol 0",
        ),
        "3e38 weights": (
            safetensors.torch.save(tensors, meta),
            "tensor 'encoder.tok_embed.weight' holds a weight of 3e+38",
        ),
        "huge d_model": (
            safetensors.torch.save(safetensors.torch.load(good), huge),
            "d_model (1000000000000000000) must be at most 8,192",
        ),
    }


def test_an_upload_is_named_for_what_it_is_and_refused_in_the_librarys_words():
    at = train_page()
    for case, (data, said) in refusals().items():
        at.file_uploader(key="upload").upload(f"{case}.safetensors", data).run()
        assert_clean(at)
        (error,) = at.error
        said_first = f"Not loaded, nothing changed: the uploaded file {said}"
        assert error.value.startswith(said_first) or (  # what the file is comes first
            not said.startswith("is ") and said in error.value
        ), (case, error.value)
        assert jobs.MODELS not in at.session_state
        at.file_uploader(key="upload").set_value(None).run()


def test_try_it_keeps_the_rule_the_sidebar_states():
    at = train_page()
    at.file_uploader(key="upload").upload(
        "r.safetensors", (SHIPPED / "reverse.safetensors").read_bytes()
    ).run()
    assert_clean(at)
    assert at.subheader[0].value == "Result: reverse · uploaded"
    at.text_input(key="try").input("5").run()
    assert_clean(at)
    (warning,) = [w for w in at.warning if "token" in w.value]
    assert "“5” has 1 token; the reverse model reads 2 to 10 of the tokens" in warning.value
    at.text_input(key="try").input("3 1").run()
    assert not [w for w in at.warning if "token" in w.value]
    assert any("Input `3 1` → the model says `1 3`" in md.value for md in at.markdown)
