"""``grades.csv``: the course's grades, one row per student, and its one writer and reader.

:func:`write_grades` reads the gradebook back (:func:`gradebook_grades`) into the numbers
``nbgrader export`` gives: autograded, manual, late penalty and total points per part and
their sum, plus notes; :func:`read_grades` reads the file back for the LMS uploads
(:mod:`grading.lms.upload`). Re-grading one student replaces only that student's numbers::

    student,part1_autograded,part1_manual,part1_late_penalty,part1_total,...,total,notes
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from grading.course import SUBMITTED, TEST_PREFIX
from grading.nbgrader_commands import database_url
from grading.notebook_format import RESULTS_CELL
from grading.records import submission_times
from grading.records.verdicts import NOT_GRADED_YET, NOTES_TITLE

STUDENT, TOTAL, NOTES = "student", "total", "notes"
PART_COLUMNS = ("autograded", "manual", "late_penalty", "total")
NOTE_SEPARATOR = " | "
"""Between the notes of two parts in the notes column (each note: ``part1: ...``)."""


def column(part: str, what: str = "total") -> str:
    """The column of ``what`` (one of :data:`PART_COLUMNS`) for ``part``: ``part1_total``."""
    return f"{part}_{what}"


@dataclass
class PartGrade:
    """One submission's points as nbgrader counts them (``Grade.score``, the late penalty)."""

    autograded: float
    manual: float
    late_penalty: float
    notes: str

    @property
    def total(self) -> float:
        # nbgrader export's score: never below 0.
        return max(0.0, self.autograded + self.manual - self.late_penalty)


def gradebook_grades(course: Path, submitted: Path = SUBMITTED) -> dict[str, dict[str, PartGrade]]:
    """``{student: {assignment: PartGrade}}`` for every submission in the course gradebook.

    The points are ``nbgrader export``'s: each cell's ``Grade.score`` (the manual score where
    there is one, else the automatic one, plus extra credit) and the notebook's late
    penalty. A cell that waits for the instructor counts what nbgrader counts; the notes say
    that it waits (never graded by hand) or needs a look (graded by hand, then re-autograded),
    and when ``make collect`` recorded a LATE mark without a time in ``submitted``, that no
    late penalty could be computed (:func:`grading.records.submission_times.late_unknown`).
    """
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, PartGrade]] = {}
    with Gradebook(database_url(course)) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                auto, manual, notes = 0.0, 0.0, []
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.name.startswith(TEST_PREFIX):
                            auto += grade.score
                        else:
                            manual += grade.score
                        if grade.needs_manual_grade:
                            what = "report" if grade.name == RESULTS_CELL else grade.name
                            notes.append(
                                f"{what} {NOT_GRADED_YET}"
                                if grade.manual_score is None
                                else f"{what} to review (re-autograded after its manual grade)"
                            )
                    notes += [
                        c.auto_comment.split(f"{NOTES_TITLE}: ", 1)[1]
                        for c in notebook.comments
                        if c.auto_comment and f"{NOTES_TITLE}: " in c.auto_comment
                    ]
                folder = Path(submitted) / submission.student.id / assignment.name
                notes += filter(
                    None, [submission_times.late_unknown(submission_times.lms_time(folder))]
                )
                out.setdefault(submission.student.id, {})[assignment.name] = PartGrade(
                    auto, manual, submission.late_submission_penalty or 0.0, "; ".join(notes)
                )
            # nbgrader export lists every student of the gradebook, 0 where none was submitted.
            for student in gb.students:
                out.setdefault(student.id, {})
    return out


def write_grades(course: Path, path: Path | None = None, submitted: Path = SUBMITTED) -> Path:
    """One row per student: autograded, manual, late penalty and total points per part, and
    the sum; a part not submitted is blank, and counts 0 in the sum (as in nbgrader export)."""
    from nbgrader.api import Gradebook

    path = path or course / "grades.csv"
    grades = gradebook_grades(course, submitted)
    # Every assignment of the gradebook, as nbgrader export lists them, submitted or not.
    with Gradebook(database_url(course)) as gb:
        parts = sorted(assignment.name for assignment in gb.assignments)
    columns = [column(part, what) for part in parts for what in PART_COLUMNS]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([STUDENT, *columns, TOTAL, NOTES])
        for student in sorted(grades):
            row, notes = [student], []
            for part in parts:
                grade = grades[student].get(part)
                if grade is None:
                    row += [""] * len(PART_COLUMNS)
                    continue
                row += [
                    _fmt(v)
                    for v in (grade.autograded, grade.manual, grade.late_penalty, grade.total)
                ]
                if grade.notes:
                    notes.append(f"{part}: {grade.notes}")
            row += [
                _fmt(sum(g.total for g in grades[student].values())),
                NOTE_SEPARATOR.join(notes),
            ]
            writer.writerow(row)
    return path


def _fmt(value: float) -> str:
    return f"{value:g}"


def read_grades(path: Path) -> list[dict[str, str]]:
    """The rows of grades.csv (``make grades``); columns another step added are kept."""
    if not path.is_file():
        raise ValueError(
            f"{path}: no grades file: write it with make grades (after make autograde)"
        )
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or STUDENT not in reader.fieldnames:
            raise ValueError(
                f"{path}: no {STUDENT!r} column: not the course's grades.csv "
                "(write it with make grades)"
            )
        return list(reader)


def notes_of(row: dict[str, str]) -> list[str]:
    """The notes of one row of :func:`read_grades`, each ``part: note``."""
    return [n for n in (row.get(NOTES) or "").split(NOTE_SEPARATOR) if n]
