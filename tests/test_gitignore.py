"""Student work and grades stay out of git: ``.gitignore`` covers everything grading writes.

A clone of the repository gets files where collecting, grading, exporting and building
the student kit put them; ``git status`` must not list any of them, while the shipped
example submissions stay tracked (an edit to one still shows).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Where each step writes: paths relative to the repository root.
WRITTEN = [
    # the roster (names, emails, LMS ids) beside the grading code
    "grading/students.csv",
    # make collect: one folder per student, the notebook and its results, the LMS's times
    "grading/submitted/.submission-times.csv",
    "grading/submitted/alice/part1/part1_anime_faces.ipynb",
    "grading/submitted/alice/part1/submission_part1.zip",
    "grading/submitted/bob_12345/part2/scores.json",
    # a new file in a shipped example's folder is student work too
    "grading/submitted/reference/part1/illusion.png",
    # make autograde: executed notebooks, feedback, the gradebook
    "grading/course/autograded/alice/part1/part1_anime_faces.ipynb",
    "grading/course/feedback/alice/part1/part1_anime_faces.html",
    "grading/course/gradebook.db",
    # stock nbgrader run from another folder, with another course root
    "autograded/alice/part1/part1_anime_faces.ipynb",
    "feedback/alice/part1/part1_anime_faces.html",
    "gradebook.db",
    "grading/gradebook.db",
    "grading/gradebook.db-journal",
    # a JupyterHub course's exchange kept next to the course
    "grading/distribute/jupyterhub/exchange/diffusion/inbound/alice+part1+2026-01-01/part1_anime_faces.ipynb",
    # grade exports: nbgrader export writes grades.csv where it runs; LMS uploads
    "grades.csv",
    "grading/grades.csv",
    "grading/course/grades.csv",
    "grading/course/canvas_part1.csv",
    "grading/course/moodle/part1_worksheet.csv",
    # make student-kit
    "outputs/student-kit/coursekit-student-0.1.0/notebooks/part1_anime_faces.ipynb",
    "outputs/student-kit/coursekit-student-0.1.0.zip",
    "coursekit-student-0.1.0.zip",
]


def _git(clone: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=clone, capture_output=True, text=True, check=True)
    return done.stdout


def test_grading_outputs_are_ignored_and_the_examples_stay_tracked(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    # The working tree's .gitignore, committed or not, is the one under test.
    shutil.copy(REPO / ".gitignore", clone / ".gitignore")
    before = _git(clone, "status", "--porcelain")
    examples = _git(clone, "ls-files", "grading/submitted").split()
    assert len(examples) >= 8, examples

    for relative in WRITTEN:
        path = clone / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("student data\n")

    assert _git(clone, "status", "--porcelain", "--untracked-files=all") == before
    assert _git(clone, "ls-files", "grading/submitted").split() == examples
    # Tracked stays tracked: an edit to a shipped example is a change git shows.
    example = clone / examples[0]
    example.write_text(example.read_text() + "\n")
    assert f" M {examples[0]}" in _git(clone, "status", "--porcelain").splitlines()
