"""Lesson 2, "What one attention head does": rows sum to 1, columns do not; the head that looks
one token back; mean over heads against rollout; the learner's sentence. Answers come from the
Attention page's forward pass, head statistics and Mean & rollout maps (app.compute.attention)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app import compute
from app.charts import attention as page_charts
from app.charts import attention_stats as head_table
from app.charts.inside_layer import tensor_heatmap
from app.compute import attention as attn
from app.lessons import base
from app.lessons.base import Choice, Ctx, Lesson, Number, Reveal, Shown, Step
from app.state import md_escape
from encoder.analysis import head_statistics

MODEL = base.PRETRAINED
SENTENCE = "The cat sat on the mat because it was tired."
ROW_HEAD = (2, 4)  # layer, head: a head where "it" looks back at "the cat"
QUERY = "it"
FIND_LAYER = 0  # the layer whose heads step 3 asks about
MARGIN = 0.05  # heads whose previous-token share is this close to the best also count
SAME = 0.05  # shares closer than this are "about the same"
HEIGHT = 360  # px of a figure
YOURS = "The keys to the old cabinet were on the kitchen table.\nMy sister plays the violin."
PAGE = "attention"


# ---- the page's numbers ---------------------------------------------------------------------
def attention_of(
    sentences: tuple[str, ...] = (SENTENCE,),
) -> tuple[np.ndarray, list[str], list[bool]]:
    """The first sentence's attention as the page computes it: (L, H, n, n), tokens, specials."""
    if not sentences:
        raise ValueError("type a sentence first")
    result = attn.sentence_attention(MODEL, sentences, attn.keep_for(MODEL, sentences, (0,)))
    enc = result.encodings[0]
    return result.of(0), list(enc.tokens), list(enc.special)


def head_map(z: np.ndarray, tokens: list[str], title: str):
    """One head's map (or a mean, or a rollout): query rows, key columns, 0 to 1."""
    fig = tensor_heatmap(z, tokens, tensor="attention", title=title, keys=tokens, weights=True)
    return fig.update_layout(height=HEIGHT)


def head_name(layer: int, head: int) -> str:
    return f"L{layer} H{head}"


def quoted(token: str) -> str:
    return f"“{md_escape(token)}”"


def query(view: str, layer: int, head: int | None = None, text: str = SENTENCE, **more):
    page = {"view": view, "layer": layer} | ({} if head is None else {"head": head})
    return base.link_query(MODEL, text, **page, **more)


# ---- 1. a row sums to 1 -----------------------------------------------------------------------
def row_map() -> tuple[np.ndarray, np.ndarray, list[str], int]:
    att, tokens, _ = attention_of()
    return att, att[ROW_HEAD], tokens, tokens.index(QUERY)


def show_row(ctx: Ctx) -> Shown:
    _, z, tokens, _ = row_map()
    return Shown(
        text=f"Head {head_name(*ROW_HEAD)} of MiniLM on “{SENTENCE}”",
        figures=(head_map(z, tokens, f"{head_name(*ROW_HEAD)}: rows are queries"),),
    )


def reveal_row(ctx: Ctx) -> Reveal:
    att, z, tokens, q = row_map()
    total = float(z[q].sum())
    sums = att.sum(axis=-1)  # (L, H, n)
    words = z[q].copy()
    words[0] = -1.0  # the largest weight besides [CLS]'s
    top = int(words.argmax())
    L, H, n = att.shape[:3]
    table = pd.DataFrame({"key": tokens, f"weight from “{QUERY}”": np.round(z[q], 4)})
    return Reveal(
        answer=total,
        said=f"The row of “{QUERY}” adds up to {total:.4f}. So does every other row: the "
        f"{L * H * n:,} rows of all {L * H} heads sum to between {sums.min():.6f} and "
        f"{sums.max():.6f}.",
        why="A softmax turns each query's scores into weights that are at least 0 and add up "
        "to 1, so a row is how one query shares out its attention among the keys. Here "
        f"“{QUERY}” gives {z[q, 0]:.0%} to [CLS] and {z[q, top]:.0%} to “{tokens[top]}”.",
        figures=(head_map(z, tokens, f"{head_name(*ROW_HEAD)}: rows are queries"),),
        table=table,
    )


# ---- 2. a column does not -----------------------------------------------------------------------
COLUMN_OPTIONS = ("Exactly 1, like a row", "Less than 1", "More than 1")


def show_column(ctx: Ctx) -> Shown:
    """Words only: the map's dark [CLS] column would answer the question at a glance."""
    _, z, tokens, _ = row_map()
    return Shown(
        text=f"The same head, {head_name(*ROW_HEAD)}: {len(tokens)} queries, each giving out "
        f"weights that sum to 1, over {z.shape[1]} keys. [CLS] is key 0."
    )


def reveal_column(ctx: Ctx) -> Reveal:
    _, z, tokens, _ = row_map()
    columns = z.sum(axis=0)  # (n,) what each key receives
    cls = float(columns[0])
    answer = COLUMN_OPTIONS[0] if abs(cls - 1) < 5e-3 else COLUMN_OPTIONS[1 + (cls > 1)]
    low = int(columns.argmin())
    return Reveal(
        answer=answer,
        said=f"The [CLS] column adds up to {cls:.2f}: each of the {len(tokens)} queries gives "
        f"[CLS] {cls / len(tokens):.0%} of its weight on average. The smallest column, "
        f"“{tokens[low]}”, gets {columns[low]:.2f} in all.",
        why="The softmax normalises each row, over the keys; nothing normalises a column. A key "
        "that many queries look at collects far more than 1, the others less. Many heads of "
        "BERT-style models park spare weight on [CLS] or [SEP], like a sink.",
        figures=(head_map(z, tokens, f"{head_name(*ROW_HEAD)}: columns are keys"),),
        table=pd.DataFrame({"key": tokens, "column sum": np.round(columns, 3)}),
    )


# ---- 3. the head that looks one token back --------------------------------------------------
def head_options(ctx: Ctx) -> tuple[str, ...]:
    heads = compute.pretrained_config().n_heads
    return tuple(f"layer {FIND_LAYER} · head {h}" for h in range(heads))


def show_find(ctx: Ctx) -> Shown:
    att, tokens, _ = attention_of()
    frame = head_table.table(head_statistics(att), len(tokens)).query(f"layer == {FIND_LAYER}")
    clues = frame[["head", "entropy", "distance", "self", "first", "last"]].rename(
        columns={"entropy": "entropy (bits)", "first": "[CLS]", "last": "[SEP]"}
    )
    return Shown(
        text=f"The Attention page's head statistics for layer {FIND_LAYER} on “{SENTENCE}”: "
        "*distance* is how many positions away a head's weight goes on average; *self*, "
        "*[CLS]* and *[SEP]* are the shares of weight on the token itself, on [CLS] and on "
        "[SEP].",
        table=clues.round(2),
    )


def reveal_find(ctx: Ctx) -> Reveal:
    att, tokens, _ = attention_of()
    stats = head_statistics(att)
    previous = stats["previous"]  # (L, H)
    layer = previous[FIND_LAYER]
    order = np.argsort(-layer)
    best, second = int(order[0]), int(order[1])
    right = [h for h in range(len(layer)) if layer[h] >= layer[best] - MARGIN]
    names = head_options(ctx)
    others = previous.copy()
    others[FIND_LAYER, best] = -1
    ol, oh = np.unravel_index(int(others.argmax()), others.shape)
    answer = names[best] if len(right) == 1 else tuple(names[h] for h in right)
    return Reveal(
        answer=answer,
        said=f"Head {head_name(FIND_LAYER, best)} puts {layer[best]:.1%} of each token's weight "
        f"on the token just before it; the runner-up in layer {FIND_LAYER}, "
        f"{head_name(FIND_LAYER, second)}, only {layer[second]:.1%}. The best of the other "
        f"{previous.size - 1} heads, {head_name(int(ol), int(oh))}, manages {others[ol, oh]:.1%}.",
        why=f"A head that looks one token back has a distance of about 1 "
        f"({stats['distance'][FIND_LAYER, best]:.2f} here) and "
        "almost no weight on itself or on [CLS]: a stripe just below the diagonal. It hands "
        "every token its left neighbour, the start of phrases like “the cat”. A distance of 1 "
        "would also fit a head that looks one token ahead: the stripe tells them apart.",
        figures=(head_map(att[FIND_LAYER, best], tokens, head_name(FIND_LAYER, best)),),
    )


def previous_head() -> tuple[int, int]:
    """Step 3's answer: the head of FIND_LAYER with the largest previous-token share."""
    att, _, _ = attention_of()
    return FIND_LAYER, int(head_statistics(att)["previous"][FIND_LAYER].argmax())


# ---- 4 and 5. the mean over heads against rollout --------------------------------------------
def show_diagonal(ctx: Ctx) -> Shown:
    att, tokens, _ = attention_of()
    mean, _ = attn.mean_and_rollout(att, 0)
    return Shown(
        text=f"In the mean over the {att.shape[1]} heads of layer 0, a token keeps "
        f"{np.diag(mean).mean():.1%} of its weight on itself, on average.",
        figures=(head_map(mean, tokens, f"Mean of the {att.shape[1]} heads of layer 0"),),
    )


def reveal_diagonal(ctx: Ctx) -> Reveal:
    att, tokens, _ = attention_of()
    mean, rollout = attn.mean_and_rollout(att, 0)
    kept, own = float(np.diag(rollout).mean()), float(np.diag(mean).mean())
    return Reveal(
        answer=kept,
        said=f"At layer 0 the rollout keeps {kept:.3f} of each token's weight on itself: "
        f"{attn.RESIDUAL} for the residual connection plus {1 - attn.RESIDUAL} × the heads' "
        f"own {own:.3f}.",
        why="The residual connection adds each token's input to what attention brings in, so "
        "rollout counts it as attention to oneself: half the weight, with the heads' mean "
        "sharing the other half. That is why rollout maps start with a bright diagonal that "
        "fades as the layers multiply.",
        figures=(
            head_map(mean, tokens, "Mean over heads, layer 0"),
            head_map(rollout, tokens, "Rollout, layer 0"),
        ),
    )


SINK_OPTIONS = ("The mean over heads", "The rollout", "About the same")


def last_layer() -> int:
    return compute.pretrained_config().n_layers - 1


def sink_share(z: np.ndarray, special: list[bool]) -> float:
    """The weight a map gives, per row on average, to the special tokens ([CLS], [SEP])."""
    return float(z[:, np.asarray(special)].sum(axis=-1).mean())


def mean_sink(att: np.ndarray, special: list[bool], layer: int) -> float:
    return sink_share(attn.mean_and_rollout(att, layer)[0], special)


def show_sink(ctx: Ctx) -> Shown:
    att, _, special = attention_of()
    L = att.shape[0]
    shares = [mean_sink(att, special, layer) for layer in range(L - 1)]
    return Shown(
        text=f"The mean over heads gives this much of each row to [CLS] and [SEP] in layers 0 "
        f"to {L - 2}; the question is about layer {L - 1}.",
        table=pd.DataFrame({"layer": range(L - 1), "mean over heads": np.round(shares, 3)}),
    )


def reveal_sink(ctx: Ctx) -> Reveal:
    att, tokens, special = attention_of()
    last = att.shape[0] - 1
    mean, rollout = attn.mean_and_rollout(att, last)
    m, r = sink_share(mean, special), sink_share(rollout, special)
    answer = SINK_OPTIONS[2] if abs(m - r) <= SAME else SINK_OPTIONS[int(r > m)]
    middle = np.mean([mean_sink(att, special, layer) for layer in range(1, last)])
    return Reveal(
        answer=answer,
        said=f"At layer {last}, the mean over its heads gives {m:.1%} of each row to [CLS] and "
        f"[SEP]; the rollout through layers 0–{last} gives {r:.1%}.",
        why=f"The mean shows one layer; the rollout multiplies every layer below, and layers 1 "
        f"to {last - 1} give [CLS] and [SEP] {middle:.0%} on average, so that weight carries up "
        "even where the last layer looks elsewhere. Both ignore the values and the "
        "feed-forward networks: a rough map of the flow, not an explanation.",
        figures=(
            head_map(mean, tokens, f"Mean over heads, layer {last}"),
            head_map(rollout, tokens, f"Rollout, layers 0–{last}"),
        ),
    )


# ---- 6. now yours: the previous-token head on the learner's sentence -------------------------
def last_word(tokens: list[str], special: list[bool]) -> int:
    """The position of the sentence's last word (punctuation skipped where a word exists)."""
    words = [i for i, (t, s) in enumerate(zip(tokens, special, strict=True)) if not s]
    if not words:
        raise ValueError("your first sentence has no tokens besides [CLS] and [SEP]")
    alnum = [i for i in words if any(c.isalnum() for c in tokens[i])]
    return (alnum or words)[-1]


def token_options(ctx: Ctx) -> tuple[str, ...]:
    if not ctx.sentences:
        return ()
    enc = compute.tokenizer_for(MODEL).encode(ctx.sentences[0], MODEL.max_len)
    return tuple(page_charts.labels(list(enc.tokens)))


def show_yours(ctx: Ctx) -> Shown:
    _, tokens, special = attention_of(ctx.sentences)
    q = last_word(tokens, special)
    return Shown(
        text=f"The head from step 3 is **{head_name(*previous_head())}**. The query is "
        f"{quoted(tokens[q])}, token {q} of your first sentence."
    )


def reveal_yours(ctx: Ctx) -> Reveal:
    att, tokens, special = attention_of(ctx.sentences)
    layer, head = previous_head()
    q = last_word(tokens, special)
    row = att[layer, head, q]
    k = int(row.argmax())
    share = float(head_statistics(att)["previous"][layer, head])
    labels = page_charts.labels(tokens)
    return Reveal(
        answer=labels[k],
        said=f"From {quoted(tokens[q])}, head {head_name(layer, head)} gives {row[k]:.1%} to "
        f"{quoted(tokens[k])} (token {k}). Over your whole first sentence it puts {share:.1%} "
        "of each token's weight on the token before it.",
        why="The head looks one position back whatever the words are: it reads positions, not "
        "meaning, so it works the same on a sentence it has never seen. Later layers build on "
        "it, for example to join a word's pieces or a phrase's words.",
        figures=(head_map(att[layer, head], tokens, f"{head_name(layer, head)} on your sentence"),),
    )


def query_yours(ctx: Ctx) -> dict[str, str]:
    try:  # the query token, when the sentence has one
        _, tokens, special = attention_of(ctx.sentences)
        token = {"token": page_charts.labels(tokens)[last_word(tokens, special)]}
    except ValueError:
        token = {}
    return query("Token lines", *previous_head(), "\n".join(ctx.sentences), **token)


def step(**fields) -> Step:
    return Step(page=PAGE, **fields)


# ---- the lesson -------------------------------------------------------------------------------
LESSON = Lesson(
    slug="attention-head",
    title="What one attention head does",
    page="Attention",
    summary="How a head shares out each token's attention, how to spot a head that reads the "
    "previous token, and what the mean over heads and rollout each show.",
    steps=(
        step(
            title="A row sums to 1",
            question=f"Each row of this map is one **query** token; its cells are the weights "
            f"it gives to the **keys** (the columns). What do the weights in the row of "
            f"“{QUERY}” add up to? (Right within 0.01.)",
            ask=Number(0.0, 20.0, 0.01, tolerance=0.01, digits=3),
            reveal=reveal_row,
            show=show_row,
            query=query("Heads", *ROW_HEAD),
        ),
        step(
            title="A column does not",
            question="Now a column: what do the weights every query gives to **[CLS]** (the "
            "first column of the same head) add up to?",
            ask=Choice(COLUMN_OPTIONS),
            reveal=reveal_column,
            show=show_column,
            query=query("Heads", *ROW_HEAD),
        ),
        step(
            title="The head that looks back",
            question=f"One head of layer {FIND_LAYER} sends each token's attention to the token "
            f"just **before** it. Which one? (A head within {MARGIN} of the best share also "
            "counts.)",
            ask=Choice(head_options, widget="selectbox"),
            reveal=reveal_find,
            show=show_find,
            query=lambda ctx: query("Head statistics", *previous_head()),
        ),
        step(
            title="Rollout keeps a diagonal",
            question=f"Rollout counts the residual connection as attention to oneself, with "
            f"weight {attn.RESIDUAL}, beside the heads' mean. At layer 0, what share of its "
            "rollout weight does a token keep on itself, on average? (Right within 0.05.)",
            ask=Number(0.0, 1.0, 0.01, tolerance=0.05, digits=3),
            reveal=reveal_diagonal,
            show=show_diagonal,
            query=query("Mean & rollout", 0),
        ),
        step(
            title="Mean or rollout",
            question="At the last layer, which puts more weight on [CLS] and [SEP]: the mean "
            "over that layer's heads, or the rollout through all the layers? (Within "
            f"{100 * SAME:.0f} points counts as about the same.)",
            ask=Choice(SINK_OPTIONS),
            reveal=reveal_sink,
            show=show_sink,
            query=lambda ctx: query("Mean & rollout", last_layer()),
        ),
        step(
            title="Now yours",
            question="Now your sentences: in the head that looks back, which token does the "
            "last word of your first sentence give the most weight to?",
            ask=Choice(token_options, widget="selectbox"),
            reveal=reveal_yours,
            show=show_yours,
            query=query_yours,
            yours=True,
        ),
    ),
    next_up="Open the **Attention** page on your own sentences: in *Head statistics*, sort by "
    "*prev.* and by *[CLS]* to find more positional and sink heads; in *Compare*, type “She sat "
    "on the river bank.” and “He opened a bank account.” and pick *bank*. Next lesson: why "
    "order needs positions.",
    yours=YOURS,
)
