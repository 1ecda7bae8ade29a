"""Both source notebooks run top to bottom in smoke mode, under stock nbval.

One module fixture runs the command grading/README.md prints,
``OMP_NUM_THREADS=1 pytest --nbval-lax notebooks/``, from the repository root in an
activated environment (no PYTHONPATH, no other variable): smoke mode is the default
without a GPU, and the results go to ``notebooks/outputs/<assignment>`` (ignored by git).
The tests then read what that one run wrote. Smoke mode trains the tiny ``smoke`` preset
for a few steps on the toy faces and samples 32 images of the kit's pretrained toy model
(Part 1), and runs both IF stages of the kit's toy IF, scored by its toy CLIP (Part 2),
so the run checks every cell, the figures and the files a student submits; the models'
quality is tested in tests/test_illusions_toy.py.
About three minutes on 2 CPU cores.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grading.demo import FIGURES
from tests.conftest import REPO, activated

pytestmark = pytest.mark.slow

NBVAL = "OMP_NUM_THREADS=1 pytest --nbval-lax notebooks/"
RESULTS = REPO / "notebooks" / "outputs"


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


@pytest.fixture(scope="module")
def stock_run() -> float:
    """The README's command, as printed; returns when it started (older files are stale)."""
    assert f"$ {NBVAL}" in (REPO / "grading" / "README.md").read_text(), (
        f"grading/README.md does not print `{NBVAL}`"
    )
    words = shlex.split(NBVAL)
    settings = list(itertools.takewhile(lambda word: "=" in word, words))
    variables = dict(setting.split("=", 1) for setting in settings)
    # The cascade's documented variable: CI points it at the shared copy (AFD needs it).
    if "COURSEKIT_ANIMEFACE_CASCADE" in os.environ:
        variables["COURSEKIT_ANIMEFACE_CASCADE"] = os.environ["COURSEKIT_ANIMEFACE_CASCADE"]
    start = time.time() - 1  # file times have a coarser clock on some file systems
    done = subprocess.run(
        words[len(settings) :],
        cwd=REPO,
        env=activated(**variables),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0 and "passed" in last and "failed" not in last, (
        done.stdout[-4000:] + done.stderr[-2000:]
    )
    return start


def fresh(path: Path, start: float) -> bool:
    return path.exists() and path.stat().st_mtime >= start


@pytest.mark.parametrize("assignment", sorted(FIGURES))
def test_each_notebook_writes_its_figures_and_files(stock_run, assignment):
    for name in FIGURES[assignment]:
        path = RESULTS / assignment / name
        assert fresh(path, stock_run), f"the {assignment} notebook did not write {path}"


def test_part1_samples_scores_and_submission(stock_run):
    results = RESULTS / "part1"
    samples = [p for p in (results / "samples").glob("*.png") if fresh(p, stock_run)]
    assert len(samples) == 32, f"expected 32 samples in smoke mode, got {len(samples)}"
    scores = json.loads((results / "scores.json").read_text())
    assert scores["samples"] == 32 and scores["mode"] == "smoke" and scores["fid"] >= 0
    # The pretrained toy model's samples: far nearer the toy faces than noise, even
    # through an Inception with random weights.
    assert scores["fid"] < scores["noise"]["fid"] / 10, scores
    if os.environ.get("COURSEKIT_ANIMEFACE_CASCADE"):  # CI points at the shared cascade
        assert scores["afd"] > scores["noise"]["afd"] == 0, scores
    with zipfile.ZipFile(results / "submission_part1.zip") as archive:
        names = set(archive.namelist())
    assert names == {"scores.json", *(f"images/{i}.png" for i in range(1, 33))}


def test_part2_scores_each_view(stock_run):
    rows = json.loads((RESULTS / "part2" / "scores.json").read_text())
    # Smoke mode's toy IF knows only its toy classes: it draws its face / house anagram
    # in place of the reference prompts, and the toy CLIP scores it.
    assert [row["prompt"] for row in rows] == ["a face", "a house"]
    assert all(row["checkpoint"].startswith("toy CLIP") for row in rows)
    assert all(-1 <= row["clip_cosine"] <= 1 for row in rows)


def test_the_demo_reports_the_toy_illusion_as_the_tests_measure_it(stock_run):
    from grading.demo import MEASURED, toy_clip_scores

    lines = toy_clip_scores(RESULTS / "part2").splitlines()
    assert [line.split(":")[0].split()[-1] for line in lines[:2]] == ["illusion", "noise"]
    # tests/test_illusions_toy.py: face / house, 11 of 16 anagrams and 1 of 16 noise pictures.
    assert lines[2].endswith(
        f"11 of {MEASURED} stage I anagrams, 1 of {MEASURED} pure-noise pictures"
    ), lines[2]
