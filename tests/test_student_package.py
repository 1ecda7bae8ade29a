"""``helpers`` is what students get (the Kaggle wheel holds only it): it never imports ``grading``.

Two checks: every module of the package imported in a fresh interpreter leaves no
``grading`` module behind (this catches imports made while importing, at any depth), and
no ``import`` statement anywhere in ``helpers``, function-local ones included, names
``grading`` (those run only when called, so the first check cannot see them).
"""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import helpers

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(helpers.__path__, "helpers.")
    if m.name != "helpers.__main__"
)


def test_importing_every_helpers_module_loads_no_grading_module():
    script = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'grading')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # From the repository root, where `grading` is importable: an import of it would succeed.
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert len(MODULES) > 20, MODULES
    assert json.loads(done.stdout.splitlines()[-1]) == []


def grading_imports(source: str) -> list[int]:
    """Line numbers of the ``import`` statements in ``source`` that name ``grading``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and getattr(
            node.func, "attr", getattr(node.func, "id", "")
        ) in (
            "import_module",
            "__import__",
        ):
            names = [a.value for a in node.args[:1] if isinstance(a, ast.Constant)]
        else:
            continue
        if any(str(name).split(".")[0] == "grading" for name in names):
            lines.append(node.lineno)
    return lines


def test_no_helpers_source_names_grading_in_an_import():
    found = {
        str(path.relative_to(REPO)): lines
        for path in sorted((REPO / "helpers").rglob("*.py"))
        if (lines := grading_imports(path.read_text()))
    }
    assert found == {}, f"helpers imports grading (file: lines): {found}"


def test_the_scan_sees_local_and_dynamic_imports():
    source = (
        "def f():\n"
        "    from grading.authoring.reference import REFERENCE_STEPS\n"
        "import importlib\n"
        "importlib.import_module('grading.autograde.batch')\n"
        "import grading_tools_of_someone_else\n"
    )
    assert grading_imports(source) == [2, 4]
