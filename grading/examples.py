"""Example submissions, built from the releases and the source notebooks' solutions.

    python -m grading.examples                      # rewrite grading/submitted/ (the shipped three)
    python -m grading.examples --hostile --out DIR  # also the hostile ones (used by the tests)

Shipped in ``grading/submitted/<student>/<assignment>/``, for both assignments:

* ``reference``: every TODO holds the source notebook's solution: full marks.
* ``untouched``: the release as a student receives it: zero for every TODO.
* ``planted_bugs``: the reference with two bugs per part, which score those TODOs zero
  (their feedback shows the failing test's message): in Part 1, TODO 1-1-2 (no square
  roots) and TODO 1-2-1 (the trajectory is not mapped to [0, 1]); in Part 2, TODO 2-2
  (the half turn is a left-right mirror) and TODO 2-3 (the unconditional variance is kept).

Hostile submissions (``--hostile``, Part 1 only: the pipeline treats both parts alike),
each built so that every TODO it does not attack is correct, which shows that the attack
costs only its own cells:

* ``infinite_loop``: TODO 1-1-2's cell never ends (the cell timeout stops it);
* ``exception``: TODO 1-2-2's cell raises at the top level;
* ``kernel_death``: TODO 1-1-3's cell kills the kernel (``os._exit(1)``): nbgrader then
  saves no grade at all, so the whole notebook scores 0 (the feedback says why);
* ``malformed``: the file is not JSON;
* ``edited_tests``: a wrong TODO 1-1-3 whose test cell was replaced by a print, and
  TODO 1-2-2's test cell deleted (nbgrader restores both from the gradebook);
* ``reference_import``: TODO 1-1-3 imports the reference solution.

The expected scores are in ``EXPECTED`` (the tests check them).
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import nbformat

from grading.pipeline import ASSIGNMENTS, SUBMITTED, released_notebook, source_notebook
from grading.rubric import load_rubric

# (solution cell, text in the reference solution, replacement): each must match once.
Edit = tuple[str, str, str]

EXAMPLES: dict[str, dict[str, list[Edit] | None]] = {
    "part1": {
        "reference": [],
        "untouched": None,
        "planted_bugs": [
            (
                "todo_1_1_2",
                "alpha_bar_t.sqrt() * x_start + (1.0 - alpha_bar_t).sqrt() * noise",
                "alpha_bar_t * x_start + (1.0 - alpha_bar_t) * noise",
            ),
            (
                "todo_1_2_1",
                "trajectory = unnormalize(torch.stack(imgs, dim=1))",
                "trajectory = torch.stack(imgs, dim=1)",
            ),
        ],
    },
    "part2": {
        "reference": [],
        "untouched": None,
        "planted_bugs": [
            (
                "todo_2_2",
                "return torch.flip(im, dims=(-2, -1))",
                "return torch.flip(im, dims=(-1,))",
            ),
            (
                "todo_2_2",
                "return torch.flip(noise, dims=(-2, -1))",
                "return torch.flip(noise, dims=(-1,))",
            ),
            (
                "todo_2_3",
                "noise_uncond, _ = split_noise_variance(uncond, channels)",
                "noise_uncond, variance = split_noise_variance(uncond, channels)",
            ),
            (
                "todo_2_3",
                "noise_cond, variance = split_noise_variance(cond, channels)",
                "noise_cond, _ = split_noise_variance(cond, channels)",
            ),
        ],
    },
}

HOSTILE: dict[str, list[Edit] | None] = {
    "infinite_loop": [
        ("todo_1_1_2", "def denoise_forward(", "while True:\n    pass\n\n\ndef denoise_forward("),
    ],
    "exception": [
        (
            "todo_1_2_2",
            "def plot_losses(",
            "raise RuntimeError('a student bug')\n\n\ndef plot_losses(",
        ),
    ],
    "kernel_death": [
        (
            "todo_1_1_3",
            "def denoise_backward(",
            "import os\n\nos._exit(1)\n\n\ndef denoise_backward(",
        ),
    ],
    "malformed": None,  # written by write_submission below
    "edited_tests": [
        ("todo_1_1_3", "        eta\n        * (", "        0.0\n        * eta\n        * ("),
    ],
    "reference_import": [
        (
            "todo_1_1_3",
            "def denoise_backward(",
            "from grading.reference import denoise_backward as _reference\n\n\ndef denoise_backward(",
        ),
        (
            "todo_1_1_3",
            "    alpha_bar_t = extract(",
            "    return _reference(alphas_bar, pred_x_start, pred_noise, t, t_prev, noise, eta)\n    alpha_bar_t = extract(",
        ),
    ],
}

# Autograded points per test cell, from the announced rubric (Part 1: 4, 4, 5, 4, 3).
# The report cells are scored by the instructor, not by the autograder.
FULL = {part: load_rubric().test_cells(part) for part in ASSIGNMENTS}
P1, P2 = FULL["part1"], FULL["part2"]
EXPECTED: dict[tuple[str, str], dict[str, float]] = {
    ("reference", "part1"): P1,
    ("untouched", "part1"): dict.fromkeys(P1, 0),
    ("planted_bugs", "part1"): {**P1, "test_1_1_2": 0, "test_1_2_1": 0},
    ("infinite_loop", "part1"): {**P1, "test_1_1_2": 0},
    ("exception", "part1"): {**P1, "test_1_2_2": 0},
    # nbgrader saves no grades when the kernel dies: the whole notebook scores 0.
    ("kernel_death", "part1"): dict.fromkeys(P1, 0),
    ("malformed", "part1"): dict.fromkeys(P1, 0),
    ("edited_tests", "part1"): {**P1, "test_1_1_3": 0},
    ("reference_import", "part1"): {**P1, "test_1_1_3": 0},
    ("reference", "part2"): P2,
    ("untouched", "part2"): dict.fromkeys(P2, 0),
    ("planted_bugs", "part2"): {**P2, "test_2_2": 0, "test_2_3": 0},
}
"""Expected autograded points per (student, assignment)."""

REPORTS = {
    "part1": "FID: 72.38, AFD: 94.30 % (example submission {name!r})",
    "part2": "Prompts: an oil painting of a snowy mountain village / of a horse; "
    "CLIP: 0.3487, 0.3574 (example submission {name!r})",
}


def solutions(source: Path) -> dict[str, str]:
    """The source notebook's solution cells without the BEGIN / END SOLUTION lines."""
    nb = nbformat.read(source, as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            lines = [
                line
                for line in cell.source.splitlines()
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
            ]
            out[meta["grade_id"]] = "\n".join(lines)
    return out


def build(
    assignment: str, release: Path, edits: list[Edit] | None, name: str
) -> nbformat.NotebookNode:
    """The release with its solution cells filled in (``edits`` None: left untouched)."""
    nb = nbformat.read(release, as_version=4)
    if edits is None:
        return nb
    code = solutions(source_notebook(assignment))
    for cell_id, old, new in edits:
        if code[cell_id].count(old) != 1:
            raise ValueError(f"{name}: {old!r} must occur once in the solution of {cell_id}")
        code[cell_id] = code[cell_id].replace(old, new)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") in code:
            cell.source = code[meta["grade_id"]]
        elif meta.get("grade_id") == "report_scores":
            cell.source = REPORTS[assignment].format(name=name)
    if name == "edited_tests":
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_1_1_3":
                cell.source = 'print("all tests passed")'
        nb.cells = [
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_1_2_2"
        ]
    return nb


def write_submissions(
    out: Path, hostile: bool = False, releases: dict[str, Path] | None = None
) -> list[Path]:
    """Write ``out/<student>/<assignment>/<notebook>.ipynb`` for each example."""
    releases = releases or {a: released_notebook(a) for a in ASSIGNMENTS}
    paths = []
    for assignment, release in releases.items():
        if not release.is_file():
            raise FileNotFoundError(f"no release at {release}: run `make release` first")
        chosen = {**EXAMPLES[assignment], **(HOSTILE if hostile and assignment == "part1" else {})}
        for name, edits in chosen.items():
            path = out / name / assignment / release.name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name == "malformed":
                path.write_text('{"cells": [ this is not json')
            else:
                nb = build(assignment, release, copy.deepcopy(edits), name)
                path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.examples", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=SUBMITTED)
    parser.add_argument("--hostile", action="store_true", help="also write the hostile submissions")
    args = parser.parse_args(argv)
    for path in write_submissions(args.out, args.hostile):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
