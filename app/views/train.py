"""Train: train a small encoder on a toy task, live, and watch its attention take shape."""

from __future__ import annotations

import time

import streamlit as st

from app import compute, state, ui
from app.charts import train as charts
from app.compute import train as jobs
from app.snippets.train import train_snippet
from encoder import checkpoint
from encoder.tasks import TASKS
from encoder.train import Settings

CHUNK = 0.2  # seconds of training between two looks at the page (Stop, leaving it)
DRAW_EVERY = 0.5  # seconds between redraws of the curves
START = "_train_now"  # set by the Start button: this run trains (and locks the controls)
WIDTHS, HEADS, FFNS = [16, 32, 64, 128, 256], [1, 2, 4, 8], [32, 64, 128, 256, 512, 1024]
LRS, BATCHES = [0.0003, 0.001, 0.003, 0.01], [16, 32, 64, 128, 256]
# the page's model size starts from the sidebar's From scratch settings, where they fit
FROM_SIDEBAR = {"width": "d_model", "heads": "n_heads", "layers": "n_layers", "ffn": "d_ff"}
FROM_SIDEBAR |= {"drop": "dropout", "tnorm": "norm"}
OPTIONS = {"width": WIDTHS, "heads": HEADS, "layers": [1, 2, 3, 4], "ffn": FFNS}
OPTIONS |= {"tnorm": list(state.NORM_OPTIONS)}
EXPLAINER = (
    "A toy task has an answer you can write down, and so has the attention that solves it. "
    "**reverse** outputs the sequence backwards: each position must look at its mirror "
    "(an anti-diagonal). **copy-back** outputs the digit two places earlier (a diagonal "
    "shifted left). **sort** outputs the digits in order: each position looks for the digit "
    "of its rank. The model is this app's encoder plus one linear layer that turns each "
    "token's vector into a label. Every step draws fresh random examples of random lengths "
    "(padded, with the attention mask), so accuracy on them is accuracy on unseen data.\n\n"
    "**Try this**\n"
    "- Train *reverse* and scrub the snapshot slider: the anti-diagonal appears in one head "
    "of the last layer as the accuracy climbs.\n"
    "- Train with 1 layer: *copy-back* still learns in seconds, *reverse* stays below 99% for "
    "thousands of steps. With 2 layers, the first layer's heads look towards the end of the "
    "sequence (where its length shows) and a head of the second at the mirror position.\n"
    "- Afterwards pick *Trained* in the sidebar and open the Attention page with your own digits."
)


def seed_from_sidebar() -> None:
    for mine, theirs in FROM_SIDEBAR.items():
        if mine in st.session_state or mine in st.query_params or theirs not in st.session_state:
            continue
        value = st.session_state[theirs]
        if (mine == "drop" and 0 <= value <= 0.5) or value in OPTIONS.get(mine, []):
            st.session_state[mine] = value


def controls() -> tuple[bool, str, dict, Settings]:
    """Task, budget, optimiser and model size, then Start, which trains with what is on screen.

    No st.form: a form's widgets reach the URL (and the Share link) only when it is submitted,
    so a link would name the settings of the last run instead of those on screen.
    """
    seed_from_sidebar()
    start = bool(st.session_state.pop(START, False))
    # locked while this run trains: a change would rerun the page, which stops the training
    w = dict(bind="query-params", width=170, disabled=start)
    st.markdown("**Task, budget and optimiser**")
    with st.container(horizontal=True, gap="medium"):
        task = st.selectbox("Task", list(TASKS), key=state.linked("task"), **w)
        secs = ui.number_input("At most seconds", 1, 300, 30, key=state.linked("secs"), **w)
        steps = ui.number_input(
            "At most steps", 10, 20_000, 5000, step=100, key=state.linked("steps"), **w
        )
        lr = st.select_slider("Learning rate", LRS, 0.003, key=state.linked("lr"), **w)
        batch = st.select_slider("Batch size", BATCHES, 64, key=state.linked("batch"), **w)
        seed = ui.number_input(
            "Seed", 0, 2**31 - 1, 0, key=state.linked("tseed"), help="weights and data", **w
        )
    st.markdown(
        "**Model size** (the sidebar's *From scratch* settings when that model is chosen; "
        "otherwise a small pre-norm model without dropout, which trains in seconds)"
    )
    with st.container(horizontal=True, gap="medium"):
        width = st.select_slider("d_model", WIDTHS, 64, key=state.linked("width"), **w)
        heads = st.select_slider("n_heads", HEADS, 4, key=state.linked("heads"), **w)
        layers = st.select_slider("n_layers", [1, 2, 3, 4], 2, key=state.linked("layers"), **w)
        ffn = st.select_slider("d_ff", FFNS, 256, key=state.linked("ffn"), **w)
        drop = st.slider("dropout", 0.0, 0.5, 0.0, 0.05, key=state.linked("drop"), **w)
        norm = st.selectbox(
            "LayerNorm", list(state.NORM_OPTIONS), 1, key=state.linked("tnorm"), **w
        )
    st.button(
        "Start training", type="primary", icon=":material/play_arrow:", key="start",
        on_click=state.assign, kwargs={START: True}, disabled=start,
    )  # fmt: skip
    arch = dict(d_model=width, n_heads=heads, n_layers=layers, d_ff=ffn)
    arch |= dict(dropout=round(float(drop), 2), norm_first=state.NORM_OPTIONS[norm])
    settings = Settings(
        lr=float(lr), batch_size=batch, seed=int(seed), max_steps=int(steps), max_seconds=secs
    )
    return start, task, arch, settings


def progress_text(job: jobs.Job) -> str:
    t, s = job.trainer, job.trainer.settings
    return (
        f"Step {t.steps:,} (at most {s.max_steps:,}) · {t.seconds:.1f} s (at most "
        f"{s.max_seconds:g}) · batch accuracy {job.recent_accuracy():.1%}"
    )


def curves(history, evals=()) -> None:
    fig = charts.history_curves(history, target=Settings().target, evals=list(evals))
    ui.plotly_chart(fig, theme=None, key=f"curves_{len(history)}")


def strip(snapshots, tokens, head: tuple[int, int] | None, ideal) -> None:
    """The fixed example's attention at each snapshot: one head (or each one's best head)."""
    maps, titles = jobs.snapshot_maps(snapshots, ideal, head)
    fig = charts.tiles(maps, titles, tokens, columns=4, tile_px=140)
    ui.plotly_chart(fig, theme=None, key=f"strip_{snapshots[-1].step}_{head}", width="content")


def train_live(job: jobs.Job) -> None:
    """Train in chunks, redrawing as it goes. Any rerun (Stop, leaving the page, closing the tab)
    interrupts at the next redraw; the finally keeps the model as it was after the last step."""
    st.subheader("Training…")
    st.button("Stop", icon=":material/stop:", key="stop")
    bar = st.progress(0.0, text="Starting…")
    chart, live = st.empty(), st.empty()
    tokens = job.trainer.tokenizer.encode(job.task.example).tokens
    ideal = jobs.ideal_of(job.task, job.task.example)
    drawn, shown = 0.0, 0
    try:
        while not job.trainer.done:
            job.advance(CHUNK)
            if time.perf_counter() - drawn < DRAW_EVERY and not job.trainer.done:
                continue
            drawn = time.perf_counter()
            bar.progress(job.progress(), text=progress_text(job))
            with chart:
                curves(job.trainer.history)
            if len(job.snapshots) != shown:
                shown = len(job.snapshots)
                with live.container():
                    st.caption(
                        f"Attention on “{job.task.example}” as it trains: at each snapshot, the "
                        "head closest to the ideal pattern and the share of its weight there."
                    )
                    strip(job.snapshots, tokens, None, ideal)
    finally:  # no st.* call in here: during a Stop they raise again
        if job.status == "running":
            job.finish()
    jobs.settle()
    st.rerun()


def show_result(result: jobs.Result) -> None:
    task = result.task
    st.subheader(f"Result: {result.name}")
    with st.container(horizontal=True, gap="large"):
        label = f"Accuracy on {result.eval_examples:,} fresh examples"
        st.metric(label, f"{result.accuracy:.1%}", width="content")
        st.metric("Steps", f"{result.steps:,}", width="content")
        st.metric("Seconds", f"{result.seconds:.1f}", width="content")
        st.metric("Ended", result.how, width="content")
    if result.history:
        curves(result.history)
    ckpt = compute.trained_checkpoint(result.weights)
    tokens = ckpt.tokenizer().encode(task.example).tokens
    ideal = jobs.ideal_of(task, task.example)
    snapshots = result.snapshots or [
        jobs.Snapshot(result.steps, result.accuracy, jobs.example_attention(result.weights))
    ]
    final = snapshots[-1].attention
    layer, head, match = jobs.best(final, ideal)
    st.subheader(f"Attention on “{task.example}”")
    steps = [s.step for s in snapshots]
    if len(steps) > 1:
        ui.keep_valid("snap", steps, steps[-1])
        at = st.select_slider(
            "Snapshot (training step)", steps, steps[-1], key="snap", width=520,
        )  # fmt: skip
    else:
        at = steps[-1]
    att = snapshots[steps.index(at)].attention
    shown = float(jobs.head_match(att, ideal)[layer, head])
    with st.container(horizontal=True, gap="large"):
        with st.container(width="content"):
            st.caption(
                f"Layer {layer}, head {head} (counted from 0, as on the other pages) is the head "
                f"closest to the ideal after training ({match:.0%} of its weight on the ideal "
                f"keys; {shown:.0%} at step {at})."
            )
            pair = charts.tiles(
                [att[layer, head], ideal],
                [f"trained: L{layer} H{head}", "ideal"],
                tokens,
                tile_px=220,
            )
            ui.plotly_chart(pair, theme=None, key="pair", width="content")
        with st.container(width="content"):
            st.caption(f"Every head at step {at}, with its share of weight on the ideal keys.")
            maps, titles = jobs.head_tiles(att, ideal)
            H = att.shape[1]
            grid = charts.tiles(
                maps, titles, tokens, columns=H, tile_px=max(100, min(180, 720 // H))
            )
            ui.plotly_chart(grid, theme=None, key="grid", width="content")
    if len(snapshots) > 1:
        st.caption(f"Layer {layer}, head {head} through training: the pattern forming.")
        strip(snapshots, tokens, (layer, head), ideal)
    try_it(result)
    use_it(result)


def try_it(result: jobs.Result) -> None:
    st.subheader("Try it")
    text = st.text_input(
        "Your own input", "", key="try", placeholder=result.task.example,
        help=f"Type digits for the {result.task.name} model (empty: the example).",
    )  # fmt: skip
    try:
        tokens, said, right = jobs.try_text(result.weights, text or result.task.example)
    except ValueError as err:
        st.warning(str(err))
        return
    ok = "right" if said == right else "wrong"
    st.markdown(
        f"Input `{' '.join(tokens)}` → the model says `{said}`; the answer is `{right}` ({ok})."
    )


def use_it(result: jobs.Result) -> None:
    st.subheader("Use it on every page, or take it with you")
    chosen = st.session_state["choice"]
    picked = chosen.kind == state.TRAINED and chosen.trained == result.name
    st.caption(
        f"It is in the sidebar now: Model → Trained → “{result.name}”"
        + (" (picked)." if picked else ".")
        + " The download is a .safetensors file with its config and task inside; load it back "
        "below. A shared link carries these settings, not the trained weights (they stay in "
        "this browser session): to share the model, share the file."
    )
    with st.container(horizontal=True):
        st.button(
            "Pick it in the sidebar", icon=":material/check:", key="use_it", disabled=picked,
            on_click=state.assign, kwargs=dict(model="Trained", trained=result.name),
        )  # fmt: skip
        # a link, not st.switch_page: switching pages clears the URL, which bound widgets refuse
        st.page_link(
            "views/attention.py", label="Open the Attention page", icon=":material/grid_on:"
        )
        ui.download(
            "Download the checkpoint", result.weights, f"{result.task.name}.safetensors",
            "application/octet-stream", key="download",
        )  # fmt: skip


def upload() -> None:
    """Load a checkpoint back: validated first; a refusal says why and changes nothing."""
    st.subheader("Load a checkpoint")
    file = st.file_uploader(
        "A .safetensors file from this page or from python -m encoder.train",
        type=["safetensors"],
        max_upload_size=int(checkpoint.MAX_BYTES // 1_000_000),
        key="upload",
    )
    if file is None:
        return
    seen = st.session_state.setdefault("_uploads", {})
    if file.file_id not in seen:
        try:
            result = jobs.from_upload(file.getvalue())
        except ValueError as err:
            seen[file.file_id] = f"Not loaded, nothing changed: {err}"
        else:
            seen[file.file_id] = ""
            jobs.keep(result)
            st.rerun()  # the sidebar lists it from the next run
    if seen[file.file_id]:
        st.error(seen[file.file_id])
    else:
        st.success(f"Loaded {state.md_escape(file.name)}: see the result above.")


st.title("Train")
st.caption("A small encoder plus a linear head, trained on this server's CPU inside your session")
with st.expander(ui.EXPLAINER, expanded=False):
    st.markdown(EXPLAINER)
jobs.settle()  # keep the model of a run that was stopped or left
with st.container(border=True):  # grouped, as the form was
    start, task, arch, settings = controls()
live = st.container()
slot = st.empty()  # the results: replaced at once (not left stale) when training starts
if start:
    try:
        job = jobs.start(task, arch, settings)
    except ValueError as err:
        st.error(f"Cannot train this model: {err}")
        st.stop()
    st.session_state[jobs.JOB] = job
    with live:
        train_live(job)
with slot.container():
    result = st.session_state.get(jobs.RESULT)
    if result is None:
        st.info(
            "Pick a task and press **Start training**. Or skip the wait: the sidebar's "
            "*Trained* models were made by `python -m encoder.train` and ship with the app."
        )
    else:
        show_result(result)
    upload()
    if result is not None and result.settings is not None:
        arch = jobs.arch_of(result.weights)
        ui.snippet(train_snippet(result.task.name, arch, result.settings, result.steps))
