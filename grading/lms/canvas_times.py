"""Canvas's submission times, which its "Download Submissions" zip does not carry.

The zip names each file ``<name>_[LATE_]<user id>_<submission id>_<file>``: a LATE mark,
no time. The times come from one of two places the instructor chooses:

* the Canvas API (:func:`from_api`, through ``canvasapi``): the assignment's page address
  as the browser shows it, ``https://canvas.uni.example/courses/1234/assignments/88101``,
  and an access token (Canvas: Account, Settings, New Access Token) in ``CANVAS_TOKEN``;
  each submission's ``submitted_at`` and ``late`` (Canvas's Submissions API,
  ``GET /api/v1/courses/:course_id/assignments/:assignment_id/submissions``);
* a CSV the instructor writes (:func:`from_csv`): ``lms_id,submitted_at``, the Canvas
  user id and an ISO 8601 time (one without an offset is read in the LMS's time zone).

Either gives ``{Canvas user id: LmsTime}``.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from grading.records.submission_times import LmsTime

TOKEN_VARIABLE = "CANVAS_TOKEN"
ASSIGNMENT_URL = re.compile(
    r"^(?P<base>https?://[^/\s]+(?:/[^\s]*?)?)/courses/(?P<course>\d+)/assignments/(?P<assignment>\d+)/?$"
)
CSV_COLUMNS = ("lms_id", "submitted_at")


class CanvasTimesError(ValueError):
    """The times could not be had: the message names the cause and the fix."""


def from_api(assignment_url: str, token: str) -> tuple[str, dict[str, LmsTime]]:
    """``(the assignment's name, {user id: time})`` of every submission Canvas holds."""
    from canvasapi import Canvas
    from canvasapi.exceptions import CanvasException
    from requests.exceptions import RequestException

    match = ASSIGNMENT_URL.match(assignment_url.strip())
    if not match:
        raise CanvasTimesError(
            f"{assignment_url!r} is not a Canvas assignment's address: copy it from the "
            "browser on the assignment's page, e.g. https://canvas.uni.example/courses/1234/assignments/88101"
        )
    if not token.strip():
        raise CanvasTimesError(
            f"no Canvas access token: set {TOKEN_VARIABLE} (Canvas: Account, Settings, "
            "New Access Token)"
        )
    try:
        course = Canvas(match["base"], token).get_course(int(match["course"]))
        assignment = course.get_assignment(int(match["assignment"]))
        times = {
            str(s.user_id): LmsTime(
                getattr(s, "submitted_at_date", None), bool(getattr(s, "late", False)), "Canvas API"
            )
            for s in assignment.get_submissions()
            if getattr(s, "submitted_at", None) or getattr(s, "late", False)
        }
    except CanvasException as error:
        raise CanvasTimesError(
            f"Canvas refused {assignment_url} ({type(error).__name__}: {error}): check the "
            f"address and that {TOKEN_VARIABLE} is a token of a teacher of this course"
        ) from error
    except RequestException as error:
        raise CanvasTimesError(
            f"Canvas at {match['base']} cannot be reached ({type(error).__name__}): check the "
            "address and the network, or give the times as a CSV (TIMES=)"
        ) from error
    return assignment.name, times


def from_csv(path: Path, tz: ZoneInfo) -> dict[str, LmsTime]:
    """``lms_id,submitted_at`` rows; an empty ``submitted_at`` means not submitted."""
    if not path.is_file():
        raise CanvasTimesError(f"{path}: no such file: write {', '.join(CSV_COLUMNS)} rows")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [(c or "").strip().lower() for c in reader.fieldnames or []]
        if any(c not in header for c in CSV_COLUMNS):
            raise CanvasTimesError(
                f"{path}, line 1: the header is {', '.join(header) or 'empty'}: it needs "
                f"{', '.join(CSV_COLUMNS)} (the Canvas user id and an ISO 8601 time)"
            )
        reader.fieldnames = header
        times = {}
        for row in reader:
            lms_id, text = (row.get(c, "").strip() for c in CSV_COLUMNS)
            if not text:
                continue
            try:
                time = datetime.fromisoformat(text)
            except ValueError as error:
                raise CanvasTimesError(
                    f"{path}, line {reader.line_num}: {text!r} is not an ISO 8601 time: write "
                    "e.g. 2026-10-16T23:12:00+02:00"
                ) from error
            times[lms_id] = LmsTime(
                time if time.tzinfo else time.replace(tzinfo=tz), False, "times CSV"
            )
    return times
