"""The course's due dates, per-student extensions and late policy, read from
``grading/deadlines.toml``.

The file is the one place they are set: :mod:`grading.records.gradebook` writes them into nbgrader's
own fields (``Assignment.duedate``, ``SubmittedAssignment.extension``) before it computes a
late penalty, so ``nbgrader export`` and formgrader see the same deadlines as the kit. The
late policy (``[late] policy``) is applied by :class:`grading.records.late_penalty.DeadlinesLatePenalty`,
the late-submission plugin ``grading/nbgrader_config.py`` gives nbgrader.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from grading.course import ASSIGNMENTS, DEADLINES, STUDENT_ID

_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(week|day|hour|minute)s?")
_EXAMPLE_DUE = "part1 = 2026-10-16T23:59:00+02:00"
_EXAMPLE_EXTENSION = 'student_id = "2 days"   (or "36 hours", "1 day 12 hours", "90 minutes")'
_PER_DAY = re.compile(r"^(\d+(?:\.\d+)?)\s*% per started day, at most (\d+) days?$")
_POLICIES = '"none", "zero" or "10% per started day, at most 5 days"'
DAY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class LatePolicy:
    """What a late notebook loses, of its score (nbgrader's ``Grade.score`` sum, manual
    grades included): ``none``, ``zero``, or ``percent`` per started day late, and all of
    it after ``max_days``."""

    text: str
    percent: float = 0.0
    max_days: int = 0

    def penalty(self, score: float, seconds_late: float) -> float:
        if self.text == "none" or seconds_late <= 0:
            return 0.0
        days = math.ceil(seconds_late / DAY_SECONDS)
        if self.text == "zero" or days > self.max_days:
            return score
        return min(score, score * self.percent / 100 * days)


class DeadlineError(ValueError):
    """A deadlines file that cannot be read: the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Deadlines:
    due: dict[str, datetime] = field(default_factory=dict)
    """assignment -> its due date (timezone-aware); an assignment not listed has none."""
    extensions: dict[str, dict[str, timedelta]] = field(default_factory=dict)
    """assignment -> {student: extra time}."""
    late: LatePolicy | None = None
    """None: the file sets none, nbgrader's ``LateSubmissionPlugin.penalty_method`` applies."""

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
    unknown = set(data) - {"due", "extensions", "late"}
    if unknown:
        raise DeadlineError(
            f"{path}: unknown table(s) {sorted(unknown)}: only [due], [extensions.<assignment>] "
            "and [late]"
        )
    due = {
        assignment: _due_date(path, assignment, value)
        for assignment, value in _table(path, "due", data.get("due", {})).items()
    }
    extensions = {
        assignment: {
            _student(path, assignment, student): _parse_duration(
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
    late = _table(path, "late", data.get("late", {}))
    if set(late) - {"policy"}:
        raise DeadlineError(f"{path}: [late] takes one key, policy = {_POLICIES}")
    policy = _late_policy(path, late["policy"]) if "policy" in late else None
    return Deadlines(due, extensions, policy)


def _late_policy(path: Path, text: object) -> LatePolicy:
    per_day = _PER_DAY.match(text.strip()) if isinstance(text, str) else None
    if per_day:
        return LatePolicy(text.strip(), float(per_day[1]), int(per_day[2]))
    if text in ("none", "zero"):
        return LatePolicy(text)
    raise DeadlineError(f"{path}: late.policy = {text!r} is no late policy: write {_POLICIES}")


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


def _parse_duration(path: Path, key: str, text: object) -> timedelta:
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
