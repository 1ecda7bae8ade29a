"""When each submission was handed in, as the LMS says: the one source of submission times.

A student writes every byte of their folder ``<submitted>/<student>/<assignment>/``, so
nothing in it is the submission time, nbgrader's ``timestamp.txt`` included (a student
who uploads one would choose their own lateness). ``make collect`` reads the time from
the LMS's own data (its file names, Moodle's worksheet, Blackboard's receipts) and records
it here, in ``<submitted>/.submission-times.csv``: beside the student folders, where no
upload lands (collect writes inside ``<student>/<assignment>/`` only, and a student id
never starts with a dot). ``make autograde`` reads the time from this file only::

    student,assignment,submitted
    alice,part1,2026-11-30T13:05:00+00:00

One row per submission, UTC, ISO 8601. A submission without a row has no time, as in
nbgrader without ``timestamp.txt``: it is never late.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

TIMES_FILE = ".submission-times.csv"
COLUMNS = ("student", "assignment", "submitted")

Key = tuple[str, str]
"""``(student, assignment)``: the folder ``<submitted>/<student>/<assignment>/``."""


class TimesError(ValueError):
    """The times file cannot be read; the message names the file, the line and the fix."""


def times_file(submitted: Path) -> Path:
    """Where the submission times of the folder ``submitted`` are kept."""
    return Path(submitted) / TIMES_FILE


def read_times(submitted: Path) -> dict[Key, datetime]:
    """Every recorded submission time under ``submitted``, as naive UTC (what nbgrader
    stores); empty when nothing was recorded."""
    path = times_file(submitted)
    if not path.is_file():
        return {}
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    if tuple(rows.fieldnames or ()) != COLUMNS:
        raise TimesError(
            f"{path}: the header must be {','.join(COLUMNS)}: "
            "delete the file and run make collect again"
        )
    times = {}
    for row in rows:
        try:
            when = datetime.fromisoformat(row["submitted"])
            if when.tzinfo is None:
                raise ValueError("no UTC offset")
        except (TypeError, ValueError) as error:
            raise TimesError(
                f"{path}, line {rows.line_num}: the time of {row['student']}/{row['assignment']} "
                f"is not ISO 8601 with an offset ({error}): write it as 2026-11-30T13:05:00+00:00"
            ) from error
        times[row["student"], row["assignment"]] = when.astimezone(UTC).replace(tzinfo=None)
    return times


def record_times(submitted: Path, times: Mapping[Key, datetime | None]) -> None:
    """Set the times of these submissions (None: it has no time any more, as after a
    collection that gave none); every other row is kept. ``times`` must carry their
    time zone. The file is replaced whole, never left half-written."""
    kept = {key: when.replace(tzinfo=UTC) for key, when in read_times(submitted).items()}
    for key, when in times.items():
        if when is None:
            kept.pop(key, None)
        elif when.tzinfo is None:
            raise ValueError(f"the time of {key[0]}/{key[1]} has no time zone: {when}")
        else:
            kept[key] = when.astimezone(UTC)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((*key, kept[key].isoformat()) for key in sorted(kept))
    path = times_file(submitted)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f"{TIMES_FILE}.{os.getpid()}.tmp")
    scratch.write_text(out.getvalue(), encoding="utf-8")
    scratch.replace(path)
