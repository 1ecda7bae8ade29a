"""Release and autograde the assignments with nbgrader: ``make release``, ``make autograde``.

    python -m grading.autograde.batch release      # notebooks/ -> course/source -> course/release, validated
    python -m grading.autograde.batch autograde    # grading/submitted/<student>/ -> gradebook, grades.csv, feedback

Two assignments, one notebook each (:data:`ASSIGNMENTS`): ``part1`` (anime faces) and
``part2`` (illusions). Course directory ``grading/course`` (generated, git-ignored)::

    source/part1/part1_anime_faces.ipynb      copy of notebooks/part1_anime_faces.ipynb
    source/part2/part2_illusions.ipynb        copy of notebooks/part2_illusions.ipynb
    release/<assignment>/<notebook>.ipynb     the student versions (nbgrader generate_assignment)
    gradebook.db                              the master cells (release) and every grade (autograde)
    autograded/<student>/<assignment>/        executed submissions
    feedback/<student>/<assignment>/*.html    per-student feedback
    grades.csv                                one row per student (grading.records.gradebook)

Submissions are read from ``grading/submitted/<student>/<assignment>/`` (the shipped
examples, or what ``make collect`` put there) or any folder laid out the same way
(``--submitted``); a student may have submitted one assignment or both. The notebook of
each folder is found by its content (:mod:`grading.lms.collect`), whatever its name.

Autograde, per submission (:func:`grade_one`, on a worker: a thread here, or a Dask
cluster, :mod:`grading.autograde.engine`), in steps that never trust what student code wrote:

1. the notebook is rebuilt on the release (:mod:`grading.autograde.restore`): locked and test cells
   are the release's, cells claiming nbgrader metadata the release lacks are the student's;
2. the judge (:mod:`grading.autograde.judge`) runs each TODO's cells in a bubblewrap sandbox
   (:mod:`grading.autograde.sandbox`) and compares the outputs with the reference here;
3. ``nbgrader autograde`` runs the notebook in this process, on a private copy of the
   master gradebook without any student; only its kernel runs in a sandbox
   (:mod:`grading.autograde.kernel`), which can reach neither the gradebook nor the notebook file
   nbgrader writes;
4. each TODO scores its points where the judge agrees with the reference and its test
   cell did not fail in the notebook's run; the grader's verdict replaces what the kernel
   printed under each test cell, and the notebook is sanitised (:mod:`grading.autograde.sanitize`).

This process then merges each submission into the course gradebook as it finishes
(:func:`grading.records.gradebook.merge_submission`: scores, the judge's comments, the late
penalty; manual grades stay the instructor's) and writes the feedback and ``grades.csv``.
Without a working sandbox ``autograde`` stops before grading, unless ``--no-sandbox``
(trusted notebooks only). A submission that hangs, raises, kills its processes, is not a
notebook, holds a link or breaks any step (restoring, grading, merging, its feedback)
affects only its own row, with a one-line reason. The submission time is the LMS's
(:mod:`grading.lms.submission_times`), never a file of the student's folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grading import notebook as nbcells
from grading.autograde import sandbox
from grading.autograde.restore import restore
from grading.autograde.sanitize import sanitize
from grading.course import (
    ASSIGNMENTS,
    COURSE,
    GRADING,
    LIMITS,
    REPO,
    STUDENT_ID,
    SUBMITTED,
    TEST_PREFIX,
    TODO_PREFIX,
    Limits,
    released_notebook,
    source_notebook,
)
from grading.lms import submission_times
from grading.records import gradebook


class PipelineError(RuntimeError):
    """A step of the instructor's pipeline failed (not a student's submission)."""


def nbgrader(*args: str, root: Path = COURSE, timeout: float | None = None, env=None):
    """Run one nbgrader command on the course directory ``root``; returns the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"],
        cwd=GRADING,  # where nbgrader_config.py is
        env=env or kernel_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def kernel_env() -> dict[str, str]:
    """The environment nbgrader and its kernels run in.

    The kernel must import this checkout's ``helpers`` and ``grading`` (the hidden tests
    import ``grading.authoring.reference``), whatever is installed in the environment. One thread
    per kernel: the workers run side by side, and several multi-threaded torch
    processes on few cores run 20-50x slower than single-threaded ones.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # nbgrader runs the `alembic` script of this environment to create a gradebook.
    env["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")]))
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    return env


# --- release -----------------------------------------------------------------------


def release(course: Path = COURSE) -> dict[str, Path]:
    """Generate the student versions from ``notebooks/`` and check that their TODO tests fail."""
    released = {}
    for assignment in ASSIGNMENTS:
        source = course / "source" / assignment
        source.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source_notebook(assignment), source)
        done = nbgrader("generate_assignment", assignment, "--force", root=course)
        if done.returncode:
            raise PipelineError(
                f"nbgrader generate_assignment {assignment} failed:\n{done.stdout}{done.stderr}"
            )
        released[assignment] = released_notebook(assignment, course)
    # The checks only read the releases: side by side (generate_assignment writes the
    # gradebook, one writer at a time, so it ran above, one assignment after the other).
    with ThreadPoolExecutor(max_workers=len(released)) as pool:
        list(pool.map(check_release_fails, released.values()))
    return released


def check_release_fails(released: Path) -> None:
    """``nbgrader validate --invert``: every test cell of the untouched release must fail."""
    done = nbgrader("validate", "--invert", str(released), root=released.parents[2])
    output = done.stdout + done.stderr
    # nbgrader prints this only when no graded cell passes; otherwise it lists them.
    if done.returncode or "Success! The notebook does not pass any tests." not in output:
        raise PipelineError(f"the release passes some of its own tests:\n{output}")


# --- autograde ---------------------------------------------------------------------


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
    """The LMS's time (:func:`grading.lms.submission_times.read_times`), naive UTC; None if the
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


def autograde(
    submitted: Path = SUBMITTED,
    course: Path = COURSE,
    workers: int = 2,
    *,
    student: str | None = None,
    use_sandbox: bool = True,
    limits: Limits = LIMITS,
    scheduler: str | None = None,
    progress: bool = False,
    resume: bool = False,
    assignment: str | None = None,
) -> list[Result]:
    """Grade every ``submitted/<student>/<assignment>`` (or one student's, or one
    assignment's) into the course. Students dropped from the course (:mod:`grading.records.drop`)
    are not graded.

    ``resume``: skip the submissions whose folder is unchanged since they were graded
    (an interrupted run goes on where it stopped; without it everything is graded again,
    as after a fix to a test); their rows show the scores the gradebook holds.

    Each submission is graded by :func:`grade_one` on a worker (threads here, or a Dask
    cluster: :mod:`grading.autograde.engine`) and merged into the course gradebook by this process,
    one at a time, as soon as it is done. Then the feedback pages of the submissions whose
    autograded notebook is newer than their feedback are written, and ``course/grades.csv``.
    Ctrl-C (:class:`Interrupted`) kills the running sandboxes, keeps what was merged and
    writes ``grades.csv``; a run with ``resume`` then grades the rest and their feedback.
    """
    sandbox.reopen()
    if use_sandbox:  # before anything else: no student code runs without one
        try:
            bounds = sandbox.check()
        except sandbox.SandboxUnavailable as error:
            raise PipelineError(f"no sandbox to grade in: {error}") from error
        if progress:
            print(f"sandbox: {bounds}", file=sys.stderr, flush=True)
    if not (course / "gradebook.db").is_file():
        raise PipelineError(f"no gradebook in {course}: run the release first (make release)")
    if not submitted.is_dir():
        raise PipelineError(f"{submitted} is not a folder of <student>/<assignment>/ submissions")
    try:
        times = submission_times.read_times(submitted)
    except submission_times.TimesError as error:
        raise PipelineError(str(error)) from error
    from grading.records.drop import dropped_students

    dropped = dropped_students(course)
    if student in dropped:
        raise PipelineError(
            f"{student} was dropped from the course ({dropped[student]}): "
            f"python -m grading.records.drop {student} --undo takes them back"
        )
    found, problems = find_jobs(submitted, student)
    found = [
        (name, part) for name, part in found if name not in dropped and assignment in (None, part)
    ]
    problems = [r for r in problems if r.student not in dropped]
    if not found and not problems:
        raise PipelineError(
            f"no submissions under {submitted}/<student>/<assignment>/ "
            f"(assignments: {', '.join(ASSIGNMENTS)})"
        )
    for problem in problems:
        add_failure_feedback(course, problem)
    write_master_gradebook(course)
    jobs = [
        Job(name, assignment, submitted / name / assignment, course, use_sandbox, limits,
            submitted_at=times.get((name, assignment)))
        for name, assignment in found
    ]  # fmt: skip
    results: dict[tuple[str, str], Result] = {}
    if resume:
        results = kept_results(course, jobs)
        jobs = [job for job in jobs if (job.student, job.assignment) not in results]
    from grading.autograde import engine  # dask, only to grade

    def merge(outcome: engine.Outcome) -> None:
        """One submission into the course; whatever fails here is its row's note."""
        job = outcome.job
        step = "merging"
        try:
            graded = outcome.result
            if not outcome.ok:  # the grading itself failed (a worker lost, a bug)
                step = "writing the not-graded row"
                graded = not_graded(job, one_line(f"grading failed: {outcome.error}", 200))
            results[job.student, job.assignment] = record(course, graded)
        except Exception as error:  # one submission must not stop the others
            row = Result(job.student, job.assignment, notes=[failure(step, error)])
            add_failure_feedback(course, row)
            results[job.student, job.assignment] = row

    kept = len(results)
    try:
        engine.run_jobs(
            grade_one,
            jobs,
            workers=workers,
            scheduler=scheduler,
            on_result=merge,
            progress=progress,
        )
    except KeyboardInterrupt:
        sandbox.stop_all()  # the sandboxes run in sessions of their own: Ctrl-C missed them
        gradebook.write_grades(course)
        raise Interrupted(len(results) - kept, len(jobs) + kept - len(results)) from None
    write_feedback(course, results)
    gradebook.write_grades(course)
    return [results[key] for key in found if key in results] + problems


class Interrupted(Exception):
    """Ctrl-C during an autograde: what was merged is kept, the rest was not graded."""

    def __init__(self, merged: int, left: int) -> None:
        super().__init__(merged, left)
        self.merged, self.left = merged, left

    def message(self, resume: str) -> str:
        """One line for the instructor; ``resume`` is the command that goes on."""
        return (
            f"interrupted: {self.merged} submission{'s' * (self.merged != 1)} graded in this "
            f"run {'is' if self.merged == 1 else 'are'} kept in the gradebook and grades.csv, "
            f"{self.left} {'was' if self.left == 1 else 'were'} not graded: `{resume}` goes on "
            "with those not graded since they last changed, and writes the feedback"
        )


def kept_results(course: Path, jobs: list[Job]) -> dict[tuple[str, str], Result]:
    """The jobs whose submission folder is unchanged since it was graded (``--resume``),
    with the scores the course gradebook holds for them."""
    from grading.records.cell_grades import read_cell_grades

    unchanged = set()
    for job in jobs:
        mark = course / "autograded" / job.student / job.assignment / GRADED_MARK
        if mark.is_file() and mark.read_text() == fingerprint(job.folder):
            unchanged.add((job.student, job.assignment))
    return {
        (g.student, g.assignment): Result(
            g.student,
            g.assignment,
            scores=g.scores,
            max_scores=g.max_scores,
            notes=["already graded (--resume): kept"],
        )
        for g in read_cell_grades(course)
        if (g.student, g.assignment) in unchanged
    }


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


def master_gradebook(course: Path) -> Path:
    return course / ".master" / "gradebook.db"


def write_master_gradebook(course: Path) -> Path:
    """The course gradebook without any student: what a sandbox may see of it.

    nbgrader's autograde reads the master cells (the test cells it restores) from it;
    the course gradebook itself holds every student's grades and never enters a sandbox.
    """
    from nbgrader.api import Gradebook

    path = master_gradebook(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    shutil.copy2(course / "gradebook.db", scratch)
    with Gradebook(f"sqlite:///{scratch}") as gb:
        for who in list(gb.students):
            gb.remove_student(who.id)
    scratch.replace(path)
    return path


def test_cells(release: dict) -> dict[str, float]:
    """The release's autograded test cells: ``{grade id: points}``."""
    return {
        nbcells.grade_id(c): float(nbcells.nbgrader(c).get("points", 0))
        for c in release["cells"]
        if nbcells.nbgrader(c).get("grade")
        and not nbcells.nbgrader(c).get("solution")
        and (nbcells.grade_id(c) or "").startswith(TEST_PREFIX)
    }


def todo_of(test_cell: str) -> str:
    return test_cell.removeprefix(TEST_PREFIX).replace("_", "-")


def test_cell_of(todo: str) -> str:
    return TEST_PREFIX + todo.replace("-", "_")


def not_graded(job: Job, *why: str) -> Graded:
    """The row of a submission that could not be graded: every TODO 0, ``why`` as notes."""
    release = nbcells.read_notebook(released_notebook(job.assignment, job.course))
    tests = test_cells(release)
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


def grade_one(job: Job) -> Graded:
    """Grade one submission: its TODOs judged and its notebook run by nbgrader, each in a
    sandbox of its own; every score decided here, from what came back as data.

    A TODO scores its points only where the judge's run agrees with the reference and
    the test cell did not fail in the notebook's own run (a failure there is the
    student's to see; a pass there proves nothing, since the kernel is the student's).
    Whatever raises is this submission's row (:func:`not_graded`), never the batch's.
    """
    start = time.perf_counter()
    try:
        refused = refused_entries(job.folder)
        graded = not_graded(job, refused) if refused else _grade(job)
    except Exception as error:
        return not_graded(job, failure("grading", error))
    graded.seconds = time.perf_counter() - start
    graded.notes = [one_line(note) for note in graded.notes]
    return graded


def _grade(job: Job) -> Graded:
    from grading.lms.collect import find_notebook

    notebook, notes = find_notebook(job.folder, job.assignment)
    if notebook is None:
        return not_graded(job, *notes)
    from grading.autograde import judge  # torch: only once there is something to judge

    release_path = released_notebook(job.assignment, job.course)
    release = nbcells.read_notebook(release_path)
    tests = test_cells(release)
    with tempfile.TemporaryDirectory(prefix=f"grade-{job.student}-") as tmp:
        restored = Path(tmp) / f"{ASSIGNMENTS[job.assignment]}.ipynb"
        try:
            notes += restore(notebook, release_path, restored)
        except nbcells.NotANotebook as error:
            return not_graded(job, *notes, str(error))
        verdicts = judge.judge(
            restored, release_path, job.assignment, use_sandbox=job.use_sandbox, limits=job.limits
        )
        executed, ran = run_notebook(job, restored, Path(tmp) / "course")
        kept = nbcells.read_notebook(restored)
    notes += ran
    kernel = kernel_results(executed, tests) if executed else {}
    scores, comments, said = {}, {}, {}
    for cell, points in tests.items():
        todo = todo_of(cell)
        verdict = verdicts.get(todo, judge.Verdict(False, "no judge for this test cell"))
        failed_here = kernel.get(cell) is False
        scores[cell] = points if verdict.ok and not failed_here else 0.0
        said[cell] = verdict_text(points, verdict, failed_here)
        if not verdict.ok:
            comments[TODO_PREFIX + cell.removeprefix(TEST_PREFIX)] = said[cell]
            notes.append(f"TODO {todo}: {verdict.reason}")
        elif failed_here:
            notes.append(f"TODO {todo}: the tests in the notebook failed")
    # A notebook that did not run to the end is stored as restored, without outputs: the
    # instructor still grades its report in formgrader.
    stored = with_verdicts(executed or kept, said)
    return Graded(
        job.student,
        job.assignment,
        auto_scores=scores,
        max_scores=tests,
        comments=comments,
        notes=[*notes, *time_notes(job)],
        notebook=sanitize(stored, release, job.limits.cell_output_bytes),
        timestamp=job.submitted_at,
        seconds=0.0,
        fingerprint=fingerprint(job.folder),
    )


JUDGED = "this TODO's code, run on its own in a fresh Python on the grading cases,"


def judge_comment(reason: str) -> str:
    """The comment on a TODO that the judge failed, for the student and in the gradebook."""
    plain = (
        reason
        if reason.startswith(("raised", "killed", "segfault", "stopped", "uses "))
        else f"gives: {reason}"
    )
    return f"Scored 0: {JUDGED} {plain}."


def verdict_text(points: float, verdict, failed_here: bool) -> str:
    """What the grader says under a test cell: the score it decided and why."""
    if not verdict.ok:
        return judge_comment(verdict.reason)
    if failed_here:
        return (
            f"Scored 0: {JUDGED} agrees with the reference, but the tests of this cell "
            "failed in the notebook's run (below)."
        )
    return f"Scored {points:g} / {points:g}: {JUDGED} agrees with the reference."


def with_verdicts(nb: dict, said: dict[str, str]) -> dict:
    """``nb`` with each autograded test cell's outputs replaced by the grader's verdict.

    The kernel is the student's: whatever it printed under a test cell ("all tests
    passed") is a claim, so the instructor's copy and the feedback show the grader's
    text there instead, followed only by the errors the cell raised (a failure is the
    student's to see, and claiming one never gains a point).
    """
    cells = []
    for cell in nb["cells"]:
        name = nbcells.grade_id(cell)
        if cell.get("cell_type") == "code" and name in said:
            outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
            errors = [o for o in outputs if isinstance(o, dict) and o.get("output_type") == "error"]
            verdict = {"output_type": "stream", "name": "stdout", "text": f"Grader: {said[name]}\n"}
            cell = {**cell, "outputs": [verdict, *errors]}
        cells.append(cell)
    return {**nb, "cells": cells}


def run_notebook(job: Job, restored: Path, work: Path) -> tuple[dict | None, list[str]]:
    """``nbgrader autograde`` of the restored notebook, here, with its kernel in a sandbox
    (:mod:`grading.autograde.kernel`): the course folder ``work`` (a copy of the master gradebook,
    this one submission, the executed notebook) is never visible to the kernel, whose
    only writable folder is its own empty scratch."""
    import logging

    from nbconvert.writers import FilesWriter
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute
    from traitlets.config import Config

    from grading.autograde.kernel import KernelSandbox, SandboxedExecute, ThreadedAutograde

    submission = work / "submitted" / job.student / job.assignment
    submission.mkdir(parents=True)
    (work / "source" / job.assignment).mkdir(parents=True)
    (work / "kernel").mkdir()
    shutil.copy2(master_gradebook(job.course), work / "gradebook.db")
    shutil.copy2(restored, submission / restored.name)
    box = KernelSandbox(work / "kernel", job.limits, job.use_sandbox)
    config = Config()
    config.CourseDirectory.update(
        root=str(work), course_id="diffusion", assignment_id=job.assignment, student_id=job.student
    )
    config.BaseConverter.force = True
    config.Execute.update(timeout=job.limits.cell_seconds, interrupt_on_timeout=True)
    config.OverwriteCells.add_missing_cells = True
    config.SandboxedExecute.sandbox = box
    config.Autograde.autograde_preprocessors = [
        SandboxedExecute if p is Execute else p for p in Autograde.autograde_preprocessors.default()
    ]
    log = logging.Logger(f"autograde {job.student} {job.assignment}", logging.INFO)  # unregistered
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    log.addHandler(handler)
    converter = ThreadedAutograde(coursedir=CourseDirectory(config=config), config=config, log=log)
    # BaseConverter.start without its os.chdir: two workers' threads share one process.
    try:
        converter.init_notebooks()
        converter.writer = FilesWriter(parent=converter, config=converter.config)
        converter.exporter = converter.exporter_class(parent=converter, config=converter.config)
        converter.convert_notebooks()
    except NbGraderException:
        pass  # logged; no executed notebook
    notes = summarize_log("\n".join(lines))
    if box.stopped:
        notes.append(f"the notebook's run was stopped at its {box.stopped}")
    executed = work / "autograded" / job.student / job.assignment / restored.name
    try:
        return nbcells.read_notebook(executed), notes
    except nbcells.NotANotebook:
        return None, [*notes, "the notebook did not run to the end: graded on the judge alone"]


def kernel_results(executed: dict, tests: dict[str, float]) -> dict[str, bool | None]:
    """Per test cell: False if it raised in the notebook's run, True if it ran, None if not."""
    out: dict[str, bool | None] = {}
    for cell in executed["cells"]:
        name = nbcells.grade_id(cell)
        if name not in tests or cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        if any(isinstance(o, dict) and o.get("output_type") == "error" for o in outputs):
            out[name] = False
        else:
            out[name] = True if cell.get("execution_count") is not None else None
    return out


def record(course: Path, graded: Graded) -> Result:
    """Merge one graded submission into the course (this process only: one writer)."""
    result = Result(
        graded.student,
        graded.assignment,
        scores=dict(graded.auto_scores),
        max_scores=dict(graded.max_scores),
        notes=list(graded.notes),
        seconds=graded.seconds,
    )
    target = autograded_notebook(course, graded.student, graded.assignment)
    name = target.name
    staged = None
    if graded.notebook is not None:
        # nbgrader knows a notebook by its file name: staged under it, moved in if merged.
        staged = course / ".staging" / graded.student / graded.assignment / name
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_text(json.dumps(graded.notebook, indent=1), encoding="utf-8")
    try:
        merged = gradebook.merge_submission(
            course,
            graded.assignment,
            graded.student,
            timestamp=graded.timestamp,
            auto_scores=graded.auto_scores,
            comments=graded.comments,
            notes=graded.notes,
            notebook=staged,
        )
    except BaseException:
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    result.notes = list(merged.notes) or result.notes
    if not merged.replaced:
        if staged is not None:
            staged.unlink()
        result.notes.append("a newer submission is already graded: kept it")
        return result
    if staged is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.replace(target)
        (target.parent / GRADED_MARK).write_text(graded.fingerprint)
    else:
        target.unlink(missing_ok=True)
        add_failure_feedback(course, result)
    return result


def write_feedback(course: Path, results: dict[tuple[str, str], Result]) -> None:
    """nbgrader's feedback pages (trusted: no code executes) of the submissions whose
    autograded notebook is newer than their feedback: those graded in this run, and those
    an interrupted run merged before it stopped. The other students' pages stay as they are.
    A page that cannot be written is a note on its row."""
    for assignment, name in ASSIGNMENTS.items():
        graded = sorted(
            p.parent.parent.name
            for p in (course / "autograded").glob(f"*/{assignment}/{name}.ipynb")
        )
        stale = [s for s in graded if _feedback_is_stale(course, s, assignment)]
        failed = ""
        if stale:
            others = ",".join(sorted(set(graded) - set(stale)))
            try:
                done = nbgrader(
                    "generate_feedback", assignment, "--force",
                    f"--CourseDirectory.student_id_exclude={others}", root=course,
                )  # fmt: skip
                failed = "feedback could not be generated" if done.returncode else ""
            except (OSError, subprocess.SubprocessError) as error:
                failed = failure("writing the feedback", error)
        for (student, part), result in results.items():
            if part != assignment:
                continue
            try:
                pages = sorted((course / "feedback" / student / assignment).rglob("*.html"))
            except OSError as error:
                result.notes.append(failure("finding the feedback", error))
                continue
            result.feedback = result.feedback or (pages[0] if pages else None)
            if failed and student in stale and not pages:
                result.notes.append(failed)


def _feedback_is_stale(course: Path, student: str, assignment: str) -> bool:
    notebook = autograded_notebook(course, student, assignment)
    page = course / "feedback" / student / assignment / notebook.with_suffix(".html").name
    return not page.is_file() or page.stat().st_mtime < notebook.stat().st_mtime


def summarize_log(log: str) -> list[str]:
    """The events of an nbgrader log that a grade table should mention."""
    notes = []
    if "CellTimeoutError" in log or "Timeout waiting for execute reply" in log:
        notes.append("a cell timed out")
    if "DeadKernelError" in log or "Kernel died" in log:
        notes.append("the kernel died")
    if re.search(r"(NotJSONError|Notebook does not appear to be JSON|Unreadable Notebook)", log):
        notes.append("the file is not a readable notebook")
    return notes


def add_failure_feedback(course: Path, result: Result) -> None:
    """:func:`write_failure_feedback` for ``result``'s row; a failure is a note on it."""
    try:
        result.feedback = write_failure_feedback(course, result)
    except Exception as error:
        result.notes.append(failure("writing the feedback page", error))


def write_failure_feedback(course: Path, result: Result) -> Path:
    """nbgrader wrote no feedback (the notebook never ran): say why in a page of our own."""
    name = ASSIGNMENTS.get(result.assignment)
    folder = course / "feedback" / result.student / (result.assignment or "not-graded")
    folder.mkdir(parents=True, exist_ok=True)
    items = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    what = f"Your {result.assignment} submission could not be graded, so every TODO scores 0"
    if not name:
        what = "Part of what you submitted could not be graded"
    page = folder / f"{name or 'not-graded'}.html"
    page.write_text(
        f"<html><body><h1>{html.escape(result.assignment)}: {html.escape(result.student)}</h1>"
        f"<p>{what}:</p><ul>{items}</ul><p>Submit each notebook file itself "
        f"({', '.join(f'{n}.ipynb' for n in ASSIGNMENTS.values())}), saved from Jupyter, "
        "one per assignment.</p></body></html>"
    )
    return page


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def format_table(results: list[Result]) -> str:
    """A plain-text table of the autograded points per assignment, one row per student."""
    blocks = []
    for assignment in ASSIGNMENTS:
        mine = sorted((r for r in results if r.assignment == assignment), key=lambda r: r.student)
        if mine:
            blocks.append(f"{assignment} ({ASSIGNMENTS[assignment]})\n" + _table(mine))
    others = sorted(
        (r for r in results if r.assignment not in ASSIGNMENTS), key=lambda r: r.student
    )
    if others:
        blocks.append(
            "not graded\n"
            + "\n".join(f"{Path(r.student, r.assignment)}  {'; '.join(r.notes)}" for r in others)
        )
    return "\n\n".join(blocks)


def _table(results: list[Result]) -> str:
    tests = sorted({k for r in results for k in r.max_scores if k.startswith(TEST_PREFIX)})
    most = sum(max(r.max_scores.get(t, 0.0) for r in results) for t in tests)
    header = ["student", *(t.removeprefix(TEST_PREFIX) for t in tests), "total", "s", "notes"]
    rows = [
        [
            r.student,
            *(_fmt(r.scores.get(t, 0.0)) for t in tests),
            f"{_fmt(r.total)}/{_fmt(r.max_total or most)}",
            f"{r.seconds:.0f}",
            "; ".join(r.notes),
        ]
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    widths[-1] = 0
    return "\n".join(
        "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.autograde.batch", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("release", help="generate and validate the student version")
    grade = commands.add_parser(
        "autograde", help="grade every submission, write grades.csv and feedback"
    )
    grade.add_argument("--submitted", type=Path, default=SUBMITTED)
    grade.add_argument("--student", help="grade this student only (their folder in --submitted)")
    grade.add_argument(
        "--assignment", choices=sorted(ASSIGNMENTS), help="grade this assignment only"
    )
    grade.add_argument("--workers", type=int, default=2, help="submissions graded at once")
    grade.add_argument(
        "--scheduler",
        help="a Dask scheduler address or scheduler file: grade on its workers (grading.autograde.engine)",
    )
    grade.add_argument(
        "--timeout",
        type=int,
        default=LIMITS.cell_seconds,
        help=f"seconds per notebook cell (default {LIMITS.cell_seconds})",
    )
    grade.add_argument(
        "--resume",
        action="store_true",
        help="skip submissions unchanged since they were graded (go on after an interruption)",
    )
    grade.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without bubblewrap: ONLY for trusted notebooks (your own)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            for path in release().values():
                print(f"release: {path} (validated: its TODO tests fail)")
        else:
            results = autograde(
                args.submitted,
                workers=args.workers,
                student=args.student,
                use_sandbox=not args.no_sandbox,
                limits=dataclasses.replace(LIMITS, cell_seconds=args.timeout),
                scheduler=args.scheduler,
                progress=True,
                resume=args.resume,
                assignment=args.assignment,
            )
            print(format_table(results))
            print(
                f"\ngradebook: {COURSE / 'gradebook.db'}\ngrades: {COURSE / 'grades.csv'}"
                f"\nfeedback: {COURSE / 'feedback'}/<student>/<assignment>/\n"
            )
            from grading.records import class_report

            print(class_report.write_report(COURSE))
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        same = [
            *([f"SUBMITTED={args.submitted}"] if args.submitted != SUBMITTED else []),
            *([f"STUDENT={args.student}"] if args.student else []),
            *([f"ASSIGNMENT={args.assignment}"] if args.assignment else []),
        ]
        print(f"\n{exc.message(' '.join(['make autograde', *same, 'RESUME=1']))}", file=sys.stderr)
        return 130  # what a shell reports for a command ended by Ctrl-C
    return 0


if __name__ == "__main__":
    sys.exit(main())
