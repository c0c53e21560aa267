"""More of the library on arbitrary input (hypothesis, issue 14): positional tables,
experiments, tokenizers, tasks and checkpoints. Helpers and the rules are in test_properties."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from encoder import checkpoint, experiments, positional
from encoder.tasks import TASKS, TaskTokenizer, get_task
from encoder.tokenizer import default_tokenizer
from tests.test_properties import (
    FEW,
    SETTINGS,
    anything,
    finite,
    id_tensors,
    mask_for,
    model,
    outcome,
)

# ---- positional -------------------------------------------------------------------------------

sizes = st.one_of(st.integers(-2, 40), anything)
bases = st.one_of(st.floats(-5, 1e6), st.sampled_from([1.0, 2, 10000, float("inf")]), anything)


@SETTINGS
@given(sizes, sizes, bases)
def test_sinusoidal_table_and_wavelengths(max_len, d_model, base):
    table = outcome(positional.sinusoidal_table, max_len, d_model, base)
    lam = outcome(positional.wavelengths, d_model, base)
    if isinstance(table, torch.Tensor):
        finite(table)
        assert table.shape == (max_len, d_model) and (table.abs() <= 1).all()
        assert (table[0, 1::2] == 1).all() and (table[0, 0::2] == 0).all()
    if isinstance(lam, torch.Tensor):
        finite(lam)
        assert lam.shape == (d_model,)


@SETTINGS
@given(sizes, st.one_of(st.integers(), anything), bases)
def test_relative_rotation(d_model, offset, base):
    rot = outcome(positional.relative_rotation, d_model, offset, base)
    if isinstance(rot, torch.Tensor):
        finite(rot)
        eye = torch.eye(d_model, dtype=torch.float64)
        r = rot.double()
        torch.testing.assert_close(r @ r.T, eye, atol=1e-5, rtol=0)
        if abs(offset) < 10**6 and math.isfinite(base):
            pe = positional.sinusoidal_table(6 + offset if offset > 0 else 6, d_model, base)
            if offset >= 0:
                torch.testing.assert_close(
                    pe[offset : offset + 6], pe[:6] @ rot.T, atol=2e-3, rtol=0
                )


# ---- experiments ------------------------------------------------------------------------------


@SETTINGS
@given(st.data())
def test_order_test_padding_drift_and_layer_steps(data):
    m = model(data.draw(st.booleans()))
    ids = data.draw(st.one_of(id_tensors(), anything))
    S = ids.shape[-1] if isinstance(ids, torch.Tensor) and ids.ndim else 0
    perm = data.draw(
        st.one_of(
            st.permutations(list(range(S))), st.lists(st.integers(-1, S), max_size=S + 1), anything
        )
    )
    counts = data.draw(
        st.one_of(
            st.lists(st.integers(-1, 8), max_size=4), st.lists(anything, max_size=2), anything
        )
    )
    layer = data.draw(st.one_of(st.integers(-1, 2), anything))
    mask = data.draw(mask_for(ids)) if isinstance(ids, torch.Tensor) else None
    use = data.draw(st.booleans())

    diff = outcome(experiments.order_test, m, ids, perm, use_positions=use)
    if isinstance(diff, float):
        finite(diff)
        if not use:
            assert diff < 1e-4  # without positions, order does not matter
    drift = outcome(experiments.padding_drift, m, ids, counts, use_mask=True)
    if isinstance(drift, np.ndarray):
        finite(drift)
        assert drift.shape == (len(counts),) and (drift < 1e-4).all()
    steps = outcome(experiments.layer_steps, m, ids, mask, layer)
    if isinstance(steps, dict):
        for value in steps.values():
            finite(value)
    assert not m.training


@FEW
@given(anything)
def test_experiments_refuse_a_model_that_is_not_an_encoder(thing):
    ids = torch.zeros(1, 3, dtype=torch.long)
    assert isinstance(
        outcome(experiments.order_test, thing, ids, [0, 1, 2], use_positions=True), ValueError
    )
    assert isinstance(outcome(experiments.padding_drift, thing, ids, [1]), ValueError)
    assert isinstance(outcome(experiments.layer_steps, thing, ids), ValueError)


# ---- tokenizers -------------------------------------------------------------------------------


@functools.cache
def wordpiece():
    return default_tokenizer()


@SETTINGS
@given(
    st.one_of(st.text(max_size=40), anything), st.one_of(st.none(), st.integers(-2, 12), anything)
)
def test_wordpiece_encode(text, max_len):
    enc = outcome(wordpiece().encode, text, max_len)
    if not isinstance(enc, ValueError):
        assert (enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]") or max_len == 1
        assert max_len is None or len(enc) <= max_len
        assert len(enc.ids) == len(enc.tokens) == len(enc.offsets) == len(enc.special)


@SETTINGS
@given(
    st.one_of(st.lists(st.text(max_size=12), max_size=4), st.lists(anything, max_size=2), anything),
    st.one_of(st.none(), st.integers(-1, 8)),
)
def test_wordpiece_encode_batch(texts, max_len):
    batch = outcome(wordpiece().encode_batch, texts, max_len)
    if not isinstance(batch, ValueError):
        assert batch.input_ids.shape == batch.attention_mask.shape
        assert batch.attention_mask.sum(1).tolist() == [len(e) for e in batch.encodings]


@SETTINGS
@given(
    st.sampled_from(sorted(TASKS)),
    st.one_of(
        st.text(alphabet="0123456789 x", max_size=14),
        st.lists(st.text(max_size=4), max_size=3),
        anything,
    ),
    st.one_of(st.none(), st.integers(-1, 12)),
)
def test_task_tokenizer_and_solve(name, text, max_len):
    task = get_task(name)
    tok = TaskTokenizer(task)
    if isinstance(text, list):
        batch = outcome(tok.encode_batch, text, max_len)
        if not isinstance(batch, ValueError):
            assert batch.input_ids.shape[0] == len(text)
        return
    enc = outcome(tok.encode, text, max_len)
    answer = outcome(task.solve, text)
    if not isinstance(enc, ValueError) and max_len is None:
        assert isinstance(answer, str) and len(answer.split()) == len(enc)
        ideal = task.ideal_attention(enc.ids)
        finite(ideal)
        real = ideal.sum(-1)
        assert np.all((np.abs(real - 1) < 1e-6) | (real == 0))


@SETTINGS
@given(anything)
def test_get_task_with_anything(name):
    assert isinstance(outcome(get_task, name), ValueError) or name in TASKS


@FEW
@given(
    st.sampled_from(sorted(TASKS)),
    st.one_of(st.integers(-1, 6), anything),
    st.one_of(anything, st.just("gen")),
)
def test_task_sample(name, batch, generator):
    gen = torch.Generator().manual_seed(0) if generator == "gen" else generator
    out = outcome(get_task(name).sample, batch, gen)
    if not isinstance(out, ValueError):
        assert out.input_ids.shape == out.labels.shape == (batch, out.input_ids.shape[1])


# ---- checkpoints ------------------------------------------------------------------------------


@functools.cache
def good_checkpoint() -> bytes:
    from encoder.train import TaskModel, model_config

    task = get_task("reverse")
    cfg = model_config(task, d_model=8, n_heads=2, n_layers=1, d_ff=16)
    return checkpoint.to_bytes(TaskModel(cfg, len(task.labels), seed=0), task)


@SETTINGS
@given(st.data())
def test_checkpoint_from_any_bytes(data):
    good = good_checkpoint()
    kind = data.draw(st.sampled_from(["random", "cut", "flip", "splice", "other"]))
    if kind == "random":
        blob = data.draw(st.binary(max_size=300))
    elif kind == "cut":
        blob = good[: data.draw(st.integers(0, len(good) - 1))]
    elif kind == "flip":
        i = data.draw(st.integers(0, len(good) - 1))
        blob = good[:i] + bytes([good[i] ^ data.draw(st.integers(1, 255))]) + good[i + 1 :]
    elif kind == "splice":
        i = data.draw(st.integers(0, 200))
        blob = good[:i] + data.draw(st.binary(min_size=1, max_size=20)) + good[i:]
    else:
        blob = data.draw(anything)
    out = outcome(checkpoint.from_bytes, blob, source="up.safetensors")
    if isinstance(out, checkpoint.Checkpoint):
        for t in out.model.state_dict().values():
            finite(t)


@FEW
@given(st.one_of(st.text(max_size=20), anything))
def test_checkpoint_load_with_any_path(path):
    outcome(checkpoint.load, path)
