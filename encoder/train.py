"""Train the encoder plus a linear head on a toy task, in bounded chunks of steps and seconds.

``python -m encoder.train --task reverse [--seconds N] [--seed S] [--out PATH]`` trains until 99%
token accuracy on fresh examples (or the time limit), saves a checkpoint and prints as its last
line ``reverse: accuracy 0.995 on 2000 fresh examples after 14.2 s (1800 steps)``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import EncoderConfig, check_int
from .model import TaskModel
from .tasks import IGNORE, Task, TaskBatch, TaskTokenizer

EVAL_EXAMPLES = 2000
TARGET = 0.99
EVAL_STREAM = 0x5EED  # the fresh evaluation examples come from their own generator
DROPOUT_STREAM = 0xD209  # and the training's dropout masks from their own RNG state
# Dropout draws from torch's global RNG, which every thread shares. A Trainer keeps its own copy
# of that RNG's state and swaps it in for each step's forward pass under a lock; whatever else
# seeds or draws from the global RNG in the same process (the app's train-mode forward passes)
# must hold the same lock: the app passes its own (app.compute.TRAIN_LOCK) as ``rng_lock``.
RNG_LOCK = threading.Lock()


def model_config(task: Task, **arch) -> EncoderConfig:
    """An EncoderConfig for a task: its vocabulary and lengths, and the architecture given.

    Defaults: d_model 64, 4 heads, 2 layers, d_ff 256, no dropout, pre-norm (trains fastest).
    """
    values = dict(d_model=64, n_heads=4, n_layers=2, d_ff=256, dropout=0.0, norm_first=True)
    values.update(arch)
    values.update(vocab_size=len(task.vocab), max_len=task.max_len, pad_id=0)
    return EncoderConfig(**values)


@dataclass(frozen=True)
class Settings:
    """How to train: optimiser, batch, seed and the budget (whichever limit comes first)."""

    lr: float = 3e-3  # AdamW learning rate after a linear warm-up
    batch_size: int = 64  # examples per step
    seed: int = 0  # weights and the training examples
    max_steps: int = 20_000
    max_seconds: float = 60.0
    target: float = TARGET  # stop once fresh examples reach this token accuracy
    warmup: int = 50  # steps of linear warm-up
    eval_examples: int = EVAL_EXAMPLES

    def __post_init__(self) -> None:
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("max_steps", self.max_steps, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_int("eval_examples", self.eval_examples, minimum=1)
        check_int("warmup", self.warmup, minimum=1)
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr <= 1):
            raise ValueError(f"learning rate ({self.lr!r}) must be a number in (0, 1]")
        if not (isinstance(self.max_seconds, (int, float)) and self.max_seconds > 0):
            raise ValueError(f"max_seconds ({self.max_seconds!r}) must be positive")


@dataclass
class Point:
    step: int
    seconds: float
    loss: float
    accuracy: float  # token accuracy on that step's (fresh) training batch


@dataclass
class Trainer:
    """A training run you can advance in chunks: ``run(seconds=0.3)`` until ``done``.

    The seed fixes everything: weights, training examples and dropout masks (from an RNG state
    of its own), so the same settings train the same model in any thread, whatever else runs.
    """

    task: Task
    cfg: EncoderConfig
    settings: Settings = field(default_factory=Settings)
    # held while the global RNG carries this run's state (see RNG_LOCK)
    rng_lock: AbstractContextManager = field(default=RNG_LOCK, repr=False, compare=False)
    model: TaskModel = field(init=False)
    history: list[Point] = field(init=False, default_factory=list)
    steps: int = field(init=False, default=0)
    seconds: float = field(init=False, default=0.0)
    accuracy: float | None = field(init=False, default=None)  # last evaluation on fresh data
    evaluated_at: int = field(init=False, default=-1)
    reached: bool = field(init=False, default=False)  # the target accuracy was reached

    def __post_init__(self) -> None:
        if self.cfg.vocab_size != len(self.task.vocab) or self.cfg.max_len < self.task.max_len:
            raise ValueError(
                f"the config does not fit the {self.task.name} task: it needs vocab_size "
                f"{len(self.task.vocab)} and max_len of at least {self.task.max_len}"
            )
        # module constructors draw (then put back) the global RNG: not while someone else's
        # seeded pass is using it
        with self.rng_lock:
            self.model = TaskModel(self.cfg, len(self.task.labels), seed=self.settings.seed)
        self.model.train()
        seed = self.settings.seed ^ DROPOUT_STREAM
        self._rng_state = torch.Generator().manual_seed(seed).get_state()  # dropout's draws
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=self.settings.lr, weight_decay=0.0
        )
        self.generator = torch.Generator().manual_seed(self.settings.seed)

    @property
    def tokenizer(self) -> TaskTokenizer:
        return TaskTokenizer(self.task, self.cfg.max_len)

    @property
    def done(self) -> bool:
        s = self.settings
        return self.reached or self.steps >= s.max_steps or self.seconds >= s.max_seconds

    def learning_rate(self) -> float:
        return self.settings.lr * min(1.0, (self.steps + 1) / self.settings.warmup)

    def step(self) -> Point:
        """One optimiser step on a fresh batch."""
        batch = self.task.sample(self.settings.batch_size, self.generator)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        with self._dropout_rng():
            logits, _ = self.model(batch.input_ids, batch.attention_mask)
        # the backward pass reuses the forward's dropout masks: it draws nothing
        loss = F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten(), ignore_index=IGNORE)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.steps += 1
        return Point(
            self.steps, self.seconds, loss.item(), token_accuracy(logits.detach(), batch.labels)
        )

    @contextmanager
    def _dropout_rng(self) -> Iterator[None]:
        """The global RNG holds this run's own state (under the lock) while the forward runs."""
        if self.cfg.dropout == 0:  # dropout with p = 0 draws nothing: no need to wait
            yield
            return
        with self.rng_lock, torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._rng_state)
            yield
            self._rng_state = torch.get_rng_state()

    def run(self, seconds: float = math.inf, steps: int | None = None) -> list[Point]:
        """Train for at most ``seconds`` and ``steps`` more, within the budget; new points."""
        start = time.perf_counter()
        budget = self.seconds
        new: list[Point] = []
        while not self.done and (steps is None or len(new) < steps):
            point = self.step()
            self.seconds = budget + time.perf_counter() - start
            point.seconds = self.seconds
            new.append(point)
            self.history.append(point)
            if self._close_to_target():
                self.evaluate()
                self.seconds = budget + time.perf_counter() - start
            if time.perf_counter() - start >= seconds:
                break
        return new

    def _close_to_target(self) -> bool:
        recent = self.history[-20:]
        if len(recent) < 20 or self.steps - self.evaluated_at < 50:
            return False
        return sum(p.accuracy for p in recent) / len(recent) >= self.settings.target

    def evaluate(self, n: int | None = None) -> float:
        """Token accuracy on ``n`` fresh examples (eval mode); sets ``reached`` at the target."""
        n = self.settings.eval_examples if n is None else n
        gen = torch.Generator().manual_seed(self.settings.seed ^ EVAL_STREAM)
        self.accuracy = evaluate(self.model, self.task, n, gen)
        self.evaluated_at = self.steps
        self.reached = self.accuracy >= self.settings.target
        return self.accuracy

    def attention(self, text: str) -> np.ndarray:
        """Per-layer, per-head attention of the model on one text. Shape: (L, H, n, n)"""
        return attention_of(self.model, self.task, text)

    def summary(self) -> str:
        acc = self.accuracy if self.accuracy is not None else float("nan")
        return (
            f"{self.task.name}: accuracy {acc:.3f} on {self.settings.eval_examples} fresh "
            f"examples after {self.seconds:.1f} s ({self.steps} steps)"
        )


def token_accuracy(logits: Tensor, labels: Tensor) -> float:
    """Share of real (non-padding) positions whose top label is right."""
    real = labels != IGNORE
    right = (logits.argmax(-1) == labels) & real
    return float(right.sum()) / max(1, int(real.sum()))


@torch.no_grad()
def evaluate(
    model: TaskModel, task: Task, n: int, generator: torch.Generator, chunk: int = 500
) -> float:
    """Token accuracy over ``n`` fresh examples, in eval mode (the mode is restored)."""
    was_training = model.training
    model.eval()
    right = total = 0
    try:
        for start in range(0, n, chunk):
            batch: TaskBatch = task.sample(min(chunk, n - start), generator)
            logits, _ = model(batch.input_ids, batch.attention_mask)
            real = batch.labels != IGNORE
            right += int(((logits.argmax(-1) == batch.labels) & real).sum())
            total += int(real.sum())
    finally:
        model.train(was_training)
    return right / max(1, total)


@torch.no_grad()
def attention_of(model: TaskModel, task: Task, text: str) -> np.ndarray:
    """Attention maps of one text, eval mode. Shape: (L, H, n, n)"""
    was_training = model.training
    model.eval()
    try:
        batch = TaskTokenizer(task, model.cfg.max_len).encode_batch([text])
        _, att = model(batch.input_ids, batch.attention_mask, output_attentions=True)
    finally:
        model.train(was_training)
    return torch.stack(att)[:, 0].numpy()


@torch.no_grad()
def predict(model: TaskModel, task: Task, text: str) -> str:
    """The model's labels for one text, separated by spaces (eval mode)."""
    was_training = model.training
    model.eval()
    try:
        batch = TaskTokenizer(task, model.cfg.max_len).encode_batch([text])
        logits, _ = model(batch.input_ids, batch.attention_mask)
    finally:
        model.train(was_training)
    return " ".join(task.labels[i] for i in logits[0].argmax(-1).tolist())


def ideal_match(attentions: np.ndarray, ideal: np.ndarray) -> np.ndarray:
    """Share of each head's attention that falls where the ideal pattern puts it.

    Mean over the rows that need a key of sum_j A[i, j] * ideal[i, j].
    Shape: attentions (L, H, n, n), ideal (n, n) -> (L, H)
    """
    rows = ideal.sum(-1) > 0
    if not rows.any():
        return np.zeros(attentions.shape[:2], dtype=np.float32)
    return (attentions * ideal)[..., rows, :].sum(-1).mean(-1)


def best_head(attentions: np.ndarray, ideal: np.ndarray) -> tuple[int, int, float]:
    """(layer, head, match) of the head closest to the ideal pattern."""
    match = ideal_match(attentions, ideal)
    layer, head = np.unravel_index(int(np.argmax(match)), match.shape)
    return int(layer), int(head), float(match[layer, head])


if __name__ == "__main__":  # python -m encoder.train: the command line lives in train_cli.py,
    # run by name, not imported: train_cli imports this module, never the other way round
    import runpy

    runpy.run_module("encoder.train_cli", run_name="__main__", alter_sys=True)
