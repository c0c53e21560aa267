"""The library's imports run one way: no circle among the ``encoder.*`` modules.

Every import statement counts, at module level or inside a function (a lazy import is still a
dependency: the issue's two circles were one of each), read with ``ast`` without importing.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "encoder"


def module_name(path: Path) -> str:
    return "encoder" if path.name == "__init__.py" else f"encoder.{path.stem}"


def imported(path: Path, modules: set[str]) -> dict[str, int]:
    """The encoder modules ``path`` imports, each with the line of its first import."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # "from . import filecheck" names a module, "from .config import X" a name in one
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # encoder.config.X -> encoder.config
                name = name.rpartition(".")[0]
            if name and name != here:
                found.setdefault(name, node.lineno)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    paths = sorted(PACKAGE.glob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported(p, modules) for p in paths}


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One circle of imports as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    steps = [
        f"{a} imports {b} ({a.replace('.', '/')}.py:{graph[a][b]})"
        for a, b in itertools.pairwise(cycle)
    ]
    return "import circle " + " -> ".join(cycle) + ":\n  " + "\n  ".join(steps)


def test_encoder_imports_have_no_circle():
    graph = import_graph()
    assert "encoder.model" in graph and graph["encoder.pretrained"], graph  # the parse saw them
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, graph)


def test_the_check_finds_a_circle():
    graph = {"a": {"b": 3}, "b": {"c": 5}, "c": {"a": 7}, "d": {"a": 1}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert "b imports c (b.py:5)" in describe(find_cycle(graph), graph)
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None


def test_the_two_old_circles_stay_untied():
    graph = import_graph()
    assert "encoder.pretrained" not in graph["encoder.tokenizer"]
    assert "encoder.train" not in graph["encoder.checkpoint"]
    assert "encoder.train_cli" not in graph["encoder.train"]


def test_public_names_stay_where_they_were():
    from encoder.checkpoint import TaskModel as checkpoint_model
    from encoder.model import TaskModel as model_task_model
    from encoder.pretrained import default_tokenizer as from_pretrained
    from encoder.pretrained import minilm_dir
    from encoder.tokenizer import default_tokenizer
    from encoder.train import TaskModel

    assert from_pretrained is default_tokenizer
    assert TaskModel is checkpoint_model is model_task_model
    assert minilm_dir().is_dir()


def test_python_m_encoder_train_runs_the_command_line():
    run = subprocess.run(
        [sys.executable, "-m", "encoder.train", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "python -m encoder.train" in run.stdout and "--task" in run.stdout
