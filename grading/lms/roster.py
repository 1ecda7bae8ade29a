"""The course roster: who each LMS student is in nbgrader.

``grading/students.csv`` (UTF-8, a BOM as Excel writes it is fine), one row per student::

    lms_id,name,email,nbgrader_id
    12345,John Smith,john.smith@uni.example,jsmith

``lms_id`` is the student's id in the LMS: Canvas's user id (the ``ID`` column of its
gradebook export), Blackboard's username, or Moodle's participant number (``Participant
12345`` in an assignment's grading worksheet; Moodle numbers them per assignment, so
collection also matches Moodle students by the worksheet's email and by name).
``name`` is as the LMS shows it, "First Last" or Canvas's "Last, First" (the comma
tells the last name: "van der Berg, Sara"; without one the last word is the last name),
``nbgrader_id`` the id the student gets in the gradebook, ``submitted/`` and
``feedback/`` (ASCII letters, digits, ``_ . -``). Columns may come in any order; other
columns are ignored.

Canvas's own gradebook export (Grades, Export, ``Student, ID, SIS User ID, SIS Login ID,
Section``, one column per assignment, maybe a ``Points Possible`` row) is a roster as it
is: ``ID`` is the ``lms_id``, ``Student`` the name, ``SIS Login ID`` the email when it is
one, and the nbgrader id is the login id's part before any ``@`` when it is an nbgrader
id, else the Canvas ``ID``. Canvas's Test Student is left out. Its assignment columns and
points are kept for the Canvas upload file (:mod:`grading.lms.upload`).

Import a roster into the course gradebook (what ``nbgrader db student import`` does with
``id,first_name,last_name,email``)::

    python -m grading.lms.roster import [--roster grading/students.csv] [--course grading/course]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grading.course import COURSE, ROSTER, STUDENT_ID

COLUMNS = ("lms_id", "name", "email", "nbgrader_id")
# Canvas's gradebook export: its student columns, the row of points under the header,
# and the name of the student Canvas adds to every course ("Student View").
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "Points Possible"
CANVAS_TEST_STUDENT = "Student, Test"
CANVAS_ASSIGNMENT = re.compile(r"^(?P<name>.+) \((?P<id>\d+)\)$")
"""An assignment column of Canvas's export: ``Part 1: Anime faces (88101)``."""


class RosterError(ValueError):
    """A roster a user wrote wrongly: the message names the file, the line and the fix."""


@dataclass(frozen=True)
class Student:
    lms_id: str
    name: str
    """As the roster spells it: "First Last", or Canvas's "Last, First"."""
    email: str
    nbgrader_id: str
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    @property
    def first_last(self) -> tuple[str, str]:
        """``("Sara", "van der Berg")``: the part after the comma of "van der Berg, Sara" is
        the first name; without a comma, the last word is the last name."""
        last, comma, first = self.name.strip().partition(",")
        if comma:
            return first.strip(), last.strip()
        first, _, last = self.name.strip().rpartition(" ")
        return (first, last) if first else (last, "")

    @property
    def full_name(self) -> str:
        """ "First Last", as Moodle and Brightspace name students."""
        return " ".join(filter(None, self.first_last))

    @property
    def sortable_name(self) -> str:
        """ "Last, First", as Canvas names students (its gradebook, its file names)."""
        first, last = self.first_last
        return f"{last}, {first}" if first else last


def fold(text: str) -> str:
    """Lower-case ASCII letters and digits only: how names are compared across LMSs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def canvas_key(student: Student) -> str:
    """Canvas's file-name key of a student: the sortable name "Smith, John" folded, ``smithjohn``."""
    return fold(student.sortable_name)


# Moodle's "Download all submissions" names each student's folder (or, without "in
# folders", prefixes each file) `clean_filename(fullname . '_' . uniqueid . '_')` then
# `assignsubmission_file_` (moodle/moodle mod/assign/locallib.php, download_submissions);
# the uniqueid is the "Participant N" number of the assignment's grading worksheet.
MOODLE_ENTRY = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)")


class Roster:
    """The students of ``path``, looked up by each key an LMS download names them with."""

    def __init__(
        self,
        students: list[Student],
        path: Path,
        canvas_assignments: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.students = students
        self.canvas_assignments = canvas_assignments or {}
        """A Canvas export's assignment columns (``Part 1: Anime faces (88101)``), each
        with its ``Points Possible`` ("" when the export had no such row)."""
        self._namesakes: dict[str, list[Student]] = {}
        for student in students:
            self._namesakes.setdefault(fold(student.full_name), []).append(student)
        self._by = {
            "lms_id": {s.lms_id: s for s in students},
            "email": {s.email.strip().lower(): s for s in students if s.email.strip()},
            "name": _unique(students, lambda s: fold(s.full_name)),
            "canvas": _unique(students, canvas_key),
            "nbgrader_id": {s.nbgrader_id: s for s in students},
        }

    def by_lms_id(self, lms_id: str) -> Student | None:
        return self._by["lms_id"].get(lms_id.strip())

    def by_email(self, email: str) -> Student | None:
        return self._by["email"].get(email.strip().lower())

    def by_name(self, name: str) -> Student | None:
        """The one student of that name (accents, case and spacing aside); None if two share it."""
        return self._by["name"].get(fold(name))

    def namesakes(self, name: str) -> list[Student]:
        """Every student of that name ("First Last"): more than one, and the name finds none."""
        return self._namesakes.get(fold(name), [])

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
            "(see python -m grading.lms.roster --help)"
        )
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        raw_header = [(c or "").strip() for c in reader.fieldnames or []]
        canvas = all(c in raw_header for c in CANVAS_COLUMNS[:2])
        header = raw_header if canvas else [c.lower() for c in raw_header]
        missing = [c for c in COLUMNS if c not in header]
        if missing and not canvas:
            raise RosterError(
                f"{path}, line 1: no column {', '.join(missing)} (the header has "
                f"{', '.join(header) or 'nothing'}): add it; the roster needs {', '.join(COLUMNS)}, "
                f"or give Canvas's gradebook export ({', '.join(CANVAS_COLUMNS)}, …)"
            )
        reader.fieldnames = header
        assignments = dict.fromkeys(c for c in header if CANVAS_ASSIGNMENT.match(c))
        students, seen = [], {c: {} for c in ("lms_id", "nbgrader_id")}
        for row in reader:
            line = reader.line_num
            if canvas:
                student = _canvas_student(row)
                if row.get("Student", "").strip() == CANVAS_POINTS_ROW:
                    assignments = {c: (row.get(c) or "").strip() for c in assignments}
                if student is None:
                    continue
            else:
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
    return Roster(students, path, {c: p or "" for c, p in assignments.items()} if canvas else None)


def _canvas_student(row: dict[str, str]) -> Student | None:
    """A student row of Canvas's gradebook export; None for its other rows (Points
    Possible, the Test Student, Canvas's blank "Muted" rows)."""
    values = {c: (row.get(c) or "").strip() for c in CANVAS_COLUMNS}
    name, canvas_id, sis_user, login = (values[c] for c in CANVAS_COLUMNS[:4])
    if not canvas_id or name in ("", CANVAS_POINTS_ROW, CANVAS_TEST_STUDENT):
        return None
    local = login.partition("@")[0]
    return Student(
        lms_id=canvas_id,
        name=name,
        email=login if "@" in login else "",
        nbgrader_id=local if STUDENT_ID.match(local) else canvas_id,
        sis_user_id=sis_user,
        sis_login_id=login,
        section=values["Section"],
    )


def import_roster(roster: Roster, course: Path = COURSE) -> int:
    """Add or update every student in ``course``'s gradebook, as ``nbgrader db student import``."""
    from nbgrader.api import Gradebook

    # nbgrader's Gradebook runs its environment's `alembic` script, found on PATH:
    # `.venv/bin/python -m grading.lms.roster import` without the venv activated crashed.
    os.environ["PATH"] = os.pathsep.join(
        filter(None, [str(Path(sys.executable).parent), os.environ.get("PATH")])
    )
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
        prog="python -m grading.lms.roster",
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
