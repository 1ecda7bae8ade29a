"""Reading notebook cells: the one parser the grading modules share.

A submitted notebook is untrusted data: it may not be JSON, its ``source`` may be a list
or a string, its metadata may claim anything. These functions read it without trusting
any of it; what the release says is decided in :mod:`grading.autograde.restore`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
