"""The student kit's own text sends students to nothing they do not have.

``helpers/`` is what students get; ``grading/`` (the reference answers, the instructor's
commands) is not. A paragraph of ``helpers/`` that names a ``grading`` command (or the paragraph that
introduces it, for a literal block after ``::``) says it is the course repository's
(issue 28: docstrings told students to run ``python -m grading.authoring.reference …``).
"""

from __future__ import annotations

import re
from pathlib import Path

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
COMMAND = re.compile(r"-m grading\b")


def test_every_grading_command_in_the_student_kit_is_marked_as_the_instructors():
    unmarked = []
    for path in sorted(HELPERS.rglob("*.py")):
        paragraphs = re.split(r"\n\s*\n", path.read_text())
        for before, paragraph in zip(["", *paragraphs], paragraphs, strict=False):
            if COMMAND.search(paragraph) and "course repository" not in before + paragraph:
                unmarked.append(f"{path.relative_to(HELPERS.parent)}: {paragraph.strip()[:120]}")
    assert not unmarked, "\n".join(unmarked)
