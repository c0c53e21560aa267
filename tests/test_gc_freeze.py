"""app.compute.freeze_heap: what the server has loaded stays out of the full garbage collection
Streamlit runs after every script run, including modules imported late (scikit-learn with the
first head map), so one page's first visit does not slow every later run of every page."""

from __future__ import annotations

import gc
import importlib
import sys
import weakref

import pytest

from app import compute


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    """Each test starts as if the heap had just been frozen with the modules loaded now."""
    compute.freeze_heap()
    monkeypatch.setattr(compute, "_FROZEN_AT", [len(sys.modules)])


def test_freeze_heap_freezes_again_after_an_import(tmp_path, monkeypatch):
    (tmp_path / "late_import_for_freeze.py").write_text(
        "import sys\n"  # the package below: enough new modules to be worth a new freeze
        f"for i in range({compute.REFREEZE_MODULES}):\n"
        "    sys.modules[f'late_import_for_freeze_{i}'] = type(sys)(f'late_{i}')\n"
        "ROWS = [[i] for i in range(2000)]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    frozen = gc.get_freeze_count()
    compute.freeze_heap()
    assert gc.get_freeze_count() == frozen  # nothing imported since: no collection, no freeze
    module = importlib.import_module("late_import_for_freeze")
    try:
        assert gc.is_tracked(module.ROWS[0])
        compute.freeze_heap()
        assert gc.get_freeze_count() >= frozen + 2000  # its 2,000 lists, out of the GC's sight
        assert module.ROWS[1999] == [1999]  # alive as before, only frozen
    finally:
        for name in [m for m in sys.modules if m.startswith("late_import_for_freeze")]:
            del sys.modules[name]


def test_a_few_new_modules_are_not_worth_a_full_collection(monkeypatch):
    frozen = gc.get_freeze_count()
    monkeypatch.setitem(sys.modules, "one_small_late_module", type(sys)("one_small_late_module"))
    compute.freeze_heap()
    assert gc.get_freeze_count() == frozen


class Node:
    """An object in a reference cycle: only the garbage collector can free it."""

    def __init__(self) -> None:
        self.me = self


def add_modules(monkeypatch, tag: str) -> None:
    for i in range(compute.REFREEZE_MODULES):
        monkeypatch.setitem(sys.modules, f"{tag}_{i}", type(sys)(f"{tag}_{i}"))


def test_a_cycle_frozen_then_dropped_is_freed_by_the_next_freeze(monkeypatch):
    held = Node()  # what a session holds while a freeze happens (a trainer, say)
    gone = weakref.ref(held)
    add_modules(monkeypatch, "first_late_package")
    compute.freeze_heap()
    del held  # the session ends: its cycle is garbage, but frozen
    gc.collect()
    assert gone() is not None
    add_modules(monkeypatch, "second_late_package")
    compute.freeze_heap()  # unfreezes and collects everything first
    assert gone() is None
