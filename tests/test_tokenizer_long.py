"""Pasted essays (issue 17, point 9): ``Tokenizer.encode`` reads each of the encoding's lists
once (each read copies the whole list out of Rust: 27.8 s for one 1,000,000-character line),
and cuts a long text at a space before tokenizing it, keeping exactly the tokens the whole
text would give and saying "of at least N tokens" when it did not count them all."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as HFTokenizer

from encoder import tokenizer as tokenizer_module
from encoder.pretrained import minilm_dir
from encoder.tokenizer import EXACT_CHARS, Tokenizer, default_tokenizer

SENTENCE = "The quick brown fox jumps over the lazy dog, naïvely — 東京 and Ünïcödé too. "


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return default_tokenizer()


class Spy:
    """Stands in for the ``tokenizers`` Tokenizer: counts reads of each encoding attribute and
    records the length of every text handed to it."""

    LISTS = ("ids", "tokens", "offsets", "special_tokens_mask", "word_ids")

    def __init__(self, real: HFTokenizer) -> None:
        self.real, self.reads, self.lengths = real, dict.fromkeys(self.LISTS, 0), []

    def encode(self, text: str):
        self.lengths.append(len(text))
        spy, enc = self, self.real.encode(text)

        class Counted:
            def __getattr__(self, name):
                if name in spy.reads:
                    spy.reads[name] += 1
                return getattr(enc, name)

            def __len__(self):
                return len(enc)

        return Counted()


def spied(tok: Tokenizer) -> tuple[Tokenizer, Spy]:
    copy = Tokenizer.__new__(Tokenizer)
    copy.__dict__.update(tok.__dict__)
    copy._tok = Spy(tok._tok)
    return copy, copy._tok


def whole(tok: Tokenizer, text: str, max_len: int) -> dict[str, list]:
    """What encode keeps, computed from the whole text's encoding (no cut)."""
    enc = tok._tok.encode(text)
    ids, tokens, offsets, word_ids = enc.ids, enc.tokens, enc.offsets, enc.word_ids
    n, special = len(ids), enc.special_tokens_mask
    tail = 0
    while n > max_len and tail < n and special[n - 1 - tail] and tail < max_len - 1:
        tail += 1
    keep = list(range(n)) if n <= max_len else [*range(max_len - tail), *range(n - tail, n)]
    return {
        "ids": [ids[i] for i in keep],
        "tokens": [tokens[i] for i in keep],
        "offsets": [tuple(offsets[i]) for i in keep],
        "word_ids": [word_ids[i] for i in keep],
        "n_total": n,
    }


def kept(enc) -> dict[str, list]:
    return {
        "ids": enc.ids,
        "tokens": enc.tokens,
        "offsets": enc.offsets,
        "word_ids": enc.word_ids,
    }


def test_each_list_is_read_once_however_many_tokens_are_kept(tok):
    copy, spy = spied(tok)
    enc = copy.encode(SENTENCE * 40, max_len=512)
    assert len(enc) == 512 and enc.truncated
    assert spy.reads == dict.fromkeys(Spy.LISTS, 1)


def test_a_million_characters_are_cut_before_tokenizing_and_say_at_least(tok):
    text = (SENTENCE * (1_000_000 // len(SENTENCE) + 1))[:1_000_000]
    copy, spy = spied(tok)
    enc = copy.encode(text, max_len=512)
    assert max(spy.lengths) < 2 * EXACT_CHARS < len(text)  # never the whole text
    assert spy.reads == dict.fromkeys(Spy.LISTS, 1)
    reference = whole(tok, text, 512)
    assert kept(enc) == {k: v for k, v in reference.items() if k != "n_total"}
    assert not enc.counted_all and 512 < enc.n_total < reference["n_total"]
    assert enc.truncation_message == f"kept the first 512 of at least {enc.n_total} tokens"
    assert enc.text == text and enc.cut_at == reference["offsets"][-2][1]


def test_a_text_the_app_can_hold_is_counted_exactly(tok):
    text = (SENTENCE * 2000)[:EXACT_CHARS]
    enc = tok.encode(text, max_len=128)
    assert enc.counted_all and enc.n_total == len(tok._tok.encode(text).ids)
    assert enc.truncation_message == f"kept the first 128 of {enc.n_total} tokens"


def test_one_unbroken_run_is_tokenized_whole(tok):
    text = "a" * (EXACT_CHARS * 3)  # no space to cut at: one word, one [UNK]
    enc = tok.encode(text, max_len=8)
    assert enc.counted_all and enc.tokens == ["[CLS]", "[UNK]", "[SEP]"]


def test_too_few_tokens_before_the_first_cut_tries_a_longer_part(tok):
    # long words of 120 letters are one [UNK] each: the first part holds too few tokens
    text = " ".join(["x" * 120] * 6000)
    copy, spy = spied(tok)
    enc = copy.encode(text, max_len=8192)
    assert len(spy.lengths) >= 2
    assert kept(enc) == {k: v for k, v in whole(tok, text, 8192).items() if k != "n_total"}


words = st.one_of(
    st.sampled_from(["the", "un", "##ing", "[PAD]", "[SEP]", "東京", "naïve", "e\u0301", "İ"]),
    st.text(alphabet="abcXYZ.,!?-'\u0301\u200b\x1c", min_size=1, max_size=130),
)
texts = st.lists(
    st.tuples(words, st.sampled_from([" ", "\n", "\t", "  ", "", "\x1c", "\u00a0"])),
    max_size=120,
).map(lambda parts: "".join(w + s for w, s in parts))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, max_len=st.integers(1, 12))
def test_a_cut_text_keeps_exactly_the_whole_texts_tokens(tok, text, max_len):
    """With the cut made early (EXACT_CHARS 0, 16 characters a token), any text with spaces,
    tabs, accents, CJK, long [UNK] words, typed specials and control characters keeps the
    same tokens, offsets and word ids as the whole text, and never counts more than it has."""
    with mock.patch.object(tokenizer_module, "EXACT_CHARS", 0):
        enc = tok.encode(text, max_len=max_len)
    reference = whole(tok, text, max_len)
    assert kept(enc) == {k: v for k, v in reference.items() if k != "n_total"}
    if enc.counted_all:
        assert enc.n_total == reference["n_total"]
    else:
        assert max_len < enc.n_total <= reference["n_total"]


def test_a_tokenizer_whose_words_may_span_spaces_is_never_cut(tmp_path):
    spec = json.loads((minilm_dir() / "tokenizer.json").read_text())
    spec["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(spec))
    other = Tokenizer.from_file(path)
    copy, spy = spied(other)
    text = SENTENCE * 3000
    with mock.patch.object(tokenizer_module, "EXACT_CHARS", 0):
        enc = copy.encode(text, max_len=16)
    assert spy.lengths == [len(text)] and enc.counted_all


def test_an_added_token_holding_a_space_turns_the_cut_off(tmp_path):
    spec = json.loads((minilm_dir() / "tokenizer.json").read_text())
    spec["added_tokens"].append(
        {"id": 30522, "content": "new york", "single_word": False, "lstrip": False,
         "rstrip": False, "normalized": True, "special": False}
    )  # fmt: skip
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(spec))
    assert not Tokenizer.from_file(path)._cuttable
    assert default_tokenizer()._cuttable
