"""The notebook's kernel in its sandbox (grading/autograde/kernel.py): what it runs, and what it cannot reach.

nbgrader's executor runs here, in the test's process, as ``make autograde`` runs it; only
the kernel is in bubblewrap. Each test executes a small notebook and asserts on what the
grader's side holds afterwards.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grading.autograde import sandbox
from grading.autograde.kernel import KernelSandbox, SandboxedExecute
from grading.course import LIMITS, Limits


@pytest.fixture(scope="module")
def available():
    try:
        sandbox.check()
    except sandbox.SandboxUnavailable as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(error))


def execute(folder, *sources: str, limits: Limits = LIMITS) -> tuple[list, KernelSandbox]:
    """Run ``sources`` as the cells of a notebook with the sandboxed kernel; the outputs."""
    box = KernelSandbox(folder / "scratch", limits)
    box.work.mkdir(parents=True)
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    executor = SandboxedExecute(sandbox=box, timeout=limits.cell_seconds)
    try:
        executor.preprocess(nb, {"metadata": {"path": str(folder)}})
    except Exception as error:  # a dead kernel ends the run, as in nbgrader
        print(f"the run ended: {type(error).__name__}")
    return [cell.outputs for cell in nb.cells], box


def text(outputs: list) -> str:
    return json.dumps(outputs)


def test_a_cell_runs_in_its_own_namespaces(available, tmp_path):
    [outputs], _ = execute(
        tmp_path, "import os, socket\nprint(os.getpid(), os.getcwd(), socket.gethostname())"
    )
    pid, cwd, _host = outputs[0]["text"].split()
    assert int(pid) < 10, "its own PID namespace"
    assert cwd == str(tmp_path / "scratch"), "its scratch is its working directory"


ATTACK = r"""
import glob, os
found = []
for path in (STORED, GRADEBOOK):
    try:
        found.append(open(path).read())
    except OSError as error:
        print("cannot read:", path, type(error).__name__)
    try:  # at best into a file of its own /tmp (a tmpfs of the sandbox)
        open(path, "w").write("FORGED")
    except OSError as error:
        pass
for fd in glob.glob("/proc/*/fd/*"):
    try:
        with open(fd, "w") as out:
            out.write('{"cells": [], "FORGED": 1}')
        found.append("wrote " + fd + " -> " + os.readlink(fd))
    except OSError:
        pass
print("\npids:", max(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("found:", found)
"""


def test_the_kernel_reaches_neither_the_stored_notebook_nor_the_gradebook(available, tmp_path):
    stored = tmp_path / "autograded" / "part1_anime_faces.ipynb"
    gradebook = tmp_path / "gradebook.db"
    stored.parent.mkdir()
    stored.write_text("the grader's notebook")
    gradebook.write_text("HIDDEN TESTS of the master gradebook")
    setup = f"STORED, GRADEBOOK = {str(stored)!r}, {str(gradebook)!r}"
    [outputs], _ = execute(tmp_path, setup + ATTACK)
    said = text(outputs)
    assert said.count("cannot read:") == 2, said
    assert "HIDDEN TESTS" not in said and "the grader's notebook" not in said
    assert stored.read_text() == "the grader's notebook"
    assert gradebook.read_text() == "HIDDEN TESTS of the master gradebook"
    # Only the sandbox's own processes exist (bwrap's init, the kernel): every descriptor
    # it wrote to is its own (/dev/null, the pipes of its captured output).
    assert int(re.search(r"pids: (\d+)", said).group(1)) < 10, said
    assert str(tmp_path) not in re.search(r"found: (.*)", said).group(1)


def test_a_cell_past_its_timeout_is_interrupted_and_the_next_runs(available, tmp_path):
    outputs, box = execute(
        tmp_path, "while True:\n    pass", "print('next cell')", limits=Limits(cell_seconds=3)
    )
    assert outputs[0][-1]["output_type"] == "error", outputs[0]
    assert outputs[1][0]["text"] == "next cell\n"
    assert not box.stopped


def test_a_kernel_past_the_output_limit_is_stopped(available, tmp_path):
    outputs, box = execute(
        tmp_path,
        "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)",
        "print('never')",
        limits=Limits(output_bytes=1 << 20),
    )
    assert box.stopped.startswith("output limit"), box
    assert sum(len(text(o)) for o in outputs) < 2 << 20
    assert "never" not in text(outputs[1])
