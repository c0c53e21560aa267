"""Lesson 7, Watching a head learn (the Train page): predict the attention that reverses a
sequence, measure the untrained model, then train a small model (once per server, a few seconds)
and find the heads that learned the pattern, on the lesson's example and on the learner's digits.

Every number comes from ``app.compute.train``: the same Job the Train page runs (so its link,
with the settings below, trains the very same model), the same head matching and the same
``try_text``; the figures from ``app.charts.train``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from app import state
from app.charts import train as charts
from app.compute import train as jobs
from app.lessons import base
from app.lessons.base import Choice, Ctx, Lesson, Number, Reveal, Shown, Step
from encoder.tasks import TaskTokenizer, get_task
from encoder.train import Settings

TASK = get_task("reverse")
EXAMPLE = TASK.example  # "3 1 4 1 5 9 2 6": the fixed example the Train page watches
# small enough to reach 99% in 2 to 3.5 s of one core's CPU (the page's default size: 7 s)
ARCH = (
    ("d_model", 32),
    ("n_heads", 4),
    ("n_layers", 2),
    ("d_ff", 64),
    ("dropout", 0.0),
    ("norm_first", True),
)
# the 99% target ends the run long before either limit: the clock never decides
SETTINGS = Settings(max_steps=2000, max_seconds=120.0)
LEVEL = 0.9  # the accuracy step 4 asks about
WINDOW = jobs.WINDOW  # steps the batch accuracy of step 4 is averaged over (the progress line)
HALF = 0.5  # a head "draws the mirror" when over half of its weight is on the mirror keys
BINS = ((30, "under 30"), (100, "30 to 100"), (400, "100 to 400"), (1500, "400 to 1,500"))
OVER = "over 1,500"
STEP_OPTIONS = (*(label for _, label in BINS), OVER)
N_LAYERS, N_HEADS = dict(ARCH)["n_layers"], dict(ARCH)["n_heads"]
YES, NO = "yes, every one", "no, it slips somewhere"
NEAR = 0.1
K = len(TASK.labels)  # the digits a position can be: -ln(1/K) = ln K is the even guess's loss
EVEN = math.log(K)
LOSS_OPTIONS = (f"below {EVEN:.2f}", f"within {NEAR:g} of {EVEN:.2f}", f"above {EVEN:.2f}")

# the Train page's own widget keys, so that its Start trains this lesson's run
NORM = next(k for k, v in state.NORM_OPTIONS.items() if v == dict(ARCH)["norm_first"])
PAGE = dict(
    task=TASK.name,
    secs=SETTINGS.max_seconds,
    steps=SETTINGS.max_steps,
    lr=SETTINGS.lr,
    batch=SETTINGS.batch_size,
    tseed=SETTINGS.seed,
    width=dict(ARCH)["d_model"],
    heads=N_HEADS,
    layers=N_LAYERS,
    ffn=dict(ARCH)["d_ff"],
    drop=dict(ARCH)["dropout"],
    tnorm=NORM,
)


def _query(ctx: Ctx) -> dict[str, str]:
    return base.link_query(base.PRETRAINED, None, **PAGE)


def _yours_query(ctx: Ctx) -> dict[str, str]:
    """The learner's digits go to the sidebar too: pick the trained model there afterwards."""
    return base.link_query(base.PRETRAINED, "\n".join(ctx.sentences), **PAGE)


def _run() -> jobs.Result:
    """The lesson's training run: trained once per server, shared by every session."""
    return jobs.trained_run(TASK.name, ARCH, SETTINGS)


def _tokens(text: str) -> list[str]:
    return TaskTokenizer(TASK).encode(text).tokens


def _ideal() -> np.ndarray:
    return jobs.ideal_of(TASK, EXAMPLE)


# ---- 1. the ideal pattern -------------------------------------------------------------------


def _candidates(n: int) -> dict[str, np.ndarray]:
    eye = np.eye(n, dtype=np.float32)
    first = np.zeros((n, n), dtype=np.float32)
    first[:, 0] = 1.0
    return {
        "the diagonal": eye,
        "the anti-diagonal": eye[::-1].copy(),
        "the first token": first,
        "uniform": np.full((n, n), 1.0 / n, dtype=np.float32),
    }


IDEAL_OPTIONS = tuple(_candidates(2))


def ideal_show(ctx: Ctx) -> Shown:
    tokens = _tokens(EXAMPLE)
    patterns = _candidates(len(tokens))
    fig = charts.tiles(list(patterns.values()), list(patterns), tokens, columns=4, tile_px=130)
    return Shown(
        text=f"The example `{EXAMPLE}` must come out as `{TASK.solve(EXAMPLE)}`. "
        "The four candidates, drawn on it:",
        figures=(fig,),
    )


def ideal_reveal(ctx: Ctx) -> Reveal:
    tokens, ideal = _tokens(EXAMPLE), _ideal()
    n = len(tokens)
    patterns = _candidates(n)
    # each candidate's share of weight on the ideal keys: the Train page's head matching
    match = jobs.head_match(np.stack(list(patterns.values()))[None], ideal)[0]
    answer = list(patterns)[int(np.argmax(match))]
    src = ideal.argmax(1)
    shares = ", ".join(f"{name} {m:.0%}" for name, m in zip(patterns, match, strict=True))
    fig = charts.tiles([ideal], ["the ideal for reverse"], tokens, tile_px=200)
    return Reveal(
        answer=answer,
        said=f"For the {n} digits of the example, the ideal puts all of row i's weight on key "
        f"{n - 1} − i: row 0 on key {src[0]}, row {n - 1} on key {src[-1]}. Share of each "
        "candidate's weight on those keys: "
        f"{shares}.",
        why="To output the digit at the mirror position, the query at position i needs the "
        "value at n − 1 − i and nothing else: ones from the top right to the bottom left. "
        "The diagonal would copy each digit in place, the first token would repeat one digit "
        "everywhere, and an even spread would blur them all together.",
        figures=(fig,),
    )


# ---- 2. and 3. the untrained model ------------------------------------------------------------


def chance_show(ctx: Ctx) -> Shown:
    return Shown(
        text=f"The model answers every position with one of the task's {len(TASK.labels)} "
        f"labels: {' '.join(TASK.labels)}."
    )


def chance_reveal(ctx: Ctx) -> Reveal:
    accuracy, _ = jobs.untrained(TASK.name, ARCH, SETTINGS)
    k = len(TASK.labels)
    return Reveal(
        answer=100 * accuracy,
        said=f"Before training, the model gets **{accuracy:.1%}** of the digits right on "
        f"{SETTINGS.eval_examples:,} fresh examples.",
        why=f"Each answer is one of {k} digits, so a blind guess is right 1 time in {k} "
        f"({1 / k:.0%}). Random weights know nothing about the mirror position: the model's "
        "answer for a position is some scrambled function of its input, right about as often "
        "as a guess.",
    )


def loss_reveal(ctx: Ctx) -> Reveal:
    _, first = jobs.untrained(TASK.name, ARCH, SETTINGS)
    k, even, gap = K, EVEN, first.loss - EVEN
    where = 1 if abs(gap) <= NEAR else 2 if gap > 0 else 0
    start = (  # what these random weights did, in the direction the loss went
        f"These random weights favour some digits a little, right or not, and start {-gap:.2f} "
        "below it on this batch, by luck: they know nothing yet.",
        f"These random weights give every digit about 1/{k}, so they start within {NEAR:g} of "
        "it: training must find the right digit from there.",
        "These random weights are fairly sure of digits that are wrong, so they start "
        f"{gap:.2f} above it, and training first has to undo that.",
    )[where]
    return Reveal(
        answer=LOSS_OPTIONS[where],
        said=f"Its loss on the first batch of {SETTINGS.batch_size} sequences is "
        f"**{first.loss:.2f}**, {gap:+.2f} from ln {k} = {even:.2f} (batch "
        f"accuracy {first.accuracy:.1%}): where the training curve starts.",
        why="While a prediction says nothing about the right digit, the average −ln p is "
        f"smallest when each of the {k} digits gets probability 1/{k}: ln {k}. {start}",
    )


# ---- 4. train ---------------------------------------------------------------------------------


def _bin(steps: int | None) -> str:
    return next((label for top, label in BINS if steps is not None and steps < top), OVER)


def train_show(ctx: Ctx) -> Shown:
    return Shown(
        text=f"The model: {N_LAYERS} layers of {N_HEADS} heads, d_model {dict(ARCH)['d_model']}, "
        f"learning rate {SETTINGS.lr:g}, trained until {SETTINGS.target:.0%} of the digits of "
        f"fresh examples come out right. The first reveal on this server trains it (a few "
        "seconds); after that everyone shares the result."
    )


def train_reveal(ctx: Ctx) -> Reveal:
    run, ideal = _run(), _ideal()
    at = jobs.steps_to(run.history, LEVEL)
    curves = charts.history_curves(run.history, target=SETTINGS.target)
    curves.update_layout(height=260)
    earlier = [s for s in run.snapshots if at is None or s.step < at]
    before = earlier[-1]
    after = next((s for s in run.snapshots if at is not None and s.step >= at), run.snapshots[-1])
    # the page's strip (each snapshot's best head) in four snapshots: untrained, the two before
    # the accuracy passed LEVEL, and the first after it
    picked = {s.step: s for s in (run.snapshots[0], *earlier[-2:], after)}
    picked = [picked[step] for step in sorted(picked)]
    maps, titles = jobs.snapshot_maps(picked, ideal)
    strip = charts.tiles(maps, titles, _tokens(EXAMPLE), columns=2, tile_px=100)
    curves.update_layout(meta={"name": "Loss and accuracy"})  # its tab's name on a projector
    strip.update_layout(meta={"name": "Attention as it forms"})
    reached = f"reached {LEVEL:.0%} at **step {at:,}**" if at else f"never reached {LEVEL:.0%}"
    said = (
        f"Batch accuracy (the mean of the last {WINDOW} steps) {reached}. Training ended at step "
        f"{run.steps:,} after {run.seconds:.1f} s ({run.how}), with {run.accuracy:.1%} of the "
        f"digits of {run.eval_examples:,} fresh examples right."
    )
    m0, m1 = (jobs.best(s.attention, ideal)[2] for s in (before, after))
    return Reveal(
        answer=_bin(at),
        said=said,
        why=f"The accuracy climbs as a head gathers its weight on the mirror keys: the closest "
        f"head had {m0:.0%} of its weight there at step {before.step} (batch accuracy "
        f"{before.accuracy:.0%}) and {m1:.0%} at step {after.step} ({after.accuracy:.0%}). "
        "Nobody told it the rule: each step's gradient pulled the weights towards the pattern "
        "that reverses.",
        figures=(curves, strip),
    )


# ---- 5. which heads -------------------------------------------------------------------------


def heads_reveal(ctx: Ctx) -> Reveal:
    run, ideal = _run(), _ideal()
    final = run.snapshots[-1].attention  # (L, H, n, n) on the example, after training
    match = jobs.head_match(final, ideal)
    layer, head, best = jobs.best(final, ideal)
    mirror = [(i, h) for i in range(match.shape[0]) for h in range(match.shape[1])]
    mirror = [(i, h) for i, h in mirror if match[i, h] > HALF]
    names = ", ".join(f"L{i} H{h} ({match[i, h]:.0%})" for i, h in mirror) or "none"
    maps, titles = jobs.head_tiles(final, ideal)
    grid = charts.tiles(maps, titles, _tokens(EXAMPLE), columns=match.shape[1], tile_px=110)
    return Reveal(
        answer=len(mirror),
        said=f"**{len(mirror)}** of {match.size}: {names}. The closest is layer {layer}, head "
        f"{head}, with {best:.0%} of its weight on the mirror keys; the first layer's heads put "
        f"at most {match[0].max():.0%} there.",
        why="A first-layer query knows its own digit and position but not the length n, so it "
        "cannot aim at n − 1 − i: its heads draw a blurred mirror that suits typical lengths. "
        "The first layer's outputs carry the length onward, so the second layer's heads can "
        "point straight at the mirror.",
        figures=(grid,),
    )


# ---- 6. now yours -----------------------------------------------------------------------------


def yours_reveal(ctx: Ctx) -> Reveal:
    run, ideal = _run(), _ideal()
    rows = []
    for k, line in enumerate(ctx.sentences, 1):
        try:
            tokens, said, right = jobs.try_text(run.weights, line)
        except ValueError as err:  # the task tokenizer's own words, as the Train page shows them
            where = f"Line {k}: " if len(ctx.sentences) > 1 else ""  # the page shows it as
            raise ValueError(state.md_escape(f"{where}{err}", limit=1000)) from None  # Markdown
        rows.append((tokens, said, right))
    digits = sum(a == b for _, s, r in rows for a, b in zip(s.split(), r.split(), strict=True))
    total = sum(len(t) for t, _, _ in rows)
    whole = sum(s == r for _, s, r in rows)
    table = pd.DataFrame(
        {
            "your digits": [" ".join(t) for t, _, _ in rows],
            "the model says": [s for _, s, _ in rows],
            "the answer": [r for _, _, r in rows],
            "right": ["yes" if s == r else "no" for _, s, r in rows],
        }
    )
    # the head closest to the ideal on the example, now on the learner's first line
    layer, head, _ = jobs.best(run.snapshots[-1].attention, ideal)
    first = ctx.sentences[0]
    att, mine = jobs.attention_on(run.weights, first), jobs.ideal_of(TASK, first)
    share = float(jobs.head_match(att, mine)[layer, head])
    fig = charts.tiles(
        [att[layer, head], mine], [f"yours: L{layer} H{head}", "the ideal"], rows[0][0],
        tile_px=180,
    )  # fmt: skip
    wrong = 1 - run.accuracy
    odds = f"about one digit in {1 / wrong:,.0f}" if wrong > 0 else "not one digit"
    return Reveal(
        answer=YES if whole == len(rows) else NO,
        said=f"It reversed **{whole} of {len(rows)}** without a mistake ({digits} of {total} "
        f"digits right): “{state.md_escape(first)}” → `{rows[0][1]}`.",
        why=f"On {run.eval_examples:,} fresh examples it got {run.accuracy:.1%} of the digits "
        f"right: {odds} comes out wrong, so most sequences pass. On your first line, layer "
        f"{layer}, head {head} puts {share:.0%} of its weight on the mirror keys: it learned "
        "the rule, not the example.",
        figures=(fig,),
        table=table,
    )


LESSON = Lesson(
    slug="watch-a-head-learn",
    title="Watching a head learn",
    page="Train",
    summary="Predict the attention that reverses a sequence, then train a small model and "
    "watch its heads learn to draw it.",
    steps=(
        Step(
            title="The ideal pattern",
            question="The **reverse** task reads n digits and outputs them backwards: position "
            "i outputs the digit at position n − 1 − i. Which attention pattern solves it?",
            ask=Choice(IDEAL_OPTIONS, widget="radio"),
            show=ideal_show,
            reveal=ideal_reveal,
            page="train",
            query=_query,
        ),
        Step(
            title="Before training: accuracy",
            question="Before any training the weights are random: what share of the digits of "
            "fresh examples does the model get right? (In percent, within 5.)",
            ask=Number(0, 100, 1, tolerance=5, unit="%", digits=1),
            show=chance_show,
            reveal=chance_reveal,
            page="train",
            query=_query,
        ),
        Step(
            title="Before training: loss",
            question="Training lowers the loss −ln p, p being the probability the model gives "
            f"the right digit; a model that gives each of the {K} digits probability {1 / K:g} "
            f"scores −ln {1 / K:g} = ln {K} ≈ {EVEN:.2f}. Where is the untrained model's loss on "
            "its first batch?",
            ask=Choice(LOSS_OPTIONS, widget="segmented"),
            reveal=loss_reveal,
            page="train",
            query=_query,
        ),
        Step(
            title="Train it",
            question=f"Now train: each step shows the model {SETTINGS.batch_size} fresh random "
            f"sequences and nudges its weights. After how many steps does its batch accuracy "
            f"(averaged over {WINDOW} steps) first reach {LEVEL:.0%}?",
            ask=Choice(STEP_OPTIONS),  # five ranges: a radio wraps in a projector's column
            show=train_show,
            reveal=train_reveal,
            page="train",
            query=_query,
        ),
        Step(
            title="Which heads learned it",
            question=f"After training, how many of the model's {N_LAYERS * N_HEADS} heads put "
            f"more than half of their attention on the mirror keys of “{EXAMPLE}”? The exact "
            "count (within 0).",
            ask=Number(0, N_LAYERS * N_HEADS, 1, tolerance=0, digits=0),
            reveal=heads_reveal,
            page="train",
            query=_query,
        ),
        Step(
            title="Now yours",
            question="Type sequences of 2 to 10 digits, one per line (“31415” or “3 1 4 1 5”). "
            "Will the trained model reverse every one of them without a mistake?",
            ask=Choice((YES, NO), widget="segmented"),
            reveal=yours_reveal,
            page="train",
            query=_yours_query,
            yours=True,
        ),
    ),
    next_up="Open the **Train** page and train *reverse* with `n_layers` 1: without a first "
    "layer to pass on the length, it stays below 99% for thousands of steps. Then pick "
    "**Trained** in the sidebar and look at your digits on the **Attention** page.",
    yours="3 1 4 1 5 9\n2 7 1 8 2 8",
)
