"""The course gradebook ``grading/course/gradebook.db``: one place for the whole grade.

``make autograde`` grades every submission in a sandbox whose gradebook is untrusted;
the trusted grader decides each autograded test cell's points and hands them to
:func:`merge_submission`, which writes them into the course gradebook through nbgrader's
own :class:`~nbgrader.api.Gradebook`, the rows stock ``nbgrader autograde`` writes:
``nbgrader formgrader``, ``generate_feedback`` and ``export`` read them as they are. The
report cells wait there for a manual grade (:func:`record_manual_grade`, or formgrader);
manual scores, extra credit and manual comments come only from the instructor.

Late work is nbgrader's: due dates and extensions come from ``grading/deadlines.toml``
(:mod:`grading.records.deadlines`) into ``Assignment.duedate`` and ``SubmittedAssignment.extension``,
and the penalty from the late-submission plugin configured in ``nbgrader_config.py``.

:func:`grading.records.grades.write_grades` reads the gradebook back into one CSV per course, one row per
student, with the numbers ``nbgrader export`` gives: autograded, manual, late penalty and
total points per part. Re-grading one student replaces only that student's numbers::

    python -m grading.records.gradebook grades      # make grades: grading/course/grades.csv
    python -m grading.records.gradebook deadlines   # write deadlines.toml into the gradebook, print it
"""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from grading import notebook_format as nbcells
from grading.course import COURSE, SUBMITTED, TEST_PREFIX, TODO_PREFIX
from grading.nbgrader_commands import database_url, nbgrader_config
from grading.notebook_format import RESULTS_CELL
from grading.records import grades, submission_times
from grading.records.deadlines import DeadlineError, Deadlines, deadlines_file, load_deadlines
from grading.records.late_penalty import assign_late_penalty, write_deadlines
from grading.records.verdicts import NOTES_TITLE

if TYPE_CHECKING:
    from nbformat import NotebookNode
    from nbgrader.api import Gradebook, Notebook, SubmittedNotebook

# sqlite takes one writer at a time: the workers merge one after the other.
_WRITER = threading.Lock()


def read_timestamp(folder: Path) -> datetime | None:
    """The submission time of a ``submitted/<student>/<assignment>/`` folder as nbgrader
    reads it (naive UTC, :func:`nbgrader.utils.parse_utc`): what ``make collect`` recorded
    from the LMS (:func:`grading.records.submission_times.lms_time`: a file in the folder, which the
    student may have uploaded, is then never read); for a folder not collected so
    (nbgrader's exchange), its ``timestamp.txt``. None if there is none."""
    from nbgrader.utils import parse_utc

    recorded = submission_times.lms_time(folder)
    if recorded is not None:
        return parse_utc(recorded.time) if recorded.time else None
    path = Path(folder) / submission_times.TIMESTAMP
    text = path.read_text().strip() if path.is_file() else ""
    if not text:
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError) as error:
        raise ValueError(
            f"{path}: {text!r} is not a timestamp nbgrader reads: write it as "
            "'2026-10-16 21:59:00.000000 UTC' (or ISO 8601 with an offset)"
        ) from error


@dataclass
class Merged:
    replaced: bool
    """False: the course already holds a newer submission of this student/assignment; nothing changed."""
    late_penalty: float
    """Points nbgrader's late-penalty plugin took off (0.0 if on time)."""
    notes: list[str] = field(default_factory=list)
    """Replaced: the notes written into the gradebook (the caller's, then the merge's own:
    the lateness). Not replaced: why not."""


def merge_submission(
    course: Path,
    assignment: str,
    student: str,
    *,
    timestamp: datetime | None,
    auto_scores: dict[str, float],
    comments: dict[str, str],
    notes: list[str],
    notebook: Path | None,
) -> Merged:
    """Write one graded submission into ``course``'s gradebook, as stock ``nbgrader autograde``
    would, from trusted inputs only.

    ``auto_scores`` holds the trusted grader's points for every autograded test cell
    (``{"test_1_1_1": 4.0, ...}``), written as ``auto_score``. Every other grade cell (the
    report, graded by hand) is scored as nbgrader's ``SaveAutoGrades`` does, with the
    release's checksum from the gradebook (never the submission's metadata): unchanged
    from the release, 0 and no manual grade needed; changed, ``needs_manual_grade``.
    ``notebook`` is the trusted copy of the autograded notebook those checksums are taken
    of; None means it could not be graded: every cell not in ``auto_scores`` scores 0,
    nothing waits for a manual grade, and ``notes`` should say why.

    What the instructor wrote stays, as on a stock re-autograde: ``manual_score``,
    ``extra_credit`` and ``manual_comment`` are never written here, and a cell that has a
    manual score is flagged ``needs_manual_grade`` for review (nbgrader's rule: the manual
    score still counts in the score and in ``nbgrader export``).

    ``comments`` (``{grade_id: text}``, the judge's reasons) become the cells' automatic
    comments; a test cell's reason goes to its TODO's comment box (``test_X`` -> ``todo_X``,
    test cells have none). ``notes`` go to the report cell's automatic comment after
    :data:`NOTES_TITLE`, where formgrader and the feedback show them.

    ``timestamp`` (:func:`read_timestamp`) replaces the stored one; an older one than the
    stored changes nothing (``Merged.replaced`` False); None keeps the stored one, as
    nbgrader does without a ``timestamp.txt``. The student's extension and the due dates
    come from the deadlines file beside the course (:func:`grading.records.deadlines.deadlines_file`),
    and the late penalty from nbgrader's ``AssignLatePenalties`` with the plugin the course's
    ``nbgrader_config.py`` configures.
    """
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import parse_utc

    deadlines = load_deadlines(deadlines_file(course))
    config = nbgrader_config(course)
    cells = _cells(notebook) if notebook is not None else None
    timestamp = parse_utc(timestamp)
    notes = list(notes)
    with _WRITER:
        with Gradebook(database_url(course)) as gb:
            master = _master_notebook(gb, assignment, notebook)
            _check_scores(master, auto_scores, comments, graded=cells is not None)
            notebook_name = master.name
            try:
                stored = gb.find_submission(assignment, student)
            except MissingEntry:
                stored = None
            if stored is not None and None not in (stored.timestamp, timestamp):
                if stored.timestamp > timestamp:
                    return Merged(
                        False,
                        stored.late_submission_penalty or 0.0,
                        [
                            f"not merged: the gradebook holds a newer submission "
                            f"({stored.timestamp} UTC) than this one ({timestamp} UTC)"
                        ],
                    )
            write_deadlines(gb, deadlines, assignment)
            gb.update_or_create_student(student)
            stamp = {"timestamp": timestamp} if timestamp else {}
            # nbgrader builds the rows before adding them: without this, SQLAlchemy warns
            # that it cannot autoflush them half-built.
            with gb.db.no_autoflush:
                submission = gb.update_or_create_submission(assignment, student, **stamp)
            submission.extension = deadlines.extension(assignment, student)
            row = gb.find_submission_notebook(notebook_name, assignment, student)
            _write_grades(gb, row, auto_scores, cells)
            _write_comments(gb, row, comments, cells)
            gb.db.commit()
        penalty = assign_late_penalty(course, assignment, student, config)
        with Gradebook(database_url(course)) as gb:
            submission = gb.find_submission(assignment, student)
            if submission.total_seconds_late > 0:
                notes.append(
                    f"submitted {_lateness(submission.total_seconds_late)} after the due date "
                    f"({submission.duedate} UTC{', extension included' if submission.extension else ''}): "
                    f"late penalty {penalty:g} points"
                )
            _write_notes(gb.find_submission_notebook(notebook_name, assignment, student), notes)
            gb.db.commit()
    return Merged(True, penalty, notes)


def _cells(notebook: Path) -> dict[str, NotebookNode]:
    """The notebook's cells by nbgrader grade id; the first of duplicated ids, as nbgrader's
    ``DeduplicateIds`` keeps."""
    import nbformat

    cells: dict[str, NotebookNode] = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        grade_id = nbcells.grade_id(cell)
        if grade_id:
            cells.setdefault(grade_id, cell)
    return cells


def _master_notebook(gb: Gradebook, assignment: str, notebook: Path | None) -> Notebook:
    """The assignment's notebook in the gradebook (the release's cells), the one graded."""
    from nbgrader.api import MissingEntry

    try:
        notebooks = gb.find_assignment(assignment).notebooks
    except MissingEntry as error:
        raise LookupError(
            f"the gradebook has no assignment {assignment!r}: release it first (make release)"
        ) from error
    if notebook is not None:
        notebooks = [nb for nb in notebooks if nb.name == Path(notebook).stem]
    if len(notebooks) != 1:
        raise LookupError(
            f"{assignment}: the gradebook's notebooks {[nb.name for nb in gb.find_assignment(assignment).notebooks]} "
            f"do not match {notebook}: pass the autograded notebook of the released name"
        )
    return notebooks[0]


def _check_scores(
    master: Notebook, auto_scores: dict[str, float], comments: dict[str, str], graded: bool
) -> None:
    """Refuse what the trusted grader cannot have meant, before anything is written."""
    solutions = {cell.name for cell in master.solution_cells}
    maxima = {cell.name: cell.max_score for cell in master.grade_cells}
    for name, points in auto_scores.items():
        if name not in maxima or name in solutions:
            raise ValueError(
                f"auto_scores: {name!r} is not an autograded test cell of {master.name} "
                f"(those are {sorted(set(maxima) - solutions)})"
            )
        if not 0 <= points <= maxima[name]:
            raise ValueError(f"auto_scores: {name} = {points} is outside 0..{maxima[name]:g}")
    missing = set(maxima) - solutions - set(auto_scores)
    if graded and missing:
        # Their outputs were written in the sandbox: nbgrader's own reading of them is untrusted.
        raise ValueError(
            f"auto_scores lacks the autograded cells {sorted(missing)} of {master.name}: "
            "the trusted grader must score every test cell"
        )
    for name in comments:
        if _comment_cell(name) not in solutions:
            raise ValueError(f"comments: {name!r} has no comment box in {master.name}")


def _comment_cell(name: str) -> str:
    return TODO_PREFIX + name.removeprefix(TEST_PREFIX) if name.startswith(TEST_PREFIX) else name


def _trusted_cell(gb: Gradebook, row: SubmittedNotebook, name: str, cells: dict) -> NotebookNode:
    """The submission's cell ``name`` with the release's nbgrader metadata (the student's is
    untrusted); a cell the submission lacks is the release's, as nbgrader restores it."""
    from nbformat.v4 import new_code_cell, new_markdown_cell
    from nbgrader.api import MissingEntry

    assignment = row.assignment.assignment.name
    source = gb.find_source_cell(name, row.name, assignment)
    try:
        points = gb.find_grade_cell(name, row.name, assignment).max_score
    except MissingEntry:
        points = None
    try:
        gb.find_solution_cell(name, row.name, assignment)
        solution = True
    except MissingEntry:
        solution = False
    submitted = cells.get(name)
    make = new_code_cell if source.cell_type == "code" else new_markdown_cell
    cell = make(submitted.source if submitted is not None else source.source)
    cell.metadata["nbgrader"] = {
        "grade_id": name,
        "grade": points is not None,
        "solution": solution,
        "locked": source.locked,
        "checksum": source.checksum,
        **({"points": points} if points is not None else {}),
    }
    return cell


def _write_grades(
    gb: Gradebook, row: SubmittedNotebook, auto_scores: dict, cells: dict | None
) -> None:
    from nbgrader.utils import determine_grade

    for grade in row.grades:
        if grade.name in auto_scores:
            grade.auto_score = float(auto_scores[grade.name])
        elif cells is None:
            grade.auto_score = 0.0
        else:
            # A report cell: 0 if unchanged from the release, else None (a grade by hand).
            grade.auto_score = determine_grade(_trusted_cell(gb, row, grade.name, cells))[0]
        if cells is None:
            # nbgrader's own treatment of a notebook missing from a submission.
            grade.needs_manual_grade = False
        else:
            # SaveAutoGrades: a manual score stays and is flagged for review.
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None


def _write_comments(
    gb: Gradebook, row: SubmittedNotebook, comments: dict, cells: dict | None
) -> None:
    from nbgrader.utils import compute_checksum

    reasons = {_comment_cell(name): text for name, text in comments.items()}
    for comment in row.comments:
        unanswered = False
        if cells is not None:
            cell = _trusted_cell(gb, row, comment.name, cells)
            unanswered = compute_checksum(cell) == nbcells.nbgrader(cell).get("checksum")
        # SaveAutoGrades' comment for an unchanged solution cell, unless the judge says more.
        comment.auto_comment = reasons.get(comment.name) or ("No response." if unanswered else None)


def _write_notes(row: SubmittedNotebook, notes: list[str]) -> None:
    """The notes go after the report cell's automatic comment: formgrader shows them where
    the instructor grades by hand, the feedback shows them to the student, and
    :func:`grading.records.grades.gradebook_grades` finds them after :data:`NOTES_TITLE`."""
    if not notes:
        return
    for comment in row.comments:
        if comment.name == RESULTS_CELL:
            comment.auto_comment = "\n\n".join(
                filter(None, [comment.auto_comment, f"{NOTES_TITLE}: " + "; ".join(notes)])
            )


def _lateness(seconds: float) -> str:
    late = timedelta(seconds=round(seconds))
    return f"{late.days} d {late.seconds // 3600} h {late.seconds % 3600 // 60} min"


def apply_deadlines(course: Path) -> Deadlines:
    """Write the deadlines file into the gradebook and re-assign every submission's late
    penalty (an extension granted after grading takes its penalty back)."""
    from nbgrader.api import Gradebook

    deadlines = load_deadlines(deadlines_file(course))
    config = nbgrader_config(course)
    with _WRITER:
        with Gradebook(database_url(course)) as gb:
            write_deadlines(gb, deadlines)
            submissions = [
                (s.assignment.name, s.student.id) for a in gb.assignments for s in a.submissions
            ]
        for assignment, student in submissions:
            assign_late_penalty(course, assignment, student, config)
    return deadlines


def record_manual_grade(
    course: Path,
    assignment: str,
    student: str,
    points: float,
    comment: str,
    cell: str = RESULTS_CELL,
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


def record_auto_grade(
    course: Path, assignment: str, student: str, cell: str, points: float, comment: str | None
) -> float:
    """Re-score one autograded test ``cell`` of a graded submission (a re-grade of its TODO):
    its automatic score, the comment on its TODO, and the late penalty, which nbgrader
    computes from the score. Returns the points it had before."""
    from nbgrader.api import Gradebook, MissingEntry

    with _WRITER:
        with Gradebook(database_url(course)) as gb:
            try:
                (notebook,) = gb.find_submission(assignment, student).notebooks
            except MissingEntry as error:
                raise LookupError(
                    f"{course / 'gradebook.db'} has no {assignment} submission of {student}"
                ) from error
            grade = gb.find_grade(cell, notebook.name, assignment, student)
            if not 0 <= points <= grade.max_score:
                raise ValueError(f"{cell} = {points} is outside 0..{grade.max_score:g}")
            before, grade.auto_score = grade.auto_score or 0.0, float(points)
            todo = _comment_cell(cell)
            gb.find_comment(todo, notebook.name, assignment, student).auto_comment = comment
            gb.db.commit()
        assign_late_penalty(course, assignment, student, nbgrader_config(course))
    return before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.records.gradebook", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "command",
        choices=["grades", "deadlines"],
        help="grades: write the course's grades CSV; deadlines: write deadlines.toml into the "
        "gradebook (due dates, extensions, late penalties) and print it",
    )
    parser.add_argument("--course", type=Path, default=COURSE)
    parser.add_argument(
        "--submitted", type=Path, default=SUBMITTED, help="where make collect put the submissions"
    )
    args = parser.parse_args(argv)
    if not (args.course / "gradebook.db").is_file():
        print(
            f"error: no gradebook in {args.course}: run make release and make autograde",
            file=sys.stderr,
        )
        return 1
    if args.command == "grades":
        path = grades.write_grades(args.course, submitted=args.submitted)
        print(f"grades: {path}")
        for row in grades.read_grades(path):
            for note in grades.notes_of(row):
                if submission_times.LATE_MARK in note:
                    print(f"warning: {row[grades.STUDENT]}: {note}")
        return 0
    try:
        deadlines = apply_deadlines(args.course)
    except DeadlineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"deadlines: {deadlines_file(args.course)}")
    for assignment in sorted(set(deadlines.due) | set(deadlines.extensions)):
        due = deadlines.due.get(assignment)
        print(f"{assignment}: due {due.isoformat() if due else 'never (no due date)'}")
        for student, extra in sorted(deadlines.extensions.get(assignment, {}).items()):
            print(f"  {student}: +{extra} (due {(due + extra).isoformat() if due else '-'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
