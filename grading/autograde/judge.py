"""The judge: each autograded TODO re-run on its own in a sandbox, decided outside it.

nbgrader's hidden tests run inside the student's kernel, next to the student's code, so
a submission can change what they see. The judge decides instead, per submission:

* :func:`programs` reads, for every TODO, the release's locked setup cells before it, the
  code cells the student added before it and the TODO's solution cell (by its nbgrader id;
  cells whose nbgrader metadata the release does not have are the student's);
* :func:`run_in_sandbox` runs them in one bubblewrap sandbox (:mod:`grading.autograde.sandbox`),
  each TODO in its own confined process (:mod:`grading.autograde.judge_child`: its own namespaces,
  no ``/proc``, no capabilities), which calls the TODO's code on the cases made here
  (:data:`grading.autograde.todo_runs.RUNS`). What crosses the boundary: cells and cases in; the
  raw outputs (tensors, figure contents, strings, ``torch.save``'d, bounded) out, read with
  ``torch.load(weights_only=True)``. A TODO's run can reach neither the judge's interpreter
  nor another TODO's run, so what comes back is that TODO's claim about its own outputs;
* this process computes the reference's outputs (:mod:`grading.authoring.reference`, never in a
  sandbox), compares at the tolerances of :data:`grading.autograde.checks.TOLERANCES` and decides.
  The verdicts are data for the pipeline, which writes every score.

The student package holds no TODO's answer (no sampling loop, no loss plot, no half turn),
so there is nothing to delegate to: no name is forbidden and nothing is withheld.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import shutil
import sys
import tempfile
import threading
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import torch

from grading import notebook_format as nbcells
from grading.autograde import sandbox
from grading.autograde.checks import TODOS, reference_namespace, run
from grading.course import GRADING, LIMITS, REPO, Limits


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
        out[todo] = [*setup_cells(release, todo), *added, ("solution", mine[position]["source"])]
    return out


CHILD_FILES = (
    "__init__.py",
    "autograde/__init__.py",
    "autograde/todo_runs.py",
    "autograde/judge_child.py",
)
"""All of ``grading/`` a sandbox gets: how each TODO is called, and the fork server."""


def _code_digest() -> str:
    """Every file of code a run executes besides the student's cells: the kit and the child."""
    files = sorted((REPO / "helpers").rglob("*.py")) + [GRADING / name for name in CHILD_FILES]
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


_CODE = _code_digest()


@functools.cache
def _cases_bytes(todo: str) -> bytes:
    """A TODO's cases as they enter a sandbox; built once per process (they come from seeds)."""
    buffer = io.BytesIO()
    torch.save(TODOS[todo].cases(), buffer)
    return buffer.getvalue()


def cache_key(todo: str, cells: list, use_sandbox: bool, limits: Limits) -> str:
    """Every byte that enters a TODO's run: its cells, its cases, the code, the limits."""
    digest = hashlib.sha256(json.dumps([todo, cells, use_sandbox, astuple(limits)]).encode())
    digest.update(_CODE.encode())
    digest.update(hashlib.sha256(_cases_bytes(todo)).digest())
    return digest.hexdigest()


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
        todo: cache_key(todo, job, use_sandbox, limits)
        for todo, job in jobs.items()
        if not isinstance(job, str)
    }
    with _VERDICTS_LOCK:
        verdicts.update({todo: _VERDICTS[key] for todo, key in keys.items() if key in _VERDICTS})
    runnable = {todo: (todo, jobs[todo]) for todo in keys if todo not in verdicts}
    if runnable:
        ran = run_in_sandbox(runnable, use_sandbox=use_sandbox, limits=limits)
        for todo, (verdict, ended) in ran.items():
            verdicts[todo] = verdict
            if ended:
                with _VERDICTS_LOCK:
                    _VERDICTS[keys[todo]] = verdict
    return {todo: verdicts[todo] for todo in jobs}


_VERDICTS: dict[str, Verdict] = {}
_VERDICTS_LOCK = threading.Lock()
"""Verdicts of runs that ended on their own, by every byte that entered them
(:func:`cache_key`): the same code (a resubmission, a shared answer) is judged once per
process. A run stopped from outside, or whose report is missing, is never kept."""


def run_in_sandbox(
    jobs: dict[Any, tuple[str, list]], *, use_sandbox: bool = True, limits: Limits = LIMITS
) -> dict[Any, tuple[Verdict, bool]]:
    """Run each job ``{key: (todo, cells)}`` of one submission in one sandbox, decide here.

    Returns, per job, the verdict and whether its run ended on its own (may be cached).
    """
    entries, failure = run_jobs(jobs, use_sandbox=use_sandbox, limits=limits)
    return {
        key: (Verdict(False, failure), False)
        if entries[key] is None
        else (_verdict(todo, entries[key]), entries[key]["ended"])
        for key, (todo, _) in jobs.items()
    }


def run_jobs(
    jobs: dict[Any, tuple[str, list]], *, use_sandbox: bool = True, limits: Limits = LIMITS
) -> tuple[dict[Any, dict | None], str]:
    """Each job's report line from one sandbox (``None``: none came), and why one may be missing."""
    names = {key: f"job{k}" for k, key in enumerate(jobs)}
    with tempfile.TemporaryDirectory(prefix="judge-") as tmp:
        work = Path(tmp)
        package = work / "judge" / "grading"
        for name in CHILD_FILES:
            (package / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(GRADING / name, package / name)
        for key, (todo, cells) in jobs.items():
            folder = work / names[key]
            folder.mkdir()
            (folder / "cases.pt").write_bytes(_cases_bytes(todo))
            (folder / "job.json").write_text(json.dumps({"todo": todo, "cells": cells}))
        plan = {
            "jobs": list(names.values()),
            "cpu_seconds": limits.todo_seconds,
            "wall_seconds": limits.todo_seconds,
            "result_bytes": limits.output_bytes,
            "scratch_bytes": limits.scratch_bytes,
            "tmp_bytes": limits.tmp_bytes,
            "confine": use_sandbox,
        }
        (work / "jobs.json").write_text(json.dumps(plan))
        # -I: no site-packages .pth of the user, no PYTHONPATH, no script folder on the path;
        # only the copied package is importable besides the environment.
        boot = f"import sys; sys.path.insert(0, {str(work / 'judge')!r}); "
        boot += "from grading.autograde.judge_child import serve; serve(__import__('pathlib').Path.cwd())"
        outcome = sandbox.run(
            [sys.executable, "-I", "-c", boot],
            work,
            sandbox.environment(work),
            sandbox=use_sandbox,
            limits=limits,
            wall_seconds=(limits.todo_seconds + 10) * len(jobs) + 60,
        )
    report = read_report(outcome.stdout, set(names.values()))
    said = outcome.stderr.decode(errors="replace").strip()[-300:]
    failure = outcome.limit or (
        f"the judge's run ended before this TODO (exit status {outcome.returncode})"
        f"{f': {said}' if said else ''}"
    )
    return {key: report.get(names[key]) for key in jobs}, failure


def read_report(stdout: bytes, names: set[str]) -> dict[str, dict]:
    """The judge child's lines: one JSON object per job, each job once, nothing else.

    The child's stdout is out of the confined code's reach; still, anything off the format
    ends the report there, and a job named twice counts as not reported.
    """
    seen: dict[str, list[dict]] = {}
    for line in stdout.decode(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            break
        if not (
            isinstance(entry, dict)
            and set(entry) == {"job", "status", "ended", "data"}
            and entry["job"] in names
            and isinstance(entry["status"], str)
            and isinstance(entry["ended"], bool)
            and isinstance(entry["data"], str)
        ):
            break
        seen.setdefault(entry["job"], []).append(entry)
    return {name: entries[0] for name, entries in seen.items() if len(entries) == 1}


_WANTS: dict[str, list] = {}
_WANTS_LOCK = threading.Lock()
"""Submissions are judged in threads, and the reference runs seed torch's global generator
(the tiny models' weights): one at a time, or they would draw each other's numbers."""


def reference_outputs(todo: str) -> list | None:
    """The reference's outputs on ``todo``'s cases (deterministic: computed once per process)."""
    if not TODOS[todo].reference:
        return None
    with _WANTS_LOCK:
        if todo not in _WANTS:
            _WANTS[todo] = run(todo, reference_namespace(todo), TODOS[todo].cases())
        return _WANTS[todo]


def outputs(entry: dict) -> tuple[Any, str]:
    """The outputs a job's line carries, or why there are none."""
    if entry["status"]:
        return None, entry["status"][:300]
    try:
        sent = torch.load(io.BytesIO(bytes.fromhex(entry["data"])), weights_only=True)
        if not isinstance(sent, dict) or set(sent) != {"outputs", "error"}:
            raise TypeError("not a result")
    except Exception as error:
        return None, f"the outputs could not be read back as data ({type(error).__name__})"
    if sent["error"]:
        return None, f"raised {str(sent['error'])[:480]}"
    return sent["outputs"], ""


def _verdict(todo: str, entry: dict) -> Verdict:
    got, why = outputs(entry)
    if why:
        return Verdict(False, why)
    try:
        why = TODOS[todo].compare(TODOS[todo].cases(), got, reference_outputs(todo))
    except Exception as error:  # outputs of the wrong kind or number
        why = f"unexpected outputs ({type(error).__name__}: {str(error)[:200]})"
    return Verdict(why is None, why or "")
