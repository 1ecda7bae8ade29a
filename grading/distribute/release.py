"""The student versions of the notebooks: ``make release``.

    python -m grading.distribute.release    # notebooks/ -> course/source -> course/release, validated

``nbgrader generate_assignment`` writes ``grading/course/release/<assignment>/`` and the
master cells into the course gradebook; ``nbgrader validate --invert`` then checks that
every TODO test of the untouched release fails. :func:`write_master_gradebook` is the copy
of the gradebook without any student that a grading run may see.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grading.course import ASSIGNMENTS, COURSE, PipelineError, released_notebook, source_notebook
from grading.nbgrader_commands import nbgrader


def release(course: Path = COURSE) -> dict[str, Path]:
    """Generate the student versions from ``notebooks/`` and check that their TODO tests fail."""
    released = {}
    for assignment in ASSIGNMENTS:
        source = course / "source" / assignment
        source.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source_notebook(assignment), source)
        done = nbgrader("generate_assignment", assignment, "--force", root=course)
        if done.returncode:
            raise PipelineError(
                f"nbgrader generate_assignment {assignment} failed:\n{done.stdout}{done.stderr}"
            )
        released[assignment] = released_notebook(assignment, course)
    # The checks only read the releases: side by side (generate_assignment writes the
    # gradebook, one writer at a time, so it ran above, one assignment after the other).
    with ThreadPoolExecutor(max_workers=len(released)) as pool:
        list(pool.map(check_release_fails, released.values()))
    return released


def check_release_fails(released: Path) -> None:
    """``nbgrader validate --invert``: every test cell of the untouched release must fail."""
    done = nbgrader("validate", "--invert", str(released), root=released.parents[2])
    output = done.stdout + done.stderr
    # nbgrader prints this only when no graded cell passes; otherwise it lists them.
    if done.returncode or "Success! The notebook does not pass any tests." not in output:
        raise PipelineError(f"the release passes some of its own tests:\n{output}")


def master_gradebook(course: Path) -> Path:
    return course / ".master" / "gradebook.db"


def write_master_gradebook(course: Path) -> Path:
    """The course gradebook without any student: what a sandbox may see of it.

    nbgrader's autograde reads the master cells (the test cells it restores) from it;
    the course gradebook itself holds every student's grades and never enters a sandbox.
    """
    from nbgrader.api import Gradebook

    path = master_gradebook(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    shutil.copy2(course / "gradebook.db", scratch)
    with Gradebook(f"sqlite:///{scratch}") as gb:
        for who in list(gb.students):
            gb.remove_student(who.id)
    scratch.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m grading.distribute.release", description=__doc__.splitlines()[0]
    ).parse_args(argv)
    try:
        for path in release().values():
            print(f"release: {path} (validated: its TODO tests fail)")
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
