"""AppTest: the Attention page's Compare view. A query token picked in each sentence, its row
summed into words (so different tokenisations compare), lined up word by word, every head's
distance; the numbers against the library's forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from app.compute import attention as attn
from tests.test_app import assert_clean
from tests.test_attention_page import canvas, page, real, reference

BANKS = ["She sat on the river bank.", "He opened a bank account."]
# [CLS] she sat on the river bank . [SEP]  /  [CLS] he opened a bank account . [SEP]
SHARED = {0: 0, 6: 4, 7: 6, 8: 7}  # the words both have: [CLS], bank, ".", [SEP]


def distance(a: np.ndarray, b: np.ndarray, shared: dict[int, int]) -> np.ndarray:
    """Total variation between two rows over words, ``shared`` lined up, the rest apart.

    Shape: a (..., Wa), b (..., Wb) -> (...)"""
    alone_a = [i for i in range(a.shape[-1]) if i not in shared]
    alone_b = [j for j in range(b.shape[-1]) if j not in shared.values()]
    both = sum(np.abs(a[..., i] - b[..., j]) for i, j in shared.items())
    return (both + a[..., alone_a].sum(-1) + b[..., alone_b].sum(-1)) / 2


def test_the_bank_example_end_to_end():
    at = page(text="\n".join(BANKS), view="Compare", layer="2", head="7")
    assert at.selectbox(key="other").value.startswith("2 · He opened")
    at.selectbox(key="token").set_value("6 · bank").run()
    assert_clean(at)
    assert at.selectbox(key="otoken").value == "4 · bank"  # the same word, picked for us
    row_a, row_b, diff = canvas(at, "compare_token")
    (heads,) = canvas(at, "compare_heads")
    att, batch = reference(BANKS)
    a, b = real(att, batch, 0), real(att, batch, 1)  # (L, H, 9, 9), (L, H, 8, 8)
    # every word is one token here: the bars are the two query rows of the forward pass
    np.testing.assert_allclose(row_a["values"], a[2, 7, 6], atol=1e-6)
    np.testing.assert_allclose(row_b["values"], b[2, 7, 4], atol=1e-6)
    assert row_a["labels"][6] == "6 · bank" and row_a["highlight"] == 6
    assert row_b["labels"][5] == "5 · account" and row_b["highlight"] == 4
    assert "where “bank” looks" in row_a["title"] and "L2 H7" in row_b["title"]
    # every head's distance between the two banks' rows
    expected = distance(a[:, :, 6, :], b[:, :, 4, :], SHARED)  # (L, H)
    np.testing.assert_allclose(heads["z"], expected, atol=1e-6)
    assert heads["pick"] and heads["selected"] == [2, 7]
    assert heads["rows"][0] == "L0" and heads["cols"][-1] == "H11"
    assert 0.05 < expected.max() <= 1 and expected.min() >= 0
    # the difference only on the words both sentences have
    assert diff["labels"] == ["0 · [CLS]", "6 · bank", "7 · .", "8 · [SEP]"]
    np.testing.assert_allclose(
        diff["values"], [b[2, 7, 4, j] - a[2, 7, 6, i] for i, j in SHARED.items()], atol=1e-6
    )
    assert diff["diverging"] and "She, sat, on, the, river" in diff["note"]
    assert "He, opened, a, account" in diff["note"]
    # the two whole maps are still drawn; their sizes differ, so no token-by-token difference
    assert len(canvas(at, "compare")) == 2
    assert "No token-by-token difference map" in " ".join(c.value for c in at.caption)


def test_the_bank_pickers_are_in_the_link_and_reopen_it():
    at = page(text="\n".join(BANKS), view="Compare", layer="1", head="3")
    at.selectbox(key="token").set_value("6 · bank").run()
    link = next(c.value for c in at.code if "?" in c.value)
    for part in ("view=Compare", "token=6+%C2%B7+bank", "otoken=4+%C2%B7+bank", "other=2"):
        assert part in link
    again = page(text="\n".join(BANKS), view="Compare", layer="1", head="3",
                 token="6 · bank", otoken="4 · bank")  # fmt: skip
    assert again.selectbox(key="otoken").value == "4 · bank"
    assert canvas(again, "compare_token")[1]["values"] == canvas(at, "compare_token")[1]["values"]


def test_words_line_up_where_the_tokenisations_differ():
    texts = ["The tokenization works.", "The cat works."]  # 7 and 6 tokens, 5 words each
    at = page(text="\n".join(texts), view="Compare", layer="4", head="2",
              token="4 · works", otoken="3 · works")  # fmt: skip
    row_a, row_b, diff = canvas(at, "compare_token")
    att, batch = reference(texts)
    a, b = real(att, batch, 0), real(att, batch, 1)
    assert batch.encodings[0].tokens[2:4] == ["token", "##ization"]
    words_a = [a[4, 2, 4, 0], a[4, 2, 4, 1], a[4, 2, 4, 2] + a[4, 2, 4, 3], *a[4, 2, 4, 4:]]
    np.testing.assert_allclose(row_a["values"], words_a, atol=1e-6)
    assert row_a["labels"][2] == "2 · tokenization" and np.isclose(sum(row_a["values"]), 1)
    np.testing.assert_allclose(row_b["values"], b[4, 2, 3], atol=1e-6)
    assert diff["labels"][2] == "2 · tokenization / cat" and diff["note"] is None
    np.testing.assert_allclose(
        diff["values"], np.array(row_b["values"]) - np.array(words_a), atol=1e-6
    )


def test_hidden_special_tokens_leave_the_words_renormalised():
    at = page(text="\n".join(BANKS), view="Compare", hide="true", token="6 · bank")
    row_a, row_b, diff = canvas(at, "compare_token")
    assert "[CLS]" not in " ".join(row_a["labels"] + row_b["labels"])
    assert np.isclose(sum(row_a["values"]), 1) and np.isclose(sum(row_b["values"]), 1)
    assert diff["labels"] == ["6 · bank", "7 · ."]


@pytest.mark.parametrize("hide", ["false", "true"])
def test_compare_snippet_prints_the_rows_of_the_page(hide):
    at = page(text="\n".join(BANKS), view="Compare", layer="3", head="0", token="6 · bank",
              hide=hide)  # fmt: skip
    code = next(c.value for c in at.code if "row2" in c.value)
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), namespace)
    row_a, row_b, _ = canvas(at, "compare_token")
    if hide == "false":
        np.testing.assert_allclose([x for _, x in namespace["row"]], row_a["values"], atol=1e-6)
        np.testing.assert_allclose([x for _, x in namespace["row2"]], row_b["values"], atol=1e-6)
    assert [w for w, _ in namespace["row"]][6] == "bank" and namespace["qb"] == 4


def test_align_words_pairs_equal_and_swapped_words_only():
    pairs = attn.align_words(["[CLS]", "The", "cat", "sat"], ["[CLS]", "the", "dog", "sat"])
    assert pairs == [(0, 0), (1, 1), (2, 2), (3, 3)]
    pairs = attn.align_words(["a", "b", "c", "x"], ["a", "y", "x"])
    assert (0, 0) in pairs and (3, 2) in pairs and (1, None) in pairs and (None, 1) in pairs
    rows = np.array([[0.5, 0.5, 0.0, 0.0]]), np.array([[0.5, 0.0, 0.5]])
    np.testing.assert_allclose(attn.row_distance(*rows, pairs), [0.5])  # b's 0.5 moved to y


def test_compare_two_sentences_and_their_difference():
    texts = ["The cat sat on the mat.", "The dog sat on the mat."]
    at = page(text="\n".join(texts), view="Compare", layer="0", head="1")
    a, b, diff = canvas(at, "compare")
    att, _ = reference(texts)
    np.testing.assert_allclose(a["z"], att[0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(b["z"], att[0, 1, 1], atol=1e-6)
    np.testing.assert_allclose(diff["z"], att[0, 1, 1] - att[0, 0, 1], atol=2e-6)
    assert "2 · cat / dog" in diff["rows"] and diff["zmin"] == -diff["zmax"]
