"""Notebooks and their nbgrader cell metadata: the one reader the grading modules share.

A submitted notebook is untrusted data: it may not be JSON, its ``source`` may be a list
or a string, its metadata may claim anything. These functions read it without trusting
any of it; what the release says is decided in :mod:`grading.autograde.restore`.

The cells' names are nbgrader grade ids: ``todo_1_1_2`` (a solution cell), ``test_1_1_2``
(its autograded test cell, TODO ``1-1-2``), :data:`RESULTS_CELL` and
:data:`WRITTEN_REPORT_CELL`. Their points come from ``grading/rubric.toml``, written into
the notebooks by ``make notebooks`` (checked by tests/test_rubric_cells.py), so the
metadata read here agrees with the rubric.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grading.course import ASSIGNMENTS, TEST_PREFIX, source_notebook

RESULTS_CELL = "report_scores"
"""The cell graded from the results a student reports (FID and AFD, CLIP per view)."""
WRITTEN_REPORT_CELL = "md_report"
"""The written report, graded by hand with the rubric's tiers beside it."""
IGNORED = {".ipynb_checkpoints", "__MACOSX"}
"""Folders whose notebooks are never a submission (Jupyter's autosaves, macOS zip debris)."""


class NotANotebook(ValueError):
    """The file is not a readable Jupyter notebook."""


def read_notebook(path: Path) -> dict[str, Any]:
    """The notebook's JSON, with every cell's ``source`` as one string."""
    try:
        return read_notebook_bytes(Path(path).read_bytes(), Path(path).name)
    except OSError as error:
        raise NotANotebook(f"{Path(path).name} is not a readable notebook ({error})") from error


def read_notebook_bytes(data: bytes, name: str = "the notebook") -> dict[str, Any]:
    """:func:`read_notebook` of a notebook's bytes (what a sandbox sent back)."""
    try:
        nb = json.loads(data.decode("utf-8"))
        cells = nb["cells"]
        if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
            raise TypeError("cells is not a list of cells")
        for cell in cells:
            cell["source"] = source(cell)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise NotANotebook(f"{name} is not a readable notebook ({error})") from error
    return nb


def read_cells(path: Path) -> list[dict[str, Any]]:
    """The notebook's cells (see :func:`read_notebook`)."""
    return read_notebook(path)["cells"]


def source(cell: dict[str, Any]) -> str:
    text = cell.get("source", "")
    if isinstance(text, list):
        return "".join(str(line) for line in text)
    return text if isinstance(text, str) else ""


def nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell's nbgrader metadata (``{}`` if it has none or it is not a mapping)."""
    meta = cell.get("metadata")
    found = meta.get("nbgrader") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def grade_id(cell: dict[str, Any]) -> str | None:
    found = nbgrader(cell).get("grade_id")
    return found if isinstance(found, str) else None


def _graded(nb: dict[str, Any]) -> list[tuple[dict[str, Any], str, float]]:
    """``(cell, grade id, points)`` of every graded cell."""
    return [
        (c, grade_id(c) or "", float(nbgrader(c).get("points") or 0))
        for c in nb["cells"]
        if nbgrader(c).get("grade")
    ]


def points(nb: dict[str, Any]) -> dict[str, float]:
    """``{grade id: points}`` of the notebook's graded cells."""
    return {name: value for _, name, value in _graded(nb)}


def test_cells(release: dict[str, Any]) -> dict[str, float]:
    """The release's autograded test cells: ``{grade id: points}``."""
    return {
        name: value
        for cell, name, value in _graded(release)
        if not nbgrader(cell).get("solution") and name.startswith(TEST_PREFIX)
    }


def todo_of(test_cell: str) -> str:
    """``test_1_1_2`` -> ``1-1-2``."""
    return test_cell.removeprefix(TEST_PREFIX).replace("_", "-")


def test_cell_of(todo: str) -> str:
    """``1-1-2`` -> ``test_1_1_2``."""
    return TEST_PREFIX + todo.replace("-", "_")


def max_points(assignment: str) -> float:
    """The points of ``assignment``: the sum over its notebook's graded cells."""
    return sum(points(read_notebook(source_notebook(assignment))).values())


def grade_ids(path: Path) -> set[str] | None:
    """The nbgrader cell ids of the notebook at ``path``; None when it is not a readable notebook."""
    try:
        return {i for i in map(grade_id, read_cells(path)) if i}
    except NotANotebook:
        return None


def assignment_ids() -> dict[str, set[str]]:
    """The nbgrader cell ids of each assignment's source notebook."""
    return {a: grade_ids(source_notebook(a)) or set() for a in ASSIGNMENTS}


def assignment_of(
    notebook: Path, known: dict[str, set[str]] | None = None
) -> tuple[str | None, str]:
    """``(assignment, "")``, or ``(None, why it belongs to none)``."""
    known = known or assignment_ids()
    ids = grade_ids(notebook)
    if ids is None:
        return None, f"{notebook.name}: the file is not a readable notebook (not nbformat JSON)"
    if not ids:
        return None, (
            f"{notebook.name} has no nbgrader metadata: it is not a notebook of this course "
            "(submit the notebook you were given, saved from Jupyter)"
        )
    overlap = {a: len(ids & cells) for a, cells in known.items()}
    best = max(overlap, key=overlap.get)
    if not overlap[best]:
        return None, (
            f"{notebook.name} holds nbgrader cells of no assignment of this course "
            f"({', '.join(known)})"
        )
    return best, ""


def notebooks_in(folder: Path) -> list[Path]:
    """The notebooks anywhere under ``folder``, outside :data:`IGNORED` folders."""
    return sorted(
        p
        for p in folder.rglob("*.ipynb")
        if p.is_file() and not IGNORED & set(p.relative_to(folder).parts)
    )


def find_notebook(folder: Path, assignment: str) -> tuple[Path | None, list[str]]:
    """The one notebook of ``assignment`` in a submission folder, or None and the reasons."""
    known = assignment_ids()
    found = notebooks_in(folder) if folder.is_dir() else []
    if not found:
        return None, [f"no notebook (.ipynb) in the {assignment} submission: nothing to grade"]
    matched, problems = [], []
    for notebook in found:
        owner, why = assignment_of(notebook, known)
        if owner == assignment:
            matched.append(notebook)
        else:
            problems.append(why or f"{notebook.name} is a notebook of {owner}, not of {assignment}")
    if len(matched) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in matched)
        return None, [
            f"{len(matched)} notebooks of {assignment} ({names}): submit one; none was graded"
        ]
    if not matched:
        return None, [*problems, f"no notebook of {assignment}: nothing was graded"]
    return matched[0], []
