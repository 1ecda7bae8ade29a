"""Submission times as the LMS gives them: what ``make collect`` records for the grader.

A student's upload is theirs to write, so a ``timestamp.txt`` inside it is never a
time. Collection records each submission's time from the LMS's own data (Moodle's
grading worksheet, Blackboard's and Brightspace's file names, the Canvas API or an
instructor's CSV) in one file beside the students' folders, ``<submitted>/.lms_times.csv``
(a name no nbgrader student id can take), and writes nbgrader's ``timestamp.txt`` from
it for the stock commands. :func:`record` is the one writer; :func:`lms_time` the reader.

Where the LMS marked a submission late but gave no time (a Canvas download without the
API or a times CSV), the record says so: no late penalty can be computed, and the grades
say why (:func:`late_unknown`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RECORD = ".lms_times.csv"
COLUMNS = ("student", "assignment", "submitted", "late_mark", "source")
LATE_MARK = "marked LATE by the LMS"
"""How collection and the grades name an LMS's LATE mark."""
TIMESTAMP = "timestamp.txt"
"""nbgrader's file of a submission's time, in ``submitted/<student>/<assignment>/``."""


@dataclass(frozen=True)
class LmsTime:
    """What the LMS says about when one submission came in."""

    time: datetime | None
    """The submission time (aware); None when the LMS gave none."""
    late_mark: bool = False
    """The LMS marked it late (Canvas's ``_LATE_`` in the file name, the API's ``late``)."""
    source: str = ""
    """Where the time came from: ``Canvas API``, ``times CSV``, ``Moodle worksheet``, …"""


def nbgrader_timestamp(time: datetime) -> str:
    """``time`` as nbgrader's exchange writes ``timestamp.txt`` (its default
    ``Exchange.timestamp_format`` in UTC), which ``CourseDirectory.get_existing_timestamp``
    reads back with ``parse_utc``."""
    return time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def record(folder: Path, entry: LmsTime) -> None:
    """Record ``entry`` for the submission in ``folder`` (``<submitted>/<student>/<assignment>``):
    its row in the record beside the students' folders and, with a time, ``timestamp.txt``."""
    path = folder.parent.parent / RECORD
    rows = _read(path)
    rows[(folder.parent.name, folder.name)] = entry
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for (student, assignment), e in sorted(rows.items()):
            writer.writerow(
                [
                    student,
                    assignment,
                    e.time.astimezone(UTC).isoformat() if e.time else "",
                    "LATE" if e.late_mark else "",
                    e.source,
                ]
            )
    stamp = folder / TIMESTAMP
    if entry.time:
        stamp.write_text(nbgrader_timestamp(entry.time))
    else:
        stamp.unlink(missing_ok=True)


def lms_time(folder: Path) -> LmsTime | None:
    """What collection recorded for the submission in ``folder``; None when it was not
    collected by ``make collect`` (nbgrader's exchange, a folder laid by hand)."""
    return _read(Path(folder).parent.parent / RECORD).get(
        (Path(folder).parent.name, Path(folder).name)
    )


def late_unknown(entry: LmsTime | None) -> str:
    """The grade's note for a submission the LMS marked late without a time; "" otherwise."""
    if entry is None or entry.time is not None or not entry.late_mark:
        return ""
    return (
        f"{LATE_MARK} ({entry.source}) but no submission time is known: no late "
        "penalty applied; collect again with the Canvas API (CANVAS_URL=, CANVAS_TOKEN) or a "
        "times CSV (TIMES=), then make autograde"
    )


def _read(path: Path) -> dict[tuple[str, str], LmsTime]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {
            (row["student"], row["assignment"]): LmsTime(
                datetime.fromisoformat(row["submitted"]) if row["submitted"] else None,
                row["late_mark"] == "LATE",
                row["source"],
            )
            for row in csv.DictReader(f)
        }
