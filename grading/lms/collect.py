"""Collection: an LMS download into nbgrader's layout, each notebook placed by its content.

A notebook belongs to the assignment whose nbgrader cells (``grade_id`` metadata) it
carries, whatever its file name: Kaggle names its download after the kernel, LMSs
prefix the student's name. :func:`grading.notebook_format.find_notebook` picks a submission's notebook inside
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
(:mod:`grading.lms.archives`), and symbolic links are refused: a download holds files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from grading.course import ASSIGNMENTS, SUBMITTED
from grading.lms import canvas_times
from grading.lms.archives import unpack, without_links
from grading.lms.layouts import (
    LAYOUTS,
    LMS_TIME_ZONE,
    Upload,
    blackboard_uploads,
    brightspace_uploads,
    canvas_uploads,
    detect_layout,
    entries,
    folder_uploads,
    is_worksheet,
    moodle_uploads,
    student_id,
    students_folder,
)
from grading.lms.roster import Roster, RosterError, read_roster
from grading.lms.upload import (
    participant,
    read_worksheet,
)
from grading.notebook_format import assignment_ids, assignment_of, notebooks_in
from grading.records import submission_times
from grading.records.submission_times import LmsTime, nbgrader_timestamp


@dataclass
class Collected:
    """The summary of a collection: a line per student and assignment collected, per problem."""

    collected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped


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
            root, refused = without_links(download, scratch / "download")
        else:
            root, refused = unpack(download, scratch / "download")
        if root is None:
            result.skipped += [f"error: {why}" for why in refused]
            return result
        result.skipped += refused
        root = students_folder(root)
        layout = detect_layout(root) if lms == "auto" else lms
        if layout == "canvas":
            uploads, strays = canvas_uploads(root, scratch, canvas or {})
        elif layout == "moodle":
            sheets = [worksheet] if worksheet else [p for p in entries(root) if is_worksheet(p)]
            rows = {participant(r): r for sheet in sheets for r in read_worksheet(sheet)[1]}
            uploads, strays = moodle_uploads(root, scratch, rows, tz)
        elif layout == "blackboard":
            uploads, strays = blackboard_uploads(root, scratch, tz)
        elif layout == "brightspace":
            uploads, strays = brightspace_uploads(root, scratch, tz)
        else:
            uploads, strays = folder_uploads(root, scratch)
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
