"""The Train page's work: a training job per session, run in bounded chunks, and the trained
models the sidebar offers (the shipped checkpoints, then this session's own).

A job and its model live in the session's own state, never in a shared cache: two people
training at once each have their own weights. Only a finished model, as checkpoint bytes, is
shared through ``compute.trained_checkpoint`` / ``compute.trained_model``, keyed by those bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from app import compute, state
from app.compute import limiter
from encoder import checkpoint
from encoder.tasks import TASKS, Task, TaskTokenizer, get_task
from encoder.train import Point, Settings, Trainer, best_head, evaluate, ideal_match
from encoder.train_cli import training_record

CHECKPOINTS = state.ASSETS / "checkpoints"
MODELS = "trained_models"  # session key: sidebar name -> checkpoint bytes, this session's own
RESULT = "train_result"  # session key: the Result the page shows
JOB = "train_job"  # session key: the Job in progress (or the last one)
UNDO = "text_before_task_inputs"  # session key: the user's text, replaced by a task's inputs
NOTICE = "task_inputs_notice"  # session key: (task, loaded by a model switch?) of that swap
MAX_SNAPSHOTS = 12
FIRST_SNAPSHOT = 25  # steps; then every doubling (25, 50, 100, ...) and the last step
WINDOW = 20  # steps the batch accuracy is averaged over (progress line, snapshots, lessons)
# what "Use the task's inputs" puts in the sidebar: a few lines each task can read
INPUTS = {
    "reverse": "3 1 4 1 5 9 2 6\n2 7 1 8 2\n1 2 3 4 5 6 7 8 9 0",
    "copy-back": "3 1 4 1 5 9 2 6\n2 7 1 8 2\n1 2 3 4 5 6 7 8 9 0",
    "sort": "3 1 4 1 5 9 2 6\n2 7 1 8 2\n9 8 7 6 5",
}


@dataclass
class Snapshot:
    step: int
    accuracy: float  # mean token accuracy of the last training batches
    attention: np.ndarray  # (L, H, n, n) on the fixed example, eval mode


@dataclass
class Result:
    """A finished model as the page shows it: from a training job or an upload."""

    name: str  # its name in the sidebar ("reverse · yours")
    task: Task
    weights: bytes  # the checkpoint file
    accuracy: float  # on fresh examples
    eval_examples: int
    steps: int
    seconds: float
    how: str  # "reached 99%", "stopped by the budget", "stopped", "uploaded"
    settings: Settings | None = None  # how it was trained here; None when uploaded
    history: list[Point] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)


@dataclass
class Job:
    """One training run of one session, advanced a chunk at a time by the page."""

    trainer: Trainer
    snapshots: list[Snapshot] = field(default_factory=list)
    status: str = "running"  # running, done, stopped
    next_snapshot: int = 0
    result: Result | None = None  # set when the run ends; kept by settle() on the next run
    kept: bool = False

    @property
    def task(self) -> Task:
        return self.trainer.task

    def advance(self, seconds: float) -> None:
        """Train for about ``seconds`` (at least one step), then take a snapshot when due."""
        if self.next_snapshot == 0:
            self._snapshot()
            self.next_snapshot = FIRST_SNAPSHOT
        more = len(self.snapshots) < MAX_SNAPSHOTS - 1  # the last one is kept for the end
        # stop exactly at the next snapshot's step: the same run gives the same snapshots; at a
        # lower CPU priority, so other sessions' pages come first
        with limiter.background():
            self.trainer.run(
                seconds=seconds, steps=self.next_snapshot - self.trainer.steps if more else None
            )
        if more and self.trainer.steps == self.next_snapshot:
            self._snapshot()
            self.next_snapshot *= 2

    def progress(self) -> float:
        t, s = self.trainer, self.trainer.settings
        return min(1.0, max(t.steps / s.max_steps, t.seconds / s.max_seconds))

    def recent_accuracy(self) -> float:
        return batch_accuracy(self.trainer.history)

    def _snapshot(self) -> None:
        t = self.trainer
        if self.snapshots and self.snapshots[-1].step == t.steps:
            return
        self.snapshots.append(
            Snapshot(t.steps, self.recent_accuracy(), t.attention(self.task.example))
        )

    def finish(self, how: str | None = None) -> Result:
        """End the run and keep its model in ``self.result``.

        Pure Python, no Streamlit call (session state included): it runs in a ``finally`` while
        a Stop or a page switch unwinds the script, where any st.* call would raise again.
        """
        t = self.trainer
        if t.evaluated_at != t.steps:
            t.evaluate()
        self._snapshot()
        self.status = "done" if t.done else "stopped"
        done = "stopped by the budget" if t.done else "stopped"
        how = how or (f"reached {t.settings.target:.0%}" if t.reached else done)
        weights = checkpoint.to_bytes(t.model, self.task, training_record(t))
        self.result = Result(
            name=f"{self.task.name} · yours",
            task=self.task,
            weights=weights,
            accuracy=float(t.accuracy),
            eval_examples=t.settings.eval_examples,
            steps=t.steps,
            seconds=t.seconds,
            how=how,
            settings=t.settings,
            history=list(t.history),
            snapshots=list(self.snapshots),
        )
        return self.result


def start(task_name: str, arch: dict, settings: Settings) -> Job:
    """A new job (raises ValueError, in words, on an impossible architecture)."""
    from encoder.train import model_config

    task = get_task(task_name)
    # dropout's draws take turns with the train-mode forward passes other sessions run
    return Job(Trainer(task, model_config(task, **arch), settings, rng_lock=compute.TRAIN_LOCK))


def keep(result: Result) -> None:
    """Make a finished model the page's result and selectable in the sidebar."""
    st.session_state.setdefault(MODELS, {})[result.name] = result.weights
    st.session_state[RESULT] = result


def settle() -> None:
    """At the start of a run: end a job the last run left running (it was cut off before its
    finally) and keep the model of a job that ended while the page was being left."""
    job = st.session_state.get(JOB)
    if job is None or job.kept:
        return
    if job.status == "running":
        job.finish("stopped")
    if job.result is not None:
        keep(job.result)
        job.kept = True


def from_upload(data: bytes) -> Result:
    """Validate an uploaded checkpoint and measure it; ValueError (in words) changes nothing."""
    with compute.TRAIN_LOCK:  # building draws from the global RNG (see compute.TRAIN_LOCK)
        ckpt = checkpoint.from_bytes(data, source="the uploaded file")
    n = 500
    import torch

    accuracy = evaluate(ckpt.model, ckpt.task, n, torch.Generator().manual_seed(0))
    info = ckpt.training
    return Result(
        name=f"{ckpt.task.name} · uploaded",
        task=ckpt.task,
        weights=bytes(data),
        accuracy=accuracy,
        eval_examples=n,
        steps=int(info.get("steps", 0) or 0),
        seconds=float(info.get("seconds", 0.0) or 0.0),
        how="uploaded",
    )


@st.cache_resource(show_spinner=False, max_entries=1)
def shipped() -> dict[str, bytes]:
    """The checkpoints shipped in assets/checkpoints, by task name, each validated once."""
    out = {}
    for name in TASKS:
        path = CHECKPOINTS / f"{name}.safetensors"
        if path.is_file():
            try:
                out[name] = checkpoint.read_bytes(path)
                compute.trained_checkpoint(out[name])
            except ValueError:
                out.pop(name, None)  # a damaged file is left out, not served
    return out


def available() -> dict[str, bytes]:
    """What the sidebar offers: shipped checkpoints, then this session's trained and uploaded."""
    settle()
    return {**shipped(), **st.session_state.get(MODELS, {})}


def load_inputs(task_name: str) -> None:
    """Callback: put lines the task can read into the sidebar's text area."""
    _replace_text(task_name, switched=False)


def follow_model_switch() -> None:
    """Call before the sidebar's text area runs. When the sidebar's model has just become a
    trained task model (the Train page's button, the sidebar's pickers) and the sentences are not
    something its task reads, load the task's inputs; ``inputs_notice`` says so and offers the
    user's text back. A link opened fresh is left as it is: it shows what its sender saw."""
    before = st.session_state.get("choice")  # the model of the last run; None on the first
    name = None if before is None else sidebar_trained()
    if name is None or (before.kind == state.TRAINED and before.trained == name):
        return
    models = available()
    ckpt = compute.trained_checkpoint(models[name])
    lines, _ = state.split_sentences(st.session_state.get(state.TEXT, ""))
    try:
        if not lines:
            raise ValueError("no sentences")
        compute.task_tokenizer(models[name]).encode_batch(lines, max_len=ckpt.model.cfg.max_len)
    except ValueError:
        _replace_text(ckpt.task.name, switched=True)


def sidebar_trained() -> str | None:
    """The trained model the sidebar is about to show (its picker's value as this run begins),
    or None when its model is not a trained one."""
    if state.MODEL_OPTIONS.get(st.session_state.get("model")) != state.TRAINED:
        return None
    models = available()
    if not models:
        return None
    name = st.session_state.get("trained", st.query_params.get("trained"))
    return name if name in models else next(iter(models))  # as the sidebar's picker does


def _replace_text(task_name: str, switched: bool) -> None:
    """The task's inputs in the text area; the user's own text kept for "Bring back my text"."""
    text = st.session_state.get(state.TEXT, "")
    if text.strip() and text not in INPUTS.values():  # typed text (not another task's inputs)
        st.session_state[UNDO] = text
    st.session_state[state.TEXT] = INPUTS[task_name]
    st.session_state[NOTICE] = (task_name, switched)


def inputs_notice() -> None:
    """While the task's inputs loaded by a model switch are on screen: what happened, and the
    user's text back on request."""
    said = st.session_state.get(NOTICE)
    if said is None:
        return
    task_name, switched = said
    if st.session_state.get(state.TEXT) != INPUTS[task_name]:  # edited or replaced since
        st.session_state.pop(NOTICE, None)
        st.session_state.pop(UNDO, None)
        return
    model = sidebar_trained()
    if switched and model is not None:
        st.info(
            f"The model “{state.md_escape(model)}” reads digits, not words: the sentences are "
            f"now the {task_name} task's inputs. Type your own digits, one sequence per line.",
            icon=":material/info:",
        )
    if st.session_state.get(UNDO) is not None:
        st.button(
            "Bring back my text",
            icon=":material/undo:",
            key="restore_task_text",
            on_click=state.restore_text,
            args=(UNDO, NOTICE),
            help="The task's inputs replaced the text you had typed; this puts it back.",
        )


@st.cache_data(show_spinner=False, max_entries=32)
def head_match(attention: np.ndarray, ideal: np.ndarray) -> np.ndarray:
    return ideal_match(attention, ideal)


def ideal_of(task: Task, text: str) -> np.ndarray:
    return task.ideal_attention(TaskTokenizer(task).encode(text).ids)


def best(attention: np.ndarray, ideal: np.ndarray) -> tuple[int, int, float]:
    return best_head(attention, ideal)


def arch_of(weights: bytes) -> dict:
    """The model_config arguments of a checkpoint's architecture."""
    cfg = compute.trained_checkpoint(weights).model.cfg
    names = ("d_model", "n_heads", "n_layers", "d_ff", "dropout", "norm_first")
    return {k: getattr(cfg, k) for k in names}


@st.cache_data(show_spinner=False, max_entries=8)
def example_attention(weights: bytes) -> np.ndarray:
    """A checkpoint's attention on its task's fixed example. Shape: (L, H, n, n)"""
    return attention_on(weights, compute.trained_checkpoint(weights).task.example)


def attention_on(weights: bytes, text: str) -> np.ndarray:
    """A checkpoint's attention on one input (ValueError if unreadable). Shape: (L, H, n, n)"""
    from encoder.train import attention_of

    ckpt = compute.trained_checkpoint(weights)
    return attention_of(ckpt.model, ckpt.task, text)


@st.cache_data(show_spinner=False, max_entries=16)
def try_text(weights: bytes, text: str) -> tuple[list[str], str, str]:
    """Tokens, the model's answer and the right answer for one input (ValueError if unreadable)."""
    from encoder.train import predict

    ckpt = compute.trained_checkpoint(weights)
    enc = ckpt.tokenizer().encode(text)
    return enc.tokens, predict(ckpt.model, ckpt.task, text), ckpt.task.solve(text)


def head_tiles(attention: np.ndarray, ideal: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """Every head's map, layer by layer, titled with its share of weight on the ideal keys
    ("L1 H2 · 87%"). Shape: attention (L, H, n, n)"""
    match = head_match(attention, ideal)
    L, H = match.shape
    maps = [attention[i, h] for i in range(L) for h in range(H)]
    return maps, [f"L{i} H{h} · {match[i, h]:.0%}" for i in range(L) for h in range(H)]


def snapshot_maps(
    snapshots: list[Snapshot], ideal: np.ndarray, head: tuple[int, int] | None = None, last: int = 8
) -> tuple[list[np.ndarray], list[str]]:
    """The fixed example's attention at each of the ``last`` snapshots, with tile titles: one head
    (layer, head) throughout, or each snapshot's own best head; each with its share of weight on
    the ideal keys ("step 200 · L1 H2 · 87%")."""
    maps, titles = [], []
    for snap in snapshots[-last:]:
        if head is None:
            layer, h, match = best(snap.attention, ideal)
        else:
            layer, h = head
            match = float(head_match(snap.attention, ideal)[layer, h])
        maps.append(snap.attention[layer, h])
        titles.append(f"step {snap.step} · L{layer} H{h} · {match:.0%}")
    return maps, titles


def batch_accuracy(history: list[Point], end: int | None = None) -> float:
    """The batch accuracy the page's progress line and snapshots give: the mean token accuracy
    of the last WINDOW steps of ``history[:end]`` (0 before the first step)."""
    recent = history[:end][-WINDOW:]
    return sum(p.accuracy for p in recent) / len(recent) if recent else 0.0


def steps_to(history: list[Point], accuracy: float) -> int | None:
    """The first step at which the batch accuracy reaches ``accuracy``; None if it never does."""
    for k in range(len(history)):
        if batch_accuracy(history, k + 1) >= accuracy:
            return history[k].step
    return None


def untrained(
    task_name: str, arch: tuple[tuple[str, object], ...], settings: Settings
) -> tuple[float, Point]:
    """A run's model before it learns: its token accuracy on the run's final evaluation set,
    and its first step's point (loss and accuracy before that step's update). About 0.3 s."""
    trainer = start(task_name, dict(arch), settings).trainer
    accuracy = trainer.evaluate()
    return accuracy, trainer.run(steps=1)[0]


# one run (the lesson's): ~0.1 MB, its checkpoint and up to 12 snapshots of (L, H, 10, 10)
@st.cache_resource(
    show_spinner="Training a small model (once for this server: a few seconds)…",
    max_entries=1,
)
def trained_run(task_name: str, arch: tuple[tuple[str, object], ...], settings: Settings) -> Result:
    """Train to the end, once per server, as the Train page's Start does with these settings:
    the same Job, so the same steps, snapshots and weights (the seed fixes them all; keep
    ``settings.max_seconds`` far above the run's time, so that the clock never decides).
    ``arch``: model_config's arguments as (name, value) pairs (hashable, for the cache key)."""
    job = start(task_name, dict(arch), settings)
    while not job.trainer.done:
        job.advance(math.inf)
    result = job.finish()
    for snap in result.snapshots:  # shared by every session: read-only
        snap.attention.flags.writeable = False
    return result
