"""The students' feedback pages: nbgrader's (``generate_feedback``) for every notebook that
ran, a page of the kit's own saying why for a submission that could not be graded."""

from __future__ import annotations

import html
import subprocess
from pathlib import Path

from grading.autograde.jobs import Result, autograded_notebook, failure
from grading.course import ASSIGNMENTS
from grading.nbgrader_commands import nbgrader


def write_feedback(course: Path, results: dict[tuple[str, str], Result]) -> None:
    """nbgrader's feedback pages (trusted: no code executes) of the submissions whose
    autograded notebook is newer than their feedback: those graded in this run, and those
    an interrupted run merged before it stopped. The other students' pages stay as they are.
    A page that cannot be written is a note on its row."""
    for assignment, name in ASSIGNMENTS.items():
        graded = sorted(
            p.parent.parent.name
            for p in (course / "autograded").glob(f"*/{assignment}/{name}.ipynb")
        )
        stale = [s for s in graded if _feedback_is_stale(course, s, assignment)]
        failed = ""
        if stale:
            others = ",".join(sorted(set(graded) - set(stale)))
            try:
                done = nbgrader(
                    "generate_feedback", assignment, "--force",
                    f"--CourseDirectory.student_id_exclude={others}", root=course,
                )  # fmt: skip
                failed = "feedback could not be generated" if done.returncode else ""
            except (OSError, subprocess.SubprocessError) as error:
                failed = failure("writing the feedback", error)
        for (student, part), result in results.items():
            if part != assignment:
                continue
            try:
                pages = sorted((course / "feedback" / student / assignment).rglob("*.html"))
            except OSError as error:
                result.notes.append(failure("finding the feedback", error))
                continue
            result.feedback = result.feedback or (pages[0] if pages else None)
            if failed and student in stale and not pages:
                result.notes.append(failed)


def _feedback_is_stale(course: Path, student: str, assignment: str) -> bool:
    notebook = autograded_notebook(course, student, assignment)
    page = course / "feedback" / student / assignment / notebook.with_suffix(".html").name
    return not page.is_file() or page.stat().st_mtime < notebook.stat().st_mtime


def add_failure_feedback(course: Path, result: Result) -> None:
    """:func:`write_failure_feedback` for ``result``'s row; a failure is a note on it."""
    try:
        result.feedback = write_failure_feedback(course, result)
    except Exception as error:
        result.notes.append(failure("writing the feedback page", error))


def write_failure_feedback(course: Path, result: Result) -> Path:
    """nbgrader wrote no feedback (the notebook never ran): say why in a page of our own."""
    name = ASSIGNMENTS.get(result.assignment)
    folder = course / "feedback" / result.student / (result.assignment or "not-graded")
    folder.mkdir(parents=True, exist_ok=True)
    items = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    what = f"Your {result.assignment} submission could not be graded, so every TODO scores 0"
    if not name:
        what = "Part of what you submitted could not be graded"
    page = folder / f"{name or 'not-graded'}.html"
    page.write_text(
        f"<html><body><h1>{html.escape(result.assignment)}: {html.escape(result.student)}</h1>"
        f"<p>{what}:</p><ul>{items}</ul><p>Submit each notebook file itself "
        f"({', '.join(f'{n}.ipynb' for n in ASSIGNMENTS.values())}), saved from Jupyter, "
        "one per assignment.</p></body></html>"
    )
    return page
