"""Training: the encoder plus a linear head learns a toy task on a tiny budget, in chunks, the
same way every time from a seed; the command line trains, saves and prints its last line."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from encoder import checkpoint, train_cli
from encoder.tasks import get_task
from encoder.train import (
    Settings,
    TaskModel,
    Trainer,
    attention_of,
    best_head,
    ideal_match,
    model_config,
    predict,
    token_accuracy,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(d_model=32, n_heads=2, n_layers=1, d_ff=64)
LAST_LINE = re.compile(
    r"^(?P<task>[a-z-]+): accuracy (?P<acc>\d\.\d{3}) on 2000 fresh examples after "
    r"(?P<secs>\d+\.\d) s \((?P<steps>\d+) steps\)$"
)


def tiny_trainer(**settings) -> Trainer:
    task = get_task("copy-back")
    values = dict(lr=0.01, batch_size=64, max_steps=300, max_seconds=math.inf)
    return Trainer(task, model_config(task, **TINY), Settings(**{**values, **settings}))


@pytest.fixture(scope="module")
def trained() -> Trainer:
    trainer = tiny_trainer()
    trainer.run()
    return trainer


def test_a_tiny_model_learns_copy_back_and_its_head_finds_the_ideal_pattern(trained):
    assert trained.reached and trained.accuracy >= 0.99 and trained.steps < 300
    assert trained.history[0].loss > 2.0 > 0.1 > trained.history[-1].loss
    task = trained.task
    att = trained.attention(task.example)
    ideal = task.ideal_attention(trained.tokenizer.encode(task.example).ids)
    *_, match = best_head(att, ideal)
    assert match > 0.8  # one head puts most of its weight two places back
    assert predict(trained.model, task, "3 1 4 1 5") == "_ _ 3 1 4"
    assert trained.model.training  # attention and predict hand the model back in its mode


def test_the_learning_rate_warms_up_linearly():
    trainer = tiny_trainer(lr=0.01, warmup=4, max_steps=6)
    rates = []
    for _ in range(6):
        rates.append(trainer.learning_rate())
        trainer.step()
    assert rates == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01])


def test_runs_advance_in_chunks_within_the_budget():
    trainer = tiny_trainer(max_steps=12)
    assert len(trainer.run(steps=5)) == 5 and trainer.steps == 5
    assert len(trainer.run(seconds=0)) == 1  # at least one step per call
    trainer.run()
    assert trainer.steps == 12 and trainer.done and not trainer.reached
    assert trainer.run() == []  # a finished run does nothing
    timed = tiny_trainer(max_seconds=0.05, max_steps=10_000)
    timed.run()
    assert timed.done and timed.seconds >= 0.05 and timed.steps < 10_000


def test_the_same_seed_trains_the_same_weights():
    a, b, c = tiny_trainer(max_steps=15), tiny_trainer(max_steps=15), tiny_trainer(seed=1)
    a.run()
    b.run(steps=7)
    b.run()  # in two chunks: still the same
    c.run(steps=15)
    for (name, pa), pb in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0, msg=name)
    assert not torch.equal(a.model.head.weight, c.model.head.weight)


def test_padding_does_not_change_a_trained_models_answers(trained):
    """The mask at work: the same sequence alone or padded next to a longer one."""
    tok = trained.tokenizer
    alone = tok.encode_batch(["3 1 4"])
    padded = tok.encode_batch(["3 1 4", "1 2 3 4 5 6 7 8"])
    trained.model.eval()
    with torch.no_grad():
        a, _ = trained.model(alone.input_ids, alone.attention_mask)
        b, _ = trained.model(padded.input_ids, padded.attention_mask)
    trained.model.train()
    torch.testing.assert_close(a[0], b[0, :3], atol=1e-5, rtol=1e-5)


def test_attention_maps_are_per_layer_and_head_with_rows_summing_to_one(trained):
    att = attention_of(trained.model, trained.task, "3 1 4 1 5")
    assert att.shape == (1, 2, 5, 5)
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-5)


def test_ideal_match_by_hand():
    ideal = np.eye(3)[::-1]
    att = np.stack([np.full((3, 3), 1 / 3), ideal, 0.5 * ideal + 0.5 * np.eye(3)])[None]
    np.testing.assert_allclose(ideal_match(att, ideal), [[1 / 3, 1.0, 2 / 3]])
    assert best_head(att, ideal) == (0, 1, 1.0)
    no_rows = np.zeros((3, 3))
    np.testing.assert_array_equal(ideal_match(att, no_rows), [[0, 0, 0]])


def test_token_accuracy_skips_padding():
    logits = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]])
    assert token_accuracy(logits, torch.tensor([[1, 1, -100]])) == 0.5


def test_bad_settings_and_configs_are_refused_in_words():
    with pytest.raises(ValueError, match="learning rate"):
        Settings(lr=0)
    with pytest.raises(ValueError, match="batch_size"):
        Settings(batch_size=0)
    task = get_task("reverse")
    with pytest.raises(ValueError, match="does not fit the reverse task"):
        Trainer(task, model_config(get_task("sort")))
    with pytest.raises(ValueError, match="must be divisible"):
        model_config(task, d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="n_labels"):
        TaskModel(model_config(task), 0)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "encoder.train", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_command_line_trains_saves_and_ends_with_the_summary_line(tmp_path):
    out = tmp_path / "copy.safetensors"
    done = run_cli(
        "--task", "copy-back", "--steps", "300", "--seconds", "120", "--out", str(out),
        "--d-model", "32", "--heads", "2", "--layers", "1", "--d-ff", "64", "--lr", "0.01",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("training copy-back:") and any(" loss " in x for x in lines)
    last = LAST_LINE.match(lines[-1])
    assert last, lines[-1]
    assert last["task"] == "copy-back" and float(last["acc"]) >= 0.99
    ckpt = checkpoint.load(out)
    assert ckpt.training["steps"] == int(last["steps"])
    assert round(ckpt.training["accuracy"], 3) == float(last["acc"])


def test_command_line_budget_exit_status_and_refusals(tmp_path, capsys):
    out = tmp_path / "r.safetensors"
    assert train_cli.main(["--task", "reverse", "--steps", "3", "--out", str(out), "--quiet"]) == 1
    (line,) = capsys.readouterr().out.strip().splitlines()  # 1: the budget ran out before 99%
    assert LAST_LINE.match(line) and line.endswith("(3 steps)") and out.exists()
    with pytest.raises(SystemExit) as stop:
        train_cli.main(["--task", "copy"])
    assert stop.value.code == 2 and "invalid choice: 'copy'" in capsys.readouterr().err
    assert train_cli.main(["--heads", "3", "--out", str(out)]) == 2
    assert "must be divisible" in capsys.readouterr().err
    assert train_cli.main(["--out", str(tmp_path / "model.pt")]) == 2
    assert "must end in .safetensors" in capsys.readouterr().err
