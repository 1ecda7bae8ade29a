"""One source per reference answer and per TODO contract.

The notebooks' solution regions are written from ``grading/authoring/reference`` by
``python -m grading.authoring.solutions``; the blanks in ``helpers`` name the notebook cell that
states their contract instead of restating it.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from grading.authoring import solutions
from grading.course import ASSIGNMENTS, source_notebook

REPO = Path(__file__).resolve().parents[1]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_committed_notebooks_hold_the_reference_solutions():
    done = subprocess.run(
        [".venv/bin/python", "-m", "grading.authoring.solutions", "--check"],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"{done.stdout}{done.stderr}"
    assert done.stdout.count("up to date") == len(ASSIGNMENTS), done.stdout


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_a_hand_edited_solution_is_reported_stale_and_rewritten(tmp_path):
    path = tmp_path / "part1.ipynb"
    shutil.copy(source_notebook("part1"), path)
    nb = nbformat.read(path, as_version=4)
    cell = _cell(nb, "todo_1_2_1")
    # The drift this module ended: the notebook's loop passed None for self-conditioning.
    cell.source = cell.source.replace("img, batched_t, self_cond,", "img, batched_t, None,")
    nbformat.write(nb, path)

    assert solutions.sync(path, write=False) == ["todo_1_2_1"]
    assert solutions.sync(path, write=True) == ["todo_1_2_1"]
    assert solutions.sync(path, write=False) == []
    assert (
        "img, batched_t, self_cond,"
        in _cell(nbformat.read(path, as_version=4), "todo_1_2_1").source
    )


def test_the_check_names_the_stale_cell_and_the_fix(tmp_path, monkeypatch, capsys):
    copies = {}
    for assignment in ASSIGNMENTS:
        copies[assignment] = tmp_path / f"{assignment}.ipynb"
        shutil.copy(source_notebook(assignment), copies[assignment])
    nb = nbformat.read(copies["part2"], as_version=4)
    cell = _cell(nb, "todo_2_1")
    cell.source = cell.source.replace("a horse", "a cat")
    nbformat.write(nb, copies["part2"])
    monkeypatch.setattr(solutions, "source_notebook", copies.__getitem__)

    assert solutions.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert (
        "stale solution cells todo_2_1; run python -m grading.authoring.solutions (make notebooks)"
        in out
    )


def test_a_notebook_signature_that_differs_from_the_reference_stops_the_sync():
    cell = (
        "def denoise_forward(alphas_bar, x_start, t, noise=None):\n"
        "    ### BEGIN SOLUTION\n"
        "    return x_start\n"
        "    ### END SOLUTION\n"
    )
    with pytest.raises(
        solutions.SolutionMismatch, match="notebook's denoise_forward.*make them equal"
    ):
        solutions.solved(cell, "todo_1_1_2")


def test_a_method_region_gets_the_reference_method_body():
    cell = (
        "class Rotate180View(views.Rotate180View):\n"
        "    def view(self, im):\n"
        "        ### BEGIN SOLUTION\n"
        "        return im\n"
        "        ### END SOLUTION\n"
    )
    assert "        return torch.flip(im, dims=(-2, -1))\n" in solutions.solved(cell, "todo_2_2")


# The blanks that name a TODO: (module, name).
BLANKS = [
    ("helpers.todos", "schedule_init"),
    ("helpers.todos", "denoise_forward"),
    ("helpers.todos", "denoise_backward"),
    ("helpers.illusions.sampler", "denoising_loop"),
]


@pytest.mark.parametrize(("module", "name"), BLANKS)
def test_each_blank_points_at_the_notebook_cell_that_states_its_contract(module, name):
    doc = getattr(importlib.import_module(module), name).__doc__
    found = re.fullmatch(
        r"TODO ([\d-]+), the blank .*is (notebooks/\S+\.ipynb), cell ``(\w+)``\.", doc
    )
    assert found, (
        f"{module}.{name}: the docstring must name its TODO and its notebook cell: {doc!r}"
    )
    todo, notebook, grade_id = found.groups()
    cell = _cell(nbformat.read(REPO / notebook, as_version=4), grade_id)
    assert cell.cell_type == "markdown" and f"TODO {todo}" in cell.source
    assert f"`{name}" in cell.source, f"{grade_id} does not describe {name}"


def test_the_visible_loop_trajectories_are_the_reference_loops():
    """helpers/fixtures/sampling_loop.pt is what grading.authoring.reference's loop draws today."""
    from helpers.tiny_models import loop_cases

    assert solutions.same_loop_cases(loop_cases(), solutions.loop_cases()), (
        "stale: run make notebooks"
    )
    assert not solutions.same_loop_cases(loop_cases(), loop_cases()[::-1])
