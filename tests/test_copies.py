"""``# Copied from`` comments are checked, as diffusers' ``utils/check_copies.py`` checks its own.

Where code is deliberately written twice, the copy carries, on the line above its ``def``
(or its first decorator), ``# Copied from <module>.<name>`` (the whole function, docstrings
aside) or ``# Copied from <module>.<name> (signature)`` (name, parameters, annotations,
defaults and return type: the reference solutions keep the signature of the blank a student
replaces, so that the hidden tests call both alike). This test fails on a copy that drifted.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^\s*# Copied from ([\w.]+)( \(signature\))?\s*$")


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return inspect.unwrap(obj)
    raise ModuleNotFoundError(dotted)


def _without_docstring(node: ast.FunctionDef) -> ast.FunctionDef:
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        node.body = body[1:] or [ast.Pass()]
    return node


def compared(node: ast.FunctionDef, signature_only: bool) -> str:
    """What two copies must share, as text."""
    if signature_only:
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        return f"def {node.name}({ast.unparse(node.args)}){returns}"
    node = _without_docstring(node)
    node.decorator_list = []
    return ast.unparse(node)


def copies(path: Path) -> list[tuple[int, str, bool, ast.FunctionDef]]:
    """``(line, original, signature only, the copy's node)`` for each marker in ``path``."""
    source = path.read_text()
    lines = source.splitlines()
    starts = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            starts[first] = node
    found = []
    for number, line in enumerate(lines, start=1):
        if match := MARKER.match(line):
            node = starts.get(number + 1)
            assert node is not None, f"{path}:{number}: '# Copied from' must sit above a def"
            found.append((number, match[1], bool(match[2]), node))
    return found


def drifted(path: Path) -> list[str]:
    problems = []
    for number, original, signature_only, node in copies(path):
        source = textwrap.dedent(inspect.getsource(_resolve(original)))
        want = compared(ast.parse(source).body[0], signature_only)
        got = compared(node, signature_only)
        if got != want:
            shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            problems.append(f"{shown}:{number}: {got}\n  differs from {original}: {want}")
    return problems


SOURCES = sorted(p for folder in ("helpers", "grading") for p in (REPO / folder).rglob("*.py"))


def test_every_copy_matches_its_original():
    marked = [p for p in SOURCES if copies(p)]
    assert len(marked) >= 3, "the reference solutions mark their signatures as copies"
    problems = [problem for path in marked for problem in drifted(path)]
    assert problems == [], "\n".join(problems)


def test_a_drifted_copy_is_reported(tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text(
        "# Copied from helpers.todos.denoise_forward (signature)\n"
        "def denoise_forward(alphas_bar, x_start, t, noise=None):\n"
        "    return x_start\n"
        "\n"
        "\n"
        "# Copied from helpers.todos.extract\n"
        "def extract(values, t, x_shape):\n"
        "    return values[t]\n"
    )
    problems = drifted(copy)
    assert len(problems) == 2, problems
    assert "copy.py:1:" in problems[0] and "noise=None" in problems[0]
    assert "copy.py:6:" in problems[1] and "gather" in problems[1]


def test_a_marker_away_from_a_def_is_an_error(tmp_path):
    stray = tmp_path / "stray.py"
    stray.write_text("# Copied from helpers.todos.extract\nX = 1\n")
    with pytest.raises(AssertionError, match="must sit above a def"):
        copies(stray)
