"""The course: its places, its assignments and the limits every submission is graded under.

The one home of these facts; every grading module reads them from here. The flow::

    notebooks/ --release--> course/release --(students)--> LMS download
      --collect--> submitted/<student>/<assignment>/ --autograde (sandbox + judge)-->
      course/autograded, course/feedback, course/gradebook.db --grades--> grades.csv

Course directory ``grading/course`` (generated, git-ignored)::

    source/<assignment>/<notebook>.ipynb      copies of notebooks/<notebook>.ipynb
    release/<assignment>/<notebook>.ipynb     the student versions (nbgrader generate_assignment)
    gradebook.db                              the master cells (release) and every grade
    autograded/<student>/<assignment>/        executed submissions
    feedback/<student>/<assignment>/*.html    per-student feedback
    grades.csv                                one row per student (grading.records.gradebook)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GRADING = Path(__file__).resolve().parent
REPO = GRADING.parent
COURSE = GRADING / "course"
SUBMITTED = GRADING / "submitted"
COURSE_ID = "diffusion"
"""nbgrader's ``CourseDirectory.course_id`` (the JupyterHub exchange's folder too)."""
ROSTER = GRADING / "students.csv"
DEADLINES = GRADING / "deadlines.toml"
"""Due dates and extensions (:mod:`grading.records.deadlines`); a course directory's sit beside it."""

ASSIGNMENTS = {"part1": "part1_anime_faces", "part2": "part2_illusions"}
"""nbgrader assignment -> its notebook's name (in ``notebooks/`` and in every submission)."""

TODO_PREFIX, TEST_PREFIX = "todo_", "test_"
"""Solution cell ``todo_X`` is tested by grade cell ``test_X``."""

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
"""What nbgrader takes as a student id and a folder name on every platform."""


class PipelineError(RuntimeError):
    """A step of the instructor's pipeline failed (not a student's submission)."""


def source_notebook(assignment: str) -> Path:
    """The instructor's notebook of ``assignment`` (solutions and hidden tests included)."""
    return REPO / "notebooks" / f"{ASSIGNMENTS[assignment]}.ipynb"


def released_notebook(assignment: str, course: Path = COURSE) -> Path:
    """The student version of ``assignment`` in the course directory ``course``."""
    return course / "release" / assignment / f"{ASSIGNMENTS[assignment]}.ipynb"


@dataclass(frozen=True)
class Limits:
    """What one submission may use inside its sandbox (:mod:`grading.autograde.sandbox`).

    The defaults fit a 2-core machine grading two submissions at a time: a reference
    submission's kernel peaks near 1.5 GiB and runs in 15 s of CPU; Part 2's judge
    needs about 5 s per TODO.
    """

    cell_seconds: int = 120
    """Wall time of one notebook cell (nbgrader's ``Execute.timeout``)."""
    wall_seconds: int = 900
    """Wall time of one sandbox (the whole notebook, or all of one submission's judge runs)."""
    todo_seconds: int = 90
    """Wall time of one TODO's judge run."""
    cpu_seconds: int = 600
    """CPU time of any one process in the sandbox."""
    memory_bytes: int = 6 << 30
    """Address space of any one process (torch maps about 1.5 GiB before it computes)."""
    file_bytes: int = 64 << 20
    """Largest file a process may write."""
    scratch_bytes: int = 256 << 20
    """Size of the submission's private scratch folder (a tmpfs: nothing reaches the disk)."""
    tmp_bytes: int = 64 << 20
    """Size of ``/tmp`` and of ``/dev/shm`` inside the sandbox, each (tmpfs as well)."""
    processes: int = 256
    """Processes and threads of one sandbox (its cgroup's ``pids.max``; without a cgroup,
    ``RLIMIT_NPROC`` of the grader's user, which binds only when that is not root)."""
    output_bytes: int = 64 << 20
    """Largest result (the executed notebook, the TODOs' outputs) read back from a sandbox."""
    cell_output_bytes: int = 64 << 10
    """Output kept per cell in the autograded notebook and the feedback."""


LIMITS = Limits()
"""The course's defaults (``python -m grading.autograde.batch --help`` overrides some)."""
