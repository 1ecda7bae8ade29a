"""The five layouts of an LMS download (see :mod:`grading.lms.collect`): each becomes a
list of :class:`Upload`, one per student's file or folder, with the LMS's id, name and
time where the layout gives them.
"""

from __future__ import annotations

import csv
import re
import shutil
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dateutil import parser as dateparser

from grading.lms.archives import unpack
from grading.lms.roster import MOODLE_ENTRY
from grading.lms.upload import (
    WORKSHEET_EMAIL,
    WORKSHEET_ID,
    WORKSHEET_SUBMITTED,
)
from grading.notebook_format import IGNORED
from grading.records.submission_times import LmsTime

LAYOUTS = ("canvas", "moodle", "blackboard", "brightspace", "folders")


LMS_TIME_ZONE = ZoneInfo("UTC")
"""What an LMS's local times are read in without --timezone: nbgrader's default zone."""


# Canvas's "Download Submissions" names each file of a student's latest attempt
# `<sortable name, folded>_[LATE_]<user id>_<submission id>_<uploaded name>` and adds `-1`,
# `-2` to a name the student uploaded before (mikewesthad/canvas-unzipper's README;
# TimHanneman/Canvas_submission_sort and HCI-Data-Analysis's convert_zip_file_id read
# "LATE" as the second field). No time is in it, nor in any Canvas export
# (ssardina-teaching/canvas-submission-time-scraper): only the LATE mark is reported.
# The mark is matched in any case: downloads with `_late_` exist (issue 28).
CANVAS = re.compile(
    r"^(?P<key>[^_\s]+)_(?:(?P<late>(?i:late))_)?(?P<id>\d+)_(?P<submission>\d+)_(?P<file>.+)$"
)


# Blackboard's "Download Assignment": the pattern nbgrader's own zip_collect documents for
# it (FileNameCollectorPlugin.named_regexp: `.*_(?P<student_id>\w+)_attempt_(?P<timestamp>
# [0-9\-]+)_(?P<file_id>\w+)`); the attempt's receipt is the same name with `.txt` and no
# file part. The time is the server's local time.
BLACKBOARD = re.compile(
    r"^(?P<assignment>.*)_(?P<id>[^_]+)_attempt_(?P<time>\d{4}(?:-\d{2}){5})(?:_(?P<file>.+))?$"
)


# Brightspace's folder "Download": `<submission>-<n> - First Last - Nov 30, 2026 205 PM -
# <file>` beside an index.html (the parsers found by the search tool split on " - ": the
# first field is a submission id, so the student is found by name). Local time.
BRIGHTSPACE = re.compile(
    r"^(?P<submission>\d+-\d+) - (?P<name>.+?) - "
    r"(?P<time>[A-Z][a-z]{2} \d{1,2}, \d{4} \d{3,4} [AP]M) - (?P<file>.+)$"
)


LMS_FILES = {"index.html"}
"""Files an LMS adds to a download that are nobody's submission."""


@dataclass
class Upload:
    """What one student handed in once, with what the LMS says about it."""

    who: str
    """The LMS's name for it (folder, file prefix): how the summary names it."""
    folder: Path
    """The files, under the names the student gave them."""
    name: str = ""
    """The student's name as the LMS writes it (Canvas: its name key ``smithjohn``)."""
    lms_id: str = ""
    email: str = ""
    time: datetime | None = None
    """The LMS's submission time (aware), when it gives one."""
    late: bool = False
    """The LMS marked it late."""
    source: str = ""
    """Where the time (or the LATE mark) came from, as :class:`grading.records.submission_times.LmsTime` says."""


def students_folder(root: Path) -> Path:
    """Skip the wrapping folders an LMS puts around the students' entries."""
    while detect_layout(root) == "folders":
        found = entries(root)
        if len(found) != 1 or not found[0].is_dir():
            break
        inner = entries(found[0])
        per_student = (
            inner
            and not _has_notebook(found[0])
            and all(p.is_dir() or p.suffix.lower() == ".zip" for p in inner)
        )
        if not per_student and detect_layout(found[0]) == "folders":
            break
        root = found[0]
    return root


def entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in IGNORED)


def _has_notebook(folder: Path) -> bool:
    return any(p.suffix == ".ipynb" for p in folder.iterdir())


def detect_layout(root: Path) -> str:
    """The LMS whose names most entries of ``root`` carry; ``folders`` when none."""
    names = [p.name for p in entries(root)]
    matches = {
        "canvas": sum(bool(CANVAS.match(n)) and (root / n).is_file() for n in names),
        "moodle": sum(bool(MOODLE_ENTRY.match(n)) for n in names),
        "blackboard": sum(bool(BLACKBOARD.match(Path(n).stem)) for n in names),
        "brightspace": sum(bool(BRIGHTSPACE.match(n)) for n in names),
    }
    best = max(matches, key=matches.get)
    return best if matches[best] else "folders"


def _flat(scratch: Path, groups: dict[tuple, list[tuple[Path, str]]]) -> dict[tuple, Path]:
    """Each group's files copied into a folder of their own, under their uploaded names."""
    folders = {}
    for index, (key, files) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0]))):
        folder = scratch / "uploads" / str(index)
        folder.mkdir(parents=True)
        for path, name in files:
            shutil.copy2(path, folder / name)
        folders[key] = folder
    return folders


def _local(text: str, fmt: str, tz: ZoneInfo) -> datetime | None:
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=tz)
    except ValueError:
        return None


def canvas_uploads(
    root: Path, scratch: Path, times: dict[str, LmsTime]
) -> tuple[list[Upload], list[str]]:
    """``times`` (:mod:`grading.lms.canvas_times`, by Canvas user id) gives each upload its time."""
    groups, strays = {}, []
    for path in entries(root):
        match = CANVAS.match(path.name) if path.is_file() else None
        if not match:
            strays.append(f"{path.name}: not a Canvas submission file (name_id_id_file): skipped")
            continue
        key = (match["key"], match["id"], bool(match["late"]))
        groups.setdefault(key, []).append((path, match["file"]))
    uploads = []
    for (key, lms_id, late), folder in _flat(scratch, groups).items():
        known = times.get(lms_id, LmsTime(None))
        uploads.append(
            Upload(
                who=f"{key}_{lms_id}",
                folder=folder,
                lms_id=lms_id,
                name=key,
                time=known.time,
                late=late or known.late_mark,
                source=known.source if known.time else "Canvas file name",
            )
        )
    return uploads, strays


def moodle_uploads(
    root: Path, scratch: Path, worksheet: dict[str, dict[str, str]], tz: ZoneInfo
) -> tuple[list[Upload], list[str]]:
    groups, folders, strays = {}, {}, []
    for path in entries(root):
        match = MOODLE_ENTRY.match(path.name)
        if path.is_file() and (path.name in LMS_FILES or is_worksheet(path)):
            continue
        if not match:
            strays.append(
                f"{path.name}: not a Moodle submission (Name_id_assignsubmission_…): skipped"
            )
        elif path.is_dir():
            folders[match[0]] = path
        else:
            # Without "Download submissions in folders" Moodle prefixes each file instead.
            rest = path.name[match.end() :].lstrip("_")
            groups.setdefault(match[0], []).append((path, rest or path.name))
    folders.update(_flat(scratch, groups))
    uploads = []
    for entry, folder in sorted(folders.items()):
        name, number = MOODLE_ENTRY.match(entry).group("name", "id")
        row = worksheet.get(number, {})
        text = row.get(WORKSHEET_SUBMITTED, "").strip()
        time = _moodle_time(text, tz) if text not in ("", "-") else None
        if text not in ("", "-") and time is None:
            strays.append(
                f"{entry}: the worksheet's time {text!r} is no date: collected "
                "without a time (download the worksheet with the site language English)"
            )
        uploads.append(
            Upload(
                who=entry,
                folder=folder,
                name=name,
                lms_id=number,
                email=row.get(WORKSHEET_EMAIL, ""),
                time=time,
                source="Moodle worksheet",
            )
        )
    return uploads, strays


def _moodle_time(text: str, tz: ZoneInfo) -> datetime | None:
    """Moodle writes the user's locale ("Monday, 30 November 2026, 2:05 PM"), "-" for none."""
    try:
        return dateparser.parse(text).replace(tzinfo=tz)
    except (ValueError, OverflowError):
        return None


def is_worksheet(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        return WORKSHEET_ID in next(csv.reader(f), [])


def blackboard_uploads(root: Path, scratch: Path, tz: ZoneInfo) -> tuple[list[Upload], list[str]]:
    groups, strays = {}, []
    for path in entries(root):
        match = BLACKBOARD.match(path.stem if path.suffix == ".txt" else path.name)
        if not match:
            strays.append(f"{path.name}: not a Blackboard file (…_user_attempt_time_file): skipped")
        elif match["file"]:
            groups.setdefault((match["id"], match["time"]), []).append((path, match["file"]))
    return [
        Upload(
            who=f"{user}_attempt_{time}",
            folder=folder,
            lms_id=user,
            name=user,
            time=_local(time, "%Y-%m-%d-%H-%M-%S", tz),
            source="Blackboard file name",
        )
        for (user, time), folder in _flat(scratch, groups).items()
    ], strays


def brightspace_uploads(root: Path, scratch: Path, tz: ZoneInfo) -> tuple[list[Upload], list[str]]:
    groups, strays = {}, []
    for path in entries(root):
        if path.name in LMS_FILES:
            continue
        match = BRIGHTSPACE.match(path.name)
        if not match:
            strays.append(f"{path.name}: not a Brightspace file (id - Name - date - file): skipped")
            continue
        groups.setdefault((match["name"], match["time"]), []).append((path, match["file"]))
    return [
        Upload(
            who=f"{name} - {time}",
            folder=folder,
            name=name,
            time=_local(_four_digit_clock(time), "%b %d, %Y %I%M %p", tz),
            source="Brightspace file name",
        )
        for (name, time), folder in _flat(scratch, groups).items()
    ], strays


def _four_digit_clock(text: str) -> str:
    """ "Nov 30, 2026 105 PM" -> "... 0105 PM": strptime would read "105" as 10:5."""
    return re.sub(r"(\d{3,4}) ([AP]M)$", lambda m: f"{m[1].zfill(4)} {m[2]}", text)


def folder_uploads(root: Path, scratch: Path) -> tuple[list[Upload], list[str]]:
    uploads, strays = [], []
    for entry in entries(root):
        raw = entry.name.removesuffix(entry.suffix) if entry.is_file() else entry.name
        folder, problems = unpack(entry, scratch / "students")
        strays += [f"{student_id(raw) or raw}: {why}" for why in problems]
        if folder is not None:
            uploads.append(Upload(who=raw, folder=folder, name=raw))
    return uploads, strays


def student_id(name: str) -> str:
    """A folder name as an nbgrader student id: ASCII letters, digits, ``_ . -``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_name.strip()).strip("_.-")
