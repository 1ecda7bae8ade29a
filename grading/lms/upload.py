"""LMS upload: the course's grades.csv as the files Canvas and Moodle import, by the roster's ids.

::

    python -m grading.lms.upload canvas --grades grading/course/grades.csv --roster grading/students.csv \\
        --out grading/course/canvas_grades.csv [--canvas-assignment part1="Part 1 (12345)"]
    python -m grading.lms.upload moodle --grades grading/course/grades.csv --roster grading/students.csv \\
        --out grading/course/moodle_part1.csv [--assignment part1] [--worksheet downloaded.csv]

Canvas: *Grades → Import* of its gradebook export's format (``Student, ID, SIS User ID,
SIS Login ID, Section``, then one column per assignment named ``Name (assignment id)``, as
nemogb's "Detailed Canvas Export Info" describes the export); rows are matched by ``ID``,
the roster's ``lms_id``. A column without ``(id)`` makes Canvas create a new assignment,
so each part's column is the gradebook's own: from the roster when it is Canvas's
gradebook export (the column whose name holds "Part 1", with its ``Points Possible`` row
and each student's SIS ids, section and name as Canvas spells them), or named with
``--canvas-assignment``; without either the Canvas file is refused. Moodle: *Upload grading worksheet*
of one assignment, whose importer (mod/assign/feedback/offline/importgradeslib.php) reads
``Identifier`` ("Participant 12345"), ``Grade`` and ``Last modified (grade)``; without
``--assignment`` the grade is the course total. Moodle numbers participants per
assignment: give the worksheet downloaded from that assignment with ``--worksheet`` and
its rows get their grades (matched by email, then number); without it the roster's
``lms_id`` is the participant number. Every student of grades.csv missing from
the roster is one line, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

from grading.course import ASSIGNMENTS, COURSE, ROSTER
from grading.lms.roster import (
    CANVAS_ASSIGNMENT,
    CANVAS_COLUMNS,
    CANVAS_POINTS_ROW,
    Roster,
    RosterError,
    Student,
    fold,
    read_roster,
)
from grading.notebook_format import max_points
from grading.records import grades as grades_csv
from grading.records.verdicts import NOT_GRADED_YET

GRADES = COURSE / "grades.csv"
# Moodle's grading worksheet (mod/assign gradingtable.php's download): its columns.
WORKSHEET_ID, WORKSHEET_NAME, WORKSHEET_EMAIL = "Identifier", "Full name", "Email address"
WORKSHEET_GRADE, WORKSHEET_MAX = "Grade", "Maximum Grade"
WORKSHEET_SUBMITTED, WORKSHEET_GRADED = "Last modified (submission)", "Last modified (grade)"
WORKSHEET_HINT = "download it from the Moodle assignment (Submissions, Download grading worksheet)"
MOODLE_COLUMNS = [
    WORKSHEET_ID,
    WORKSHEET_NAME,
    WORKSHEET_EMAIL,
    "Status",
    WORKSHEET_GRADE,
    WORKSHEET_MAX,
    "Grade can be changed",
    WORKSHEET_SUBMITTED,
    WORKSHEET_GRADED,
    "Feedback comments",
]


def read_worksheet(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A grading worksheet downloaded from Moodle: its header and rows."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file: {WORKSHEET_HINT}")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = list(reader.fieldnames or [])
    if WORKSHEET_ID not in header or WORKSHEET_GRADE not in header:
        raise ValueError(
            f"{path}: no {WORKSHEET_ID!r} and {WORKSHEET_GRADE!r} columns, not a Moodle grading "
            f"worksheet: {WORKSHEET_HINT}"
        )
    return header, rows


def participant(row: dict[str, str]) -> str:
    """The participant number of a worksheet row ("Participant 12345" -> "12345")."""
    return row[WORKSHEET_ID].removeprefix("Participant").strip()


def _students(
    grades: list[dict[str, str]], roster: Roster
) -> tuple[list[tuple[Student, dict]], list[str]]:
    found, missing = [], []
    for row in grades:
        student = roster.by_nbgrader_id(row[grades_csv.STUDENT])
        if student is None:
            missing.append(
                f"{row[grades_csv.STUDENT]}: not in the roster {roster.path}: no LMS id, left out; "
                "add the student's row (lms_id, name, email, nbgrader_id)"
            )
        else:
            found.append((student, row))
    return found, missing


def canvas_columns(roster: Roster, parts: list[str], named: dict[str, str]) -> dict[str, str]:
    """Each part's column in Canvas's gradebook: ``named`` (``--canvas-assignment``), else
    the one column of the roster's Canvas export whose name holds the part ("Part 1: Anime
    faces (88101)" for part1). ValueError names the fix when a part has none."""
    columns = {}
    for part in parts:
        if part in named:
            columns[part] = named[part]
            continue
        found = [
            c
            for c in roster.canvas_assignments
            if fold(part) in fold(CANVAS_ASSIGNMENT.match(c)["name"])
        ]
        if len(found) != 1:
            seen = ", ".join(roster.canvas_assignments) or "none: it is no Canvas gradebook export"
            raise ValueError(
                f"no Canvas column for {part} (the roster's assignment columns: {seen}): give "
                f"Canvas's gradebook export as the roster, or name the column, e.g. "
                f'CANVAS_{part.upper()}="Part 1: Anime faces (88101)" (--canvas-assignment '
                f"{part}=...); a column without its (id) makes Canvas create a new assignment"
            )
        columns[part] = found[0]
    return columns


def write_canvas(
    grades: list[dict[str, str]], roster: Roster, out: Path, named: dict[str, str]
) -> list[str]:
    """Canvas's gradebook import CSV, in the gradebook export's own headers and rows
    (:func:`canvas_columns`; ``named`` maps a part to its column). Returns the students
    left out."""
    found, missing = _students(grades, roster)
    parts = [p for p in ASSIGNMENTS if any(grades_csv.column(p) in row for row in grades)]
    columns = canvas_columns(roster, parts, named)
    points = [roster.canvas_assignments.get(columns[p], "") for p in parts]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*CANVAS_COLUMNS, *(columns[p] for p in parts)])
        if any(points):
            # Canvas's export indents the label of its points row.
            writer.writerow([f"    {CANVAS_POINTS_ROW}", "", "", "", "", *points])
        for student, row in found:
            writer.writerow(
                [
                    student.sortable_name,
                    student.lms_id,
                    student.sis_user_id,
                    student.sis_login_id,
                    student.section,
                    *(row.get(grades_csv.column(p), "") for p in parts),
                ]
            )
    return missing


def not_graded_yet(grades: list[dict[str, str]], parts: list[str]) -> list[str]:
    """``student part`` of every total of ``parts`` that counts a cell the instructor has
    not graded yet (grades.csv's notes, :data:`grading.records.verdicts.NOT_GRADED_YET`)."""
    return [
        f"{row[grades_csv.STUDENT]} {part}"
        for row in grades
        for part in parts
        for note in grades_csv.notes_of(row)
        if note.startswith(f"{part}: ") and NOT_GRADED_YET in note
    ]


def write_moodle(
    grades: list[dict[str, str]],
    roster: Roster,
    out: Path,
    assignment: str | None = None,
    worksheet: Path | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Moodle's grading worksheet of ``assignment`` (the course total when None): the one
    downloaded from Moodle with its Grade column filled in when ``worksheet`` is given
    (rows matched by email, then participant number), else one row per student with the
    roster's ``lms_id`` as participant number. Returns the students left out."""
    found, missing = _students(grades, roster)
    column = grades_csv.column(assignment) if assignment else grades_csv.TOTAL
    # Moodle skips a row whose "Last modified (grade)" is older than the grade it holds,
    # so the worksheet carries the time it was written, in Moodle's own date format.
    written = (now or datetime.now(UTC)).strftime("%A, %d %B %Y, %I:%M %p")
    if worksheet is None:
        maximum = max_points(assignment) if assignment else sum(map(max_points, ASSIGNMENTS))
        header, rows = MOODLE_COLUMNS, []
        targets = []
        for student, grade_row in found:
            row = {
                WORKSHEET_ID: f"Participant {student.lms_id}",
                WORKSHEET_NAME: student.full_name,
                WORKSHEET_EMAIL: student.email,
                WORKSHEET_MAX: f"{maximum:g}",
                "Grade can be changed": "Yes",
            }
            rows.append(row)
            targets.append((grade_row, row))
    else:
        # Moodle numbers participants per assignment: its own worksheet knows them.
        header, rows = read_worksheet(worksheet)
        by_email = {r.get(WORKSHEET_EMAIL, "").strip().lower(): r for r in rows}
        by_participant = {participant(r): r for r in rows}
        targets = []
        for student, grade_row in found:
            row = (student.email and by_email.get(student.email.lower())) or by_participant.get(
                student.lms_id
            )
            if row is None:
                missing.append(
                    f"{student.nbgrader_id}: not in the worksheet {worksheet} (email "
                    f"{student.email or '-'}, Participant {student.lms_id}): left out; "
                    "download the worksheet of this assignment again"
                )
            else:
                targets.append((grade_row, row))
    for grade_row, row in targets:
        row[WORKSHEET_GRADE] = grade_row.get(column, "")
        row[WORKSHEET_GRADED] = written
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return missing


def _canvas_column(text: str) -> tuple[str, str]:
    part, sep, header = text.partition("=")
    if not sep or part not in ASSIGNMENTS or not CANVAS_ASSIGNMENT.match(header.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r}: write PART=HEADER with PART one of {', '.join(ASSIGNMENTS)} and the "
            'column header of Canvas\'s gradebook export, e.g. part1="Part 1: Anime faces (88101)" '
            "(a header without its (id) makes Canvas create a new assignment)"
        )
    return part, header.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.lms.upload",
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("lms", choices=["canvas", "moodle"])
    parser.add_argument("--grades", type=Path, default=GRADES)
    parser.add_argument("--roster", type=Path, default=ROSTER)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--canvas-assignment",
        type=_canvas_column,
        action="append",
        default=[],
        metavar="PART=HEADER",
    )
    parser.add_argument(
        "--assignment", choices=sorted(ASSIGNMENTS), help="Moodle: one part's grade"
    )
    parser.add_argument(
        "--worksheet", type=Path, help="Moodle: the assignment's grading worksheet, to fill in"
    )
    args = parser.parse_args(argv)
    try:
        roster = read_roster(args.roster)
        grades = grades_csv.read_grades(args.grades)
    except (RosterError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        if args.lms == "canvas":
            missing = write_canvas(grades, roster, args.out, dict(args.canvas_assignment))
        else:
            missing = write_moodle(grades, roster, args.out, args.assignment, args.worksheet)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for line in missing:
        print(f"skipped: {line}")
    print(f"{args.lms}: {args.out} ({len(grades) - len(missing)} students)")
    parts = [args.assignment] if args.lms == "moodle" and args.assignment else list(ASSIGNMENTS)
    pending = not_graded_yet(grades, parts)
    if pending:
        print(
            f"warning: {len(pending)} total(s) in {args.out} count a report not graded yet as 0 "
            f"({', '.join(pending)}): grade the reports in formgrader (make formgrader), then "
            "make grades (it writes grades.csv and these files again), then upload",
            file=sys.stderr,
        )
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
