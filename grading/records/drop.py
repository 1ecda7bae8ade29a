"""Drop a student from the course: out of the gradebook and ``grades.csv``, and never
graded again by ``make autograde`` (a withdrawal, a duplicate account, a test student)::

    python -m grading.records.drop STUDENT --reason "withdrew on 2026-11-02"   # make drop STUDENT=id
    python -m grading.records.drop STUDENT --undo      # the next make autograde grades them again

Their submission folder stays where it is (nothing a student handed in is deleted); their
grades, autograded notebooks and feedback pages go. The list of dropped students and
why is ``course/dropped.json``, read by :func:`grading.autograde.batch.autograde`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from grading.course import COURSE
from grading.nbgrader_commands import database_url
from grading.records.grades import write_grades

DROPPED = "dropped.json"
"""In the course directory: ``{student: why}``."""


def dropped_students(course: Path) -> dict[str, str]:
    """The students dropped from ``course`` and why."""
    path = course / DROPPED
    return json.loads(path.read_text()) if path.is_file() else {}


def drop(course: Path, student: str, reason: str) -> list[str]:
    """Remove ``student`` from the gradebook and the generated files, and record why."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(database_url(course)) as gb:
        try:
            submissions = sorted(s.assignment.name for s in gb.find_student(student).submissions)
            gb.remove_student(student)
        except MissingEntry:
            submissions = []
    for folder in ("autograded", "feedback"):
        shutil.rmtree(course / folder / student, ignore_errors=True)
    listed = dropped_students(course) | {student: reason}
    (course / DROPPED).write_text(json.dumps(listed, indent=1, sort_keys=True) + "\n")
    removed = ", ".join(submissions) or "no graded submission"
    return [
        f"dropped {student} ({reason}): removed from {course / 'gradebook.db'} ({removed})",
        f"grades: {write_grades(course)} (without {student})",
        f"make autograde skips {student} from now on; undo: python -m grading.records.drop {student} --undo",
    ]


def undrop(course: Path, student: str) -> list[str]:
    """Take ``student`` off the dropped list: the next autograde grades them again."""
    listed = dropped_students(course)
    if student not in listed:
        raise LookupError(f"{student} is not dropped (dropped: {', '.join(listed) or 'nobody'})")
    del listed[student]
    (course / DROPPED).write_text(json.dumps(listed, indent=1, sort_keys=True) + "\n")
    return [f"{student} is back in the course: make autograde STUDENT={student} grades them"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.records.drop", description=__doc__.splitlines()[0]
    )
    parser.add_argument("student", help="the student's nbgrader id")
    parser.add_argument(
        "--reason", default="dropped by the instructor", help="recorded with the drop"
    )
    parser.add_argument("--undo", action="store_true", help="take the student back")
    parser.add_argument("--course", type=Path, default=COURSE)
    args = parser.parse_args(argv)
    if not (args.course / "gradebook.db").is_file():
        print(f"error: no gradebook in {args.course}: run make release first", file=sys.stderr)
        return 1
    try:
        lines = (
            undrop(args.course, args.student)
            if args.undo
            else drop(args.course, args.student, args.reason)
        )
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
