"""The grader's words: on a TODO (its gradebook comment, the line under its test cell) and
on a submission (the notes on its report cell, the notes in grades.csv).

Written by the autograder and the gradebook, read back by the class report (the most
common mistakes), :mod:`grading.records.cell_grades` and the LMS uploads, so the wording
lives here once.
"""

from __future__ import annotations

JUDGED = "this TODO's code, run on its own in a fresh Python on the grading cases,"


def judge_comment(reason: str) -> str:
    """The comment on a TODO that the judge failed, for the student and in the gradebook."""
    plain = (
        reason
        if reason.startswith(("raised", "killed", "segfault", "stopped", "uses "))
        else f"gives: {reason}"
    )
    # torch's messages end in "!" or ".": no second full stop after them.
    return f"Scored 0: {JUDGED} {plain}{'' if plain.endswith(('.', '!', '?')) else '.'}"


def verdict_text(points: float, verdict, failed_here: bool) -> str:
    """What the grader says under a test cell: the score it decided and why."""
    if not verdict.ok:
        return judge_comment(verdict.reason)
    if failed_here:
        return (
            f"Scored 0: {JUDGED} agrees with the reference, but the tests of this cell "
            "failed in the notebook's run (below)."
        )
    return f"Scored {points:g} / {points:g}: {JUDGED} agrees with the reference."


NOT_GRADED_YET = "not graded yet"
"""The note of a cell that waits for its manual grade (grades.csv's notes column)."""


NOTES_TITLE = "Autograding notes"
