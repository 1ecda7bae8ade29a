"""nbgrader's ``OverwriteCells`` without its false "checksum has changed!" warnings.

The gradebook holds the master copy of every locked cell, and the master copy of a test
cell holds its hidden tests; the student's copy is the release, without them. Stock
``OverwriteCells`` compares the two and logs every untouched test cell as changed. This
one first recognises a test cell whose source is exactly the released one (the master
with its hidden tests cleared) and restores the master silently; a cell a student did
edit is still reported and restored by nbgrader.
"""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells

from grading import notebook_format as nbcells


class OverwriteReleasedCells(OverwriteCells):
    """``OverwriteCells`` that knows an untouched test cell lacks its hidden tests."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, cell_index: int
    ) -> tuple[NotebookNode, dict]:
        meta = nbcells.nbgrader(cell)
        if meta.get("locked") and meta.get("grade_id"):
            try:
                master = self.gradebook.find_source_cell(
                    meta["grade_id"], self.notebook_id, self.assignment_id
                )
            except MissingEntry:
                master = None  # nbgrader itself warns about a cell the gradebook lacks
            if master is not None and cell.source.strip() == released_source(master.source):
                cell.source = master.source
        return super().preprocess_cell(cell, resources, cell_index)


def released_source(master: str) -> str:
    """What ``nbgrader generate_assignment`` hands out for a master cell's source."""
    cell = NotebookNode(cell_type="code", source=master, metadata={})
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source.strip()
