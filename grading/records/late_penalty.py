"""Late penalties: nbgrader's late-submission plugin with the course's late policy, and
the steps that put due dates, extensions and penalties into the gradebook.

``grading/nbgrader_config.py`` names :class:`DeadlinesLatePenalty` as
``c.AssignLatePenalties.plugin_class``, so ``make autograde``, ``make grades`` and the
stock nbgrader commands take the same penalty: the ``[late] policy`` of the deadlines file
beside the course directory (:mod:`grading.records.deadlines`). Its own module: nbgrader is slow
to import, and the deadlines are read where nbgrader is not needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nbgrader.plugins import LateSubmissionPlugin

from grading.course import COURSE
from grading.nbgrader_commands import database_url
from grading.records.deadlines import Deadlines, deadlines_file, load_deadlines

if TYPE_CHECKING:
    from nbgrader.api import Gradebook
    from traitlets.config import Config


class DeadlinesLatePenalty(LateSubmissionPlugin):
    """The ``[late] policy`` of the deadlines beside ``CourseDirectory.root``; where the
    file sets none, nbgrader's own ``penalty_method`` ("none", "zero") applies."""

    def late_submission_penalty(
        self, student_id: str, score: float, total_seconds_late: float
    ) -> float | None:
        root = self.config.get("CourseDirectory", {}).get("root") or COURSE
        policy = load_deadlines(deadlines_file(Path(root))).late
        if policy is None:
            return super().late_submission_penalty(student_id, score, total_seconds_late)
        return policy.penalty(score, total_seconds_late)


def assign_late_penalty(course: Path, assignment: str, student: str, config: Config) -> float:
    """Run nbgrader's ``AssignLatePenalties`` on the submission: the configured plugin
    (``c.AssignLatePenalties.plugin_class``, ``c.LateSubmissionPlugin.penalty_method``)
    sets ``SubmittedNotebook.late_submission_penalty`` from the score and the lateness."""
    from nbformat.v4 import new_notebook
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties

    # The plugin reads the late policy beside the course it is given.
    config = config.copy()
    config.CourseDirectory.root = str(course)
    penalties = AssignLatePenalties(config=config)
    with Gradebook(database_url(course)) as gb:
        names = [nb.name for nb in gb.find_submission(assignment, student).notebooks]
    for name in names:
        # It reads only the gradebook: the notebook it is handed is not looked at.
        resources = {
            "nbgrader": {
                "notebook": name,
                "assignment": assignment,
                "student": student,
                "db_url": database_url(course),
            }
        }
        penalties.preprocess(new_notebook(), resources)
    with Gradebook(database_url(course)) as gb:
        return gb.find_submission(assignment, student).late_submission_penalty or 0.0


def write_deadlines(gb: Gradebook, deadlines: Deadlines, assignment: str | None = None) -> None:
    """Due dates into ``Assignment.duedate`` (None where the file has none: the file is the
    one truth) and extensions into the submissions' ``extension``; of one assignment, or all."""
    from nbgrader.utils import parse_utc

    for row in gb.assignments:
        if assignment not in (None, row.name):
            continue
        row.duedate = parse_utc(deadlines.due.get(row.name))
        for submission in row.submissions:
            submission.extension = deadlines.extension(row.name, submission.student.id)
    gb.db.commit()
