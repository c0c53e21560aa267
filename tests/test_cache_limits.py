"""Every cache in app/ has a limit, and together they stay within a laptop's memory (issue 14).

The audit: each ``st.cache_data`` / ``st.cache_resource`` function in app/ declares
``max_entries``; the ones whose entries can be big also have a byte bound (``max_size=`` for
cache_data, ``app.compute.cache.byte_budget`` for cache_resource). ``audit()`` computes each
cache's worst case from the sidebar's and the pages' limits, and the total beyond the
pretrained model must stay under ``LAPTOP_BOUND``. ``bench/memory.py`` prints the same table.
"""

from __future__ import annotations

import ast
import gc
import importlib
import math
import threading
import weakref
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import streamlit as st
import torch

from app.compute.cache import MB, ByteBudget, byte_budget, nbytes

ROOT = Path(__file__).resolve().parents[1]
LAPTOP_BOUND = 3_000 * MB  # every cache at its worst, beyond the one pretrained model
DECORATORS = {"cache_data", "cache_resource"}


class Cached(NamedTuple):
    module: str  # app.compute.padding
    name: str  # padded_view
    kind: str  # cache_data or cache_resource
    keywords: dict[str, ast.expr]


def cached_functions() -> list[Cached]:
    """Every function in app/ decorated with st.cache_data or st.cache_resource (read from
    the source, so a cache added anywhere, pages included, is found)."""
    found = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for dec in node.decorator_list:
                call = dec if isinstance(dec, ast.Call) else None
                target = call.func if call else dec
                name = getattr(target, "attr", getattr(target, "id", None))
                if name in DECORATORS:
                    keywords = {k.arg: k.value for k in call.keywords} if call else {}
                    found.append(Cached(module, node.name, name, keywords))
    return found


def resolve(c: Cached):
    return getattr(importlib.import_module(c.module), c.name)


# ---- worst case per entry, from the limits the sidebar and the pages allow -------------------


def _model_bytes(cfg) -> int:
    from encoder import Encoder

    with torch.device("meta"):  # shapes only: nothing is allocated
        return nbytes(Encoder(cfg, seed=None))


def worst_entries() -> dict[str, tuple[int, str]]:
    """Bytes of the biggest single entry of each cache, and how it comes about."""
    from app import compute, state
    from app.compute import MAX_FLOATS, projections
    from encoder import EncoderConfig, checkpoint
    from encoder.pretrained import config_from_bert, minilm_dir

    D, F = max(state.D_MODEL_OPTIONS), max(state.D_FF_OPTIONS)
    S, H, L = max(state.MAX_LEN_OPTIONS), state.MAX_HEADS, 12  # n_layers slider: 1 .. 12
    biggest = EncoderConfig(d_model=D, n_heads=12, n_layers=L, d_ff=F, max_len=S)
    import json

    mini = config_from_bert(json.loads((minilm_dir() / "config.json").read_text()))
    pe_n, pe_start, pe_d = 512, 1024, 512  # Positions page: max_len, second start, d_model
    f4 = 4  # bytes per float32
    square = H * S * S * f4  # one layer's (H, S, S) for one sentence
    return {
        "app.compute.pretrained": (_model_bytes(mini), "all-MiniLM-L6-v2, 22.7M float32"),
        "app.compute.wordpiece": (12 * MB, "WordPiece vocabulary (measured RSS)"),
        "app.compute.trained_checkpoint": (checkpoint.MAX_BYTES, "checkpoint.MAX_BYTES"),
        "app.compute.task_tokenizer": (MB // 100, "a dict of 10 tokens"),
        "app.compute.trained_model": (checkpoint.MAX_BYTES, "checkpoint.MAX_BYTES"),
        "app.compute.scratch_model": (
            _model_bytes(biggest),
            f"d_model {D} x {L} layers x d_ff {F}, learned positions",
        ),
        "app.compute.folder_models": (MB // 10, "a line per subfolder of the models folder"),
        "app.compute.folder_model": (
            compute.FOLDER_MODEL_BYTES,
            "the largest model the server loads ($ENCODER_EXPLORER_MODEL_MB)",
        ),
        "app.compute.folder_problem": (0, "a sentence"),
        "app.compute.folder_tokenizer": (30 * MB, "a 250k-token vocabulary (MiniLM's 30k: 12)"),
        "app.compute.pretrained_config": (0, "a config"),
        "app.compute.batch_shape": (0, "two ints"),
        "app.compute.forward": (MAX_FLOATS * f4, "compute.MAX_FLOATS float32 (refused above)"),
        "app.compute.attention.sentence_attention": (
            MAX_FLOATS * f4,
            "compute.MAX_FLOATS float32 of maps (refused above)",
        ),
        "app.compute.attention_heads.head_map_of": (
            (L * H) ** 2 * 8 + 9 * L * H * 8,
            f"({L * H}, {L * H}) distances, 2-D points, 7 statistics: float64",
        ),
        "app.compute.attention_heads.queries_keys": (2 * S * 1024 * f4, "q, k: 2 x 512 x 1024"),
        "app.compute.positional.table": ((pe_n + pe_start) * pe_d * f4, "(512 + 1024) x 512"),
        "app.compute.positional.offset_profiles": (2 * pe_n * 8, "(2, 512) float64"),
        "app.compute.positional.rotation": (pe_d * pe_d * f4, "M_k, 512 x 512"),
        "app.compute.positional.learned_positions": (512 * 384 * f4, "512 x 384"),
        "app.compute.positional.learned_vs_fixed": (
            2 * 512 * 384 * f4 + 2 * 512 * 512 * f4 + 3 * 512 * f4 + 2 * 511 * 2 * 8,
            "two 512 x 384 tables, two 512 x 512 cosines",
        ),
        "app.compute.positional.sizes": ((30522 + S) * f4, "a norm per token and position"),
        "app.compute.positional.order_difference": (0, "two floats"),
        "app.compute.padding.padded_view": (
            3 * square + S * D * f4 + 2 * H * S * f4,
            f"3 x ({H}, {S}, {S}) maps + ({S}, {D})",
        ),
        "app.compute.padding.drift": (0, "(2, 10) floats"),
        "app.compute.inside_layer.walkthrough": (
            6 * square + 13 * S * D * f4 + S * F * f4 + 2 * H * S * 8,
            f"6 x ({H}, {S}, {S}) + 13 x ({S}, {D}) + ({S}, {F})",
        ),
        "app.compute.models.similarity": ((L + 1) ** 2 * 8, f"({L + 1}, {L + 1}) CKA floats"),
        "app.compute.projections.projection": (
            max(projections.MAX_POINTS.values()) * 3 * 8 + (L + 1) * 3 * 8,
            "<= 4096 points x 3 coordinates",
        ),
        "app.compute.train.shipped": (3 * 410_000, "three 410 KB checkpoints"),
        "app.compute.train.head_match": (0, "(L, H) floats"),
        "app.compute.train.example_attention": (4 * H * 10 * 10 * f4, "(4, 16, 10, 10)"),
        "app.compute.train.try_text": (0, "three short strings"),
        "app.compute.train.trained_run": (
            checkpoint.MAX_BYTES + 12 * 4 * H * 10 * 10 * f4,
            "a checkpoint and 12 snapshots of (4, 16, 10, 10)",
        ),
    }


class Row(NamedTuple):
    cache: str
    kind: str
    max_entries: int
    byte_limit: int | None  # max_size or byte_budget; None: the count limit alone
    entry: int  # worst single entry
    worst: int  # worst total: min(max_entries x entry, byte_limit)
    why: str


def byte_limit(obj) -> int | None:
    if isinstance(obj, ByteBudget):
        return obj.max_bytes
    return getattr(getattr(obj, "_info", None), "max_size_bytes", None)


def audit() -> list[Row]:
    entries = worst_entries()
    rows = []
    for c in cached_functions():
        obj = resolve(c)
        key = f"{c.module}.{c.name}"
        max_entries = obj.max_entries if isinstance(obj, ByteBudget) else obj._info.max_entries
        limit = byte_limit(obj)
        entry, why = entries[key]
        worst = max_entries * entry if limit is None else min(max_entries * entry, limit)
        rows.append(Row(key, c.kind, max_entries, limit, entry, worst, why))
    return rows


# The models folder's models are the operator's choice, bounded by a setting of their own
# (two of the largest model the server loads): counted apart from the laptop bound.
OPERATOR = ("app.compute.folder_model",)


def beyond_pretrained(rows: list[Row]) -> int:
    """Worst total of every cache, less the one pretrained (eval) model the app always holds
    and the models folder's models (``OPERATOR``)."""
    pretrained = next(r for r in rows if r.cache == "app.compute.pretrained")
    return sum(r.worst for r in rows if r.cache not in OPERATOR) - pretrained.entry


def table(rows: list[Row]) -> str:
    def mb(n: int | None) -> str:
        return "-" if n is None else f"{n / MB:,.1f}"

    lines = [f"{'cache':<44} {'entries':>7} {'byte limit MB':>13} {'entry MB':>9} {'worst MB':>9}"]
    for r in rows:
        lines.append(
            f"{r.cache.removeprefix('app.compute.'):<44} {r.max_entries:>7} "
            f"{mb(r.byte_limit):>13} {mb(r.entry):>9} {mb(r.worst):>9}  {r.why}"
        )
    lines.append(
        f"worst case of every cache, beyond the pretrained model: {mb(beyond_pretrained(rows))} MB"
    )
    return "\n".join(lines)


# ---- the tests ------------------------------------------------------------------------------


def test_every_cached_function_declares_max_entries():
    found = cached_functions()
    assert len(found) >= 20, "the scan found too few caches: has app/ moved?"
    for c in found:
        value = c.keywords.get("max_entries")
        assert isinstance(value, ast.Constant) and isinstance(value.value, int), (
            f"{c.module}.{c.name}: @st.{c.kind} needs max_entries=<int>"
        )
        obj = resolve(c)
        max_entries = obj.max_entries if isinstance(obj, ByteBudget) else obj._info.max_entries
        assert 1 <= max_entries < math.inf


def test_no_unbounded_module_level_caches():
    """No functools caches, and no empty module-level dict, list or set (filled at run time)."""
    for path in (ROOT / "app").rglob("*.py"):
        text = path.read_text()
        assert "lru_cache" not in text and "functools.cache" not in text, path
        if path.parent.name == "views":  # a page's script runs anew each time: no module state
            continue
        for node in ast.parse(text).body:
            value = getattr(node, "value", None)
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                if isinstance(value, ast.Dict):
                    assert value.keys, (path, node.lineno)
                if isinstance(value, (ast.List, ast.Set)):
                    assert value.elts, (path, node.lineno)
                if isinstance(value, ast.Call) and not (value.args or value.keywords):
                    name = getattr(value.func, "id", getattr(value.func, "attr", ""))
                    assert name not in ("dict", "list", "set", "OrderedDict", "defaultdict"), (
                        path,
                        node.lineno,
                    )


def test_every_big_cache_has_a_byte_limit():
    """A cache whose count alone allows more than 64 MB needs a byte bound too (the pretrained
    model's two instances, eval and train, are all its keys can make)."""
    for row in audit():
        if row.max_entries * row.entry > 64 * MB and row.cache != "app.compute.pretrained":
            assert row.byte_limit is not None, f"{row.cache}: entries up to {row.entry / MB} MB"
            assert row.byte_limit >= row.entry, f"{row.cache}: the biggest entry does not fit"


def test_worst_case_of_every_cache_fits_a_laptop():
    rows = audit()
    total = beyond_pretrained(rows)
    assert total <= LAPTOP_BOUND, table(rows)
    print("\n" + table(rows))


def test_cache_data_byte_limits_are_streamlit_max_size():
    from app.compute import inside_layer, padding

    assert padding.padded_view._info.max_size_bytes == 128 * MB
    assert inside_layer.walkthrough._info.max_size_bytes == 256 * MB


# ---- byte_budget's behaviour ------------------------------------------------------------------


class Key:
    """A hashable argument that can be watched for being kept alive."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __hash__(self) -> int:
        return hash(self.n)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and other.n == self.n

    def __reduce__(self):
        return (Key, (self.n,))


def budgeted(max_bytes: int, max_entries: int = 8):
    calls: list[int] = []

    @byte_budget(max_bytes)
    @st.cache_resource(max_entries=max_entries)
    def make(key: Key) -> np.ndarray:
        calls.append(key.n)
        return np.zeros(key.n * MB // 8)  # key.n MB

    make.clear()
    return make, calls


def test_byte_budget_drops_the_least_recently_used_until_it_fits():
    make, calls = budgeted(10 * MB)
    for n in (3, 4, 3, 2):  # 3 is used again: 4 is the oldest
        make(Key(n))
    assert calls == [3, 4, 2] and make.total == 9 * MB
    make(Key(5))  # 14 MB: 4 goes; 3 + 2 + 5 = 10 fits
    assert make.total == 10 * MB and len(make) == 3
    make(Key(3))
    make(Key(2))
    assert calls == [3, 4, 2, 5], "entries kept must be hits"
    make(Key(4))  # 14 MB again: the oldest now is 5
    assert calls[-1] == 4 and make.total == 9 * MB
    make(Key(5))
    assert calls[-1] == 5, "a dropped entry is computed again"


def test_byte_budget_keeps_one_oversized_entry_and_the_count_limit():
    make, calls = budgeted(4 * MB, max_entries=2)
    make(Key(6))  # bigger than the budget alone: kept, it is the newest
    make(Key(6))
    assert calls == [6] and make.total == 6 * MB
    make(Key(1))  # the oversized one goes
    assert make.total == 1 * MB
    make, calls = budgeted(100 * MB, max_entries=2)
    for n in (1, 2, 3, 1):  # the count limit: 1 went when 3 came
        make(Key(n))
    assert calls == [1, 2, 3, 1] and len(make) == 2 and make.total == 4 * MB


def test_byte_budget_keeps_no_reference_to_dropped_arguments():
    make, _ = budgeted(2 * MB)
    key = Key(2)
    ref = weakref.ref(key)
    make(key)
    make(Key(1))  # 3 MB: Key(2)'s entry goes
    del key
    gc.collect()
    assert ref() is None


def test_byte_budget_is_safe_across_threads():
    make, _ = budgeted(6 * MB, max_entries=4)
    errors = []

    def work(i: int) -> None:
        try:
            for n in range(40):
                make(Key(1 + (n * (i + 1)) % 4))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert make.total <= 6 * MB or len(make) == 1


def test_nbytes_counts_weights_tensors_and_arrays():
    from app.compute.attention import SentenceAttention
    from encoder import Encoder, EncoderConfig

    cfg = EncoderConfig(vocab_size=50, d_model=8, n_heads=2, n_layers=1, d_ff=16, max_len=8)
    model = Encoder(cfg, seed=0)
    params = sum(p.numel() for p in model.parameters()) + 8 * 8  # + the sinusoid table
    assert nbytes(model) == params * 4
    maps = {0: np.zeros((1, 2, 3, 3), np.float32), 1: np.zeros((1, 2, 5, 5), np.float32)}
    result = SentenceAttention([], np.zeros((2, 5), np.int64), maps, cfg, 0.1)
    assert nbytes(result) == (18 + 50) * 4 + 10 * 8
    assert nbytes([torch.zeros(3), {"a": np.zeros(2)}, "text", None]) == 12 + 16


@pytest.mark.parametrize(
    "name", ["scratch_model", "trained_checkpoint", "trained_model", "forward", "folder_model"]
)
def test_model_caches_are_budgeted(name):
    from app import compute

    assert isinstance(getattr(compute, name), ByteBudget)
    if name == "folder_model":  # two of the largest model the server loads
        assert compute.folder_model.max_bytes == 2 * compute.FOLDER_MODEL_BYTES


def test_forward_results_are_shared_read_only():
    """compute.forward is a cache_resource (no unpickled copy per session and rerun): nobody
    may change its arrays."""
    from app import compute
    from app.state import PRETRAINED, ModelChoice

    fwd = compute.forward(ModelChoice(PRETRAINED, None, 0, False, 128), ("Read only.",))
    assert fwd is compute.forward(ModelChoice(PRETRAINED, None, 0, False, 128), ("Read only.",))
    for array in (fwd.input_ids, fwd.attention_mask, fwd.hidden_states):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
