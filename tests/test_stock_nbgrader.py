"""The stock nbgrader and nbval commands, run as grading/README.md prints them.

Each runs in a subprocess whose environment is what ``source .venv/bin/activate`` gives
(PATH with .venv/bin first, VIRTUAL_ENV, HOME, LANG): no PYTHONPATH. The nbgrader ones
run in a copy of ``grading/`` (and of the root ``nbgrader_config.py``) released into its
own course directory, so the checkout's ``grading/course`` is never touched.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import hostile_submissions
from tests.conftest import activated, copy_kit

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
README = (REPO / "grading" / "README.md").read_text()

AUTOGRADE = "nbgrader autograde part1 --force"
VALIDATE = "nbgrader validate submitted/planted_bugs/part1/part1_anime_faces.ipynb"
FEEDBACK = "nbgrader generate_feedback part1"
EXPORT = "nbgrader export"


def run(command: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 900):
    assert f"$ {command}" in README, f"grading/README.md does not print `{command}`"
    return subprocess.run(
        shlex.split(command),
        cwd=cwd,
        env=env or activated(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def kit(released_kit, tmp_path_factory) -> Path:
    """A copy of the instructor's folders, released, with the shipped submissions."""
    return copy_kit(released_kit, tmp_path_factory.mktemp("kit"))


def scores(course: Path, assignment: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {
            s.student.id: sum(
                g.score for nb in s.notebooks for g in nb.grades if g.name.startswith("test_")
            )
            for s in gb.find_assignment(assignment).submissions
        }


def test_stock_autograde_feedback_and_export(kit):
    """From grading/: the hidden tests import grading.authoring.reference through .venv's .pth."""
    grading = kit / "grading"
    done = run(AUTOGRADE, grading)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "has changed" not in log, "a false checksum warning for an untouched test cell"
    shipped = sorted(p.name for p in (grading / "submitted").iterdir() if (p / "part1").is_dir())
    assert scores(grading / "course", "part1") == {
        student: sum(hostile_submissions.EXPECTED[student, "part1"].values()) for student in shipped
    }
    done = run(FEEDBACK, grading)
    assert done.returncode == 0, done.stderr[-3000:]
    for student in shipped:
        assert (
            grading / "course" / "feedback" / student / "part1" / "part1_anime_faces.html"
        ).is_file()
    done = run(EXPORT, grading)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = (grading / "grades.csv").read_text().splitlines()
    assert any(r.startswith("part1,") and ",reference," in r and ",20.0," in r for r in rows), rows


def test_stock_validate_names_the_failing_tests(kit):
    done = run(VALIDATE, kit / "grading")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "VALIDATION FAILED" in done.stdout and "the mean of x_t must be" in done.stdout


def test_venv_nbgrader_without_the_venv_on_path_uses_the_course_of_grading(tmp_path):
    """No `alembic` on PATH, started from the repository root: no crash, no stray gradebook."""
    shutil.copytree(REPO / "grading", tmp_path / "grading", ignore=shutil.ignore_patterns("course"))
    shutil.copy2(REPO / "nbgrader_config.py", tmp_path)
    (tmp_path / "grading" / "course").mkdir()  # a course without a gradebook yet
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    done = subprocess.run(
        [str(VENV / "bin" / "nbgrader"), "db", "student", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (tmp_path / "gradebook.db").exists()
    assert (tmp_path / "grading" / "course" / "gradebook.db").is_file()


def test_nbgrader_that_cannot_import_grading_stops_and_says_how_to_fix_it(tmp_path):
    """Without .venv's .pth the hidden tests would all fail silently: nbgrader stops instead."""
    without_pth = (
        f"import sys; sys.path = [p for p in sys.path if p != {str(REPO)!r}]; "
        "sys.argv = ['nbgrader', 'db', 'student', 'list']; "
        "from nbgrader.apps.nbgraderapp import main; main()"
    )
    done = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", without_pth],
        cwd=REPO / "grading",
        env=activated(HOME=str(tmp_path)),
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "cannot import `grading`" in done.stderr and "Run `make setup`" in done.stderr
