"""The course gradebook ``grading/course/gradebook.db``: one place for the whole grade.

``make autograde`` grades every submission in a private copy of the course directory
(:mod:`grading.pipeline`); :func:`merge_submission` then replaces that student's
submission in the course gradebook with the worker's, one at a time, through nbgrader's
own :class:`~nbgrader.api.Gradebook`: the same rows stock ``nbgrader autograde`` writes.
``nbgrader formgrader``, ``generate_feedback`` and ``export`` read them as they are; the
report cells wait there for a manual grade (:func:`record_manual_grade`, or formgrader).

:func:`write_grades` reads the gradebook back into one CSV per course, one row per
student: autograded, manual and total points per part. It holds every student ever
graded, so re-grading one student replaces only that student's numbers::

    python -m grading.gradebook grades      # make grades: grading/course/grades.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from grading.course import COURSE
from grading.rubric import load_rubric

REPORT_CELL = "report_scores"
NOTES_TITLE = "Autograding notes"
_SCORE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
_COMMENT_FIELDS = ("auto_comment", "manual_comment")
# sqlite takes one writer at a time: the workers merge one after the other.
_WRITER = threading.Lock()


def database_url(course: Path) -> str:
    return f"sqlite:///{Path(course) / 'gradebook.db'}"


@dataclass
class _Submission:
    """What a worker's gradebook holds for one submission, detached from its session."""

    timestamp: object
    flagged: dict[str, bool]
    grades: dict[tuple[str, str], dict]
    comments: dict[tuple[str, str], dict]


def _read_submission(work: Path, assignment: str, student: str) -> _Submission | None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(database_url(work)) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return _Submission(
            timestamp=submission.timestamp,
            flagged={nb.name: nb.flagged for nb in submission.notebooks},
            grades={
                (nb.name, g.name): {f: getattr(g, f) for f in _SCORE_FIELDS}
                for nb in submission.notebooks
                for g in nb.grades
            },
            comments={
                (nb.name, c.name): {f: getattr(c, f) for f in _COMMENT_FIELDS}
                for nb in submission.notebooks
                for c in nb.comments
            },
        )


def merge_submission(
    work: Path, course: Path, assignment: str, student: str, notes: list[str]
) -> None:
    """Replace ``student``'s submission of ``assignment`` in ``course``'s gradebook by ``work``'s.

    A submission the worker could not grade (no notebook, the kernel died) is still
    entered, every cell at 0 and nothing left to grade by hand, with ``notes`` saying
    why, so that formgrader and ``nbgrader export`` list the student and the instructor
    can override it.
    """
    from nbgrader.api import Gradebook, MissingEntry

    graded = _read_submission(work, assignment, student)
    with _WRITER, Gradebook(database_url(course)) as gb:
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
        stamp = {"timestamp": graded.timestamp} if graded and graded.timestamp else {}
        # nbgrader builds the rows before adding them: without this, SQLAlchemy warns
        # that it cannot autoflush them half-built.
        with gb.db.no_autoflush:
            submission = gb.add_submission(assignment, student, **stamp)
        for notebook in submission.notebooks:
            if graded:
                notebook.flagged = graded.flagged.get(notebook.name, False)
            for grade in notebook.grades:
                fields = graded.grades.get((notebook.name, grade.name)) if graded else None
                for name, value in (
                    fields or {"auto_score": 0.0, "needs_manual_grade": False}
                ).items():
                    setattr(grade, name, value)
            for comment in notebook.comments:
                fields = graded.comments.get((notebook.name, comment.name), {}) if graded else {}
                for name, value in fields.items():
                    setattr(comment, name, value)
        gb.db.commit()
    if graded is None:
        annotate(course, assignment, student, notes)


def annotate(course: Path, assignment: str, student: str, notes: list[str]) -> None:
    """Put the autograder's notes (timeouts, restored cells, penalties) into the gradebook.

    They become the automatic comment of the report cell, where the instructor grades by
    hand in formgrader, and reach the student's feedback.
    """
    if not notes:
        return
    from nbgrader.api import Gradebook

    with _WRITER, Gradebook(database_url(course)) as gb:
        for notebook in gb.find_submission(assignment, student).notebooks:
            for comment in notebook.comments:
                if comment.name == REPORT_CELL:
                    comment.auto_comment = "\n\n".join(
                        filter(None, [comment.auto_comment, f"{NOTES_TITLE}: " + "; ".join(notes)])
                    )
        gb.db.commit()


def record_manual_grade(
    course: Path,
    assignment: str,
    student: str,
    points: float,
    comment: str,
    cell: str = REPORT_CELL,
) -> None:
    """Give ``cell`` of a graded submission ``points`` by hand, as formgrader does."""
    from nbgrader.api import Gradebook, MissingEntry

    with _WRITER, Gradebook(database_url(course)) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry as error:
            raise LookupError(
                f"{course / 'gradebook.db'} has no {assignment} submission of {student}: "
                "autograde it first (make autograde)"
            ) from error
        (notebook,) = submission.notebooks
        grade = gb.find_grade(cell, notebook.name, assignment, student)
        grade.manual_score = points
        grade.needs_manual_grade = False
        gb.find_comment(cell, notebook.name, assignment, student).manual_comment = comment
        gb.db.commit()


@dataclass
class PartGrade:
    autograded: float
    manual: float | None  # None while a cell waits for the instructor
    notes: str

    @property
    def total(self) -> float:
        return self.autograded + (self.manual or 0.0)


def read_grades(course: Path) -> dict[str, dict[str, PartGrade]]:
    """``{student: {assignment: PartGrade}}`` for every submission in the course gradebook."""
    from nbgrader.api import Gradebook

    rubric = load_rubric()
    out: dict[str, dict[str, PartGrade]] = {}
    with Gradebook(database_url(course)) as gb:
        for assignment in gb.assignments:
            tests = rubric.test_cells(assignment.name)
            for submission in assignment.submissions:
                auto, manual, waiting, notes = 0.0, 0.0, False, []
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.name in tests:
                            auto += grade.score
                        else:
                            waiting |= grade.needs_manual_grade
                            manual += grade.score
                    notes += [
                        c.auto_comment.split(f"{NOTES_TITLE}: ", 1)[1]
                        for c in notebook.comments
                        if c.auto_comment and f"{NOTES_TITLE}: " in c.auto_comment
                    ]
                    if waiting:
                        notes.append("report not graded yet")
                out.setdefault(submission.student.id, {})[assignment.name] = PartGrade(
                    auto, None if waiting else manual, "; ".join(notes)
                )
    return out


def write_grades(course: Path, path: Path | None = None) -> Path:
    """One row per student: autograded, manual and total points per part, and the sum."""
    path = path or course / "grades.csv"
    grades = read_grades(course)
    parts = sorted({a for by_part in grades.values() for a in by_part})
    columns = [f"{part}_{what}" for part in parts for what in ("autograded", "manual", "total")]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *columns, "total", "notes"])
        for student in sorted(grades):
            row, notes = [student], []
            for part in parts:
                grade = grades[student].get(part)
                if grade is None:
                    row += ["", "", ""]
                    continue
                row += [_fmt(grade.autograded), _fmt(grade.manual), _fmt(grade.total)]
                if grade.notes:
                    notes.append(f"{part}: {grade.notes}")
            row += [_fmt(sum(g.total for g in grades[student].values())), " | ".join(notes)]
            writer.writerow(row)
    return path


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.gradebook", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["grades"], help="write the course's grades CSV")
    parser.add_argument("--course", type=Path, default=COURSE)
    args = parser.parse_args(argv)
    if not (args.course / "gradebook.db").is_file():
        print(
            f"error: no gradebook in {args.course}: run make release and make autograde",
            file=sys.stderr,
        )
        return 1
    print(f"grades: {write_grades(args.course)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
