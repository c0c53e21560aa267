"""Lesson 6, "Meaning moves through the layers": the Layer-by-layer page's "bank" preset (two
river banks, two money banks) from one point at depth 0 to two senses at the last depth; a
neighbour against a namesake; anisotropy by depth; then a word the learner's sentences share.
Every number comes from the page's own tokens (``app.compute.projections.points_for``), its
cosine matrix (``encoder.analysis.cosine_matrix``) and its depth profile
(``app.compute.projections.depth_profile``), drawn with its charts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.charts import projections as charts
from app.charts.common import safe_label
from app.compute import projections as proj
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
from encoder.analysis import cosine_matrix

MODEL = PRETRAINED
PRESET = next(p for p in proj.PRESETS.values() if p["trace"] == "bank")  # the page's preset
SENTENCES = tuple(PRESET["text"].split("\n"))  # two river banks, then two money banks
WORD = PRESET["trace"]
RIVER, MONEY = 0, 2  # the sentences (0-based) whose banks steps 1, 2 and 4 compare
SAME = 0.03  # cosines closer than this are "about equal"
FLAT = 0.05  # a mean cosine that moves less than this "stays about the same"
WIDTH = 420  # px of a cosine matrix (charts.cosine_figure sizes its cells to it)
HEIGHT = 360
PAGE = "layer-by-layer"
YOURS = "I left my phone on the train.\nThey train the new staff every spring."


# ---- the page's numbers ---------------------------------------------------------------------


def points(sentences: tuple[str, ...] = SENTENCES) -> proj.Points:
    """Every real token at every depth, as the page gathers them (nothing dropped)."""
    if not sentences:
        raise ValueError("type a sentence first")
    return proj.points_for(MODEL, sentences, None)


def banks(pts: proj.Points) -> list[int]:
    """The preset's "bank" tokens, one per sentence, in sentence order."""
    found = [i for i, t in enumerate(pts.tokens) if t == WORD]
    if len(found) != len(SENTENCES):
        raise ValueError(f"the preset should hold one “{WORD}” per sentence")
    return found


def sense(s: int) -> str:
    return "river" if "river" in SENTENCES[s] else "money"


def cosines(pts: proj.Points, depth: int, picked: list[int]) -> np.ndarray:
    """The page's token-token cosine at ``depth``, for the tokens ``picked``. Shape: (k, k)"""
    return cosine_matrix(pts.hidden[depth][picked])


def names(pts: proj.Points, picked: list[int]) -> list[str]:
    """The page's labels ("1·6 bank"), safe for plotly."""
    labels = pts.labels
    return [safe_label(labels[i]) for i in picked]


def matrix(pts: proj.Points, depth: int, picked: list[int], title: str):
    fig = charts.cosine_figure(cosines(pts, depth, picked), names(pts, picked), title, WIDTH)
    return fig.update_layout(height=min(HEIGHT, fig.layout.height))


def last(pts: proj.Points | None = None) -> int:
    """The last depth (the number of layers)."""
    return len((pts or points()).hidden) - 1


def link(depth: int, text: str = PRESET["text"], colour: str = PRESET["colour"]):
    return link_query(
        MODEL, text, method="PCA", axes="shared", color=colour, layer=depth, dims="2-D"
    )


def listed(sentences: tuple[str, ...]) -> str:
    return "\n".join(f"{i + 1}. {md_escape(s, 80)}" for i, s in enumerate(sentences))


# ---- 1. one point at depth 0 ------------------------------------------------------------------


def show_start(ctx: Ctx) -> Shown:
    return Shown(text=f"The page's “{WORD}” preset:\n\n" + listed(SENTENCES))


def reveal_start(ctx: Ctx) -> Reveal:
    pts = points()
    b = banks(pts)
    sim = cosines(pts, 0, b)
    pair = float(sim[RIVER, MONEY])
    off = sim[np.triu_indices(len(b), 1)]
    return Reveal(
        answer=pair,
        said=f"At depth 0 the river bank and the money bank have cosine {pair:.3f}; all four "
        f"banks do, from {off.min():.3f} to {off.max():.3f}: one point.",
        why="Depth 0 is a lookup: the token's embedding plus its position's, then LayerNorm. "
        "The same token at the same position gives the same vector whatever the sentence, "
        "because nothing has read the other words yet.",
        figures=(matrix(pts, 0, b, "The four banks at depth 0"),),
    )


# ---- 2. river against money after every layer ----------------------------------------------------


def show_end(ctx: Ctx) -> Shown:
    return Shown(text=listed(SENTENCES))


def reveal_end(ctx: Ctx) -> Reveal:
    pts = points()
    b = banks(pts)
    pair = [b[RIVER], b[MONEY]]
    by_depth = np.array([cosines(pts, d, pair)[0, 1] for d in range(last(pts) + 1)])
    drops = -np.diff(by_depth)
    worst = int(drops.argmax()) + 1
    moves = "falls" if by_depth[-1] < by_depth[0] else "rises"
    return Reveal(
        answer=float(by_depth[-1]),
        said=f"Their cosine {moves} from {by_depth[0]:.3f} at depth 0 to {by_depth[-1]:.3f} at "
        f"depth {last(pts)}; the largest step is the one into depth {worst} ({drops.max():.3f}).",
        why="Every layer's attention mixes the other words' vectors into each token, so one "
        "bank takes on some “river” and the other some “account”. The cosine stays high: much "
        "of each vector still says “bank” (step 5 shows how much any two tokens share).",
        table=pd.DataFrame({"depth": range(len(by_depth)), "cosine": np.round(by_depth, 3)}),
    )


# ---- 3. which pair ends closest --------------------------------------------------------------

PAIR_OPTIONS = ("Two banks of the same sense", "A river bank and a money bank")
PAIR_OPTIONS += ("All about equally alike",)


def reveal_pairs(ctx: Ctx) -> Reveal:
    pts = points()
    b = banks(pts)
    sim = cosines(pts, last(pts), b)
    same, cross = {}, []
    for i in range(len(b)):
        for j in range(i + 1, len(b)):
            if sense(i) == sense(j):
                same[sense(i)] = float(sim[i, j])
            else:
                cross.append(float(sim[i, j]))
    values = [*same.values(), *cross]
    if max(values) - min(values) <= SAME:
        answer = PAIR_OPTIONS[2]
    else:
        answer = PAIR_OPTIONS[0] if max(same.values()) >= max(cross) else PAIR_OPTIONS[1]
    return Reveal(
        answer=answer,
        said=f"At depth {last(pts)} the two river banks have cosine {same['river']:.3f} and the "
        f"two money banks {same['money']:.3f}; a river bank and a money bank only "
        f"{min(cross):.3f} to {max(cross):.3f}.",
        why="The banks start as one point and the layers pull each towards its sentence's "
        "meaning. The two river sentences give their banks similar context, as do the two "
        "money sentences, so each bank ends nearer the bank of its own sense: the vector now "
        "carries the sense.",
        figures=(matrix(pts, last(pts), b, f"The four banks at depth {last(pts)}"),),
    )


# ---- 4. a neighbour or a namesake ------------------------------------------------------------

NEAR_OPTIONS = ("To *river*", "To the money *bank*", "About equally close")


def neighbour(pts: proj.Points) -> list[int]:
    """Sentence 1's "river" and "bank", then the money sentence's "bank"."""
    b = banks(pts)
    return [b[RIVER] - 1, b[RIVER], b[MONEY]]


def reveal_near(ctx: Ctx) -> Reveal:
    pts = points()
    picked = neighbour(pts)
    end, start = cosines(pts, last(pts), picked), cosines(pts, 0, picked)
    river, money = float(end[1, 0]), float(end[1, 2])
    answer = NEAR_OPTIONS[2] if abs(river - money) <= SAME else NEAR_OPTIONS[int(money > river)]
    return Reveal(
        answer=answer,
        said=f"At depth {last(pts)} the river bank has cosine {river:.3f} with “river” (up "
        f"from {start[1, 0]:.3f} at depth 0) and {money:.3f} with the money bank (down from "
        f"{start[1, 2]:.3f}).",
        why="Context pulls “bank” towards its neighbour, but it does not turn into it: a "
        "token's own identity still makes up most of its vector at the last layer. The sense "
        "shows as a shift, measured against other banks, not as a new word.",
        figures=(
            matrix(pts, 0, picked, "Depth 0"),
            matrix(pts, last(pts), picked, f"Depth {last(pts)}"),
        ),
    )


# ---- 5. anisotropy ------------------------------------------------------------------------------

RISE_OPTIONS = ("It rises", "It falls", "It stays about the same")


def show_rise(ctx: Ctx) -> Shown:
    pts = points()
    mean_cos, _ = proj.depth_profile(pts.hidden)
    return Shown(
        text=f"At depth 0 two different tokens of these sentences have a mean cosine of "
        f"{mean_cos[0]:.3f} ({len(pts.tokens)} tokens, every pair)."
    )


def reveal_rise(ctx: Ctx) -> Reveal:
    pts = points()
    mean_cos, mean_norm = proj.depth_profile(pts.hidden)
    change = mean_cos[-1] - mean_cos[0]
    where = 2 if abs(change) <= FLAT else int(change < 0)
    top = int(mean_cos.argmax())
    b = banks(pts)
    cross = cosines(pts, last(pts), [b[RIVER], b[MONEY]])[0, 1]
    cone = (  # what the vectors did, in the direction the mean cosine went
        "Anisotropy: the vectors crowd into a narrower cone as they go up, sharing a common "
        "direction, so any two tokens look more alike.",
        "The vectors spread out as they go up, so any two tokens look less alike than at "
        "depth 0, though they still share a common direction (anisotropy).",
        "The vectors keep about the same spread from bottom to top, sharing a common "
        "direction (anisotropy), so any two tokens look somewhat alike throughout.",
    )[where]
    return Reveal(
        answer=RISE_OPTIONS[where],
        said=f"The mean cosine goes from {mean_cos[0]:.3f} at depth 0 to {mean_cos[-1]:.3f} at "
        f"depth {last(pts)}, highest at depth {top} ({mean_cos[top]:.3f}).",
        why=f"{cone} Judge a cosine against that level: the river and money banks' "
        f"{cross:.2f} should be read against the {mean_cos[-1]:.2f} of any two tokens, not "
        "against 0.",
        figures=(charts.depth_profile_figure(mean_cos, mean_norm, None, last(pts)),),
    )


# ---- 6. now yours: a word two of the learner's sentences share -------------------------------


def shared_word(pts: proj.Points) -> tuple[int, int]:
    """The first use of the longest whole word in two of the sentences: two token indices."""
    first: dict[str, dict[int, int]] = {}  # word -> sentence -> its first token there
    for i, (token, word, special) in enumerate(
        zip(pts.tokens, pts.words, pts.special, strict=True)
    ):
        if not special and token == word and any(c.isalnum() for c in token):
            first.setdefault(token, {}).setdefault(int(pts.sentence[i]), i)
    shared = [(w, uses) for w, uses in first.items() if len(uses) >= 2]
    if not shared:
        raise ValueError(
            "no word appears in two of your sentences: type two sentences that share a word, "
            "like “I left my phone on the train.” and “They train the new staff every spring.”"
        )
    _, uses = max(shared, key=lambda wu: len(wu[0]))  # the first of the longest
    a, b = sorted(uses)[:2]
    return uses[a], uses[b]


def where(pts: proj.Points, i: int) -> str:
    return f"sentence {pts.sentence[i] + 1}, token {pts.position[i]}"


def show_yours(ctx: Ctx) -> Shown:
    pts = points(ctx.sentences)
    a, b = shared_word(pts)
    start = cosines(pts, 0, [a, b])[0, 1]
    return Shown(
        text=f"Your sentences share “{md_escape(pts.tokens[a])}” ({where(pts, a)}, and "
        f"{where(pts, b)}). At depth 0 the two have cosine {start:.3f}."
    )


def reveal_yours(ctx: Ctx) -> Reveal:
    pts = points(ctx.sentences)
    a, b = shared_word(pts)
    by_depth = [cosines(pts, d, [a, b])[0, 1] for d in range(last(pts) + 1)]
    mean_cos, _ = proj.depth_profile(pts.hidden)
    word = md_escape(pts.tokens[a])
    s, t = int(pts.sentence[a]), int(pts.sentence[b])
    both = [i for i in range(len(pts.tokens)) if pts.sentence[i] in (s, t)]
    picked = both if len(both) <= 24 else [a, b]
    return Reveal(
        answer=float(by_depth[-1]),
        said=f"The two “{word}”s end at cosine {by_depth[-1]:.3f} at depth {last(pts)} (from "
        f"{by_depth[0]:.3f} at depth 0); two tokens of your sentences have {mean_cos[-1]:.3f} "
        "on average there.",
        why="Depth 0 differs only by position; each layer then mixes in the words around each "
        "use. Two uses in one sense stay close; two senses drift apart, as the banks did "
        "(judge the number against your sentences' average, because of anisotropy).",
        figures=(matrix(pts, last(pts), picked, f"Your tokens at depth {last(pts)}"),),
    )


def query_yours(ctx: Ctx) -> dict[str, str]:
    return link(last(), "\n".join(ctx.sentences), "word")


# ---- the lesson -------------------------------------------------------------------------------

LESSON = Lesson(
    slug="meaning-moves",
    title="Meaning moves through the layers",
    page="Layer by layer",
    summary="Follow the word “bank” by a river and at the money end through MiniLM's six "
    "layers: where the two senses part, how far, and how to read a cosine.",
    steps=(
        Step(
            title="One point at depth 0",
            question="At depth 0 (the embedding plus the position, before any layer), what is "
            f"the cosine between the “bank” of sentence {RIVER + 1} and the “bank” of sentence "
            f"{MONEY + 1}? (Right within 0.05.)",
            ask=Number(-1.0, 1.0, 0.01, tolerance=0.05, digits=3),
            reveal=reveal_start,
            show=show_start,
            page=PAGE,
            query=link(0),
        ),
        Step(
            title="After six layers",
            question="And after the last layer: what is the cosine between the river “bank” of "
            f"sentence {RIVER + 1} and the money “bank” of sentence {MONEY + 1}? (Right within "
            "0.1.)",
            ask=Number(-1.0, 1.0, 0.01, tolerance=0.1, digits=3),
            reveal=reveal_end,
            show=show_end,
            page=PAGE,
            query=lambda ctx: link(last()),
        ),
        Step(
            title="Which banks end closest",
            question="At the last depth, which pair of the four banks is most alike? (If all "
            f"their cosines lie within {SAME:g} of each other, they are about equally alike.)",
            ask=Choice(PAIR_OPTIONS),
            reveal=reveal_pairs,
            show=show_end,
            page=PAGE,
            query=lambda ctx: link(last()),
        ),
        Step(
            title="Neighbour or namesake",
            question=f"At the last depth, is the river “bank” of sentence {RIVER + 1} closer to "
            f"“river”, the word just before it, or to the money “bank” of sentence {MONEY + 1}? "
            f"(Cosines within {SAME:g} count as about equally close.)",
            ask=Choice(NEAR_OPTIONS),
            reveal=reveal_near,
            show=show_end,
            page=PAGE,
            query=lambda ctx: link(last()),
        ),
        Step(
            title="All tokens crowd together",
            question="Over every pair of different tokens in the four sentences, how does the "
            "mean cosine change from depth 0 to the last depth? (A change within "
            f"{FLAT:g} counts as about the same.)",
            ask=Choice(RISE_OPTIONS),
            reveal=reveal_rise,
            show=show_rise,
            page=PAGE,
            query=lambda ctx: link(last()),
        ),
        Step(
            title="Now yours",
            question="Now yours: use one word in two of your sentences, in two senses if you "
            "can. At the last depth, what is the cosine between its two uses? (Right within "
            "0.1.)",
            ask=Number(-1.0, 1.0, 0.01, tolerance=0.1, digits=3),
            reveal=reveal_yours,
            show=show_yours,
            page=PAGE,
            query=query_yours,
            yours=True,
        ),
    ),
    next_up="Open **Layer by layer** with the *“bank”* preset and press ▶ Play to watch the "
    "banks part; then try the paraphrase preset, or your own word in two senses with *Colour "
    "by: word*. Next lesson: watch a head learn on the Train page.",
    yours=YOURS,
)
