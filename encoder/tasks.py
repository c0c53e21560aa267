"""Toy token-level tasks whose ideal attention is known, generated on the fly from a seed.

Each task reads a sequence of single-character tokens and asks for one label per position.
Sequences have random lengths in a batch, so they are padded (id 0, ``[PAD]``) and the
``attention_mask`` marks the real tokens; padded positions carry the label ``IGNORE`` so the loss
and the accuracy skip them. ``ideal_attention`` is the pattern a head that solves the task would
draw: query on rows, key on columns, each real row summing to 1 (or 0 where no key is needed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .config import check_int
from .tokenizer import Batch, Encoding, encode_padded

PAD = "[PAD]"
IGNORE = -100  # label of a padded position: F.cross_entropy's default ignore_index
DIGITS = tuple("0123456789")
BLANK = "_"  # the label of a position that has nothing to copy


@dataclass(frozen=True)
class TaskBatch:
    """A padded batch of examples. Shape: each (B, S); labels hold IGNORE on padding."""

    input_ids: Tensor
    attention_mask: Tensor
    labels: Tensor


@dataclass(frozen=True)
class Task:
    """A toy task: its tokens, its labels, the lengths it is trained on, and its rule."""

    name: str
    summary: str  # one line: what the label of each position is
    ideal: str  # one line: the attention pattern that solves it
    labels: tuple[str, ...]  # output classes, in the order of the head's outputs
    min_len: int = 2
    max_len: int = 10
    shift: int = 0  # "copy-back": how many places back the label is read
    example: str = "3 1 4 1 5 9 2 6"  # the fixed example whose attention is watched
    vocab: tuple[str, ...] = (PAD, *DIGITS)  # input tokens; the index is the id, 0 is padding

    def sample(self, batch: int, generator: torch.Generator) -> TaskBatch:
        """``batch`` fresh random examples with random lengths, drawn from ``generator``."""
        check_int("batch", batch, minimum=1, maximum=1 << 20)
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        lengths = torch.randint(self.min_len, self.max_len + 1, (batch,), generator=generator)
        S = int(lengths.max())
        mask = torch.arange(S)[None, :] < lengths[:, None]  # (B, S)
        ids = torch.randint(1, len(self.vocab), (batch, S), generator=generator)
        ids = ids.masked_fill(~mask, 0)
        return TaskBatch(ids, mask.long(), self.targets(ids, mask))

    def sources(self, ids: Tensor, mask: Tensor) -> Tensor:
        """For each position, the position whose token it outputs (-1: none). Shape: (B, S)"""
        mask = mask.bool()
        B, S = ids.shape
        pos = torch.arange(S).expand(B, S)
        n = mask.sum(1, keepdim=True)  # (B, 1) real lengths
        if self.name == "reverse":
            src = n - 1 - pos
        elif self.name == "sort":
            # stable: equal digits keep their order, so the i-th output reads one definite key
            key = ids.masked_fill(~mask, len(self.vocab))
            src = torch.sort(key, dim=1, stable=True).indices
        else:  # copy-back
            src = pos - self.shift
        return torch.where(mask & (src >= 0), src, -1)

    def targets(self, ids: Tensor, mask: Tensor) -> Tensor:
        """The label of every position; IGNORE on padding. Shape: (B, S)"""
        mask = mask.bool()
        src = self.sources(ids, mask)
        copied = ids.gather(1, src.clamp(min=0))  # token ids 1..10 are the digits 0..9
        out = torch.where(src >= 0, copied - 1, self.labels.index(BLANK) if self.shift else 0)
        return out.masked_fill(~mask, IGNORE)

    def ideal_attention(self, ids: list[int] | Tensor) -> np.ndarray:
        """The attention that solves the task for one unpadded sequence. Shape: (n, n)

        Row i spreads its weight evenly over the keys holding the token position i outputs
        (one key for reverse and copy-back; every equal digit for sort); rows that output
        nothing (the first places of copy-back) are all zero.
        """
        ids = torch.as_tensor(ids, dtype=torch.long)[None, :]
        src = self.sources(ids, torch.ones_like(ids))[0]
        n = ids.shape[1]
        out = np.zeros((n, n), dtype=np.float32)
        for i, j in enumerate(src.tolist()):
            if j < 0:
                continue
            if self.name == "sort":  # any key holding the wanted digit will do
                keys = (ids[0] == ids[0, j]).numpy()
                out[i, keys] = 1.0 / keys.sum()
            else:
                out[i, j] = 1.0
        return out

    def label_text(self, labels: list[int]) -> str:
        return " ".join(self.labels[i] for i in labels if i != IGNORE)

    def solve(self, text: str) -> str:
        """The right answer for a text of this task's tokens, labels separated by spaces."""
        enc = TaskTokenizer(self).encode(text)
        ids = torch.tensor([enc.ids])
        return self.label_text(self.targets(ids, torch.ones_like(ids))[0].tolist())

    def describe(self) -> dict:
        """What a checkpoint records about its task (plain JSON values)."""
        return {
            "name": self.name,
            "vocab": list(self.vocab),
            "labels": list(self.labels),
            "min_len": self.min_len,
            "max_len": self.max_len,
            "summary": self.summary,
            "ideal": self.ideal,
        }


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "reverse",
            "each position outputs the digit at the mirrored position: 3 1 4 → 4 1 3",
            "an anti-diagonal: position i looks at position n - 1 - i",
            labels=DIGITS,
        ),
        Task(
            "copy-back",
            "each position outputs the digit two places before it (_ when there is none): "
            "3 1 4 1 → _ _ 3 1",
            "a diagonal two places left of the main one: position i looks at i - 2",
            labels=(*DIGITS, BLANK),
            shift=2,
        ),
        Task(
            "sort",
            "position i outputs the i-th smallest digit: 3 1 4 1 → 1 1 3 4",
            "position i looks at the key holding the i-th smallest digit (ties in order)",
            labels=DIGITS,
            max_len=8,
            example="3 1 4 1 5 9 2 6",
        ),
    )
}


def get_task(name: str) -> Task:
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"unknown task {name!r}; the tasks are {', '.join(TASKS)}")
    return TASKS[name]


class TaskTokenizer:
    """Reads a task's text: every character that is not a space is one token, no specials.

    The same interface as ``encoder.tokenizer.Tokenizer`` (encode, encode_batch), so the app
    can feed the sidebar's sentences ("3 1 4 1 5" or "31415") to a trained model.
    """

    def __init__(self, task: Task, max_len: int | None = None) -> None:
        self.task = task
        self.max_len = task.max_len if max_len is None else max_len  # the model's limit
        self.pad_id = 0
        self.pad_token = PAD
        self.hint = ""  # said after every refusal, e.g. where to find valid input
        self._ids = {tok: i for i, tok in enumerate(task.vocab) if i}

    @property
    def vocab_size(self) -> int:
        return len(self.task.vocab)

    def id_to_token(self, token_id: int) -> str | None:
        return self.task.vocab[token_id] if 0 <= token_id < len(self.task.vocab) else None

    def expects(self) -> str:
        """What this tokenizer reads, in words."""
        tokens = " ".join(self.task.vocab[1:])
        return (
            f"{self.task.min_len} to {self.task.max_len} of the tokens {tokens} (one character "
            "each, spaces optional)"
        )

    def encode(self, text: str, max_len: int | None = None) -> Encoding:
        """One text as task tokens; refuses characters the task does not know, by name."""
        try:
            return self._encode(text, max_len)
        except ValueError as err:
            raise ValueError(f"{err}. {self.hint}".rstrip()) from None

    def _encode(self, text: str, max_len: int | None) -> Encoding:
        if not isinstance(text, str):
            raise ValueError(f"text must be a string, got {type(text).__name__}")
        if max_len is not None:
            check_int("max_len", max_len, minimum=1)
        spans = [(i, ch) for i, ch in enumerate(text) if not ch.isspace()]
        unknown = sorted({ch for _, ch in spans if ch not in self._ids})
        if unknown:
            shown = ", ".join(f"“{_printable(ch)}”" for ch in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise ValueError(
                f"the {self.task.name} model does not know the character(s) {shown}{more}: "
                f"it reads {self.expects()}"
            )
        if not spans:
            raise ValueError(f"nothing to read: the {self.task.name} model reads {self.expects()}")
        if len(spans) > self.max_len:
            raise ValueError(
                f"“{_printable(text[:24])}…” has {len(spans)} tokens; the {self.task.name} model "
                f"reads at most {self.max_len} (it was trained on {self.task.min_len} to "
                f"{self.task.max_len})"
            )
        if len(spans) < self.task.min_len:  # what expects() says, which the sidebar repeats
            count = f"{len(spans)} token" + ("" if len(spans) == 1 else "s")
            raise ValueError(
                f"“{_printable(text.strip()[:24])}” has {count}; the {self.task.name} model reads "
                f"{self.expects()}"
            )
        n_total = len(spans)
        spans = spans[:max_len] if max_len is not None else spans
        return Encoding(
            text=text,
            ids=[self._ids[ch] for _, ch in spans],
            tokens=[ch for _, ch in spans],
            offsets=[(i, i + 1) for i, _ in spans],
            special=[False] * len(spans),
            word_ids=list(range(len(spans))),
            n_total=n_total,
        )

    def encode_batch(self, texts: list[str], max_len: int | None = None) -> Batch:
        """Tokenize several texts and pad them to the longest. Shape: (B, S)"""
        return encode_padded(self, texts, max_len)


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)
