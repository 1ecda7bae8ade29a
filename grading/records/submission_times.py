"""When each submission was handed in, as the LMS says: the one source of submission times.

A student writes every byte of their folder ``<submitted>/<student>/<assignment>/``, so
nothing in it is the submission time, nbgrader's ``timestamp.txt`` included (a student
who uploads one would choose their own lateness). ``make collect`` reads the time from
the LMS's own data (Moodle's grading worksheet, Blackboard's and Brightspace's file names,
the Canvas API or an instructor's CSV) and records it here, in
``<submitted>/.submission-times.csv``: beside the student folders, where no upload lands
(collect writes inside ``<student>/<assignment>/`` only, and a student id never starts
with a dot). ``make autograde`` reads the time from this file only::

    student,assignment,submitted,late_mark,source
    alice,part1,2026-11-30T13:05:00+00:00,,Moodle worksheet
    bob,part1,,LATE,Canvas file name

One row per submission, UTC, ISO 8601. A submission without a time is never late, as in
nbgrader without ``timestamp.txt``; where the LMS marked it late but gave no time (a Canvas
download without the API or a times CSV), the row says so and so do the grades
(:func:`late_unknown`). Collection also writes nbgrader's ``timestamp.txt`` from the
record, for the stock nbgrader commands; the pipeline never reads it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TIMES_FILE = ".submission-times.csv"
COLUMNS = ("student", "assignment", "submitted", "late_mark", "source")
LATE_MARK = "marked LATE by the LMS"
"""How collection and the grades name an LMS's LATE mark."""
TIMESTAMP = "timestamp.txt"
"""nbgrader's file of a submission's time, in ``<submitted>/<student>/<assignment>/``."""

Key = tuple[str, str]
"""``(student, assignment)``: the folder ``<submitted>/<student>/<assignment>/``."""


@dataclass(frozen=True)
class LmsTime:
    """What the LMS says about when one submission came in."""

    time: datetime | None
    """The submission time (aware); None when the LMS gave none."""
    late_mark: bool = False
    """The LMS marked it late (Canvas's ``_LATE_`` in the file name, the API's ``late``)."""
    source: str = ""
    """Where the time came from: ``Canvas API``, ``times CSV``, ``Moodle worksheet``, …"""


class TimesError(ValueError):
    """The times file cannot be read; the message names the file, the line and the fix."""


def times_file(submitted: Path) -> Path:
    """Where the submission times of the folder ``submitted`` are kept."""
    return Path(submitted) / TIMES_FILE


def read(submitted: Path) -> dict[Key, LmsTime]:
    """Every row recorded under ``submitted``; empty when nothing was recorded."""
    path = times_file(submitted)
    if not path.is_file():
        return {}
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    if tuple(rows.fieldnames or ()) != COLUMNS:
        raise TimesError(
            f"{path}: the header must be {','.join(COLUMNS)}: "
            "delete the file and run make collect again"
        )
    out = {}
    for row in rows:
        when = None
        if row["submitted"]:
            try:
                when = datetime.fromisoformat(row["submitted"])
                if when.tzinfo is None:
                    raise ValueError("no UTC offset")
            except (TypeError, ValueError) as error:
                raise TimesError(
                    f"{path}, line {rows.line_num}: the time of {row['student']}/"
                    f"{row['assignment']} is not ISO 8601 with an offset ({error}): write it "
                    "as 2026-11-30T13:05:00+00:00"
                ) from error
        out[row["student"], row["assignment"]] = LmsTime(
            when, row["late_mark"] == "LATE", row["source"] or ""
        )
    return out


def read_times(submitted: Path) -> dict[Key, datetime]:
    """Every recorded submission time under ``submitted``, as naive UTC (what nbgrader
    stores); submissions without a time are left out."""
    return {
        key: entry.time.astimezone(UTC).replace(tzinfo=None)
        for key, entry in read(submitted).items()
        if entry.time is not None
    }


def lms_time(folder: Path) -> LmsTime | None:
    """What collection recorded for the submission in ``folder``
    (``<submitted>/<student>/<assignment>``); None when nothing was."""
    folder = Path(folder)
    return read(folder.parent.parent).get((folder.parent.name, folder.name))


def record(submitted: Path, entries: Mapping[Key, LmsTime | None]) -> None:
    """Set the rows of these submissions (None: no row any more, as after a collection
    that gave nothing); every other row is kept. Times must carry their time zone. The
    file is replaced whole, never left half-written."""
    kept = dict(read(submitted))
    for key, entry in entries.items():
        if entry is None:
            kept.pop(key, None)
        elif entry.time is not None and entry.time.tzinfo is None:
            raise ValueError(f"the time of {key[0]}/{key[1]} has no time zone: {entry.time}")
        else:
            kept[key] = entry
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for key in sorted(kept):
        entry = kept[key]
        when = entry.time.astimezone(UTC).isoformat() if entry.time else ""
        writer.writerow((*key, when, "LATE" if entry.late_mark else "", entry.source))
    path = times_file(submitted)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f"{TIMES_FILE}.{os.getpid()}.tmp")
    scratch.write_text(out.getvalue(), encoding="utf-8")
    scratch.replace(path)


def nbgrader_timestamp(time: datetime) -> str:
    """``time`` as nbgrader's exchange writes ``timestamp.txt`` (its default
    ``Exchange.timestamp_format`` in UTC), which ``CourseDirectory.get_existing_timestamp``
    reads back with ``parse_utc``."""
    return time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def late_unknown(entry: LmsTime | None) -> str:
    """The grade's note for a submission the LMS marked late without a time; "" otherwise."""
    if entry is None or entry.time is not None or not entry.late_mark:
        return ""
    return (
        f"{LATE_MARK} ({entry.source}) but no submission time is known: no late "
        "penalty applied; collect again with the Canvas API (CANVAS_URL=, CANVAS_TOKEN) or a "
        "times CSV (TIMES=), then make autograde"
    )
