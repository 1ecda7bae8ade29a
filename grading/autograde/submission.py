"""Grade one submission: :func:`grade_one`, run on a worker (a thread, or a Dask worker).

Its TODOs are judged (:mod:`grading.autograde.judge`) and its notebook is run by nbgrader
with the kernel in a sandbox (:mod:`grading.autograde.kernel`), each in a sandbox of its
own; every score is decided here, from what came back as data.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

from grading import notebook_format as nbcells
from grading.autograde.jobs import (
    Graded,
    Job,
    failure,
    fingerprint,
    not_graded,
    one_line,
    refused_entries,
    time_notes,
)
from grading.autograde.restore import restore
from grading.autograde.sanitize import sanitize
from grading.course import ASSIGNMENTS, COURSE_ID, TEST_PREFIX, TODO_PREFIX, released_notebook
from grading.distribute.release import master_gradebook
from grading.notebook_format import find_notebook, test_cells, todo_of
from grading.records.verdicts import verdict_text


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
        root=str(work), course_id=COURSE_ID, assignment_id=job.assignment, student_id=job.student
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
