"""Lesson 1, From text to tensors: word pieces, [CLS]/[SEP], padding and the shapes along the
forward pass, on the Encode page.

Every reveal runs the Encode page's own code: ``compute.forward`` (the page's forward pass),
``app.compute.encode`` (its token, batch and shape tables), ``encoder.summary.shape_trace``
and ``charts.encode.token_vector_heatmap``.
"""

from __future__ import annotations

from app import compute, ui
from app.charts import encode as charts
from app.compute import Forward
from app.compute import encode as ce
from app.lessons.base import (
    PRETRAINED,
    Choice,
    Ctx,
    Lesson,
    Number,
    Reveal,
    Shown,
    Step,
    link_query,
)
from app.state import md_escape
from encoder.summary import shape_trace

MODEL = PRETRAINED  # all-MiniLM-L6-v2, eval mode, max_len 128: the same numbers for everyone
WORD = "unbelievably"
ONE = "The cat sat on the mat."
PAIR = ("Dogs bark.", "The old lighthouse keeper watched the storm roll in from the sea.")
YOURS = "My grandmother autocorrected everything.\nHello!"


def run(sentences: tuple[str, ...]) -> Forward:
    """The Encode page's forward pass over these sentences (cached, shared with the page)."""
    return compute.forward(MODEL, tuple(sentences), False)


def code(tokens: list[str]) -> str:
    """Tokens of the lesson's own sentences, as inline code: `un` · `##bel`."""
    return " · ".join(f"`{t}`" for t in tokens)


def quoted(tokens: list[str]) -> str:
    """The learner's tokens, escaped for markdown: un · \\#\\#bel."""
    return " · ".join(md_escape(t, limit=40) for t in tokens)


def real(fwd: Forward, row: int) -> list[str]:
    """A sentence's tokens without [CLS] and [SEP]."""
    enc = fwd.encodings[row]
    return [t for t, special in zip(enc.tokens, enc.special, strict=True) if not special]


def page(text: str, sentence: int | None = None, **extra: object) -> dict[str, str]:
    """The Encode page's link for these sentences, the picker on one of them."""
    lines = text.split("\n")
    if sentence is not None and len(lines) > 1:
        extra["sentence"] = ui.picker_labels(lines)[sentence]
    return link_query(MODEL, text, **extra)


# ---- 1 · word pieces -------------------------------------------------------------------------


def pieces_reveal(ctx: Ctx) -> Reveal:
    fwd = run((WORD,))
    tokens = real(fwd, 0)
    vocab = compute.wordpiece().vocab_size
    return Reveal(
        answer=len(tokens),
        said=f"The tokenizer cut “{WORD}” into **{len(tokens)}** tokens: {code(tokens)}.",
        why=f"The vocabulary holds {vocab:,} whole words and word pieces, and “{WORD}” is not "
        "one of them: an unknown word is cut, left to right, into the longest pieces the "
        "vocabulary has. `##` marks a piece that continues the word before it, so the model "
        "still sees where each word starts.",
        table=ce.token_rows(fwd, 0),
    )


# ---- 2 · [CLS] and [SEP] ---------------------------------------------------------------------

PLACES = (
    "[CLS] first, [SEP] last",
    "[SEP] first, [CLS] last",
    "Both at the start",
    "Around every word",
)


def specials_reveal(ctx: Ctx) -> Reveal:
    fwd = run((ONE,))
    enc = fwd.encodings[0]
    at = {t: [i for i, tok in enumerate(enc.tokens) if tok == t] for t in ("[CLS]", "[SEP]")}
    n = len(enc)
    if at["[CLS]"] == [0] and at["[SEP]"] == [n - 1]:
        answer = PLACES[0]
    elif at["[SEP]"] == [0] and at["[CLS]"] == [n - 1]:
        answer = PLACES[1]
    elif max(at["[CLS]"] + at["[SEP]"]) <= 1:
        answer = PLACES[2]
    else:
        answer = PLACES[3]
    return Reveal(
        answer=answer,
        said=f"Position 0 holds `{enc.tokens[0]}` and position {n - 1}, the last, holds "
        f"`{enc.tokens[-1]}`: the sentence's {n - 2} tokens sit between them.",
        why="[CLS] starts every input: BERT was pre-trained to use its vector for a whole-text "
        "task (this sentence model averages its tokens instead). [SEP] ends each sentence (and "
        "separates the two halves of a sentence pair). To the encoder they are tokens like any "
        "other, each with its own vector.",
        table=ce.token_rows(fwd, 0),
    )


# ---- 3 · padding -----------------------------------------------------------------------------


def padding_reveal(ctx: Ctx) -> Reveal:
    fwd = run(PAIR)
    S = fwd.input_ids.shape[1]
    lengths = [len(e) for e in fwd.encodings]
    short = lengths.index(min(lengths))
    pads = int((fwd.attention_mask[short] == 0).sum())
    return Reveal(
        answer=pads,
        said=f"The longer sentence has {max(lengths)} tokens with [CLS] and [SEP], so the batch "
        f"is {S} positions wide; “{PAIR[short]}” has {lengths[short]} tokens and gets "
        f"**{pads}** [PAD] tokens after its [SEP].",
        why="A tensor is a rectangle, so every row is filled up to the longest with [PAD] "
        f"(id {compute.wordpiece().pad_id}). The attention_mask is 0 there, so attention "
        "gives those positions no weight and the real tokens come out as they would alone.",
        table=ce.batch_cells(fwd, "tokens").reset_index(),
    )


# ---- 4 · one vector per token ----------------------------------------------------------------


def width_reveal(ctx: Ctx) -> Reveal:
    fwd = run((ONE,))
    n = len(fwd.encodings[0])
    D = fwd.hidden_states.shape[-1]
    vectors = fwd.hidden_states[-1, 0, :n]  # (n, D)
    return Reveal(
        answer=D,
        said=f"Each of the {n} tokens of “{ONE}” comes out as **{D}** numbers: its "
        f"last_hidden_state is {n} × {D}.",
        why=f"{D} is MiniLM's d_model, the width of every token vector, from the embedding "
        "table through every layer to the output. The heatmap shows them: one row per token, "
        "one column per number. Bigger models are wider (BERT-base uses 768).",
        figures=(
            charts.token_vector_heatmap(vectors, fwd.encodings[0].tokens, f"{ONE} · {n} × {D}"),
        ),
    )


# ---- 5 · the output's shape ------------------------------------------------------------------


def pair_show(ctx: Ctx) -> Shown:
    return Shown(text=f"The batch:\n\n{listed(PAIR)}")


def pair_sizes() -> tuple[int, int, int, int, int]:
    """B, S, D, H and d_head of the two sentences' batch through MiniLM."""
    fwd = run(PAIR)
    B, S = fwd.input_ids.shape
    cfg = fwd.config
    return int(B), int(S), cfg.d_model, cfg.n_heads, cfg.d_head


def shape(dims: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, dims)) + ")"


def output_options(ctx: Ctx) -> tuple[str, ...]:
    B, S, D, _, _ = pair_sizes()
    return (shape((B, D)), shape((B, S - 2, D)), shape((B, S, D)), shape((B * S, D)))


def output_reveal(ctx: Ctx) -> Reveal:
    fwd = run(PAIR)
    B, S, D = fwd.hidden_states[-1].shape
    table = ce.shape_table(fwd.config, B, S)
    outer = table[~table["stage"].str.startswith("each of")]  # inside the layers: next step
    return Reveal(
        answer=shape((B, S, D)),
        said=f"last_hidden_state is **{shape((B, S, D))}**: {B} sentences × {S} positions × "
        f"{D} numbers, the {int((fwd.attention_mask == 0).sum())} padding positions included.",
        why="The encoder never merges tokens: every position of the padded batch, [CLS], "
        "[SEP] and [PAD] too, keeps its own vector through every layer. One vector per "
        "sentence comes only afterwards, by pooling (the Encode page averages the real tokens).",
        table=outer.reset_index(drop=True),
    )


# ---- 6 · attention's shape -------------------------------------------------------------------


def attention_options(ctx: Ctx) -> tuple[str, ...]:
    B, S, D, H, Dh = pair_sizes()
    return (shape((B, S, S)), shape((B, H, S, S)), shape((B, H, S, Dh)), shape((B, S, D)))


def attention_reveal(ctx: Ctx) -> Reveal:
    fwd = run(PAIR)
    B, S = fwd.input_ids.shape
    cfg = fwd.config
    stage = next(s for s in shape_trace(cfg, B, S) if s.name == "layer 0 attention")
    _, H, _, _ = stage.shape
    weights = B * H * S * S
    return Reveal(
        answer=shape(stage.shape),
        said=f"Each layer's attention weights are **{shape(stage.shape)}**: for each of the {B} "
        f"sentences and {H} heads, a {S} × {S} grid (a row per query token, a column per key "
        f"token): {weights:,} weights per layer, in each of {cfg.n_layers} layers.",
        why=f"Q, K and V are split into {H} heads of {cfg.d_head} numbers, and every head scores "
        "every token against every token, so the grid grows with the square of the length: "
        "twice the tokens, four times the weights. The heads' results are joined back into "
        f"{cfg.d_model} numbers per token.",
        table=ce.shape_table(cfg, B, S),
    )


# ---- 7 · yours: the batch's width ------------------------------------------------------------


def listed(sentences: tuple[str, ...]) -> str:
    return "\n".join(f"{i + 1}. {md_escape(s)}" for i, s in enumerate(sentences))


def batch_show(ctx: Ctx) -> Shown:
    return Shown(text=f"Your sentences:\n\n{listed(ctx.sentences)}")


def batch_reveal(ctx: Ctx) -> Reveal:
    fwd = run(ctx.sentences)
    B, S = fwd.input_ids.shape
    lengths = [len(e) for e in fwd.encodings]
    longest = lengths.index(S)
    pads = int((fwd.attention_mask == 0).sum())
    rest = (
        f"; the others get {pads} [PAD] tokens in all."
        if B > 1
        else "; one sentence needs no padding."
    )
    cut = [e.truncation_message for e in fwd.encodings if e.truncated]
    return Reveal(
        answer=int(S),
        said=f"Your batch is **{B} × {S}**: the longest sentence, "
        f"“{md_escape(ctx.sentences[longest])}”, makes {S} tokens with [CLS] and [SEP]{rest}",
        why="Every word becomes one or more pieces, punctuation its own token, and [CLS] and "
        "[SEP] add two more; the batch is as wide as its longest sentence."
        + (
            f" max_len ({MODEL.max_len}) caps it: the tokenizer {cut[0]}."
            if cut
            else f" A sentence longer than max_len ({MODEL.max_len} tokens) would be cut."
        ),
        table=ce.batch_cells(fwd, "tokens").reset_index(),
    )


# ---- 8 · yours: the word with the most pieces ------------------------------------------------


def word_pieces(fwd: Forward) -> dict[str, tuple[int, list[str]]]:
    """Each distinct word of the batch (letters and digits only: the tokenizer splits off
    punctuation, so an option never holds markdown): its sentence and tokens."""
    out: dict[str, tuple[int, list[str]]] = {}
    for row, enc in enumerate(fwd.encodings):
        for word, idx in enc.words():
            if enc.special[idx[0]] or not word.isalnum():  # words only, no punctuation
                continue
            out.setdefault(word, (row, [enc.tokens[i] for i in idx]))
    return out


def word_options(ctx: Ctx) -> tuple[str, ...]:
    return tuple(word_pieces(run(ctx.sentences))) if ctx.sentences else ()


def word_reveal(ctx: Ctx) -> Reveal:
    fwd = run(ctx.sentences)
    words = word_pieces(fwd)
    if not words:
        raise ValueError("Your sentences have no words to split: type a sentence with words.")
    most = max(len(t) for _, t in words.values())
    top = tuple(w for w, (_, t) in words.items() if len(t) == most)
    row, tokens = words[top[0]]
    if most == 1:
        said = f"Every one of your {len(words)} words is in the vocabulary whole: one token each."
    elif len(top) == 1:
        said = f"“{md_escape(top[0])}” became **{most}** pieces: {quoted(tokens)}."
    else:
        names = ", ".join(f"“{md_escape(w)}”" for w in top)
        said = f"{names} became **{most}** pieces each; the first: {quoted(tokens)}."
    return Reveal(
        answer=top,
        said=said,
        why="Frequent words are whole entries in the vocabulary; rare, long or made-up words, "
        "names and typos are built from pieces. So a text costs tokens, not words: the pieces "
        "decide how wide the batch is and how much work attention does.",
        table=ce.token_rows(fwd, row),
    )


def word_query(ctx: Ctx) -> dict[str, str]:
    """The Encode page on the learner's sentences, the picker on the word's sentence."""
    words = word_pieces(run(ctx.sentences)) if ctx.sentences else {}
    most = max((len(t) for _, t in words.values()), default=0)
    row = next((r for r, t in words.values() if len(t) == most), 0)
    return page("\n".join(ctx.sentences), row)


LESSON = Lesson(
    slug="text-to-tensors",
    title="From text to tensors",
    page="Encode",
    summary="How a sentence becomes word pieces, a padded batch of ids, and one vector of "
    "numbers per token.",
    steps=(
        Step(
            title="Word pieces",
            question=f"The tokenizer's vocabulary has no entry for “{WORD}”. Into how many "
            "tokens does it cut the word, not counting the special tokens it adds (exactly)?",
            ask=Number(1, 20, 1, 0, digits=0),
            reveal=pieces_reveal,
            query=page(WORD),
        ),
        Step(
            title="[CLS] and [SEP]",
            question=f"The tokenizer adds two special tokens, [CLS] and [SEP], to “{ONE}”. "
            "Where do they go?",
            ask=Choice(PLACES),
            reveal=specials_reveal,
            query=page(ONE),
        ),
        Step(
            title="Padding",
            question=f"“{PAIR[0]}” and “{PAIR[1]}” go into one batch, so both rows need the "
            "same length. How many [PAD] tokens does the shorter one get (exactly)?",
            ask=Number(0, 60, 1, 0, digits=0),
            reveal=padding_reveal,
            query=page("\n".join(PAIR), 0, grid="tokens"),
        ),
        Step(
            title="One vector per token",
            question=f"MiniLM turns every token of “{ONE}” into a vector. How many numbers "
            "does one token become (exactly)?",
            ask=Number(1, 4096, 1, 0, digits=0),
            reveal=width_reveal,
            query=page(ONE),
        ),
        Step(
            title="The output's shape",
            question="The two sentences of the padding step go through MiniLM together, as one "
            "batch. What shape is last_hidden_state, the encoder's output?",
            ask=Choice(output_options),
            reveal=output_reveal,
            show=pair_show,
            query=page("\n".join(PAIR), 0),
        ),
        Step(
            title="Attention's shape",
            question="Inside every layer, attention weighs every token against every token. "
            "What shape are one layer's attention weights for the same batch?",
            ask=Choice(attention_options),
            reveal=attention_reveal,
            show=pair_show,
            query=page("\n".join(PAIR), 0),
        ),
        Step(
            title="Your batch",
            question="Your sentences go in as one padded batch. How many positions wide is "
            "it, counting [CLS] and [SEP] (exactly)?",
            ask=Number(1, MODEL.max_len, 1, 0, digits=0),
            reveal=batch_reveal,
            show=batch_show,
            query=lambda ctx: page("\n".join(ctx.sentences), 0, grid="tokens"),
            yours=True,
        ),
        Step(
            title="Your longest word",
            question="Which of your words does the tokenizer cut into the most pieces?",
            ask=Choice(word_options, widget="selectbox"),
            reveal=word_reveal,
            query=word_query,
            yours=True,
        ),
    ),
    next_up="Open the **Encode** page with your own sentences: switch the batch grid to *ids* "
    "and *mask* to see the numbers the model really reads, then go on to **What one attention "
    "head does**.",
    yours=YOURS,
)
