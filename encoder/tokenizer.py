"""A small wrapper over the ``tokenizers`` library: ids, token strings, offsets, padded batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer as _HFTokenizer
from torch import Tensor

from .config import check_int


@dataclass(frozen=True)
class Encoding:
    """One text, tokenized (and possibly truncated). Lists have one entry per kept token."""

    text: str
    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]  # character span of each token in ``text``; (0, 0) for specials
    special: list[bool]  # True for [CLS], [SEP] and other tokens the tokenizer adds
    word_ids: list[int | None]  # which word each token belongs to; None for specials
    n_total: int  # tokens before truncation

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
        """ "kept the first 128 of 301 tokens", or None when nothing was cut."""
        if not self.truncated:
            return None
        return f"kept the first {len(self.ids)} of {self.n_total} tokens"

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

        Truncation keeps the leading tokens and the closing special tokens (e.g. [SEP]).
        """
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        if max_len is not None:
            check_int("max_len", max_len, minimum=1)
        # a lone surrogate (half of an emoji, say) cannot be UTF-8: it becomes one "?", so
        # character offsets still line up with the text
        text = text.encode("utf-8", "replace").decode("utf-8")
        enc = self._tok.encode(text)
        n = len(enc.ids)
        keep = list(range(n))
        if max_len is not None and n > max_len:
            tail = 0  # closing specials, such as [SEP], survive truncation
            while tail < n and enc.special_tokens_mask[n - 1 - tail] and tail < max_len - 1:
                tail += 1
            keep = list(range(max_len - tail)) + list(range(n - tail, n))
        return Encoding(
            text=text,
            ids=[enc.ids[i] for i in keep],
            tokens=[enc.tokens[i] for i in keep],
            offsets=[tuple(enc.offsets[i]) for i in keep],
            special=[bool(enc.special_tokens_mask[i]) for i in keep],
            word_ids=[enc.word_ids[i] for i in keep],
            n_total=n,
        )

    def encode_batch(self, texts: list[str], max_len: int | None = None) -> Batch:
        """Tokenize several texts and pad them to the longest. Shape: (B, S)"""
        return encode_padded(self, texts, max_len)


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
    from .pretrained import minilm_dir

    return Tokenizer.from_file(minilm_dir() / "tokenizer.json")
