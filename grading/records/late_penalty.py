"""nbgrader's late-submission plugin with the course's late policy.

``grading/nbgrader_config.py`` names :class:`DeadlinesLatePenalty` as
``c.AssignLatePenalties.plugin_class``, so ``make autograde``, ``make grades`` and the
stock nbgrader commands take the same penalty: the ``[late] policy`` of the deadlines file
beside the course directory (:mod:`grading.records.deadlines`). Its own module: nbgrader is slow
to import, and the deadlines are read where nbgrader is not needed.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin

from grading.course import COURSE
from grading.records.deadlines import deadlines_file, load_deadlines


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
