"""``python -m encoder``: a small run succeeds and reports; bad arguments give one line, exit 2."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from encoder import Encoder, EncoderConfig
from encoder.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--d-model", "32", "--heads", "4", "--layers", "2", "--d-ff", "64", "--vocab", "50"]
GOOD = [*SMALL, "--batch", "3", "--seq", "6", "--max-len", "16", "--seed", "1"]
GOOD_CFG = EncoderConfig(
    vocab_size=50, d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.1, max_len=16
)

BAD = {
    "indivisible": (
        ["--d-model", "100", "--heads", "3"],
        "d_model (100) must be divisible by n_heads (3)",
    ),
    "heads-not-int": (["--heads", "x"], "invalid int value: 'x'"),
    "dropout-2": ([*SMALL, "--dropout", "2"], "dropout (2.0) must be a number in [0, 1)"),
    "seq-0": ([*SMALL, "--seq", "0"], "--seq (0)"),
    "seq-over-max-len": ([*SMALL, "--seq", "20", "--max-len", "16"], "--max-len (16)"),
    "unknown-flag": ([*SMALL, "--bogus"], "--bogus"),
}
# valid-looking arguments that must not end in a traceback: either run (0) or refuse (2)
EDGE = {
    "vocab-1": [*SMALL, "--vocab", "1", "--seq", "3"],
    "huge-seed": [*SMALL, "--seq", "3", "--seed", str(2**70)],
}


def spawn(args):
    return subprocess.Popen(
        [sys.executable, "-m", "encoder", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # they run side by side on few cores
    )


@pytest.fixture(scope="module")
def runs():
    """Start every subprocess at once (each pays the torch import), then collect them all."""
    procs = {"good": spawn(GOOD)}
    procs.update({name: spawn(args) for name, (args, _) in BAD.items()})
    procs.update({name: spawn(args) for name, args in EDGE.items()})
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


def parse_report(text: str) -> dict:
    shape = re.search(r"input ids shape: \((\d+), (\d+)\)", text)
    lengths = re.search(r"lengths (\[[\d, ]*\])", text)
    out_shape = re.search(r"output shape: \((\d+), (\d+), (\d+)\)", text)
    params = re.search(r"parameters: ([\d,]+)", text)
    assert shape and lengths and out_shape and params, text
    mask_rows = re.findall(r"\[([01](?:, [01])*)\]", text.split("lengths", 1)[1])
    return {
        "shape": tuple(map(int, shape.groups())),
        "lengths": ast.literal_eval(lengths.group(1)),
        "mask": [[int(v) for v in row.split(", ")] for row in mask_rows],
        "out_shape": tuple(map(int, out_shape.groups())),
        "params": int(params.group(1).replace(",", "")),
    }


def check_good_report(text: str) -> None:
    report = parse_report(text)
    assert report["shape"] == (3, 6)
    assert report["out_shape"] == (3, 6, 32)
    assert report["params"] == Encoder(GOOD_CFG).num_parameters()
    lengths = report["lengths"]
    assert len(lengths) == 3
    assert lengths[0] == 6  # the first row is full length
    assert all(1 <= n <= 6 for n in lengths)
    assert report["mask"] == [[1] * n + [0] * (6 - n) for n in lengths]


def test_subprocess_good_run(runs):
    res = runs["good"]
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert "config: EncoderConfig(" in res.stdout
    check_good_report(res.stdout)


@pytest.mark.parametrize("name", list(BAD))
def test_subprocess_bad_args_one_line_exit_2(runs, name):
    res = runs[name]
    expected = BAD[name][1]
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert res.stdout == ""


@pytest.mark.parametrize("name", list(EDGE))
def test_subprocess_edge_args_never_traceback(runs, name):
    res = runs[name]
    assert "Traceback" not in res.stderr, f"{EDGE[name]} crashed:\n{res.stderr}"
    assert res.returncode in (0, 2)
    if res.returncode == 2:
        assert len(res.stderr.splitlines()) == 1


def test_in_process_good_run(capsys):
    assert main(GOOD) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    check_good_report(captured.out)


def test_in_process_is_deterministic(capsys):
    assert main(GOOD) == 0
    first = capsys.readouterr().out
    assert main(GOOD) == 0
    assert capsys.readouterr().out == first


@pytest.mark.parametrize(
    "extra",
    [[], ["--layers", "1"], ["--d-ff", "16", "--vocab", "7"], ["--heads", "1", "--max-len", "8"]],
)
def test_in_process_parameter_count(capsys, extra):
    args = [*SMALL, "--batch", "1", "--seq", "4", *extra]
    assert main(args) == 0
    values = {"--d-model": 32, "--heads": 4, "--layers": 2, "--d-ff": 64, "--vocab": 50}
    values["--max-len"] = 512
    for flag, value in zip(args[::2], args[1::2], strict=True):
        values[flag] = int(value)
    cfg = EncoderConfig(
        vocab_size=values["--vocab"],
        d_model=values["--d-model"],
        n_heads=values["--heads"],
        n_layers=values["--layers"],
        d_ff=values["--d-ff"],
        max_len=values["--max-len"],
    )
    assert parse_report(capsys.readouterr().out)["params"] == Encoder(cfg).num_parameters()


@pytest.mark.parametrize("name", ["indivisible", "dropout-2", "seq-0", "seq-over-max-len"])
def test_in_process_bad_values_return_2(capsys, name):
    args, expected = BAD[name]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert expected in captured.err


@pytest.mark.parametrize("name", ["heads-not-int", "unknown-flag"])
def test_in_process_unparseable_args_exit_2(capsys, name):
    args, expected = BAD[name]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert expected in captured.err
