"""The judge's side inside the sandbox: one submission's TODOs, each run in a fresh fork.

:mod:`grading.judge` copies this file and :mod:`grading.todos` into the submission's
private scratch as ``judge/grading/`` and starts ``serve`` there inside the sandbox: no
``grading.reference``, no other student, no network. One interpreter imports torch,
matplotlib and ``helpers`` (for Part 2 diffusers) before any student code runs, then
forks one child per TODO. A child runs the release's setup cells, the cells the student
added before the TODO and the TODO's solution cell, with the kit's answers to that TODO
withheld (:attr:`grading.todos.Todo.withheld`), then the TODO's ``run`` on its cases,
and sends the outputs back as data. Nothing is compared here: the grader reads the
outputs with ``torch.load(weights_only=True)`` and compares them outside.

Input (written by the grader): ``jobs.json`` (the job names and limits),
``<job>/job.json`` (the TODO and its cells), ``<job>/cases.pt``. Output: one JSON line per
job on stdout as it finishes, ``{"job": name, "status": why it failed or "", "data": the
torch.save'd result, hex}``: a run that kills this interpreter loses only the jobs after it.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import resource
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from grading.todos import TODOS

CAUSES = {
    signal.SIGKILL: "killed (SIGKILL: out of memory, a time limit, or the code itself)",
    signal.SIGSEGV: "segfault",
    signal.SIGABRT: "aborted",
    signal.SIGXCPU: "over its CPU time limit",
    signal.SIGBUS: "bus error",
}


def _cell_code(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _withhold(todo: str) -> None:
    """Replace each kit object that computes ``todo``'s answer by one that raises, naming it."""
    for dotted in TODOS[todo].withheld:
        module_name, *attributes = dotted.split(":")
        owner: Any = importlib.import_module(module_name)
        *path, name = attributes[0].split(".")
        for part in path:
            owner = getattr(owner, part)

        def withheld(*args: Any, _what: str = f"{module_name}.{attributes[0]}", **kwargs: Any):
            raise RuntimeError(
                f"{_what} computes the answer of TODO {todo}: it is not available while "
                "this TODO is graded; write the code yourself"
            )

        setattr(owner, name, withheld)


def _child(folder: Path, job: dict, write_end: int, cpu_seconds: int) -> None:
    """One TODO: setup cells, added cells, the solution cell, then the TODO's run on its cases."""
    result: dict[str, Any] = {"outputs": None, "error": None}
    try:
        os.chdir(folder / "cwd")
        out = os.open(os.devnull, os.O_WRONLY)  # printing costs nothing and comes back as nothing
        os.dup2(out, 1)
        os.dup2(out, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), write_through=True)
        sys.stderr = sys.stdout
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        cases = torch.load(folder / "cases.pt", weights_only=True)
        _withhold(job["todo"])
        ns: dict[str, Any] = {"__name__": "__main__"}
        for kind, source in job["cells"]:
            try:
                exec(compile(_cell_code(source), f"<{kind} cell>", "exec"), ns)
            except BaseException as error:  # a cell a student added may fail: it is not graded
                if kind != "added":
                    raise RuntimeError(f"the {kind} cell raised {error!r}") from error
        result["outputs"] = TODOS[job["todo"]].run(ns, cases)
    except BaseException as error:  # SystemExit included: the verdict is that it failed
        result = {"outputs": None, "error": "".join(traceback.format_exception_only(error)).strip()}
    buffer = io.BytesIO()
    try:
        torch.save(result, buffer)
    except Exception as error:
        buffer = io.BytesIO()
        torch.save({"outputs": None, "error": f"the outputs are not data: {error!r}"}, buffer)
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write(buffer.getvalue())
    os._exit(0)


def _collect(pid: int, read_end: int, wall_seconds: int, most: int) -> tuple[bytes, str]:
    """Read one child's result until EOF, wait for it; kill its group past the wall limit."""
    deadline, chunks, size, status = time.monotonic() + wall_seconds, [], 0, ""
    while True:
        left = deadline - time.monotonic()
        ready = select.select([read_end], [], [], max(left, 0))[0] if left > 0 else []
        if not ready:
            status = f"stopped after {wall_seconds} s (the time limit of one TODO)"
            break
        data = os.read(read_end, 1 << 20)
        if not data:
            break
        chunks.append(data)
        size += len(data)
        if size > most:
            status, chunks = f"result over {most >> 20} MiB", []
            break
    os.close(read_end)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, code = os.waitpid(pid, 0)
    if not status and os.WIFSIGNALED(code) and not chunks:
        sig = os.WTERMSIG(code)
        status = CAUSES.get(sig, f"killed by signal {signal.Signals(sig).name}")
    elif not status and not chunks:
        status = f"the process exited (status {os.WEXITSTATUS(code)}) before returning its outputs"
    return b"".join(chunks), status


def serve(folder: Path) -> None:
    """Import what every TODO needs once, then fork one child per job; the report on stdout."""
    results = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    plan = json.loads((folder / "jobs.json").read_text())
    import matplotlib.pyplot  # noqa: F401

    import helpers  # noqa: F401  (imported before any student code, shared by the forks)

    jobs = {name: json.loads((folder / name / "job.json").read_text()) for name in plan["jobs"]}
    if any(TODOS[job["todo"]].assignment == "part2" for job in jobs.values()):
        import torchvision.transforms  # noqa: F401

        import helpers.illusions.sampler  # noqa: F401
        import helpers.tiny_models  # noqa: F401

    report = os.fdopen(results, "w")
    for name, job in jobs.items():
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            report.close()
            os.setsid()
            _child(folder / name, job, write_end, plan["cpu_seconds"])
        os.close(write_end)
        data, status = _collect(pid, read_end, plan["wall_seconds"], plan["result_bytes"])
        report.write(json.dumps({"job": name, "status": status, "data": data.hex()}) + "\n")
        report.flush()
    report.close()


if __name__ == "__main__":
    serve(Path.cwd())
