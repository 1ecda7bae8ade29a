"""The judge: each autograded TODO re-run in the submission's sandbox, decided outside it.

nbgrader's hidden tests run inside the student's kernel, next to the student's code, so
a submission can change what they see. The judge decides instead, per submission:

* :func:`programs` reads, for every TODO, the release's locked setup cells before it, the
  code cells the student added before it and the TODO's solution cell (by its nbgrader id;
  cells whose nbgrader metadata the release does not have are the student's);
* a solution that uses a name the TODO forbids (:func:`grading.todos.delegations`) scores
  0 without running;
* the rest run in one sandbox (:mod:`grading.sandbox`, :mod:`grading.judge_child`): one
  interpreter, a fork per TODO, the kit's answers to that TODO withheld; only the TODOs'
  outputs on the fixed cases come back, as data;
* this process computes the reference's outputs (imported here, never in a sandbox) and
  compares (:data:`grading.todos.TODOS`). The verdicts are data for the pipeline, which
  writes every score.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grading import cells as nbcells
from grading import sandbox
from grading.course import GRADING, LIMITS, Limits
from grading.todos import TODOS, delegations


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def setup_cells(release: Path, todo: str) -> list[tuple[str, str]]:
    """The release's locked code cells before ``todo``'s solution cell, test cells excepted."""
    master = nbcells.read_cells(release)
    ids = [nbcells.grade_id(c) for c in master]
    return [
        ("setup", c["source"])
        for c in master[: ids.index(TODOS[todo].cell(todo))]
        if c.get("cell_type") == "code"
        and nbcells.nbgrader(c).get("locked")
        and not nbcells.nbgrader(c).get("grade")
    ]


def programs(notebook: Path, release: Path, assignment: str) -> dict[str, list | str]:
    """Per TODO of ``assignment``: the cells its run executes, or why it cannot run.

    The release's setup cells before the TODO, the code cells the student added before it
    (tolerated if they fail) and the student's solution cell of that TODO alone. A cell is
    the student's unless its nbgrader id is one of the release's.
    """
    released = {nbcells.grade_id(c) for c in nbcells.read_cells(release)} - {None}
    mine = nbcells.read_cells(notebook)
    out: dict[str, list | str] = {}
    for todo, spec in TODOS.items():
        if spec.assignment != assignment:
            continue
        cell_id = spec.cell(todo)
        position = next((k for k, c in enumerate(mine) if nbcells.grade_id(c) == cell_id), None)
        if position is None or mine[position].get("cell_type") != "code":
            out[todo] = f"the solution cell {cell_id} is missing"
            continue
        added = [
            ("added", c["source"])
            for c in mine[:position]
            if c.get("cell_type") == "code" and nbcells.grade_id(c) not in released
        ]
        solution = mine[position]["source"]
        used = sorted({n for _, s in (*added, ("", solution)) for n in delegations(todo, s)})
        if used:
            out[todo] = (
                f"uses {', '.join(used)}, which TODO {todo} may not use (its text lists "
                "what it may call): write the code yourself"
            )
            continue
        out[todo] = [*setup_cells(release, todo), *added, ("solution", solution)]
    return out


def judge(
    notebook: Path,
    release: Path,
    assignment: str,
    *,
    use_sandbox: bool = True,
    limits: Limits = LIMITS,
    only: str | None = None,
) -> dict[str, Verdict]:
    """The verdict on every autograded TODO of ``assignment`` (or on TODO ``only``) in one
    submitted notebook."""
    try:
        jobs = programs(notebook, release, assignment)
    except nbcells.NotANotebook as error:
        return {
            todo: Verdict(False, str(error))
            for todo, spec in TODOS.items()
            if spec.assignment == assignment and only in (None, todo)
        }
    jobs = {todo: job for todo, job in jobs.items() if only in (None, todo)}
    verdicts = {todo: Verdict(False, job) for todo, job in jobs.items() if isinstance(job, str)}
    keys = {
        todo: hashlib.sha256(
            json.dumps([todo, job, use_sandbox, limits.todo_seconds]).encode()
        ).hexdigest()
        for todo, job in jobs.items()
        if not isinstance(job, str)
    }
    with _VERDICTS_LOCK:
        verdicts.update({todo: _VERDICTS[key] for todo, key in keys.items() if key in _VERDICTS})
    runnable = {todo: (todo, jobs[todo]) for todo in keys if todo not in verdicts}
    if runnable:
        ran = run_in_sandbox(runnable, use_sandbox=use_sandbox, limits=limits)
        verdicts.update(ran)
        with _VERDICTS_LOCK:
            _VERDICTS.update({keys[todo]: verdict for todo, verdict in ran.items()})
    return {todo: verdicts[todo] for todo in jobs}


_VERDICTS: dict[str, Verdict] = {}
_VERDICTS_LOCK = threading.Lock()
"""Verdicts by the exact cells a TODO ran: the same code (a resubmission, or a TODO a
submission left as another's) is judged once per process."""


CHILD_FILES = ("__init__.py", "todos.py", "judge_child.py")
"""What of ``grading/`` the judge's sandbox gets: the TODO table and its own side."""


def run_in_sandbox(
    jobs: dict[Any, tuple[str, list]], *, use_sandbox: bool = True, limits: Limits = LIMITS
) -> dict[Any, Verdict]:
    """Run each job ``{key: (todo, cells)}`` of one submission in one sandbox, decide here."""
    names = {key: f"job{k}" for k, key in enumerate(jobs)}
    cases = {todo: TODOS[todo].cases() for todo, _ in jobs.values()}
    with tempfile.TemporaryDirectory(prefix="judge-") as tmp:
        work = Path(tmp)
        package = work / "judge" / "grading"
        package.mkdir(parents=True)
        for name in CHILD_FILES:
            shutil.copy2(GRADING / name, package / name)
        for key, (todo, cells) in jobs.items():
            folder = work / names[key]
            (folder / "cwd").mkdir(parents=True)
            torch.save(cases[todo], folder / "cases.pt")
            (folder / "job.json").write_text(json.dumps({"todo": todo, "cells": cells}))
        plan = {
            "jobs": list(names.values()),
            "cpu_seconds": limits.todo_seconds,
            "wall_seconds": limits.todo_seconds,
            "result_bytes": limits.output_bytes,
        }
        (work / "jobs.json").write_text(json.dumps(plan))
        # -I: no site-packages .pth of the user, no PYTHONPATH, no script folder on the path;
        # only the copied package is importable besides the environment.
        boot = f"import sys; sys.path.insert(0, {str(work / 'judge')!r}); "
        boot += "from grading.judge_child import serve; serve(__import__('pathlib').Path.cwd())"
        outcome = sandbox.run(
            [sys.executable, "-I", "-c", boot],
            work,
            sandbox.environment(work),
            sandbox=use_sandbox,
            limits=limits,
            wall_seconds=limits.todo_seconds * len(jobs) + 60,
        )
    report = {}
    for line in outcome.stdout.splitlines():
        try:
            entry = json.loads(line)
            report[str(entry["job"])] = entry
        except (ValueError, KeyError, TypeError):
            break  # what follows is not the judge's
    said = outcome.stderr.decode(errors="replace").strip()[-300:]
    failure = outcome.limit or (
        f"the judge's run ended before this TODO (exit status {outcome.returncode}: its "
        f"interpreter was killed or exited){f': {said}' if said else ''}"
    )
    return {
        key: _verdict(todo, cases[todo], report[names[key]])
        if isinstance(report.get(names[key]), dict)
        else Verdict(False, failure)
        for key, (todo, _) in jobs.items()
    }


_WANTS: dict[str, list] = {}
_WANTS_LOCK = threading.Lock()
"""Submissions are judged in threads, and the reference runs seed torch's global generator
(the tiny models' weights): one at a time, or they would draw each other's numbers."""


def reference_outputs(todo: str) -> list | None:
    """The reference's outputs on ``todo``'s cases (deterministic: computed once per process)."""
    from grading.todos import reference_namespace

    spec = TODOS[todo]
    if not spec.reference:
        return None
    with _WANTS_LOCK:
        if todo not in _WANTS:
            # The sandboxed runs use one thread (OMP_NUM_THREADS=1); so does the reference,
            # since convolutions sum in another order on more threads (1e-4 over 10 steps).
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                _WANTS[todo] = spec.run(reference_namespace(todo), spec.cases())
            finally:
                torch.set_num_threads(threads)
        return _WANTS[todo]


def _verdict(todo: str, cases: list, entry: dict) -> Verdict:
    if entry.get("status"):
        return Verdict(False, str(entry["status"])[:300])
    if not isinstance(entry.get("data"), str):
        return Verdict(False, "the outputs could not be read back as data")
    try:
        sent = torch.load(io.BytesIO(bytes.fromhex(entry["data"])), weights_only=True)
        if not isinstance(sent, dict) or set(sent) != {"outputs", "error"}:
            raise TypeError("not a result")
    except Exception as error:
        return Verdict(False, f"the outputs could not be read back as data ({error})")
    if sent["error"]:
        return Verdict(False, f"raised {sent['error']}"[:500])
    try:
        why = TODOS[todo].compare(cases, sent["outputs"], reference_outputs(todo))
    except Exception as error:  # outputs of the wrong kind or number
        why = f"unexpected outputs ({type(error).__name__}: {error})"
    return Verdict(why is None, why or "")
