"""Release and autograde the assignments with nbgrader: ``make release``, ``make autograde``.

    python -m grading.pipeline release      # notebooks/ -> course/source -> course/release, validated
    python -m grading.pipeline autograde    # grading/submitted/<student>/ -> gradebook, grades.csv, feedback

Two assignments, one notebook each (:data:`ASSIGNMENTS`): ``part1`` (anime faces) and
``part2`` (illusions). Course directory ``grading/course`` (generated, git-ignored)::

    source/part1/part1_anime_faces.ipynb      copy of notebooks/part1_anime_faces.ipynb
    source/part2/part2_illusions.ipynb        copy of notebooks/part2_illusions.ipynb
    release/<assignment>/<notebook>.ipynb     the student versions (nbgrader generate_assignment)
    gradebook.db                              the master cells (release) and every grade (autograde)
    autograded/<student>/<assignment>/        executed submissions
    feedback/<student>/<assignment>/*.html    per-student feedback
    grades.csv                                one row per student (grading.gradebook)

Submissions are read from ``grading/submitted/<student>/<assignment>/`` (the shipped
examples, or what ``make collect`` put there) or any folder laid out the same way
(``--submitted``); a student may have submitted one assignment or both. The notebook of
each folder is found by its content (:mod:`grading.collect`), whatever its name.

nbgrader grades one student per ``autograde`` call and its sqlite gradebook takes one
writer at a time, so each submission is graded by its own worker in a private copy of
the course directory (``course/.work/<student>-<assignment>``: the gradebook, the
source and that one submission); the results are copied back and the submission is
merged into the course gradebook (:mod:`grading.gradebook`), as if stock nbgrader had
graded it there, and ``grades.csv`` is written from it. A submission that hangs, raises,
kills its kernel or is not a notebook affects only its own row.

Before the feedback is written, every code cell a student could edit is scanned for
uses of the reference solution (``grading``, ``REFERENCE_STEPS``, ``importlib``,
``__import__``): the hidden tests import ``grading.reference``, so a solution that
imports it would pass them. A hit in a TODO's solution cell scores that TODO's test
cell zero; a hit in a cell the student added scores every autograded cell zero. The
reason is written into the feedback as a comment on the cell. This static scan is an
early warning; the verdict is the isolated judge's (:mod:`grading.judge`): a TODO keeps
its points only if its code, re-run alone outside the kernel, agrees with the reference.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grading import gradebook
from grading.course import (
    ASSIGNMENTS,
    COURSE,
    GRADING,
    REPO,
    STUDENT_ID,
    SUBMITTED,
    TEST_PREFIX,
    TODO_PREFIX,
    released_notebook,
    source_notebook,
)

REFERENCE_USE = re.compile(r"\bgrading\b|REFERENCE_STEPS|\bimportlib\b|__import__")


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
    import ``grading.reference``), whatever is installed in the environment. One thread
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


def autograde(
    submitted: Path = SUBMITTED,
    course: Path = COURSE,
    workers: int = 2,
    timeout: int | None = None,
) -> list[Result]:
    """Grade every ``submitted/<student>/<assignment>`` into the course gradebook.

    Writes ``course/grades.csv`` (every student in the gradebook, not only these) and
    the feedback. Folders that cannot be graded come back as results with a note.
    """
    if not (course / "gradebook.db").is_file():
        raise PipelineError(f"no gradebook in {course}: run the release first (make release)")
    if not submitted.is_dir():
        raise PipelineError(f"{submitted} is not a folder of <student>/<assignment>/ submissions")
    jobs, problems = find_jobs(submitted)
    if not jobs and not problems:
        raise PipelineError(
            f"no submissions under {submitted}/<student>/<assignment>/ "
            f"(assignments: {', '.join(ASSIGNMENTS)})"
        )
    for problem in problems:
        problem.feedback = write_failure_feedback(course, problem)
    # nbgrader grades the submissions in the workers while the judge re-runs all of them
    # in one isolated interpreter beside them; then each verdict is applied.
    with ThreadPoolExecutor(max_workers=1) as side, ThreadPoolExecutor(workers) as pool:
        judging = side.submit(judge_all, jobs, submitted, course)
        ran = list(
            pool.map(lambda job: safely(run_nbgrader, *job, submitted, course, timeout), jobs)
        )
        try:
            verdicts = judging.result()
        except Exception:  # each submission is then judged on its own (finish)
            verdicts = {}
        results = list(pool.map(lambda run: safely(finish, run, verdicts.get(run.job)), ran))
    gradebook.write_grades(course)
    return results + problems


def find_jobs(submitted: Path) -> tuple[list[tuple[str, str]], list[Result]]:
    """The ``(student, assignment)`` folders to grade, and results for those that cannot be."""
    jobs, problems = [], []
    for student in sorted(p for p in submitted.iterdir() if p.is_dir()):
        if not STUDENT_ID.match(student.name):
            problems.append(
                Result(
                    student.name,
                    "",
                    notes=[
                        f"student id {student.name!r} is not an nbgrader id (ASCII letters, digits, _ . -): "
                        "not graded; rename the folder (make collect does)"
                    ],
                )
            )
            continue
        folders = sorted(p.name for p in student.iterdir() if p.is_dir())
        jobs += [(student.name, a) for a in ASSIGNMENTS if a in folders]
        problems += [
            Result(
                student.name,
                name,
                notes=[
                    f"{name} is not an assignment of this course ({', '.join(ASSIGNMENTS)}): not graded"
                ],
            )
            for name in folders
            if name not in ASSIGNMENTS and name != ".ipynb_checkpoints"
        ]
        if not folders:
            problems.append(
                Result(student.name, "", notes=["the folder is empty: nothing submitted"])
            )
    return jobs, problems


def judge_all(jobs: list[tuple[str, str]], submitted: Path, course: Path) -> dict:
    """The judge's verdicts on every submission, ``{(student, assignment): {todo: Verdict}}``."""
    from grading import judge  # imports torch: only when there is something to judge
    from grading.collect import find_notebook

    notebooks = {}
    for student, assignment in jobs:
        notebook, _ = find_notebook(submitted / student / assignment, assignment)
        if notebook is not None:
            notebooks[student, assignment] = (
                notebook,
                released_notebook(assignment, course),
                assignment,
            )
    return judge.judge_notebooks(notebooks, hide=(course, submitted))


@dataclass
class Run:
    """One submission between nbgrader's autograde and the judge's verdicts."""

    result: Result
    work: Path
    notebook: Path | None
    args: tuple[str, ...]
    limit: int
    flagged: dict[str, list[str]]
    graded: bool
    course: Path
    submitted: Path

    @property
    def job(self) -> tuple[str, str]:
        return self.result.job


def safely(step: Callable[..., Result | Run], *args: Any) -> Result | Run:
    """A grading step; a failure of the pipeline itself costs only this submission's row."""
    try:
        return step(*args)
    except Exception as exc:  # one submission must never stop the others
        first = args[0]
        if isinstance(first, Run):
            shutil.rmtree(first.work, ignore_errors=True)
            student, assignment = first.job
        else:
            student, assignment = args[:2]
        return Result(student, assignment, notes=[f"grading failed: {type(exc).__name__}: {exc}"])


def run_nbgrader(
    student: str, assignment: str, submitted: Path, course: Path, timeout: int | None
) -> Run:
    """``nbgrader autograde`` of one submission in a private copy of the course directory."""
    start = time.perf_counter()
    result = Result(student, assignment)
    work = course / ".work" / f"{student}-{assignment}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "submitted").mkdir(parents=True)
    shutil.copy2(course / "gradebook.db", work / "gradebook.db")
    shutil.copytree(course / "source", work / "source")
    shutil.copytree(submitted / student / assignment, work / "submitted" / student / assignment)
    notebook = place_notebook(work / "submitted" / student / assignment, result)

    extra = [f"--Execute.timeout={timeout}"] if timeout else []
    # Backstop for a kernel that ignores interrupts: every cell at its limit, then some.
    limit = 60 * 60 if timeout is None else 40 * timeout
    flagged = scan_for_reference(notebook)
    result.notes += locked_cell_changes(notebook, released_notebook(assignment, course))
    args = (
        "autograde",
        assignment,
        f"--student={student}",
        "--force",
        "--CourseDirectory.submitted_directory=submitted",
        *extra,
    )
    try:
        done = nbgrader(*args, root=work, timeout=limit) if notebook else None
        log = done.stdout + done.stderr if done else ""
    except subprocess.TimeoutExpired:
        log = f"grading stopped after {limit} s"
    result.notes += summarize_log(log)
    graded = read_grades(work, result)
    result.seconds = time.perf_counter() - start
    return Run(result, work, notebook, args, limit, flagged, graded, course, submitted)


def finish(run: Run | Result, verdicts: dict | None) -> Result:
    """Apply the judge's verdicts to one autograded submission, write its feedback, merge it
    into the course gradebook and copy its autograded notebook and feedback back."""
    if isinstance(run, Result):  # nbgrader's step already failed: its row says why
        return run
    from grading import judge

    start = time.perf_counter()
    result, work, course, notebook = run.result, run.work, run.course, run.notebook
    student, assignment = run.job
    graded = run.graded
    if verdicts is None and notebook is not None:
        release = released_notebook(assignment, course)
        verdicts = judge.judge_notebook(notebook, release, assignment, (course, run.submitted))
    if not graded and "the kernel died" in result.notes and verdicts:
        again = judge.neutralise_killers(notebook, verdicts)
        if again:
            result.notes += again
            nbgrader(*run.args, root=work, timeout=run.limit)
            graded = read_grades(work, result)
    if graded:
        judge.apply_judge(work, result, notebook, verdicts or {})
        apply_reference_penalty(work, run.flagged, result)
        gradebook.annotate(work, assignment, student, result.notes)
        done = nbgrader(
            "generate_feedback", assignment, f"--student={student}", "--force", root=work
        )
        if done.returncode:
            result.notes.append("feedback could not be generated")
    else:
        result.notes.append("not graded: every TODO scores 0")
        write_failure_feedback(work, result)
    gradebook.merge_submission(work, course, assignment, student, result.notes)

    for kind in ("autograded", "feedback"):
        target = course / kind / student / assignment
        shutil.rmtree(target, ignore_errors=True)
        if (work / kind / student / assignment).is_dir():
            shutil.copytree(work / kind / student / assignment, target)
    html_files = sorted((course / "feedback" / student / assignment).rglob("*.html"))
    result.feedback = html_files[0] if html_files else None
    shutil.rmtree(work, ignore_errors=True)
    result.seconds += time.perf_counter() - start
    return result


def place_notebook(folder: Path, result: Result) -> Path | None:
    """Give the submission's notebook, found by content, the name nbgrader looks for."""
    from grading.collect import find_notebook

    notebook, problems = find_notebook(folder, result.assignment)
    result.notes += problems
    if notebook is None:
        return None
    expected = folder / f"{ASSIGNMENTS[result.assignment]}.ipynb"
    if notebook != expected:
        expected.unlink(missing_ok=True)
        notebook.rename(expected)
    return expected


def scan_for_reference(notebook: Path | None) -> dict[str, list[str]]:
    """Cells a student could edit that use the reference: ``{grade_id or "added cell": [lines]}``."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    hits: dict[str, list[str]] = {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        # Locked and test cells are replaced by the master copy before they run.
        if cell.get("cell_type") != "code" or meta.get("locked") or meta.get("grade"):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        lines = [line.strip() for line in source.splitlines() if REFERENCE_USE.search(line)]
        if lines:
            key = meta.get("grade_id") if meta.get("solution") else "added cell"
            hits.setdefault(key or "added cell", []).extend(lines)
    return hits


def locked_cell_changes(notebook: Path | None, release: Path) -> list[str]:
    """Name the locked cells a submission edited or deleted (autograde restores them).

    Compared with the release, not the gradebook: the gradebook's test cells hold the
    hidden tests, so nbgrader reports every one of them as changed.
    """
    try:
        cells = json.loads(notebook.read_text())["cells"]
        released = json.loads(release.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []

    def locked(cells: list) -> dict[str, str]:
        out = {}
        for cell in cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("locked") and meta.get("grade_id"):
                source = cell.get("source", "")
                out[meta["grade_id"]] = "".join(source) if isinstance(source, list) else source
        return out

    mine, master = locked(cells), locked(released)
    deleted = sorted(set(master) - set(mine))
    edited = sorted(k for k in master.keys() & mine.keys() if mine[k].strip() != master[k].strip())
    notes = []
    if edited:
        notes.append(f"edited locked cell(s) restored: {', '.join(edited)}")
    if deleted:
        notes.append(f"deleted locked cell(s) restored: {', '.join(deleted)}")
    return notes


def summarize_log(log: str) -> list[str]:
    """The events of an nbgrader log that a grade table should mention."""
    notes = []
    if "CellTimeoutError" in log or "Timeout waiting for execute reply" in log:
        notes.append("a cell timed out")
    if "DeadKernelError" in log or "Kernel died" in log:
        notes.append("the kernel died")
    if re.search(r"(NotJSONError|Notebook does not appear to be JSON|Unreadable Notebook)", log):
        notes.append("the file is not a readable notebook")
    if "grading stopped after" in log:
        notes.append(log.strip())
    return notes


def read_grades(work: Path, result: Result) -> bool:
    """Fill ``result`` from the worker's gradebook; False if nothing was graded."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        try:
            submission = gb.find_submission_notebook(
                ASSIGNMENTS[result.assignment], result.assignment, result.student
            )
        except MissingEntry:
            return False
        for grade in submission.grades:
            result.max_scores[grade.name] = grade.max_score
            # The report cell waits for the instructor: blank in grades.csv, not a 0.
            if not grade.needs_manual_grade:
                result.scores[grade.name] = grade.score
        # An autograde that crashed before executing leaves every test ungraded.
        return any(grade.auto_score is not None for grade in submission.grades)


def apply_reference_penalty(work: Path, flagged: dict[str, list[str]], result: Result) -> None:
    """Score zero the tests of each TODO whose solution uses the reference, with a comment."""
    if not flagged:
        return
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook(
            ASSIGNMENTS[result.assignment], result.assignment, result.student
        )
        tests = [g for g in submission.grades if g.name.startswith(TEST_PREFIX)]
        comments = {c.name: c for c in submission.comments}
        for cell_id, lines in flagged.items():
            todo = cell_id.removeprefix(TODO_PREFIX)
            zeroed = [g for g in tests if cell_id == "added cell" or g.name == TEST_PREFIX + todo]
            for grade in zeroed:
                grade.manual_score = 0.0
                result.scores[grade.name] = 0.0
            why = (
                "Scored 0: this code uses the instructor's reference solution "
                f"({'; '.join(lines)}). Solutions must be your own code."
            )
            # An added cell has no comment box of its own: use the first solution cell's.
            target = comments.get(cell_id) or next(iter(comments.values()), None)
            if target is not None:
                target.manual_comment = why
            result.notes.append(
                f"{cell_id} uses the reference solution: "
                + ", ".join(g.name for g in zeroed)
                + " scored 0"
            )
        gb.db.commit()


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
        prog="python -m grading.pipeline", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("release", help="generate and validate the student version")
    grade = commands.add_parser(
        "autograde", help="grade every submission, write grades.csv and feedback"
    )
    grade.add_argument("--submitted", type=Path, default=SUBMITTED)
    grade.add_argument("--workers", type=int, default=2)
    grade.add_argument(
        "--timeout", type=int, default=None, help="seconds per cell (default: nbgrader_config.py)"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            for path in release().values():
                print(f"release: {path} (validated: its TODO tests fail)")
        else:
            results = autograde(args.submitted, workers=args.workers, timeout=args.timeout)
            print(format_table(results))
            print(
                f"\ngradebook: {COURSE / 'gradebook.db'}\ngrades: {COURSE / 'grades.csv'}"
                f"\nfeedback: {COURSE / 'feedback'}/<student>/<assignment>/"
            )
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
