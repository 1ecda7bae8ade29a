"""Re-grade one TODO for the whole class, after a fix to its judge, its cases or its points:

    python -m grading.autograde.regrade 1-1-2        # make regrade TODO=1-1-2 [SUBMITTED=dir] [WORKERS=n]

Every submission of the TODO's assignment in the course gradebook is judged again, that
TODO alone (:func:`grading.autograde.judge.judge`, in its sandbox, on the current cases and
reference), and scored as :func:`grading.autograde.batch.grade_one` scores it: its points (the
release's, after a ``make release`` for new points) where the judge agrees and the test
cell did not fail in the notebook's stored run. Only that cell's score, its comment and
the late penalty change (:func:`grading.records.gradebook.record_auto_grade`); the notebooks are
not run again, so a TODO re-grades in seconds per student, not a notebook run's minute.
Then ``grades.csv``, the feedback of the submissions whose score changed, and the class
report are written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grading import notebook_format as nbcells
from grading.autograde import engine, sandbox
from grading.autograde.checks import TODOS
from grading.autograde.feedback import write_feedback
from grading.autograde.jobs import autograded_notebook
from grading.autograde.restore import restore
from grading.autograde.submission import kernel_results
from grading.course import COURSE, LIMITS, SUBMITTED, Limits, released_notebook
from grading.notebook_format import find_notebook, test_cell_of, test_cells
from grading.records import gradebook
from grading.records.cell_grades import read_cell_grades
from grading.records.grades import write_grades
from grading.records.verdicts import JUDGED, judge_comment


@dataclass(frozen=True)
class TodoJob:
    student: str
    assignment: str
    todo: str
    folder: Path
    course: Path
    use_sandbox: bool = True
    limits: Limits = LIMITS


@dataclass
class Rescored:
    student: str
    points: float
    comment: str | None
    """The comment on the TODO: why it scored 0, or None."""


def rescore(job: TodoJob) -> Rescored:
    """Judge ``job.todo`` of one submission again and score it (on a worker)."""
    from grading.autograde import judge  # torch: only on a worker that judges

    release_path = released_notebook(job.assignment, job.course)
    cell = test_cell_of(job.todo)
    points = test_cells(nbcells.read_notebook(release_path))[cell]
    notebook, why = find_notebook(job.folder, job.assignment)
    if notebook is None:
        return Rescored(job.student, 0.0, "; ".join(why))
    with tempfile.TemporaryDirectory(prefix=f"regrade-{job.student}-") as tmp:
        restored = Path(tmp) / notebook.name
        restore(notebook, release_path, restored)
        verdict = judge.judge(
            restored, release_path, job.assignment,
            use_sandbox=job.use_sandbox, limits=job.limits, only=job.todo,
        )[job.todo]  # fmt: skip
    if not verdict.ok:
        return Rescored(job.student, 0.0, judge_comment(verdict.reason))
    stored = autograded_notebook(job.course, job.student, job.assignment)
    failed_here = (
        stored.is_file()
        and kernel_results(nbcells.read_notebook(stored), {cell: points}).get(cell) is False
    )
    return Rescored(job.student, 0.0 if failed_here else points, None)


def regrade(
    todo: str,
    submitted: Path = SUBMITTED,
    course: Path = COURSE,
    workers: int = 2,
    *,
    use_sandbox: bool = True,
    limits: Limits = LIMITS,
) -> list[str]:
    """Re-grade ``todo`` for every submission of its assignment; lines to print."""
    if todo not in TODOS:
        raise LookupError(f"no autograded TODO {todo!r} (the TODOs: {', '.join(TODOS)})")
    assignment = TODOS[todo].assignment
    cell = test_cell_of(todo)
    if use_sandbox:
        sandbox.check()
    students = [g.student for g in read_cell_grades(course, assignment)]
    jobs = [
        TodoJob(s, assignment, todo, submitted / s / assignment, course, use_sandbox, limits)
        for s in students
        if (submitted / s / assignment).is_dir()
    ]
    missing = sorted(set(students) - {j.student for j in jobs})
    start = time.perf_counter()
    changes = []

    def record(outcome: engine.Outcome) -> None:
        job = outcome.job
        if not outcome.ok:
            changes.append(f"  {job.student}: not re-graded ({outcome.error}): its score stays")
            return
        new = outcome.result
        before = gradebook.record_auto_grade(
            course, assignment, job.student, cell, new.points, new.comment
        )
        if before != new.points:
            stored = autograded_notebook(course, job.student, assignment)
            if stored.is_file():  # its feedback page is older now: write_feedback rewrites it
                os.utime(stored)
            reason = (
                f"  ({new.comment.removeprefix(f'Scored 0: {JUDGED} ')})" if new.comment else ""
            )
            changes.append(f"  {job.student}: {before:g} -> {new.points:g}{reason}")

    try:
        engine.run_jobs(rescore, jobs, workers=workers, on_result=record)
    except KeyboardInterrupt:
        sandbox.stop_all()  # as an interrupted autograde: the sandboxes missed the Ctrl-C
        write_grades(course)
        raise
    seconds = time.perf_counter() - start
    write_feedback(course, {})
    lines = [
        f"re-graded TODO {todo} ({assignment}) of {len(jobs)} submissions in {seconds:.0f} s: "
        f"{len(changes)} changed",
        *sorted(changes),
        *(f"  {s}: no folder {submitted / s / assignment}: its score stays" for s in missing),
        f"grades: {write_grades(course)}",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.autograde.regrade", description=__doc__.splitlines()[0]
    )
    parser.add_argument("todo", help="the TODO, as in the notebook: 1-1-2")
    parser.add_argument("--submitted", type=Path, default=SUBMITTED)
    parser.add_argument("--course", type=Path, default=COURSE)
    parser.add_argument("--workers", type=int, default=2, help="submissions judged at once")
    parser.add_argument("--no-sandbox", action="store_true", help="trusted notebooks only")
    args = parser.parse_args(argv)
    try:
        lines = regrade(
            args.todo, args.submitted, args.course, args.workers, use_sandbox=not args.no_sandbox
        )
    except (LookupError, sandbox.SandboxUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the submissions re-graded so far are kept in the gradebook and "
            f"grades.csv; make regrade TODO={args.todo} re-grades them all again",
            file=sys.stderr,
        )
        return 130
    print("\n".join(lines))
    from grading.records import class_report

    print(f"\n{class_report.write_report(args.course)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
