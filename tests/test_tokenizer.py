"""Tokenizer: ids, tokens, offsets and flags; anything pasted tokenizes; padded batches."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from encoder.tokenizer import Batch, Encoding, Tokenizer, default_tokenizer

CLS, SEP, PAD, UNK, MASK = 101, 102, 0, 100, 103
SPECIAL_IDS = {CLS, SEP, PAD, UNK, MASK}


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return default_tokenizer()


def check_consistent(enc: Encoding, max_len: int | None = None) -> None:
    """Invariants every encoding must satisfy, whatever the text."""
    n = len(enc.ids)
    assert len(enc) == n
    assert len(enc.tokens) == len(enc.offsets) == len(enc.special) == len(enc.word_ids) == n
    assert n >= 1
    assert enc.ids[0] == CLS and enc.tokens[0] == "[CLS]" and enc.special[0]
    if max_len is None or max_len >= 2:
        assert n >= 2
        assert enc.ids[-1] == SEP and enc.tokens[-1] == "[SEP]" and enc.special[-1]
    if max_len is not None:
        assert n <= max_len
    assert enc.n_total >= n
    assert enc.truncated == (enc.n_total > n)
    # only the tokenizer adds specials: none in the middle, and they carry no word or span
    assert not any(enc.special[1:-1])
    for token_id, is_special, word, span in zip(
        enc.ids, enc.special, enc.word_ids, enc.offsets, strict=True
    ):
        assert isinstance(token_id, int) and 0 <= token_id < 30522
        if is_special:
            assert word is None and span == (0, 0)
        else:
            assert token_id not in (PAD, CLS, SEP)
            assert word is not None and word >= 0
            start, end = span
            assert 0 <= start <= end <= len(enc.text)
    words = [w for w in enc.word_ids if w is not None]
    assert words == sorted(words), "word ids never go backwards"


# --- basics -------------------------------------------------------------------------------------


def test_vocab_size_and_pad(tok):
    assert tok.vocab_size == 30522
    assert tok.pad_id == PAD
    assert tok.pad_token == "[PAD]"
    assert tok.id_to_token(CLS) == "[CLS]"
    assert tok.id_to_token(SEP) == "[SEP]"


def test_encode_ids_tokens_offsets_special(tok):
    enc = tok.encode("Hello World")
    assert enc.text == "Hello World"
    assert enc.ids == [CLS, 7592, 2088, SEP]
    assert enc.tokens == ["[CLS]", "hello", "world", "[SEP]"]
    assert enc.offsets == [(0, 0), (0, 5), (6, 11), (0, 0)]
    assert enc.special == [True, False, False, True]
    assert enc.word_ids == [None, 0, 1, None]
    assert enc.n_total == 4
    assert not enc.truncated
    assert enc.truncation_message is None
    assert all(isinstance(span, tuple) for span in enc.offsets)


def test_offsets_point_at_the_words(tok):
    text = "The Quick brown FOX jumps over the lazy dog, twice: 42 times!"
    enc = tok.encode(text)
    check_consistent(enc)
    for token, (start, end), special in zip(enc.tokens, enc.offsets, enc.special, strict=True):
        if not special:
            assert text[start:end].lower() == token.removeprefix("##")


def test_subword_pieces_share_a_word_id(tok):
    text = "tokenization is fun"
    enc = tok.encode(text)
    assert enc.tokens == ["[CLS]", "token", "##ization", "is", "fun", "[SEP]"]
    assert enc.word_ids == [None, 0, 0, 1, 2, None]
    assert enc.offsets[1:3] == [(0, 5), (5, 12)]
    assert text[enc.offsets[1][0] : enc.offsets[2][1]] == "tokenization"


def test_id_to_token_round_trips(tok):
    enc = tok.encode("unbelievable results")
    assert [tok.id_to_token(i) for i in enc.ids] == enc.tokens


@pytest.mark.parametrize(
    ("text", "piece"),
    [("漢字", "漢"), ("مرحبا", "م"), ("Ünïcödé", "unicode")],
    ids=["cjk", "arabic", "accents-stripped"],
)
def test_offsets_in_non_ascii_text_are_character_offsets(tok, text, piece):
    enc = tok.encode("😀 " + text)  # an astral character first: offsets must count characters
    check_consistent(enc)
    assert enc.tokens[1] == "[UNK]" and enc.offsets[1] == (0, 1)
    assert enc.tokens[2] == piece
    start, end = enc.offsets[2]
    assert start == 2
    assert enc.text[start:end].lower() in (piece, text.lower())


# --- anything a person can paste ----------------------------------------------------------------

PASTED = {
    "empty": "",
    "spaces": "   ",
    "newlines-tabs": "\n\t\r\n  \t",
    "emoji": "I love 🤖 and 👩‍👩‍👧 and 🇫🇷!",
    "cjk": "我爱自然语言处理。日本語のテキスト、한국어 문장",
    "arabic": "اللغة العربية جميلة جدا",
    "hebrew-rtl-mark": "שלום \u200fעולם",
    "combining": "cafe\u0301 nai\u0308ve Z\u0351\u0300\u0489algo",
    "zero-width": "a\u200bb\u200dc\ufeffd \u200b\u200d\ufeff",
    "only-zero-width": "\u200b\u200d\ufeff",
    "control": "bell\x07 nul\x00 esc\x1b[31mred\x1b[0m",
    "only-control": "\x00\x07\x1b",
    "literal-specials": "[PAD] [CLS] [SEP] [MASK] [UNK]",
    "literal-specials-glued": "[CLS][PAD][SEP]x[MASK]",
    "html": "<script>alert(1)</script>",
    "markdown": "# Title\n\n* **bold** _it_ `code`\n\n| a | b |\n|---|---|\n[link](http://x.y)",
    "latex": r"$\frac{a}{b} + \sum_{i=0}^{n} x_i^2 = \int_0^1 f(x)\,dx$",
    "long-word": "x" * 500,
    "math-alnum": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛",
    "separators": "line\u2028para\u2029end",
    "replacement-char": "\ufffd\ufffd",
}


@pytest.mark.parametrize("text", list(PASTED.values()), ids=list(PASTED))
def test_pasted_text_tokenizes(tok, text):
    enc = tok.encode(text)
    check_consistent(enc)
    assert not enc.truncated


@pytest.mark.parametrize("text", ["", "   ", "\x00\x07\x1b", "\u200b\u200d\ufeff"])
def test_text_with_nothing_to_tokenize_gives_cls_sep(tok, text):
    enc = tok.encode(text)
    assert enc.ids == [CLS, SEP]
    assert enc.special == [True, True]


@pytest.mark.parametrize("literal", ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"])
def test_typed_special_tokens_are_plain_text(tok, literal):
    enc = tok.encode(f"before {literal} after")
    check_consistent(enc)
    middle = enc.ids[1:-1]
    assert not SPECIAL_IDS & set(middle), f"{literal} became a special id: {enc.tokens}"
    assert literal.strip("[]").lower() in "".join(enc.tokens[1:-1]).replace("##", "")
    assert enc.tokens[2] == "["


def test_typed_specials_in_a_batch_are_not_padding(tok):
    batch = tok.encode_batch(["[PAD] [PAD]", "[CLS]"])
    # every real position holds a non-pad id; padding appears only where the mask is 0
    assert ((batch.input_ids == PAD) == (batch.attention_mask == 0)).all()


def test_script_tag_is_just_punctuation_and_words(tok):
    enc = tok.encode("<script>alert(1)</script>")
    assert enc.tokens[1:-1] == ["<", "script", ">", "alert", "(", "1", ")", "<", "/", "script", ">"]


def test_20000_characters(tok):
    text = ("The quick brown fox jumps over the lazy dog. " * 500)[:20_000]
    assert len(text) == 20_000
    full = tok.encode(text)
    check_consistent(full)
    assert full.n_total == len(full) > 4000
    assert full.truncation_message is None

    cut = tok.encode(text, max_len=128)
    check_consistent(cut, max_len=128)
    assert len(cut) == 128
    assert cut.truncated
    assert cut.n_total == full.n_total
    assert cut.truncation_message == f"kept the first 128 of {full.n_total} tokens"
    assert cut.ids[:127] == full.ids[:127]  # the leading tokens are kept ...
    assert cut.ids[-1] == SEP and cut.special[-1]  # ... and [SEP] still closes the sequence
    assert cut.offsets[:127] == full.offsets[:127]
    assert cut.word_ids[:127] == full.word_ids[:127]


def test_20000_characters_without_spaces(tok):
    enc = tok.encode("a" * 20_000, max_len=128)
    check_consistent(enc, max_len=128)
    mixed = tok.encode("日本語😀x" * 4000, max_len=128)
    check_consistent(mixed, max_len=128)
    assert len(mixed) == 128
    assert mixed.truncation_message == f"kept the first 128 of {mixed.n_total} tokens"


def test_max_len_at_or_above_length_cuts_nothing(tok):
    n = len(tok.encode("one two three"))
    for max_len in (n, n + 1, 512):
        enc = tok.encode("one two three", max_len=max_len)
        assert len(enc) == n
        assert enc.truncation_message is None


def test_max_len_two_keeps_cls_and_sep(tok):
    enc = tok.encode("one two three", max_len=2)
    assert enc.ids == [CLS, SEP]
    assert enc.truncation_message == "kept the first 2 of 5 tokens"


@pytest.mark.parametrize("max_len", [0, -1])
def test_max_len_must_be_positive(tok, max_len):
    with pytest.raises(ValueError, match="max_len"):
        tok.encode("hello", max_len=max_len)


@pytest.mark.parametrize("bad", [None, 123, b"bytes", ["a list"], 1.5])
def test_encode_refuses_non_strings(tok, bad):
    with pytest.raises(ValueError, match="string"):
        tok.encode(bad)


def test_lone_surrogate_becomes_a_replacement_character(tok):
    enc = tok.encode("abc \ud800 def")  # e.g. from json.loads('"\\ud800"')
    check_consistent(enc)
    assert enc.tokens == ["[CLS]", "abc", "?", "def", "[SEP]"]


@settings(max_examples=50, deadline=None)
@given(text=st.text())
def test_any_text_encodes(tok, text):
    check_consistent(tok.encode(text))


@settings(max_examples=50, deadline=None)
@given(text=st.text(min_size=0, max_size=300), max_len=st.integers(1, 64))
def test_any_text_respects_max_len(tok, text, max_len):
    enc = tok.encode(text, max_len=max_len)
    check_consistent(enc, max_len=max_len)
    full = tok.encode(text)
    assert enc.n_total == len(full)
    assert len(enc) == min(max_len, len(full))
    if enc.truncated:
        assert enc.truncation_message == f"kept the first {max_len} of {len(full)} tokens"
    else:
        assert enc.ids == full.ids


# --- batches ------------------------------------------------------------------------------------


def test_encode_batch_pads_to_the_longest(tok):
    texts = ["short", "a somewhat longer sentence with several words", "", "two words"]
    batch = tok.encode_batch(texts)
    assert isinstance(batch, Batch)
    lengths = [len(tok.encode(t)) for t in texts]
    assert batch.input_ids.shape == batch.attention_mask.shape == (len(texts), max(lengths))
    assert batch.input_ids.dtype == torch.int64
    assert batch.attention_mask.dtype == torch.int64
    assert [e.text for e in batch.encodings] == texts
    for row, (text, n) in enumerate(zip(texts, lengths, strict=True)):
        assert batch.input_ids[row, :n].tolist() == tok.encode(text).ids
        assert batch.input_ids[row, n:].eq(tok.pad_id).all()
        assert batch.attention_mask[row, :n].eq(1).all()
        assert batch.attention_mask[row, n:].eq(0).all()
    assert batch.attention_mask.sum(1).tolist() == lengths
    assert set(batch.attention_mask.unique().tolist()) <= {0, 1}
    assert batch.truncation_messages == [None] * len(texts)


def test_encode_batch_of_one_has_no_padding(tok):
    batch = tok.encode_batch(["just one"])
    assert batch.attention_mask.eq(1).all()
    assert batch.input_ids[0].tolist() == tok.encode("just one").ids


def test_encode_batch_truncates_each_text(tok):
    long = "word " * 300
    batch = tok.encode_batch([long, "short one"], max_len=16)
    assert batch.input_ids.shape == (2, 16)
    assert batch.input_ids[0, -1].item() == SEP
    assert batch.truncation_messages == ["kept the first 16 of 302 tokens", None]
    assert batch.attention_mask[1].sum().item() == 4


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=80), min_size=1, max_size=5))
def test_any_batch_masks_exactly_the_real_tokens(tok, texts):
    batch = tok.encode_batch(texts)
    lengths = [len(e) for e in batch.encodings]
    assert batch.input_ids.shape == (len(texts), max(lengths))
    expected = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    assert torch.equal(batch.attention_mask, expected.long())
    assert batch.input_ids[~expected].eq(tok.pad_id).all()


@pytest.mark.parametrize("bad", ["a bare string", [], ()], ids=["str", "empty-list", "empty-tuple"])
def test_encode_batch_refuses_a_string_or_nothing(tok, bad):
    with pytest.raises(ValueError, match="non-empty list"):
        tok.encode_batch(bad)


@pytest.mark.parametrize("bad", [["fine", None], [1, 2], ["ok", b"bytes"]])
def test_encode_batch_refuses_non_string_items(tok, bad):
    with pytest.raises(ValueError, match="string"):
        tok.encode_batch(bad)


# --- loading ------------------------------------------------------------------------------------


def test_from_file_missing_or_malformed(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        Tokenizer.from_file(tmp_path / "nope.json")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"not a valid tokenizer\.json"):
        Tokenizer.from_file(bad)


def test_truncation_says_where_the_text_was_cut(tok):
    text = "one two three four five six"
    enc = tok.encode(text, max_len=5)  # [CLS] one two three [SEP]
    assert enc.tokens == ["[CLS]", "one", "two", "three", "[SEP]"]
    assert enc.cut_at == len("one two three") and text[enc.cut_at :] == " four five six"
    assert tok.encode(text).cut_at is None
