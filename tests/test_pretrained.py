"""all-MiniLM-L6-v2 in our Encoder: parity with transformers.BertModel and sentence-transformers.

Refusing bad checkpoints is tested in test_checkpoints.py.

Everything is loaded from the local package folder ``minilm_dir()``; nothing touches the network.
"""

from __future__ import annotations

import copy

import pytest
import torch

from encoder.pretrained import load_minilm, minilm_dir

pytestmark = pytest.mark.slow

ATOL = 1e-4
# Padding positions (a [PAD] query attending to a few real keys) are badly conditioned in float32:
# there transformers itself strays up to ~3e-4 from a float64 run of the same model, and so do we.
# In float64 the two implementations agree to ~1e-13 everywhere (test_float64_parity...).
PAD_ATOL = 5e-4
LONG = (
    "The history of computing is a long story of people trying to make arithmetic faster, "
    "cheaper and more reliable, starting with tally sticks and the abacus, moving through "
    "the mechanical calculators of Pascal and Leibniz, the difference engine that Babbage "
    "designed but never finished, and the punched-card tabulators that Hollerith built for "
    "the 1890 census of the United States. In the twentieth century, electromechanical relays "
    "gave way to vacuum tubes, vacuum tubes gave way to transistors, and transistors were "
    "packed by the billion onto slivers of silicon, so that a telephone in your pocket now "
    "holds more computing power than every machine on Earth did in 1960. Along the way, "
    "programmers invented compilers, operating systems, databases, networks and, eventually, "
    "statistical models of language that read a sentence one token at a time, turn every "
    "token into a vector of a few hundred numbers, and let each vector look at all the others "
    "through attention before deciding what it means. Whether those models understand anything "
    "is still argued about in seminars, on podcasts and at dinner tables; what is not in dispute "
    "is that they are built from the same humble ingredients as everything before them: "
    "multiplication, addition, a little bit of memory, and a great deal of patience from the "
    "engineers who debug them late at night when the numbers refuse to match the reference "
    "implementation to the fourth decimal place, which happens far more often than anybody "
    "would ever like to admit."
)
SENTENCES = [
    "Hi.",
    "A man is playing a guitar.",
    "Someone plays the guitar.",
    "The stock market fell sharply today.",
    "The quick brown fox jumps over the lazy dog.",
    "Wait... what?! No way!!! (Really?) Yes -- really; 100% sure.",
    "It costs $3.50, or 2,999 yen; call 555-0199 before 10:45 p.m. on 2024-03-01.",
    "pi is about 3.14159265358979 and e is about 2.718281828.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le chat dort sur le canapé depuis ce matin.",
    "机器学习正在改变世界。",
    "Transformers use self-attention to mix information between tokens.",
    "Tokenization splits unbelievably long words into subword pieces.",
    "I LOVE THIS MOVIE SO MUCH, BEST FILM OF THE YEAR!",
    "<b>bold</b> and `code` and $x^2$",
    "Paris is the capital of France.",
    "What is the capital city of France?",
    "My phone battery died halfway through the call.",
    "Water boils at 100 degrees Celsius at sea level.",
    "a",
    "The committee, after a long and frankly exhausting debate that ran well past midnight, "
    "finally agreed to postpone the vote until the following week.",
    LONG,
]
LONG_TOKENS = 300


# --- fixtures: each model is loaded once for the whole module -----------------------------------


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


@pytest.fixture(scope="module")
def model(minilm):
    return minilm.model


@pytest.fixture(scope="module")
def tok(minilm):
    return minilm.tokenizer


@pytest.fixture(scope="module")
def hf_bert():
    transformers = pytest.importorskip("transformers")
    return transformers.BertModel.from_pretrained(
        str(minilm_dir()), attn_implementation="eager"
    ).eval()


@pytest.fixture(scope="module")
def sbert():
    sentence_transformers = pytest.importorskip("sentence_transformers")
    return sentence_transformers.SentenceTransformer(str(minilm_dir()), device="cpu")


def run_both(model, hf_bert, input_ids, attention_mask):
    with torch.inference_mode():
        ours = model(input_ids, attention_mask, output_attentions=True, output_hidden_states=True)
        fast = model(input_ids, attention_mask)
        ref = hf_bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_attentions=True,
            output_hidden_states=True,
        )
    return ours, fast, ref


def assert_close(actual, expected, what, atol=ATOL):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0, msg=lambda m: f"{what}: {m}")


# --- parity with transformers.BertModel (eager) -------------------------------------------------


def test_the_sentences_cover_a_300_token_text(tok):
    assert len(tok.encode(LONG)) == LONG_TOKENS
    assert len(SENTENCES) >= 20


@pytest.mark.parametrize("index", range(len(SENTENCES)))
def test_one_sentence_matches_bert_eager(model, tok, hf_bert, index):
    enc = tok.encode(SENTENCES[index])
    ids = torch.tensor([enc.ids])
    mask = torch.ones_like(ids)
    ours, fast, ref = run_both(model, hf_bert, ids, mask)
    assert len(ours.hidden_states) == len(ref.hidden_states) == 7
    assert len(ours.attentions) == len(ref.attentions) == 6
    for i, (a, b) in enumerate(zip(ours.hidden_states, ref.hidden_states, strict=True)):
        assert_close(a, b, f"hidden_states[{i}]")
    for i, (a, b) in enumerate(zip(ours.attentions, ref.attentions, strict=True)):
        assert a.shape == (1, 12, len(enc), len(enc))
        assert_close(a, b, f"attentions[{i}]")
    assert_close(ours.last_hidden_state, ref.last_hidden_state, "last_hidden_state")
    assert_close(fast.last_hidden_state, ref.last_hidden_state, "fast path last_hidden_state")


BATCHES = [
    SENTENCES[:6],
    SENTENCES[6:12],
    SENTENCES[12:19],
    [SENTENCES[19], LONG, SENTENCES[0], SENTENCES[20]],  # 3 tokens padded up to 300
]


@pytest.mark.parametrize("batch_index", range(len(BATCHES)))
def test_padded_batch_matches_bert_eager(model, tok, hf_bert, batch_index):
    batch = tok.encode_batch(BATCHES[batch_index])
    assert (batch.attention_mask == 0).any(), "the batch should hold padding"
    ours, fast, ref = run_both(model, hf_bert, batch.input_ids, batch.attention_mask)
    real = batch.attention_mask.bool()  # (B, S)
    for i, (a, b) in enumerate(zip(ours.hidden_states, ref.hidden_states, strict=True)):
        assert_close(a[real], b[real], f"hidden_states[{i}] on real tokens")
        assert_close(a, b, f"hidden_states[{i}] on all positions", atol=PAD_ATOL)
    for i, (a, b) in enumerate(zip(ours.attentions, ref.attentions, strict=True)):
        assert_close(a, b, f"attentions[{i}] on all positions")
        # padded keys get exactly no attention
        assert a.masked_select(~real[:, None, None, :]).eq(0).all()
    assert_close(fast.last_hidden_state[real], ref.last_hidden_state[real], "fast path, real")
    assert_close(fast.last_hidden_state, ref.last_hidden_state, "fast, all positions", PAD_ATOL)


def test_float64_parity_on_every_position(model, tok, hf_bert):
    """In float64 rounding is out of the way: padded positions agree as tightly as real ones."""
    ours64, ref64 = copy.deepcopy(model).double(), copy.deepcopy(hf_bert).double()
    batch = tok.encode_batch(BATCHES[3])
    ours, fast, ref = run_both(ours64, ref64, batch.input_ids, batch.attention_mask)
    for i, (a, b) in enumerate(zip(ours.hidden_states, ref.hidden_states, strict=True)):
        assert_close(a, b, f"float64 hidden_states[{i}]", atol=1e-9)
    for i, (a, b) in enumerate(zip(ours.attentions, ref.attentions, strict=True)):
        assert_close(a, b, f"float64 attentions[{i}]", atol=1e-9)
    assert_close(fast.last_hidden_state, ref.last_hidden_state, "float64 fast path", atol=1e-9)


def test_padding_does_not_change_real_tokens(model, tok):
    texts = [SENTENCES[1], LONG, SENTENCES[10]]
    batch = tok.encode_batch(texts)
    with torch.inference_mode():
        padded = model(batch.input_ids, batch.attention_mask).last_hidden_state
        for row, enc in enumerate(batch.encodings):
            alone = model(torch.tensor([enc.ids])).last_hidden_state[0]
            assert_close(padded[row, : len(enc)], alone, f"row {row}")


# --- sentence embeddings against sentence-transformers ------------------------------------------


def embed(model, tok, texts, max_len=None):
    """Mean over real tokens, then L2-normalised: the all-MiniLM-L6-v2 recipe. Shape: (B, 384)"""
    batch = tok.encode_batch(texts, max_len=max_len)
    with torch.inference_mode():
        hidden = model(batch.input_ids, batch.attention_mask).last_hidden_state
    mask = batch.attention_mask[..., None].to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, dim=-1)


def test_embeddings_match_sentence_transformers(model, tok, sbert):
    # sentence-transformers cuts at max_seq_length (256): [CLS] + 254 tokens + [SEP], as ours does
    ours = embed(model, tok, SENTENCES, max_len=sbert.max_seq_length)
    ref = sbert.encode(SENTENCES, convert_to_tensor=True, normalize_embeddings=True).cpu()
    assert ours.shape == ref.shape == (len(SENTENCES), 384)
    cosine = (ours * ref).sum(-1)
    for text, c in zip(SENTENCES, cosine.tolist(), strict=True):
        assert c >= 0.9999, f"cosine {c:.6f} for {text[:40]!r}"


def test_paraphrases_score_higher_than_unrelated_sentences(model, tok):
    a, b, c, d, e = embed(
        model,
        tok,
        [
            "A man is playing a guitar.",
            "Someone plays the guitar.",
            "The stock market fell sharply today.",
            "Paris is the capital of France.",
            "What is the capital city of France?",
        ],
    )
    assert a @ b > a @ c + 0.3
    assert d @ e > d @ c + 0.3
    assert a @ b > a @ d
