"""Both source notebooks run top to bottom in smoke mode (``pytest --nbval-lax``).

Smoke mode trains the tiny ``smoke`` preset for a few steps on the toy faces and samples
32 images of the kit's pretrained toy model (Part 1), and runs both IF stages on tiny random networks (Part 2), so the run
checks every cell, the figures and the files a student submits, not the quality of the
models. About two minutes for Part 1 and half a minute for Part 2 on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grading.demo import FIGURES, smoke_env
from grading.pipeline import source_notebook

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run_nbval(
    notebook: Path, env: dict[str, str], python: str | Path = sys.executable, cwd: Path = REPO
) -> None:
    """``pytest --nbval-lax notebook`` in its own process: every cell must run without error."""
    done = subprocess.run(
        [python, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", str(notebook)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def run_smoke(assignment: str, results: Path) -> None:
    run_nbval(source_notebook(assignment), smoke_env(results))
    for name in FIGURES[assignment]:
        assert (results / name).exists(), f"the {assignment} notebook did not write {name}"


def test_part1_notebook_runs_in_smoke_mode_and_packs_the_submission(tmp_path):
    run_smoke("part1", tmp_path)
    samples = sorted((tmp_path / "samples").glob("*.png"))
    assert len(samples) == 32, f"expected 32 samples in smoke mode, got {len(samples)}"
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["samples"] == 32 and scores["mode"] == "smoke" and scores["fid"] >= 0
    # The pretrained toy model's samples: far nearer the toy faces than noise, even
    # through an Inception with random weights.
    assert scores["fid"] < scores["noise"]["fid"] / 10, scores
    if os.environ.get("COURSEKIT_ANIMEFACE_CASCADE"):  # CI points at the shared cascade
        assert scores["afd"] > scores["noise"]["afd"] == 0, scores
    with zipfile.ZipFile(tmp_path / "submission_part1.zip") as archive:
        names = set(archive.namelist())
    assert names == {"scores.json", *(f"images/{i}.png" for i in range(1, 33))}


def test_part2_notebook_runs_in_smoke_mode_and_scores_each_view(tmp_path):
    run_smoke("part2", tmp_path)
    rows = json.loads((tmp_path / "scores.json").read_text())
    assert [row["prompt"] for row in rows] == [
        "an oil painting of a snowy mountain village",
        "an oil painting of a horse",
    ]
    assert all(-1 <= row["clip_cosine"] <= 1 for row in rows)
