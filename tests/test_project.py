"""The project's boundaries: the library never imports streamlit, files stay small, the README's
example runs, and ruff is clean."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "encoder").glob("*.py")), ids=lambda p: p.name)
def test_library_never_imports_streamlit(path):
    assert "streamlit" not in imports(path)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "app" / "charts").glob("*.py")), ids=lambda p: p.name
)
def test_charts_make_no_streamlit_calls(path):
    assert "streamlit" not in imports(path)


def test_no_file_of_ours_is_over_400_lines():
    ours = [p for d in ("encoder", "app", "tests", "bench") for p in (ROOT / d).rglob("*.py")]
    long = {p.name: n for p in ours if (n := len(p.read_text().splitlines())) > 400}
    assert not long


def test_readme_python_example_runs(capsys):
    text = (ROOT / "README.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    assert "torch.Size([2, 7, 384]) 7 torch.Size([2, 12, 7, 7])" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff_is_clean(args):
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed in this environment")
    done = subprocess.run([str(ruff), *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
