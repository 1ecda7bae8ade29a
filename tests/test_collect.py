"""Collection: notebooks matched to their assignment by content, an LMS download taken in.

Fast: no notebook runs. The grading of what is collected is in tests/test_grading.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from grading import collect, course, pipeline

REPO = Path(__file__).resolve().parents[1]
SHIPPED = pipeline.SUBMITTED / "reference"


def shipped(assignment: str) -> Path:
    return SHIPPED / assignment / f"{pipeline.ASSIGNMENTS[assignment]}.ipynb"


def stripped_of_nbgrader(source: Path, target: Path) -> Path:
    notebook = json.loads(source.read_text())
    for cell in notebook["cells"]:
        cell["metadata"].pop("nbgrader", None)
    target.write_text(json.dumps(notebook))
    return target


@pytest.mark.parametrize("assignment", sorted(pipeline.ASSIGNMENTS))
def test_a_notebook_belongs_to_the_assignment_whose_cells_it_holds(assignment, tmp_path):
    renamed = tmp_path / "My Kaggle kernel (3).ipynb"
    shutil.copy2(shipped(assignment), renamed)
    assert collect.assignment_of(renamed) == (assignment, "")


def test_notebooks_of_no_assignment_are_named_with_the_reason(tmp_path):
    plain = stripped_of_nbgrader(shipped("part1"), tmp_path / "plain.ipynb")
    owner, why = collect.assignment_of(plain)
    assert owner is None and why.startswith("plain.ipynb has no nbgrader metadata")
    (tmp_path / "broken.ipynb").write_text("{not json")
    owner, why = collect.assignment_of(tmp_path / "broken.ipynb")
    assert owner is None and "not a readable notebook" in why
    other = json.loads(shipped("part1").read_text())
    for cell in other["cells"]:
        if "nbgrader" in cell["metadata"]:
            cell["metadata"]["nbgrader"]["grade_id"] = (
                "hw9_" + cell["metadata"]["nbgrader"]["grade_id"]
            )
    (tmp_path / "hw9.ipynb").write_text(json.dumps(other))
    owner, why = collect.assignment_of(tmp_path / "hw9.ipynb")
    assert owner is None and "no assignment of this course (part1, part2)" in why


def test_find_notebook_grades_a_renamed_file_and_refuses_to_guess(tmp_path):
    folder = tmp_path / "part1"
    folder.mkdir()
    shutil.copy2(shipped("part1"), folder / "download.ipynb")
    assert collect.find_notebook(folder, "part1") == (folder / "download.ipynb", [])
    shutil.copy2(shipped("part1"), folder / "copy.ipynb")
    found, why = collect.find_notebook(folder, "part1")
    assert found is None
    assert why == ["2 notebooks of part1 (copy.ipynb, download.ipynb): submit one; none was graded"]
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    shutil.copy2(shipped("part2"), wrong / "part1_anime_faces.ipynb")
    found, why = collect.find_notebook(wrong, "part1")
    assert found is None
    assert why == [
        "part1_anime_faces.ipynb is a notebook of part2, not of part1",
        "no notebook of part1: nothing was graded",
    ]


def test_student_ids_become_ascii_nbgrader_ids():
    assert collect.student_id("José Núñez") == "Jose_Nunez"
    assert collect.student_id("  o'brien 2 ") == "o_brien_2"
    assert collect.student_id("张伟") == ""
    assert all(course.STUDENT_ID.match(collect.student_id(n)) for n in ["José Núñez", "a.b-c_d"])


@pytest.fixture
def lms_download(tmp_path) -> Path:
    """An LMS-style zip: a wrapping folder, then one folder or zip per student."""
    root = tmp_path / "lms" / "Diffusion course - all submissions"
    alice = root / "alice"
    alice.mkdir(parents=True)
    shutil.copy2(shipped("part1"), alice / "alice_part1_final.ipynb")
    (alice / "scores.json").write_text(json.dumps({"fid": 72.38, "afd": 0.943}))
    alice_part2 = alice / "part two"
    alice_part2.mkdir()
    shutil.copy2(shipped("part2"), alice_part2 / "illusions.ipynb")
    with zipfile.ZipFile(root / "bob.zip", "w") as archive:
        archive.write(shipped("part2"), "nested/Untitled.ipynb")
    jose = root / "José Núñez"
    jose.mkdir()
    shutil.copy2(shipped("part1"), jose / "part1_anime_faces.ipynb")
    carol = root / "carol"
    carol.mkdir()
    shutil.copy2(shipped("part1"), carol / "v1.ipynb")
    shutil.copy2(shipped("part1"), carol / "v2.ipynb")
    (root / "dave").mkdir()
    (root / "erin.zip").write_text("this is no zip")
    frank = root / "frank"
    frank.mkdir()
    stripped_of_nbgrader(shipped("part1"), frank / "notebook.ipynb")
    download = tmp_path / "download.zip"
    with zipfile.ZipFile(download, "w") as archive:
        for path in sorted((tmp_path / "lms").rglob("*")):
            archive.write(path, path.relative_to(tmp_path / "lms"))
    return download


def test_collect_places_every_notebook_by_content_and_names_each_problem(lms_download, tmp_path):
    out = tmp_path / "submitted"
    lines = collect.collect(lms_download, out)
    assert (out / "alice" / "part1" / "part1_anime_faces.ipynb").read_bytes() == shipped(
        "part1"
    ).read_bytes()
    assert json.loads((out / "alice" / "part1" / "scores.json").read_text())["fid"] == 72.38
    assert (out / "alice" / "part2" / "part2_illusions.ipynb").is_file()
    assert (out / "bob" / "part2" / "part2_illusions.ipynb").is_file()
    assert (out / "Jose_Nunez" / "part1" / "part1_anime_faces.ipynb").is_file()
    assert sorted(p.name for p in (out / "carol" / "part1").iterdir()) == ["v1.ipynb", "v2.ipynb"]
    assert sorted(p.name for p in out.iterdir()) == ["Jose_Nunez", "alice", "bob", "carol"]
    assert lines == [
        "'José Núñez' collected as student Jose_Nunez (nbgrader ids take ASCII letters, digits, _ . -)",
        "Jose_Nunez: part1 collected",
        "alice: part1 collected (was alice_part1_final.ipynb)",
        "alice: part2 collected (was illusions.ipynb)",
        "bob: part2 collected (was Untitled.ipynb)",
        "carol: 2 notebooks of part1 (v1.ipynb, v2.ipynb): submit one; none will be graded",
        "dave: the folder holds no notebook (.ipynb): nothing submitted",
        "erin: erin.zip is not a readable zip file (File is not a zip file): nothing collected",
        "frank: notebook.ipynb has no nbgrader metadata: it is not a notebook of this course "
        "(submit the notebook you were given, saved from Jupyter): not collected",
    ]


def test_make_collect_as_the_readme_prints_it(lms_download, tmp_path):
    """`make collect ZIP=...` in a clean environment; --out keeps the checkout's folder clean."""
    env = {"PATH": f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [
            ".venv/bin/python",
            "-m",
            "grading.collect",
            str(lms_download),
            "--out",
            str(tmp_path / "s"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "bob: part2 collected (was Untitled.ipynb)" in done.stdout
    assert done.stdout.strip().endswith(f"submissions: {tmp_path / 's'}/<student>/<assignment>/")
    bad = subprocess.run(
        ["make", "-s", "collect"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "usage: make collect ZIP=" in bad.stdout
