"""Autograde a class: ``make autograde``.

    python -m grading.autograde.batch    # grading/submitted/<student>/ -> gradebook, grades.csv, feedback

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
each folder is found by its content (:func:`grading.notebook_format.find_notebook`), whatever its name.

Autograde, per submission (:func:`grading.autograde.submission.grade_one`, on a worker: a thread here, or a Dask
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
(:mod:`grading.records.submission_times`), never a file of the student's folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from grading.autograde import sandbox
from grading.autograde.feedback import add_failure_feedback, write_feedback
from grading.autograde.jobs import (
    GRADED_MARK,
    Graded,
    Job,
    Result,
    autograded_notebook,
    failure,
    find_jobs,
    fingerprint,
    not_graded,
    one_line,
)
from grading.autograde.submission import grade_one
from grading.course import (
    ASSIGNMENTS,
    COURSE,
    LIMITS,
    SUBMITTED,
    TEST_PREFIX,
    Limits,
    PipelineError,
)
from grading.distribute.release import write_master_gradebook
from grading.records import gradebook, submission_times
from grading.records.grades import write_grades


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
        write_grades(course)
        raise Interrupted(len(results) - kept, len(jobs) + kept - len(results)) from None
    write_feedback(course, results)
    write_grades(course)
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
    parser.add_argument("--submitted", type=Path, default=SUBMITTED)
    parser.add_argument("--student", help="grade this student only (their folder in --submitted)")
    parser.add_argument(
        "--assignment", choices=sorted(ASSIGNMENTS), help="grade this assignment only"
    )
    parser.add_argument("--workers", type=int, default=2, help="submissions graded at once")
    parser.add_argument(
        "--scheduler",
        help="a Dask scheduler address or scheduler file: grade on its workers (grading.autograde.engine)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=LIMITS.cell_seconds,
        help=f"seconds per notebook cell (default {LIMITS.cell_seconds})",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="skip submissions unchanged since they were graded (go on after an interruption)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without bubblewrap: ONLY for trusted notebooks (your own)",
    )
    args = parser.parse_args(argv)
    try:
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
