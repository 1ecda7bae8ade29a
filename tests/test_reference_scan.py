"""The static scan that catches solutions using the reference implementation."""

from __future__ import annotations

import json

from grading.pipeline import scan_for_reference


def _notebook(tmp_path, *cells):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": list(cells)}))
    return path


def _code(source, **nbgrader):
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {"nbgrader": nbgrader} if nbgrader else {},
    }


def test_solution_and_added_cells_are_scanned_locked_cells_are_not(tmp_path):
    path = _notebook(
        tmp_path,
        _code("from grading.reference import schedule_init", solution=True, grade_id="todo_1_1_1"),
        _code("x = 1", solution=True, grade_id="todo_1_1_2"),
        _code(
            "from grading.reference import REFERENCE_STEPS",
            grade=True,
            locked=True,
            grade_id="test_1_1_1",
        ),
        _code(["import importlib\n", "m = importlib.import_module('grad' + 'ing')"]),
    )
    assert scan_for_reference(path) == {
        "todo_1_1_1": ["from grading.reference import schedule_init"],
        "added cell": ["import importlib", "m = importlib.import_module('grad' + 'ing')"],
    }


def test_an_unreadable_notebook_has_no_hits(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text("{ not json")
    assert scan_for_reference(path) == {}
