"""The course's due dates and per-student extensions, read from ``grading/deadlines.toml``.

The file is the one place they are set: :mod:`grading.gradebook` writes them into nbgrader's
own fields (``Assignment.duedate``, ``SubmittedAssignment.extension``) before it computes a
late penalty, so ``nbgrader export`` and formgrader see the same deadlines as the kit.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from grading.course import ASSIGNMENTS, DEADLINES, STUDENT_ID

_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(week|day|hour|minute)s?")
_EXAMPLE_DUE = "part1 = 2026-10-16T23:59:00+02:00"
_EXAMPLE_EXTENSION = 'student_id = "2 days"   (or "36 hours", "1 day 12 hours", "90 minutes")'


class DeadlineError(ValueError):
    """A deadlines file that cannot be read: the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Deadlines:
    due: dict[str, datetime] = field(default_factory=dict)
    """assignment -> its due date (timezone-aware); an assignment not listed has none."""
    extensions: dict[str, dict[str, timedelta]] = field(default_factory=dict)
    """assignment -> {student: extra time}."""

    def extension(self, assignment: str, student: str) -> timedelta | None:
        return self.extensions.get(assignment, {}).get(student)


def deadlines_file(course: Path) -> Path:
    """The deadlines of the course directory ``course``: beside it, as its nbgrader_config.py."""
    return Path(course).parent / DEADLINES.name


def load_deadlines(path: Path) -> Deadlines:
    """Read ``path``; a missing file means no due dates (nothing is late)."""
    if not path.is_file():
        return Deadlines()
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise DeadlineError(f"{path}: not valid TOML ({error}): fix the line it names") from error
    unknown = set(data) - {"due", "extensions"}
    if unknown:
        raise DeadlineError(
            f"{path}: unknown table(s) {sorted(unknown)}: only [due] and [extensions.<assignment>]"
        )
    due = {
        assignment: _due_date(path, assignment, value)
        for assignment, value in _table(path, "due", data.get("due", {})).items()
    }
    extensions = {
        assignment: {
            _student(path, assignment, student): _duration(
                path, f"extensions.{assignment}.{student}", text
            )
            for student, text in _table(path, f"extensions.{assignment}", students).items()
        }
        for assignment, students in _table(path, "extensions", data.get("extensions", {})).items()
    }
    for assignment in [*due, *extensions]:
        if assignment not in ASSIGNMENTS:
            raise DeadlineError(
                f"{path}: unknown assignment {assignment!r}: use one of {sorted(ASSIGNMENTS)}"
            )
    return Deadlines(due, extensions)


def _table(path: Path, key: str, value: object) -> dict:
    if not isinstance(value, dict):
        raise DeadlineError(f"{path}: `{key}` must be a table, like [{key}]")
    return value


def _due_date(path: Path, assignment: str, value: object) -> datetime:
    # TOML's own offset date-time arrives parsed; a quoted ISO 8601 string is taken too.
    due = value
    if isinstance(value, str):
        try:
            due = datetime.fromisoformat(value)
        except ValueError:
            due = None
    if not isinstance(due, datetime) or due.tzinfo is None:
        raise DeadlineError(
            f"{path}: due.{assignment} = {value!r} is not a date-time with its timezone: "
            f"write it as ISO 8601 with an offset, e.g. {_EXAMPLE_DUE} (or Z for UTC)"
        )
    return due


def _student(path: Path, assignment: str, student: str) -> str:
    if not STUDENT_ID.match(student):
        raise DeadlineError(
            f"{path}: extensions.{assignment}.{student!r} is not an nbgrader student id "
            "(letters, digits, '_', '.', '-'): use the id the gradebook lists"
        )
    return student


def _duration(path: Path, key: str, text: object) -> timedelta:
    """``"2 days"``, ``"36 hours"``, ``"1 day 12 hours"``, ``"90 minutes"``, ``"1 week"``."""
    amounts = _AMOUNT.findall(text) if isinstance(text, str) else []
    if (
        not amounts
        or _AMOUNT.sub("", text).strip(" ,+")
        or len({u for _, u in amounts}) < len(amounts)
    ):
        raise DeadlineError(
            f"{path}: {key} = {text!r} is not a length of time: write e.g. {_EXAMPLE_EXTENSION}"
        )
    return timedelta(**{f"{unit}s": float(number) for number, unit in amounts})
