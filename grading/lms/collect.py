"""Collection: an LMS download into nbgrader's layout, each notebook placed by its content.

A notebook belongs to the assignment whose nbgrader cells (``grade_id`` metadata) it
carries, whatever its file name: Kaggle names its download after the kernel, LMSs
prefix the student's name. :func:`grading.notebook.find_notebook` picks a submission's notebook inside
its folder for the autograder; :func:`collect` takes an LMS's bulk download (a zip or
a folder) into ``<out>/<student>/<assignment>/``::

    python -m grading.lms.collect DOWNLOAD --out DIR [--lms canvas|moodle|blackboard|brightspace|folders|auto]
        [--roster grading/students.csv] [--assignment part1] [--timezone Europe/Berlin]
        [--worksheet moodle.csv] [--canvas-url https://…/courses/1234/assignments/88101] [--times times.csv]

The layouts (``--lms auto`` tells them apart by their names):

* canvas: "Download Submissions", flat files ``smithjohn_12345_678901_<file>``
  (``smithjohn_LATE_12345_…`` or ``_late_`` when late); 12345 is the Canvas user id. No
  time is in it: ``--canvas-url`` (with ``CANVAS_TOKEN``) or ``--times`` gives them
  (:mod:`grading.lms.canvas_times`).
* moodle: "Download all submissions", a folder (or a file prefix) per student
  ``John Smith_12345_assignsubmission_file``; 12345 is the participant number. Its
  grading worksheet (a CSV in the download, or ``--worksheet``) gives each submission's
  time ("Last modified (submission)") and the student's email.
* blackboard: "Download Assignment", ``<assignment>_<username>_attempt_<Y-m-d-H-M-S>_<file>``
  beside a ``.txt`` receipt per attempt.
* brightspace: "Download" of a folder, ``<n>-<n> - John Smith - Nov 30, 2026 205 PM - <file>``
  beside ``index.html``.
* folders: one folder or zip per student, named by the student.

With ``--roster`` every student is looked up there (LMS id, email, name) and filed under
their ``nbgrader_id``; without it the LMS's name becomes the id. The LMS's submission
time is recorded by :func:`grading.records.submission_times.record` (local LMS times read in
``--timezone``); a ``timestamp.txt`` the student uploaded is never taken. Nothing a
student hands in stops a run: every problem is one line of the summary, and the exit
status is 1 when anything was skipped. Archives are checked before they are unpacked
(:data:`ARCHIVE_LIMITS`), and symbolic links are refused: a download holds files.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import stat
import sys
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as dateparser

from grading.course import ASSIGNMENTS, SUBMITTED
from grading.lms import canvas_times
from grading.lms.roster import MOODLE_ENTRY, Roster, RosterError, read_roster
from grading.lms.upload import (
    WORKSHEET_EMAIL,
    WORKSHEET_ID,
    WORKSHEET_SUBMITTED,
    participant,
    read_worksheet,
)
from grading.notebook import IGNORED, assignment_ids, assignment_of, notebooks_in
from grading.records import submission_times
from grading.records.submission_times import LmsTime, nbgrader_timestamp

LAYOUTS = ("canvas", "moodle", "blackboard", "brightspace", "folders")
LMS_TIME_ZONE = ZoneInfo("UTC")
"""What an LMS's local times are read in without --timezone: nbgrader's default zone."""


@dataclass(frozen=True)
class ArchiveLimits:
    """What one zip may unpack to. A class's download of 300 Part 1 submissions (a
    notebook, 1000 PNG faces of about 8 KB, scores) is about 3 GB in 300 000 files, at a
    ratio near 1 (PNGs and the notebooks' base64 images do not compress); a zip bomb of
    2.6 MB unpacked to 2.6 GB (ratio 1000)."""

    total_bytes: int = 16 << 30
    members: int = 1_000_000
    ratio: float = 100.0
    """Uncompressed / compressed, of any member over :attr:`ratio_from_bytes`."""
    ratio_from_bytes: int = 1 << 20
    """Smaller members may compress better (a short text file): they cannot fill a disk."""


ARCHIVE_LIMITS = ArchiveLimits()
LINK_REFUSED = "is a symbolic link: refused (a download holds files, never links)"


def student_id(name: str) -> str:
    """A folder name as an nbgrader student id: ASCII letters, digits, ``_ . -``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_name.strip()).strip("_.-")


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


@dataclass
class Collected:
    """The summary of a collection: a line per student and assignment collected, per problem."""

    collected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped


def _unpack(entry: Path, scratch: Path) -> tuple[Path | None, list[str]]:
    """A student's entry as a folder: itself, or its zip extracted into ``scratch`` after
    :func:`_archive_problem` found nothing wrong with it; with a line per member left out
    (symbolic links). None and why when nothing could be unpacked."""
    if entry.is_dir():
        return entry, []
    if entry.suffix.lower() != ".zip":
        return None, [f"{entry.name} is a lone file, not a student's folder or zip: skipped"]
    refused = []
    try:
        with zipfile.ZipFile(entry) as archive:
            members = archive.infolist()
            why = _archive_problem(entry, members, scratch)
            if why:
                return None, [why]
            target = scratch / entry.stem
            for member in members:
                member.filename = _utf8_name(member)
                if _is_link(member):
                    refused.append(f"{entry.name}: {member.filename} {LINK_REFUSED}")
                else:
                    archive.extract(member, target)
        return target, refused
    except (zipfile.BadZipFile, OSError) as error:
        return None, [f"{entry.name} is not a readable zip file ({error}): nothing collected"]


def _archive_problem(entry: Path, members: list[zipfile.ZipInfo], scratch: Path) -> str:
    """Why ``entry`` must not be unpacked, from its directory alone; "" if it may.

    The sizes are the zip's own: :mod:`zipfile` never writes more than a member declares
    (and fails on a member whose data does not match it)."""
    limits = ARCHIVE_LIMITS
    total = sum(m.file_size for m in members)
    refused = f"{entry.name} is refused before unpacking"
    if len(members) > limits.members:
        return f"{refused}: {len(members):,} files, more than {limits.members:,}"
    if total > limits.total_bytes:
        return f"{refused}: it unpacks to {total / 2**30:.1f} GiB, more than {limits.total_bytes / 2**30:g} GiB"
    for member in members:
        if member.file_size > limits.ratio_from_bytes and member.file_size > limits.ratio * max(
            member.compress_size, 1
        ):
            return (
                f"{refused}: {_utf8_name(member)} unpacks {member.compress_size:,} bytes into "
                f"{member.file_size:,} (more than {limits.ratio:g} times): a zip bomb, not a submission"
            )
    scratch.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(scratch).free
    if total > free:
        return (
            f"{refused}: it unpacks to {total / 2**30:.1f} GiB and {scratch} has "
            f"{free / 2**30:.1f} GiB free: set TMPDIR to a larger disk"
        )
    return ""


def _is_link(member: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(member.external_attr >> 16)


def _without_links(folder: Path, scratch: Path) -> tuple[Path, list[str]]:
    """A folder download copied into ``scratch`` without its symbolic links (a link may
    point anywhere on this machine: the instructor's solutions, another student's folder),
    and a line for each link left out."""
    copy = scratch / folder.name
    shutil.copytree(folder, copy, symlinks=True)
    refused = []
    for parent, dirs, files in os.walk(copy):
        for name in [*dirs, *files]:
            path = Path(parent) / name
            if path.is_symlink():
                refused.append(f"{path.relative_to(copy)} {LINK_REFUSED}")
                path.unlink()
    return copy, sorted(refused)


def _utf8_name(member: zipfile.ZipInfo) -> str:
    """The member's name: zip tools that skip the UTF-8 flag still write UTF-8 names."""
    if member.flag_bits & 0x800:
        return member.filename
    try:
        return member.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return member.filename


def _students_folder(root: Path) -> Path:
    """Skip the wrapping folders an LMS puts around the students' entries."""
    while detect_layout(root) == "folders":
        entries = _entries(root)
        if len(entries) != 1 or not entries[0].is_dir():
            break
        inner = _entries(entries[0])
        per_student = (
            inner
            and not _has_notebook(entries[0])
            and all(p.is_dir() or p.suffix.lower() == ".zip" for p in inner)
        )
        if not per_student and detect_layout(entries[0]) == "folders":
            break
        root = entries[0]
    return root


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in IGNORED)


def _has_notebook(folder: Path) -> bool:
    return any(p.suffix == ".ipynb" for p in folder.iterdir())


def detect_layout(root: Path) -> str:
    """The LMS whose names most entries of ``root`` carry; ``folders`` when none."""
    names = [p.name for p in _entries(root)]
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


def _canvas_uploads(
    root: Path, scratch: Path, times: dict[str, LmsTime]
) -> tuple[list[Upload], list[str]]:
    """``times`` (:mod:`grading.lms.canvas_times`, by Canvas user id) gives each upload its time."""
    groups, strays = {}, []
    for path in _entries(root):
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


def _moodle_uploads(
    root: Path, scratch: Path, worksheet: dict[str, dict[str, str]], tz: ZoneInfo
) -> tuple[list[Upload], list[str]]:
    groups, folders, strays = {}, {}, []
    for path in _entries(root):
        match = MOODLE_ENTRY.match(path.name)
        if path.is_file() and (path.name in LMS_FILES or _is_worksheet(path)):
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


def _is_worksheet(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        return WORKSHEET_ID in next(csv.reader(f), [])


def _blackboard_uploads(root: Path, scratch: Path, tz: ZoneInfo) -> tuple[list[Upload], list[str]]:
    groups, strays = {}, []
    for path in _entries(root):
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


def _brightspace_uploads(root: Path, scratch: Path, tz: ZoneInfo) -> tuple[list[Upload], list[str]]:
    groups, strays = {}, []
    for path in _entries(root):
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


def _folder_uploads(root: Path, scratch: Path) -> tuple[list[Upload], list[str]]:
    uploads, strays = [], []
    for entry in _entries(root):
        raw = entry.name.removesuffix(entry.suffix) if entry.is_file() else entry.name
        folder, problems = _unpack(entry, scratch / "students")
        strays += [f"{student_id(raw) or raw}: {why}" for why in problems]
        if folder is not None:
            uploads.append(Upload(who=raw, folder=folder, name=raw))
    return uploads, strays


def _student(upload: Upload, layout: str, roster: Roster | None) -> tuple[str | None, str]:
    """The nbgrader id of ``upload``'s student, or None and why."""
    if roster is None:
        found = student_id(upload.name)
        if not found:
            return (
                None,
                f"{upload.who!r}: no usable student id (ASCII letters, digits, _ . -): skipped",
            )
        return found, ""
    lookups = {
        "canvas": [(roster.by_lms_id, upload.lms_id), (roster.by_canvas_key, upload.name)],
        "moodle": [(roster.by_email, upload.email), (roster.by_moodle_folder, upload.who)],
        "blackboard": [(roster.by_lms_id, upload.lms_id)],
        "brightspace": [(roster.by_name, upload.name)],
        # A folder is named by whoever zipped it: any of the roster's keys.
        "folders": [
            (find, upload.name)
            for find in (roster.by_nbgrader_id, roster.by_lms_id, roster.by_email, roster.by_name)
        ],
    }[layout]
    for find, key in lookups:
        student = find(key) if key else None
        if student:
            return student.nbgrader_id, ""
    namesakes = roster.namesakes(upload.name)
    if len(namesakes) > 1:
        ids = ", ".join(s.nbgrader_id for s in namesakes)
        fix = (
            "give Moodle's grading worksheet (WORKSHEET=, matched by email)"
            if layout == "moodle"
            else "put each notebook in <out>/<nbgrader id>/<assignment>/ by hand"
        )
        return None, (
            f"{upload.who!r}: {len(namesakes)} students of the roster are named "
            f"{namesakes[0].name} ({ids}): nothing collected, since the name tells them not "
            f"apart; {fix}"
        )
    return None, (
        f"{upload.who!r} is not in the roster {roster.path} (LMS id {upload.lms_id or '-'}, "
        f"name {upload.name or '-'}): nothing collected; add the student to the roster"
    )


def collect(
    download: Path,
    out: Path = SUBMITTED,
    *,
    lms: str = "auto",
    roster: Roster | None = None,
    assignment: str | None = None,
    tz: ZoneInfo = LMS_TIME_ZONE,
    worksheet: Path | None = None,
    canvas: dict[str, LmsTime] | None = None,
) -> Collected:
    """Take an LMS's bulk download (a zip or a folder) into ``out/<student>/<assignment>/``.

    Each notebook goes to ``<notebook>.ipynb`` of the assignment its cells belong to, with
    the files beside it; the LMS's time is recorded (:func:`grading.records.submission_times.record`).
    ``assignment`` leaves the other assignment's notebooks out. ``canvas``: the Canvas
    submission times by user id (:mod:`grading.lms.canvas_times`).
    """
    result = Collected()
    known = assignment_ids()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        if download.is_dir():
            root, refused = _without_links(download, scratch / "download")
        else:
            root, refused = _unpack(download, scratch / "download")
        if root is None:
            result.skipped += [f"error: {why}" for why in refused]
            return result
        result.skipped += refused
        root = _students_folder(root)
        layout = detect_layout(root) if lms == "auto" else lms
        if layout == "canvas":
            uploads, strays = _canvas_uploads(root, scratch, canvas or {})
        elif layout == "moodle":
            sheets = [worksheet] if worksheet else [p for p in _entries(root) if _is_worksheet(p)]
            rows = {participant(r): r for sheet in sheets for r in read_worksheet(sheet)[1]}
            uploads, strays = _moodle_uploads(root, scratch, rows, tz)
        elif layout == "blackboard":
            uploads, strays = _blackboard_uploads(root, scratch, tz)
        elif layout == "brightspace":
            uploads, strays = _brightspace_uploads(root, scratch, tz)
        else:
            uploads, strays = _folder_uploads(root, scratch)
        result.skipped += strays
        by_student: dict[str, list[Upload]] = {}
        for upload in uploads:
            student, why = _student(upload, layout, roster)
            if student is None:
                result.skipped.append(why)
                continue
            if roster is None and layout == "folders" and student != upload.name:
                if student in by_student:
                    first = by_student[student][0].who
                    result.skipped.append(
                        f"{upload.who!r} and {first!r} are both student {student}: {upload.who!r} skipped"
                    )
                    continue
                result.collected.append(
                    f"{upload.who!r} collected as student {student} "
                    "(nbgrader ids take ASCII letters, digits, _ . -)"
                )
            by_student.setdefault(student, []).append(upload)
        for student, mine in sorted(by_student.items()):
            _collect_student(student, mine, out / student, known, assignment, result)
    return result


def _collect_student(
    student: str,
    uploads: list[Upload],
    target: Path,
    known: dict[str, set[str]],
    only: str | None,
    result: Collected,
) -> None:
    by_assignment: dict[str, list[tuple[Path, Upload]]] = {}
    found_any = False
    for upload in uploads:
        for notebook in notebooks_in(upload.folder):
            found_any = True
            if notebook.stat().st_size == 0:
                result.skipped.append(
                    f"{student}: {notebook.name} is empty (0 bytes): not collected"
                )
                continue
            owner, why = assignment_of(notebook, known)
            if owner is None:
                result.skipped.append(f"{student}: {why}: not collected")
            elif only and owner != only:
                result.skipped.append(
                    f"{student}: {notebook.name} is a notebook of {owner}, not of {only}: not collected"
                )
            else:
                by_assignment.setdefault(owner, []).append((notebook, upload))
    if not found_any:
        others = sorted(p.name for u in uploads for p in u.folder.rglob("*") if p.is_file())
        what = f" (only {', '.join(others)})" if others else ""
        result.skipped.append(
            f"{student}: the upload holds no notebook (.ipynb){what}: nothing submitted"
        )
    for assignment, notebooks in sorted(by_assignment.items()):
        dest = target / assignment
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        if len(notebooks) > 1:
            notebooks = _newest(student, assignment, notebooks, dest, result)
            if notebooks is None:
                continue
        notebook, upload = notebooks[0]
        shutil.copy2(notebook, dest / f"{ASSIGNMENTS[assignment]}.ipynb")
        # The files beside the notebook (scores.json, the submission zip) belong to it,
        # unless a notebook of another assignment sits there too.
        if all(
            n.parent != notebook.parent
            for a, ns in by_assignment.items()
            if a != assignment
            for n, _ in ns
        ):
            for extra in notebook.parent.iterdir():
                if extra.name == submission_times.TIMESTAMP:
                    result.skipped.append(
                        f"{student}: {assignment}: the upload's {extra.name} is not the "
                        "submission time (a student's file): not collected; the LMS's time is used"
                    )
                elif extra.is_file() and extra.suffix != ".ipynb":
                    shutil.copy2(extra, dest / extra.name)
        notes = []
        if notebook.name != f"{ASSIGNMENTS[assignment]}.ipynb":
            notes.append(f"was {notebook.name}")
        entry = LmsTime(upload.time, upload.late, upload.source)
        submission_times.record(dest.parent.parent, {(student, assignment): entry})
        stamp = dest / submission_times.TIMESTAMP  # for the stock nbgrader commands only
        if upload.time:
            stamp.write_text(nbgrader_timestamp(upload.time))
        else:
            stamp.unlink(missing_ok=True)
        if upload.time:
            notes.append(f"submitted {nbgrader_timestamp(upload.time)}")
        if upload.late:
            notes.append(submission_times.LATE_MARK + ("" if upload.time else ", no time known"))
        result.collected.append(
            f"{student}: {assignment} collected" + (f" ({'; '.join(notes)})" if notes else "")
        )


def _newest(
    student: str,
    assignment: str,
    notebooks: list[tuple[Path, Upload]],
    dest: Path,
    result: Collected,
) -> list[tuple[Path, Upload]] | None:
    """The newest notebook by the LMS's time; without distinct times, None: all are kept
    for the instructor and the autograder grades none (it says why)."""
    names = ", ".join(sorted(n.name for n, _ in notebooks))
    times = [u.time for _, u in notebooks]
    if None in times or len(set(times)) < len(times):
        result.skipped.append(
            f"{student}: {len(notebooks)} notebooks of {assignment} ({names}): submit one; "
            "none will be graded"
        )
        for notebook, _ in notebooks:
            shutil.copy2(notebook, dest / notebook.name)
        return None
    newest = max(notebooks, key=lambda nu: nu[1].time)
    result.skipped.append(
        f"{student}: {len(notebooks)} notebooks of {assignment} ({names}): kept the newest by "
        f"the LMS's time, {newest[0].name} ({nbgrader_timestamp(newest[1].time)})"
    )
    return [newest]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.lms.collect",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("download", type=Path, help="the LMS download: a zip or a folder")
    parser.add_argument("--out", type=Path, default=SUBMITTED)
    parser.add_argument("--lms", choices=[*LAYOUTS, "auto"], default="auto")
    parser.add_argument(
        "--roster", type=Path, help="students.csv (see python -m grading.lms.roster)"
    )
    parser.add_argument("--assignment", choices=sorted(ASSIGNMENTS))
    parser.add_argument(
        "--timezone", default="UTC", help="the LMS's local time zone (IANA name), default UTC"
    )
    parser.add_argument("--worksheet", type=Path, help="Moodle's grading worksheet CSV")
    parser.add_argument(
        "--canvas-url",
        help="Canvas: the assignment's address (…/courses/1234/assignments/88101); the "
        f"submission times come from the Canvas API with the token in ${canvas_times.TOKEN_VARIABLE}",
    )
    parser.add_argument(
        "--times", type=Path, help="Canvas: a CSV of lms_id,submitted_at (ISO 8601)"
    )
    args = parser.parse_args(argv)
    if not args.download.exists():
        print(f"error: {args.download} does not exist", file=sys.stderr)
        return 1
    try:
        tz = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(
            f"error: --timezone {args.timezone!r} is no IANA time zone: use a name like "
            "Europe/Berlin or America/New_York",
            file=sys.stderr,
        )
        return 1
    try:
        roster = read_roster(args.roster) if args.roster else None
        if args.worksheet:
            read_worksheet(args.worksheet)
        canvas = canvas_times.from_csv(args.times, tz) if args.times else {}
        if args.canvas_url:
            name, found = canvas_times.from_api(
                args.canvas_url, os.environ.get(canvas_times.TOKEN_VARIABLE, "")
            )
            print(f"Canvas API: {name!r}: {len(found)} submission times")
            canvas.update(found)
    except (RosterError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    result = collect(
        args.download,
        args.out,
        lms=args.lms,
        roster=roster,
        assignment=args.assignment,
        tz=tz,
        worksheet=args.worksheet,
        canvas=canvas,
    )
    for line in result.collected:
        print(line)
    for line in result.skipped:
        print(f"skipped: {line}")
    print(f"submissions: {args.out}/<student>/<assignment>/")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
