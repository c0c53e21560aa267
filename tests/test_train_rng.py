"""Seeded train-mode numbers do not depend on what other sessions do (issue 17.10).

Dropout draws from torch's global RNG, shared by every thread. The app's seeded train-mode
passes seed it under compute.TRAIN_LOCK; the training loop used to draw from it without the
lock (and without a seed), and building a model draws from it too. Now a Trainer swaps its own
RNG state in under that lock for each step, and the app builds its models under it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from itertools import count

import numpy as np
import pytest
import torch

from app import compute
from app.compute import train as jobs
from app.state import ASSETS, SCRATCH, ModelChoice
from encoder import EncoderConfig
from encoder.tasks import get_task
from encoder.train import Settings, Trainer, model_config

pytestmark = pytest.mark.slow
# a pass long enough (many dropout draws) for the other thread to run meanwhile
CONFIG = EncoderConfig(d_model=256, n_heads=4, n_layers=6, d_ff=1024, dropout=0.5)
CHOICE = ModelChoice(SCRATCH, CONFIG, seed=3, train=True, max_len=128)
TEXTS = ("the quick brown fox jumps over the lazy dog " * 12,) * 8
ENDLESS = Settings(max_steps=10**6, max_seconds=1e9)
ROUNDS = 4  # before the fix, 19 of 20 such passes differed from the idle one


def seeded_pass(choice: ModelChoice = CHOICE) -> compute.Forward:
    compute.forward.clear()  # computed now, not served from the cache
    return compute.forward(choice, TEXTS, True)


def assert_same(a: compute.Forward, b: compute.Forward) -> None:
    assert a is not b  # computed twice, not one cached result
    np.testing.assert_array_equal(a.attentions, b.attentions)
    np.testing.assert_array_equal(a.hidden_states, b.hidden_states)


@contextlib.contextmanager
def meanwhile(work: Callable[[], object]) -> Iterator[list[int]]:
    """Run ``work()`` over and over in another thread while the block runs; yields a counter."""
    stop, done, errors = threading.Event(), [0], []

    def loop() -> None:
        try:
            while not stop.is_set():
                work()
                done[0] += 1
                time.sleep(0.01)  # as people do: not back to back (a Lock is not fair)
        except BaseException as err:  # reported by the test, after the join
            errors.append(err)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join()
    assert not errors, errors


def test_a_seeded_train_mode_pass_is_the_same_while_another_session_trains():
    idle = seeded_pass()
    job = jobs.start("reverse", dict(dropout=0.5), ENDLESS)  # as the Train page starts one
    with meanwhile(lambda: job.advance(0.2)):
        busy = [seeded_pass() for _ in range(ROUNDS)]
    assert job.trainer.steps > 0  # it did train meanwhile
    for result in busy:
        assert_same(result, idle)


def test_a_seeded_train_mode_pass_is_the_same_while_models_are_built():
    """Module constructors draw from the global RNG (and put it back) while another session's
    model is built: a from-scratch model, a trained checkpoint, an upload."""
    idle = seeded_pass()
    seeds = count(100)
    data = (ASSETS / "checkpoints" / "sort.safetensors").read_bytes()

    def build() -> None:
        compute.scratch_model(EncoderConfig(d_model=256, n_layers=4, d_ff=1024), next(seeds))
        jobs.from_upload(data)

    with meanwhile(build) as built:
        busy = [seeded_pass() for _ in range(ROUNDS)]
    assert built[0] > 0
    for result in busy:
        assert_same(result, idle)


def losses(trainer: Trainer, steps: int) -> list[float]:
    return [p.loss for p in trainer.run(steps=steps)]


def test_training_twice_with_one_seed_gives_the_same_losses_under_concurrent_passes():
    """Dropout's masks come from the run's own seeded RNG state, whatever else draws."""
    small = ModelChoice(SCRATCH, EncoderConfig(n_layers=1, dropout=0.5), 3, True, 128)
    alone = losses(jobs.start("copy-back", dict(dropout=0.5), ENDLESS).trainer, 20)
    with meanwhile(lambda: seeded_pass(small)) as passes:  # each seeds the global RNG
        busy = losses(jobs.start("copy-back", dict(dropout=0.5), ENDLESS).trainer, 20)
    assert passes[0] > 0  # passes ran while it trained
    assert busy == alone
    other = jobs.start("copy-back", dict(dropout=0.5), Settings(seed=1, max_steps=10**6))
    assert losses(other.trainer, 20) != alone  # the seed does pick the masks


def test_a_training_step_leaves_the_global_rng_as_it_found_it():
    task = get_task("copy-back")
    tiny = dict(d_model=32, n_heads=2, n_layers=1, d_ff=64)
    before = torch.get_rng_state()
    for dropout in (0.0, 0.3):
        Trainer(task, model_config(task, dropout=dropout, **tiny), ENDLESS).run(steps=3)
        assert torch.equal(torch.get_rng_state(), before), dropout


def test_without_dropout_a_training_forward_pass_draws_nothing():
    """Why a Trainer without dropout does not wait for the lock: its steps draw no number."""
    task = get_task("copy-back")
    trainer = Trainer(task, model_config(task, d_model=32, n_heads=2, n_layers=1, d_ff=64))
    batch = task.sample(8, torch.Generator().manual_seed(0))
    assert trainer.model.training
    before = torch.get_rng_state()
    trainer.model(batch.input_ids, batch.attention_mask)  # train mode, dropout p = 0
    assert torch.equal(torch.get_rng_state(), before)
