"""The notebooks show ``grading/rubric.toml``: ``make notebooks`` writes it in, ``make release``
refuses stale notebooks and names the fix."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from grading.authoring import rubric_cells
from grading.course import ASSIGNMENTS, source_notebook
from grading.records.rubric import load_rubric

REPO = Path(__file__).resolve().parents[1]
PY = REPO / ".venv" / "bin" / "python"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_the_committed_notebooks_show_the_rubric():
    done = subprocess.run(
        [str(PY), "-m", "grading.authoring.rubric_cells", "--check"],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("rubric up to date") == len(ASSIGNMENTS), done.stdout


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """What `make release` and `make notebooks` read, copied, with a stamp that is up to date."""
    copy = tmp_path / "kit"
    shutil.copytree(
        REPO / "grading",
        copy / "grading",
        ignore=shutil.ignore_patterns("course", "submitted", "__pycache__"),
    )
    shutil.copytree(REPO / "notebooks", copy / "notebooks")
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy(REPO / name, copy / name)
    (copy / "stamp").touch()  # newer than pyproject.toml and uv.lock: no `make setup`
    return copy


def _make(copy: Path, target: str) -> subprocess.CompletedProcess[str]:
    # The repository's environment; `python -m` imports the copy's grading (its cwd first).
    return subprocess.run(
        ["make", target, f"PY={PY}", f"STAMP={copy / 'stamp'}"],
        cwd=copy,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_edited_tier_stops_the_release_until_make_notebooks(course_copy):
    toml = course_copy / "grading" / "rubric.toml"
    toml.write_text(toml.read_text().replace("max = 75.0", "max = 80.0", 1))

    done = _make(course_copy, "release")
    assert done.returncode != 0
    assert (
        "notebooks/part1_anime_faces.ipynb: cells md_report do not show grading/rubric.toml; "
        "run make notebooks (python -m grading.authoring.rubric_cells)"
    ) in done.stdout, done.stdout + done.stderr
    assert "grading.autograde.batch" not in done.stdout  # stopped before releasing anything
    assert not (course_copy / "grading" / "course").exists()

    done = _make(course_copy, "notebooks")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "part1_anime_faces.ipynb: wrote md_report" in done.stdout
    check = subprocess.run(
        [str(PY), "-m", "grading.authoring.rubric_cells", "--check"],
        cwd=course_copy,
        env=_clean_env(),
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout
    report = next(
        c.source
        for c in nbformat.read(course_copy / "notebooks" / "part1_anime_faces.ipynb", 4).cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == "md_report"
    )
    assert "| FID ≤ | 50 | 60 | 80 | 90 | 110 | 130 | 200 |" in report


def _rubric_with(tmp_path: Path, *edits: tuple[str, str]):
    """The shipped rubric with each ``(old, new)`` text replaced once."""
    text = (REPO / "grading" / "rubric.toml").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "rubric.toml"
    path.write_text(text)
    return load_rubric(path)


def test_points_and_the_clip_baseline_reach_every_cell_that_states_them(tmp_path):
    rubric = _rubric_with(
        tmp_path,
        ("clip_baseline = 0.30", "clip_baseline = 0.325"),
        ("test_2_2 = 4", "test_2_2 = 3"),
        ("test_2_3 = 5", "test_2_3 = 6"),
    )
    nb = nbformat.read(source_notebook("part2"), as_version=4)

    stale = rubric_cells.rewrite(nb, "part2", rubric)

    assert stale == ["intro", "config", "test_2_2", "test_2_3", "md_scores", "md_report"]
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    assert "CLIP_BASELINE = 0.325  #" in cells["config"].source
    assert cells["test_2_2"].metadata["nbgrader"]["points"] == 3
    assert cells["test_2_2"].source.startswith("# Tests of TODO 2-2 (3 points)\n")
    assert "| 2-3 | `denoising_loop`" in cells["intro"].source
    assert "used by both IF stages | 6 |" in cells["intro"].source
    assert "**0.325 for every view**" in cells["md_scores"].source
    assert "(5 points for each view whose CLIP score reaches 0.325)" in cells["md_report"].source
    assert rubric_cells.rewrite(nb, "part2", rubric) == []


def test_a_reworded_cell_is_named_with_the_fix():
    nb = nbformat.read(source_notebook("part1"), as_version=4)
    report = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "md_report"
    )
    report.source = report.source.replace("| AFD ≥ |", "| AFD at least |")
    with pytest.raises(
        rubric_cells.RubricCellMissing,
        match="cannot find the AFD tier table to write the rubric into",
    ):
        rubric_cells.rewrite(nb, "part1", load_rubric())
