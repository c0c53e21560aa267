"""Toy tasks: examples drawn from a seed, padded with the mask, labelled by each task's rule, and
an ideal attention pattern that really solves the task; the task tokenizer reads sidebar text."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from encoder.tasks import BLANK, IGNORE, PAD, TASKS, TaskTokenizer, get_task


def reference(name: str, digits: list[int]) -> list[str]:
    """The task's answer, written the plain way."""
    if name == "reverse":
        out = digits[::-1]
    elif name == "sort":
        out = sorted(digits)
    else:
        return [BLANK] * min(2, len(digits)) + [str(d) for d in digits[:-2]]
    return [str(d) for d in out]


@pytest.mark.parametrize("name", TASKS)
def test_batches_are_padded_masked_and_labelled_by_the_rule(name):
    task = get_task(name)
    batch = task.sample(256, torch.Generator().manual_seed(0))
    ids, mask, labels = batch.input_ids, batch.attention_mask, batch.labels
    assert ids.shape == mask.shape == labels.shape and ids.shape[0] == 256
    lengths = mask.sum(1)
    assert int(lengths.min()) == task.min_len and int(lengths.max()) == task.max_len
    assert ids.shape[1] == task.max_len  # padded to the longest
    assert bool((ids[mask == 0] == 0).all()) and bool((labels[mask == 0] == IGNORE).all())
    assert bool((ids[mask == 1] > 0).all())  # real tokens are never the padding id
    for row in range(256):
        n = int(lengths[row])
        digits = [int(task.vocab[i]) for i in ids[row, :n].tolist()]
        assert [task.labels[i] for i in labels[row, :n].tolist()] == reference(name, digits)


@pytest.mark.parametrize("name", TASKS)
def test_the_same_seed_gives_the_same_examples(name):
    task = get_task(name)
    a = task.sample(32, torch.Generator().manual_seed(7))
    b = task.sample(32, torch.Generator().manual_seed(7))
    c = task.sample(32, torch.Generator().manual_seed(8))
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.input_ids[:, :2], c.input_ids[:, :2])


def test_ideal_patterns_by_hand():
    ids = TaskTokenizer(get_task("reverse")).encode("3 1 4 1").ids
    np.testing.assert_array_equal(get_task("reverse").ideal_attention(ids), np.eye(4)[::-1])
    copy = get_task("copy-back").ideal_attention(ids)
    np.testing.assert_array_equal(copy, np.eye(4, k=-2))  # row i looks at i - 2; rows 0, 1 none
    sort = get_task("sort").ideal_attention(ids)  # sorted: 1 1 3 4
    expected = np.zeros((4, 4))
    expected[0, [1, 3]] = expected[1, [1, 3]] = 0.5  # either "1" will do
    expected[2, 0] = expected[3, 2] = 1.0
    np.testing.assert_array_equal(sort, expected)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(list(TASKS)), digits=st.lists(st.integers(0, 9), min_size=2, max_size=8)
)
def test_the_ideal_pattern_solves_the_task(name, digits):
    """Mixing one-hot tokens with the ideal weights yields each position's answer."""
    task = get_task(name)
    tok = TaskTokenizer(task)
    text = " ".join(map(str, digits))
    ideal = task.ideal_attention(tok.encode(text).ids)
    assert ideal.shape == (len(digits), len(digits))
    sums = ideal.sum(1)
    assert np.allclose(sums[sums > 0], 1.0) and set(np.round(sums, 6)) <= {0.0, 1.0}
    mixed = ideal @ np.eye(10)[digits]  # (n, 10): the digits each row reads
    said = [str(int(np.argmax(r))) if r.sum() else BLANK for r in mixed]
    assert said == reference(name, digits) == task.solve(text).split()
    assert np.allclose(mixed.max(1)[sums > 0], 1.0)  # no blend of different digits


def test_tokenizer_reads_digits_with_or_without_spaces():
    tok = TaskTokenizer(get_task("reverse"))
    spaced, packed = tok.encode("3 1 4"), tok.encode("314")
    assert spaced.ids == packed.ids == [4, 2, 5]  # id 0 is [PAD], digit d is d + 1
    assert spaced.tokens == ["3", "1", "4"] and spaced.offsets == [(0, 1), (2, 3), (4, 5)]
    assert spaced.special == [False] * 3 and spaced.word_ids == [0, 1, 2]
    assert spaced.words() == [("3", [0]), ("1", [1]), ("4", [2])]
    assert tok.pad_id == 0 and tok.pad_token == PAD and tok.vocab_size == 11
    cut = tok.encode("3 1 4 1 5", max_len=3)
    assert (
        cut.tokens == ["3", "1", "4"] and cut.truncation_message == "kept the first 3 of 5 tokens"
    )


def test_tokenizer_batch_pads_with_the_mask():
    batch = TaskTokenizer(get_task("sort")).encode_batch(["3 1 4 1", "2 7"])
    assert batch.input_ids.tolist() == [[4, 2, 5, 2], [3, 8, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]


@pytest.mark.parametrize(
    "text,said",
    [
        ("The cat sat.", "does not know the character(s) “.”, “T”, “a”, “c”, “e” and 3 more"),
        ("3 1 x", "does not know the character(s) “x”"),
        ("1\x07 2", "“\\u0007”"),
        ("   ", "nothing to read"),
        ("1" * 11, "has 11 tokens; the reverse model reads at most 10"),
    ],
)
def test_tokenizer_refuses_what_the_task_does_not_know(text, said):
    tok = TaskTokenizer(get_task("reverse"))
    tok.hint = "Try the sidebar's button."
    with pytest.raises(ValueError, match="reads") as err:
        tok.encode(text)
    assert said in str(err.value) and str(err.value).endswith("Try the sidebar's button.")
    assert "0 1 2 3 4 5 6 7 8 9" in str(err.value) or "at most" in str(err.value)


def test_unknown_task_and_bad_batch_are_refused():
    with pytest.raises(ValueError, match="unknown task 'copy'; the tasks are reverse, copy-back"):
        get_task("copy")
    with pytest.raises(ValueError, match="batch"):
        get_task("reverse").sample(0, torch.Generator())
    with pytest.raises(ValueError, match="non-empty list"):
        TaskTokenizer(get_task("reverse")).encode_batch([])
