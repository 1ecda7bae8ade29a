"""Every graded submission's points per test cell and the reason each lost TODO lost them,
as the course gradebook holds them (what ``make autograde`` merged, and any re-grade since).

The one reader of per-cell grades: the resumed run's table (:mod:`grading.autograde.batch`), the
class report (:mod:`grading.records.class_report`) and the re-grade of a TODO
(:mod:`grading.autograde.regrade`) all see the same numbers ``nbgrader export`` adds up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grading.course import TEST_PREFIX, TODO_PREFIX
from grading.nbgrader_commands import database_url
from grading.notebook_format import RESULTS_CELL, todo_of
from grading.records.gradebook import NOTES_TITLE


@dataclass
class CellGrades:
    """One submission of one student, from the gradebook."""

    student: str
    assignment: str
    scores: dict[str, float] = field(default_factory=dict)
    """Test cell -> its points (``Grade.score``, as nbgrader export counts them)."""
    max_scores: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    """Test cell -> why it lost points, for each test cell below its maximum: the judge's
    comment on its TODO, else the autograder's notes on the submission (a test that
    failed in the notebook's run, a submission that could not be graded)."""


def read_cell_grades(course: Path, assignment: str | None = None) -> list[CellGrades]:
    """Every submission in ``course``'s gradebook (of ``assignment``, or all), by student."""
    from nbgrader.api import Gradebook

    out = []
    with Gradebook(database_url(course)) as gb:
        for row in gb.assignments:
            if assignment not in (None, row.name):
                continue
            for submission in row.submissions:
                grades = CellGrades(submission.student.id, row.name)
                for notebook in submission.notebooks:
                    comments = {c.name: c.comment or "" for c in notebook.comments}
                    notes = comments.get(RESULTS_CELL, "").partition(f"{NOTES_TITLE}: ")[2]
                    for grade in notebook.grades:
                        if not grade.name.startswith(TEST_PREFIX):
                            continue
                        grades.scores[grade.name] = float(grade.score or 0.0)
                        grades.max_scores[grade.name] = float(grade.max_score)
                        if grades.scores[grade.name] < grades.max_scores[grade.name]:
                            todo = TODO_PREFIX + grade.name.removeprefix(TEST_PREFIX)
                            grades.reasons[grade.name] = comments.get(todo) or _note_on(
                                grade.name, notes
                            )
                out.append(grades)
    return sorted(out, key=lambda g: (g.assignment, g.student))


def _note_on(test_cell: str, notes: str) -> str:
    """The note about this test cell's TODO (``TODO 1-1-2: …``), else all the notes."""
    todo = todo_of(test_cell)
    mine = [n for n in notes.split("; ") if n.startswith(f"TODO {todo}: ")]
    return mine[0].removeprefix(f"TODO {todo}: ") if mine else notes or "no reason recorded"
