"""A small wrapper over the ``tokenizers`` library: ids, token strings, offsets, padded batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer as _HFTokenizer
from torch import Tensor

from .config import check_int
from .minilm import minilm_dir


@dataclass(frozen=True)
class Encoding:
    """One text, tokenized (and possibly truncated). Lists have one entry per kept token."""

    text: str
    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]  # character span of each token in ``text``; (0, 0) for specials
    special: list[bool]  # True for [CLS], [SEP] and other tokens the tokenizer adds
    word_ids: list[int | None]  # which word each token belongs to; None for specials
    n_total: int  # tokens before truncation (at least this many when ``counted_all`` is False)
    counted_all: bool = True  # False: a long text was cut before tokenizing (Tokenizer.encode)

    @property
    def truncated(self) -> bool:
        return self.n_total > len(self.ids)

    @property
    def cut_at(self) -> int | None:
        """Character offset in ``text`` where truncation cut it; None when nothing was cut."""
        if not self.truncated:
            return None
        pairs = zip(self.offsets, self.special, strict=True)
        return max((end for (_, end), special in pairs if not special), default=0)

    @property
    def truncation_message(self) -> str | None:
        """ "kept the first 128 of 301 tokens" ("of at least 301" when the text was cut before
        tokenizing), or None when nothing was cut."""
        if not self.truncated:
            return None
        at_least = "" if self.counted_all else "at least "
        return f"kept the first {len(self.ids)} of {at_least}{self.n_total} tokens"

    def __len__(self) -> int:
        return len(self.ids)

    def words(self) -> list[tuple[str, list[int]]]:
        """Group tokens into the words they spell: [("tokenization", [1, 2]), ("[SEP]", [3])].

        A word's text is its span in the original text; a special token stands alone.
        """
        groups: list[list[int]] = []
        last_word = None
        for i, (word, special) in enumerate(zip(self.word_ids, self.special, strict=True)):
            if not special and word is not None and word == last_word:
                groups[-1].append(i)
            else:
                groups.append([i])
            last_word = None if special else word
        return [(self._span_text(idx), idx) for idx in groups]

    def _span_text(self, indices: list[int]) -> str:
        if self.special[indices[0]]:
            return self.tokens[indices[0]]
        start, end = self.offsets[indices[0]][0], self.offsets[indices[-1]][1]
        return self.text[start:end]


@dataclass(frozen=True)
class Batch:
    """Several texts padded to one length, ready for ``Encoder.forward``."""

    input_ids: Tensor  # (B, S) int64, padding holds pad_id
    attention_mask: Tensor  # (B, S) int64, 1 = real token, 0 = padding
    encodings: list[Encoding]  # per text, unpadded

    @property
    def truncation_messages(self) -> list[str | None]:
        return [e.truncation_message for e in self.encodings]


# Cutting a long text before tokenizing it (Tokenizer.encode with max_len): these pre-tokenizers
# split words at every space, newline and tab and drop them, and these normalizers work character
# by character, so the text before such a break tokenizes exactly as it does inside the whole text.
CUT_PRE_TOKENIZERS = ("BertPreTokenizer", "Whitespace", "WhitespaceSplit")
CUT_NORMALIZERS = ("BertNormalizer", "Lowercase", "NFD", "NFKD", "NFC", "NFKC", "StripAccents")
BREAKS = " \n\t"
EXACT_CHARS = 100_000  # texts up to this long are tokenized whole (~50 ms), their tokens counted


class Tokenizer:
    """Loads a ``tokenizer.json``; never pads or truncates behind your back.

    Text that spells a special token, such as a typed "[PAD]" or "[CLS]", is tokenized as the
    plain text it is: only the tokenizer itself adds special tokens.
    """

    def __init__(self, hf_tokenizer: _HFTokenizer) -> None:
        self._tok = hf_tokenizer
        self._tok.no_truncation()
        self._tok.no_padding()
        self._tok.encode_special_tokens = True  # typed "[PAD]" stays text
        pad = self._tok.token_to_id("[PAD]")
        self.pad_id = 0 if pad is None else pad
        self.pad_token = self._tok.id_to_token(self.pad_id) or "[PAD]"
        self._cuttable = _cuttable(self._tok)

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"tokenizer file not found: {path}")
        try:
            return cls(_HFTokenizer.from_file(str(path)))
        except Exception as err:  # the library raises a bare Exception on malformed JSON
            raise ValueError(f"{path} is not a valid tokenizer.json: {err}") from err

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def id_to_token(self, token_id: int) -> str | None:
        return self._tok.id_to_token(token_id)

    def encode(self, text: str, max_len: int | None = None) -> Encoding:
        """Tokenize one text, adding special tokens; keep at most ``max_len`` tokens.

        Truncation keeps the leading tokens and the closing special tokens (e.g. [SEP]). A text
        over EXACT_CHARS characters is cut at a space before tokenizing, where the part before
        it already holds more than max_len tokens: the kept tokens are the same, and
        ``n_total`` then counts that part only ("kept the first 512 of at least 20,000").
        """
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        if max_len is not None:
            check_int("max_len", max_len, minimum=1)
        # a lone surrogate (half of an emoji, say) cannot be UTF-8: it becomes one "?", so
        # character offsets still line up with the text
        text = text.encode("utf-8", "replace").decode("utf-8")
        enc, counted_all = self._encode_enough(text, max_len)
        # every attribute read copies the whole list out of the Rust encoding: read each once
        ids, tokens, offsets = enc.ids, enc.tokens, enc.offsets
        special, word_ids = enc.special_tokens_mask, enc.word_ids
        n = len(ids)
        if max_len is not None and n > max_len:
            tail = 0  # closing specials, such as [SEP], survive truncation
            while tail < n and special[n - 1 - tail] and tail < max_len - 1:
                tail += 1
            head = max_len - tail
            ids, tokens, offsets, special, word_ids = (
                values[:head] + values[n - tail :]
                for values in (ids, tokens, offsets, special, word_ids)
            )
        return Encoding(
            text=text,
            ids=ids,
            tokens=tokens,
            offsets=[tuple(o) for o in offsets],
            special=[bool(s) for s in special],
            word_ids=word_ids,
            n_total=n,
            counted_all=counted_all,
        )

    def _encode_enough(self, text: str, max_len: int | None):
        """The tokenizer's encoding of the whole text, or of a part of it cut at a space that
        already holds more than ``max_len`` tokens; and whether it was the whole text."""
        if max_len is None or not self._cuttable:
            return self._tok.encode(text), True
        limit = max(EXACT_CHARS, 16 * max_len)  # English averages about 5 characters a token
        while len(text) > limit:
            breaks = [i for i in (text.find(ch, limit) for ch in BREAKS) if i >= 0]
            if not breaks:  # one unbroken run to the end: only the whole text says its tokens
                break
            enc = self._tok.encode(text[: min(breaks)])
            if len(enc) > max_len:  # len() copies nothing; enc.ids would copy the list
                return enc, False
            limit *= 4
        return self._tok.encode(text), True

    def encode_batch(self, texts: list[str], max_len: int | None = None) -> Batch:
        """Tokenize several texts and pad them to the longest. Shape: (B, S)"""
        return encode_padded(self, texts, max_len)


def _cuttable(tok: _HFTokenizer) -> bool:
    """Whether a text cut right before a space, newline or tab tokenizes, up to the cut, as
    the whole text does (see CUT_PRE_TOKENIZERS); added tokens must not hold or eat spaces."""
    normalizer = tok.normalizer
    if type(tok.pre_tokenizer).__name__ not in CUT_PRE_TOKENIZERS:
        return False
    if normalizer is not None and type(normalizer).__name__ not in CUT_NORMALIZERS:
        return False
    return not any(
        added.lstrip or added.rstrip or any(ch in added.content for ch in BREAKS)
        for added in tok.get_added_tokens_decoder().values()
        if not added.special  # specials are plain text here (encode_special_tokens)
    )


def encode_padded(tokenizer, texts: list[str], max_len: int | None) -> Batch:
    """``tokenizer.encode`` each text, then pad to the longest with ``tokenizer.pad_id``: the
    encode_batch of this tokenizer and of the toy tasks' one. Shape: (B, S)"""
    if not isinstance(texts, (list, tuple)) or not texts:
        raise ValueError("give a non-empty list of texts, one per sentence")
    encodings = [tokenizer.encode(t, max_len) for t in texts]
    seq = max(len(e) for e in encodings)
    ids = torch.full((len(texts), seq), tokenizer.pad_id, dtype=torch.long)
    mask = torch.zeros((len(texts), seq), dtype=torch.long)
    for row, e in enumerate(encodings):
        ids[row, : len(e)] = torch.tensor(e.ids, dtype=torch.long)
        mask[row, : len(e)] = 1
    return Batch(ids, mask, encodings)


def default_tokenizer() -> Tokenizer:
    """The bert-base-uncased WordPiece vocabulary (30,522 tokens) shipped with all-MiniLM-L6-v2."""
    return Tokenizer.from_file(minilm_dir() / "tokenizer.json")
