"""The release is the truth: a submission rebuilt on the released notebook before it runs.

A student can edit anything in the file they hand in: a locked cell's source, its tags
(``skip-execution`` makes nbclient skip a test cell), the nbgrader metadata that says
which cells are locked or graded, the kernel. :func:`restore` writes the notebook that is
graded instead:

* every locked cell of the release (setup code, instructions, test cells) is the
  release's cell, whole: type, source, metadata, no outputs;
* every solution cell keeps the student's source under the release's metadata, without
  outputs;
* any other cell is the student's: nbgrader metadata it claims (a release id it repeats,
  an id the release does not have, ``locked`` or ``grade`` flags) is removed, so it
  grades nothing;
* the notebook's metadata (kernel) is the release's.

Locked cells the student deleted are put back by nbgrader (``add_missing_cells``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from grading import notebook_format as nbcells


def restore(submitted: Path, release: Path, out: Path) -> list[str]:
    """Write ``submitted`` rebuilt on ``release`` to ``out``; notes on what was put back."""
    mine = nbcells.read_notebook(submitted)
    master = nbcells.read_notebook(release)
    released = {nbcells.grade_id(c): c for c in master["cells"] if nbcells.grade_id(c)}
    seen: set[str] = set()
    edited, claimed, cells = [], [], []
    for cell in mine["cells"]:
        cell_id = nbcells.grade_id(cell)
        if cell_id in released and cell_id not in seen:
            seen.add(cell_id)
            ours = released[cell_id]
            if nbcells.nbgrader(ours).get("solution"):
                cells.append(_solution(ours, cell))
                continue
            if cell["source"].strip() != ours["source"].strip() or _meta(cell) != _meta(ours):
                edited.append(cell_id)
            cells.append(_clean(copy.deepcopy(ours)))
            continue
        if nbcells.nbgrader(cell) or "nbgrader" in cell.get("metadata", {}):
            claimed.append(cell_id or "a cell without an id")
        cells.append(_student(cell, f"student-{len(cells)}"))
    notes = []
    if edited:
        notes.append(f"edited locked cell(s) restored from the release: {', '.join(edited)}")
    deleted = [k for k, c in released.items() if k not in seen and _locked(c)]
    if deleted:
        notes.append(f"deleted locked cell(s) restored from the release: {', '.join(deleted)}")
    if claimed:
        notes.append(
            "nbgrader metadata the release does not have removed (these cells grade nothing): "
            + ", ".join(claimed)
        )
    nb = {
        "cells": cells,
        "metadata": copy.deepcopy(master.get("metadata", {})),
        "nbformat": master.get("nbformat", 4),
        "nbformat_minor": master.get("nbformat_minor", 5),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    return notes


def _meta(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}) if isinstance(cell.get("metadata"), dict) else {}


def _locked(cell: dict[str, Any]) -> bool:
    meta = nbcells.nbgrader(cell)
    return bool(meta.get("locked") or meta.get("grade") and not meta.get("solution"))


def _clean(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell as nbformat 4 wants it: no outputs, no execution count, no stray keys."""
    out = {
        "cell_type": cell["cell_type"],
        "metadata": copy.deepcopy(_meta(cell)),
        "source": cell["source"],
    }
    if "id" in cell and isinstance(cell["id"], str):
        out["id"] = cell["id"]
    if out["cell_type"] == "code":
        out.update(outputs=[], execution_count=None)
    return out


def _solution(release_cell: dict[str, Any], student_cell: dict[str, Any]) -> dict[str, Any]:
    cell = _clean(release_cell)
    cell["source"] = student_cell["source"]
    return cell


def _student(cell: dict[str, Any], cell_id: str) -> dict[str, Any]:
    """A cell of the student's own, with an id of its own (a copied one would clash)."""
    kind = cell.get("cell_type")
    meta = {k: v for k, v in _meta(cell).items() if k != "nbgrader"}
    return _clean(
        {
            "cell_type": kind if kind in ("code", "markdown", "raw") else "raw",
            "metadata": meta,
            "source": cell["source"],
            "id": cell_id,
        }
    )
