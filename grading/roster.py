"""The course roster: who each LMS student is in nbgrader.

``grading/students.csv`` (UTF-8, a BOM as Excel writes it is fine), one row per student::

    lms_id,name,email,nbgrader_id
    12345,John Smith,john.smith@uni.example,jsmith

``lms_id`` is the student's id in the LMS: Canvas's user id (the ``ID`` column of its
gradebook export), Blackboard's username, or Moodle's participant number (``Participant
12345`` in an assignment's grading worksheet; Moodle numbers them per assignment, so
collection also matches Moodle students by the worksheet's email and by name).
``name`` is as the LMS shows it ("First Last"; Brightspace's downloads name students only
by it), ``nbgrader_id`` the id the student gets in the gradebook, ``submitted/`` and
``feedback/`` (ASCII letters, digits, ``_ . -``). Columns may come in any order; other
columns are ignored. Import it into the course gradebook (what
``nbgrader db student import`` does with ``id,first_name,last_name,email``)::

    python -m grading.roster import [--roster grading/students.csv] [--course grading/course]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grading.course import COURSE, ROSTER, STUDENT_ID

COLUMNS = ("lms_id", "name", "email", "nbgrader_id")


class RosterError(ValueError):
    """A roster a user wrote wrongly: the message names the file, the line and the fix."""


@dataclass(frozen=True)
class Student:
    lms_id: str
    name: str
    email: str
    nbgrader_id: str

    @property
    def first_last(self) -> tuple[str, str]:
        """``("John", "Smith")``: the last word is the last name, as Canvas sorts it."""
        first, _, last = self.name.strip().rpartition(" ")
        return (first, last) if first else (last, "")


def fold(text: str) -> str:
    """Lower-case ASCII letters and digits only: how names are compared across LMSs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def canvas_key(name: str) -> str:
    """Canvas's file-name key of a student: sortable name "Smith, John" folded, ``smithjohn``."""
    first, _, last = name.strip().rpartition(" ")
    return fold(last + first)


# Moodle's "Download all submissions" names each student's folder (or, without "in
# folders", prefixes each file) `clean_filename(fullname . '_' . uniqueid . '_')` then
# `assignsubmission_file_` (moodle/moodle mod/assign/locallib.php, download_submissions);
# the uniqueid is the "Participant N" number of the assignment's grading worksheet.
MOODLE_ENTRY = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)")


class Roster:
    """The students of ``path``, looked up by each key an LMS download names them with."""

    def __init__(self, students: list[Student], path: Path) -> None:
        self.path = path
        self.students = students
        self._by = {
            "lms_id": {s.lms_id: s for s in students},
            "email": {s.email.strip().lower(): s for s in students if s.email.strip()},
            "name": _unique(students, lambda s: fold(s.name)),
            "canvas": _unique(students, lambda s: canvas_key(s.name)),
            "nbgrader_id": {s.nbgrader_id: s for s in students},
        }

    def by_lms_id(self, lms_id: str) -> Student | None:
        return self._by["lms_id"].get(lms_id.strip())

    def by_email(self, email: str) -> Student | None:
        return self._by["email"].get(email.strip().lower())

    def by_name(self, name: str) -> Student | None:
        """The one student of that name (accents, case and spacing aside); None if two share it."""
        return self._by["name"].get(fold(name))

    def by_canvas_key(self, key: str) -> Student | None:
        return self._by["canvas"].get(key)

    def by_nbgrader_id(self, nbgrader_id: str) -> Student | None:
        return self._by["nbgrader_id"].get(nbgrader_id)

    def by_moodle_folder(self, folder: str) -> Student | None:
        """``John Smith_12345_assignsubmission_file``: the participant number, else the name."""
        match = MOODLE_ENTRY.match(folder)
        if not match:
            return None
        return self.by_lms_id(match["id"]) or self.by_name(match["name"])


def _unique(students: list[Student], key: Callable[[Student], str]) -> dict[str, Student]:
    """Each key to its student, leaving out keys two students share: they name nobody for sure."""
    index: dict[str, list[Student]] = {}
    for student in students:
        index.setdefault(key(student), []).append(student)
    return {k: found[0] for k, found in index.items() if len(found) == 1}


def read_roster(path: Path = ROSTER) -> Roster:
    """The roster in ``path``; :class:`RosterError` names the file, line and fix of a mistake."""
    if not path.is_file():
        raise RosterError(
            f"{path}: no roster there: write one with the columns {', '.join(COLUMNS)} "
            "(see python -m grading.roster --help)"
        )
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [(c or "").strip().lower() for c in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise RosterError(
                f"{path}, line 1: no column {', '.join(missing)} (the header has "
                f"{', '.join(header) or 'nothing'}): add it; the roster needs {', '.join(COLUMNS)}"
            )
        reader.fieldnames = header
        students, seen = [], {c: {} for c in ("lms_id", "nbgrader_id")}
        for row in reader:
            line = reader.line_num
            values = {c: (row.get(c) or "").strip() for c in COLUMNS}
            if not any(values.values()):
                continue
            student = Student(**values)
            if not STUDENT_ID.match(student.nbgrader_id):
                raise RosterError(
                    f"{path}, line {line}: nbgrader_id {student.nbgrader_id!r} is not an "
                    "nbgrader id: use ASCII letters, digits, _ . - (starting with a letter or digit)"
                )
            if not student.lms_id:
                raise RosterError(f"{path}, line {line}: empty lms_id: fill in the LMS's id")
            for column in seen:
                value = getattr(student, column)
                if value in seen[column]:
                    raise RosterError(
                        f"{path}, line {line}: {column} {value!r} is already on line "
                        f"{seen[column][value]}: each student needs their own; remove or fix one"
                    )
                seen[column][value] = line
            students.append(student)
    return Roster(students, path)


def import_roster(roster: Roster, course: Path = COURSE) -> int:
    """Add or update every student in ``course``'s gradebook, as ``nbgrader db student import``."""
    from nbgrader.api import Gradebook

    course.mkdir(parents=True, exist_ok=True)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in roster.students:
            first, last = student.first_last
            gradebook.update_or_create_student(
                student.nbgrader_id, first_name=first, last_name=last, email=student.email or None
            )
    return len(roster.students)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.roster",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["import"], help="import the roster into the gradebook")
    parser.add_argument("--roster", type=Path, default=ROSTER)
    parser.add_argument("--course", type=Path, default=COURSE)
    args = parser.parse_args(argv)
    try:
        roster = read_roster(args.roster)
    except RosterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    count = import_roster(roster, args.course)
    print(f"{count} students imported into {args.course / 'gradebook.db'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
