"""The grading pipeline end to end: release, validate --invert, autograde of every example.

One module-scoped fixture releases the assignment into a temporary course directory
and autogrades the three shipped examples and six hostile submissions once, in
parallel; the tests then read its results. Several minutes on 2 CPU cores.
"""

from __future__ import annotations

import csv
import json

import nbformat
import pytest

from grading import examples, pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    released = pipeline.release(course)  # raises unless validate --invert fails every test
    submitted = course / "submitted-in"
    examples.write_submissions(submitted, hostile=True, release=released)
    # 90 s per cell: an infinite loop costs 90 s of one worker, and the first cell
    # (imports) stays well inside it on a busy machine.
    results = pipeline.autograde(submitted, course=course, workers=3, timeout=90)
    return course, released, {r.student: r for r in results}


def test_release_hides_solutions_and_hidden_tests(graded):
    _, released, _ = graded
    nb = nbformat.read(released, as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "grading.reference", "cumprod(alphas"):
        assert secret not in text, f"the release leaks {secret!r}"
    todos = [
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    ]
    assert len(todos) == 5
    assert all("raise NotImplementedError()" in c.source for c in todos)
    assert all("checksum" in c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata)


def test_shipped_examples_are_generated_from_the_current_release(graded, tmp_path):
    _, released, _ = graded
    fresh = examples.write_submissions(tmp_path, release=released)
    for path in fresh:
        shipped = pipeline.SUBMITTED / path.relative_to(tmp_path)
        assert json.loads(shipped.read_text()) == json.loads(path.read_text()), (
            f"{shipped} is stale: run `make release && python -m grading.examples`"
        )


@pytest.mark.parametrize("student", sorted(examples.EXPECTED))
def test_every_submission_gets_its_expected_scores(graded, student):
    _, _, results = graded
    result = results[student]
    assert result.scores.get("report_scores", 0) == 0, "the report is graded by hand"
    got = {k: v for k, v in result.scores.items() if k.startswith("test_")} or dict.fromkeys(
        examples.FULL, 0
    )
    assert got == examples.EXPECTED[student], f"{student}: {result.notes}"
    assert result.feedback is not None and result.feedback.is_file(), f"{student}: no feedback"


def test_grades_csv_has_one_row_per_student(graded):
    course, _, results = graded
    with (course / "grades.csv").open() as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(results)
    assert rows["reference"]["autograded"] == "16" and rows["reference"]["autograded_max"] == "16"
    assert rows["untouched"]["autograded"] == "0"


def test_feedback_explains_each_lost_point(graded):
    _, _, results = graded
    bugs = results["planted_bugs"].feedback.read_text()
    assert "the mean of x_t must be sqrt(alphas_bar[t]) * x_0" in bugs
    assert "the final images must lie in [0, 1]" in bugs
    cheat = results["reference_import"].feedback.read_text()
    assert (
        "instructor&#39;s reference solution" in cheat or "instructor's reference solution" in cheat
    )
    assert "not a readable notebook" in results["malformed"].feedback.read_text()
    assert "the kernel died" in results["kernel_death"].notes
    for result in results.values():
        assert "HIDDEN TESTS" not in result.feedback.read_text(), (
            f"{result.student}: hidden tests leak"
        )


def test_hostile_events_are_reported(graded):
    _, _, results = graded
    assert "a cell timed out" in results["infinite_loop"].notes
    assert {
        "edited locked cell(s) restored: test_1_1_3",
        "deleted locked cell(s) restored: test_1_2_2",
    } <= set(results["edited_tests"].notes)
    assert any("uses the reference solution" in n for n in results["reference_import"].notes)
    assert results["reference"].notes == []
