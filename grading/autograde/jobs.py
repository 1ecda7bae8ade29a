"""What a grading run works on and hands back: jobs, graded submissions, result rows.

A :class:`Job` is data only (a worker on another machine can take it); :func:`find_jobs`
makes them from a ``submitted/<student>/<assignment>/`` tree and a row with the reason for
every folder that cannot be graded; the notes on rows are one line each, bounded, with
names from students' folders shown safely (:func:`shown`, :func:`one_line`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grading import notebook_format as nbcells
from grading.course import (
    ASSIGNMENTS,
    LIMITS,
    STUDENT_ID,
    TEST_PREFIX,
    Limits,
    PipelineError,
    released_notebook,
)
from grading.records import submission_times


@dataclass
class Result:
    student: str
    assignment: str
    scores: dict[str, float] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    feedback: Path | None = None

    @property
    def job(self) -> tuple[str, str]:
        return self.student, self.assignment

    @property
    def total(self) -> float:
        return sum(v for k, v in self.scores.items() if k.startswith(TEST_PREFIX))

    @property
    def max_total(self) -> float:
        return sum(v for k, v in self.max_scores.items() if k.startswith(TEST_PREFIX))


@dataclass(frozen=True)
class Job:
    """One submission to grade: data only, so that a worker on another machine can take it."""

    student: str
    assignment: str
    folder: Path
    """``submitted/<student>/<assignment>/``: read only, never seen by the sandbox."""
    course: Path
    use_sandbox: bool = True
    limits: Limits = LIMITS
    submitted_at: datetime | None = None
    """The LMS's time (:func:`grading.records.submission_times.read_times`), naive UTC; None if the
    collection gave none. Never read from the folder: the student wrote all of it."""


@dataclass
class Graded:
    """What :func:`grade_one` sends back: the scores it decided and the notebook to store."""

    student: str
    assignment: str
    auto_scores: dict[str, float]
    max_scores: dict[str, float]
    comments: dict[str, str]
    notes: list[str]
    notebook: dict | None
    """The executed notebook, sanitised (:mod:`grading.autograde.sanitize`); None if it never ran."""
    timestamp: datetime | None
    seconds: float
    fingerprint: str = ""
    """:func:`fingerprint` of the submission folder that was graded."""


def fingerprint(folder: Path) -> str:
    """SHA-256 over the names and bytes of every file of a submission folder (links by
    their target, never followed); "" when a file cannot be read, which no graded
    submission matches."""
    digest = hashlib.sha256()
    try:
        for path in sorted(_entries(folder)):
            digest.update(os.fsencode(path.relative_to(folder)) + b"\0")
            if path.is_symlink():
                digest.update(b"-> " + os.fsencode(os.readlink(path)))
            elif path.is_file():
                with path.open("rb") as data:
                    while chunk := data.read(1 << 20):
                        digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def _entries(folder: Path) -> list[Path]:
    """Everything under ``folder``; links (to folders too) are listed, never entered."""
    found = []
    for top, folders, files in os.walk(folder, followlinks=False):
        found += [Path(top, name) for name in (*folders, *files)]
    return found


def refused_entries(folder: Path) -> str:
    """Why the submission ``folder`` is not graded because of what it holds, or "": a
    link anywhere in it (it could point at any file of the grader's: the instructor's
    notebook, another student's) or anything that is neither a file nor a folder (a FIFO
    would hang the grader that reads it)."""
    odd = [
        path
        for path in _entries(folder)
        if path.is_symlink() or not (path.is_file() or path.is_dir())
    ]
    if not odd:
        return ""
    names = ", ".join(shown(str(p.relative_to(folder))) for p in sorted(odd)[:3])
    more = f" and {len(odd) - 3} more" if len(odd) > 3 else ""
    return (
        f"refused: {names}{more} {'is' if len(odd) == 1 else 'are'} a link or not a regular "
        "file: nothing was graded; submit the files themselves"
    )


def shown(name: str, most: int = 60) -> str:
    """A name from a student's folder as a note shows it: as it is when it is made of
    ASCII letters, digits, ``_ . -`` only; otherwise quoted, with what a terminal would
    act on escaped (``repr``); at most ``most`` characters either way."""
    if STUDENT_ID.match(name) and len(name) <= most:
        return name
    text = repr(name[:most])
    return text[:-1] + "…" + text[-1] if len(name) > most else text


def one_line(text: str, most: int = 300) -> str:
    """A reason as a grade table's note: one line of printable text, at most ``most``
    characters (an error's message may hold what a student wrote, a whole file even)."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= most else flat[: most - 1] + "…"


def failure(step: str, error: BaseException) -> str:
    """The note of a step that raised for one submission: the error's type and the first
    line of its message, quoted and bounded (the rest may be a whole file's text)."""
    lines = str(error).strip().splitlines()
    message = one_line(lines[0], 120) if lines else ""
    return f"{step} failed: {type(error).__name__}" + (f": {message!r}" if message else "")


def autograded_notebook(course: Path, student: str, assignment: str) -> Path:
    """Where the course keeps a graded submission's executed, sanitised notebook."""
    return course / "autograded" / student / assignment / f"{ASSIGNMENTS[assignment]}.ipynb"


GRADED_MARK = ".graded-submission"
"""Beside an autograded notebook: the fingerprint of the submission it was graded from."""


def find_jobs(
    submitted: Path, only: str | None = None
) -> tuple[list[tuple[str, str]], list[Result]]:
    """The ``(student, assignment)`` folders to grade, and results for those that cannot be."""
    jobs, problems = [], []
    # Links are listed, never entered: a student folder that is a link is refused below.
    students = sorted(p for p in submitted.iterdir() if p.is_dir() or p.is_symlink())
    if only is not None:
        students = [p for p in students if p.name == only]
        if not students:
            raise PipelineError(f"no folder {submitted / only}: nothing to grade for {only}")
    for folder in students:
        if not STUDENT_ID.match(folder.name):
            problems.append(
                Result(
                    folder.name,
                    "",
                    notes=[
                        f"student id {shown(folder.name)} is not an nbgrader id (ASCII letters, digits, _ . -): "
                        "not graded; rename the folder (make collect does)"
                    ],
                )
            )
            continue
        if folder.is_symlink():
            problems.append(Result(folder.name, "", notes=[LINK_REFUSED]))
            continue
        try:
            inside = sorted(folder.iterdir())
        except OSError as error:
            problems.append(Result(folder.name, "", notes=[failure("reading the folder", error)]))
            continue
        links = {p.name for p in inside if p.is_symlink()}
        folders = sorted(p.name for p in inside if p.is_dir() or p.is_symlink())
        jobs += [(folder.name, a) for a in ASSIGNMENTS if a in folders and a not in links]
        problems += [
            Result(folder.name, name, notes=[LINK_REFUSED]) for name in ASSIGNMENTS if name in links
        ]
        problems += [
            Result(
                folder.name,
                name,
                notes=[
                    f"{shown(name)} is not an assignment of this course ({', '.join(ASSIGNMENTS)}): not graded"
                ],
            )
            for name in folders
            if name not in ASSIGNMENTS and name != ".ipynb_checkpoints"
        ]
        if not folders:
            problems.append(
                Result(folder.name, "", notes=["the folder is empty: nothing submitted"])
            )
    return jobs, problems


LINK_REFUSED = (
    "refused: the folder is a link (it could point at any folder of the grader's): "
    "not graded; submit the files themselves"
)


def not_graded(job: Job, *why: str) -> Graded:
    """The row of a submission that could not be graded: every TODO 0, ``why`` as notes."""
    release = nbcells.read_notebook(released_notebook(job.assignment, job.course))
    tests = nbcells.test_cells(release)
    return Graded(
        job.student,
        job.assignment,
        auto_scores=dict.fromkeys(tests, 0.0),
        max_scores=tests,
        comments={},
        notes=[*why, *time_notes(job), "not graded: every TODO scores 0"],
        notebook=None,
        timestamp=job.submitted_at,
        seconds=0.0,
        fingerprint=fingerprint(job.folder),
    )


def time_notes(job: Job) -> list[str]:
    """A ``timestamp.txt`` in the folder is never read: say so on the row where it is not
    the one ``make collect`` wrote from the LMS's time (for the stock nbgrader commands)."""
    stamp = job.folder / submission_times.TIMESTAMP
    if not os.path.lexists(stamp):
        return []
    if job.submitted_at is not None and stamp.is_file() and not stamp.is_symlink():
        written = submission_times.nbgrader_timestamp(job.submitted_at.replace(tzinfo=UTC))
        if stamp.read_bytes()[:64] == written.encode():
            return []
    return [
        f"{submission_times.TIMESTAMP} in the submission folder ignored: the submission time "
        f"is the LMS's ({submission_times.TIMES_FILE}, written by make collect)"
    ]
