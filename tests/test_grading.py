"""The grading pipeline end to end: release, validate --invert, autograde of every example.

One module-scoped fixture releases both assignments into a temporary course directory
and autogrades the four shipped examples of each part and seven hostile Part 1
submissions once, in parallel (the isolated judge included); the tests then read its
results. Several minutes on 2 CPU cores.
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
    examples.write_submissions(submitted, hostile=True, releases=released)
    # 90 s per cell: an infinite loop costs 90 s of one worker, and the first cell
    # (imports) stays well inside it on a busy machine.
    results = pipeline.autograde(submitted, course=course, workers=3, timeout=90)
    return course, released, {(r.student, r.assignment): r for r in results}


# Solution cells per part, and text of the solutions that must not reach students.
TODOS = {"part1": 5, "part2": 3}
SECRETS = {"part1": "cumprod(alphas", "part2": "torch.flip(noise, dims=(-2, -1))"}


@pytest.mark.parametrize("assignment", sorted(pipeline.ASSIGNMENTS))
def test_release_hides_solutions_and_hidden_tests(graded, assignment):
    _, released, _ = graded
    nb = nbformat.read(released[assignment], as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "grading.reference", SECRETS[assignment]):
        assert secret not in text, f"the {assignment} release leaks {secret!r}"
    todos = [
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    ]
    assert len(todos) == TODOS[assignment]
    assert all("raise NotImplementedError()" in c.source for c in todos)
    assert all("checksum" in c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata)


def test_shipped_examples_are_generated_from_the_current_release(graded, tmp_path):
    _, released, _ = graded
    fresh = examples.write_submissions(tmp_path, releases=released)
    for path in fresh:
        shipped = pipeline.SUBMITTED / path.relative_to(tmp_path)
        assert json.loads(shipped.read_text()) == json.loads(path.read_text()), (
            f"{shipped} is stale: run `make release && python -m grading.examples`"
        )


@pytest.mark.parametrize("job", sorted(examples.EXPECTED), ids="-".join)
def test_every_submission_gets_its_expected_scores(graded, job):
    _, _, results = graded
    result = results[job]
    if job[0] == "untouched":  # nbgrader scores an unanswered report 0 by itself
        assert result.scores.get("report_scores") == 0
    else:
        assert "report_scores" not in result.scores, "an answered report waits for the instructor"
    got = {k: v for k, v in result.scores.items() if k.startswith("test_")} or dict.fromkeys(
        examples.FULL[job[1]], 0
    )
    assert got == examples.EXPECTED[job], f"{job}: {result.notes}"
    assert result.feedback is not None and result.feedback.is_file(), f"{job}: no feedback"


def test_grades_csv_has_one_row_per_student_and_assignment(graded):
    course, _, results = graded
    with (course / "grades.csv").open() as f:
        rows = {(row["student"], row["assignment"]): row for row in csv.DictReader(f)}
    assert set(rows) == set(results)
    assert rows["reference", "part1"]["autograded"] == "20"
    assert rows["reference", "part1"]["autograded_max"] == "20"
    assert rows["reference", "part2"]["autograded"] == "10"
    assert rows["untouched", "part1"]["autograded"] == "0"
    assert rows["planted_bugs", "part2"]["autograded"] == "1"
    assert rows["reference", "part1"]["report_scores"] == "", "the report waits for the instructor"


def test_the_grade_table_has_a_block_per_assignment(graded):
    _, _, results = graded
    table = pipeline.format_table(list(results.values()))
    assert "part1 (part1_anime_faces)" in table and "part2 (part2_illusions)" in table
    assert "20/20" in table and "10/10" in table


def test_feedback_explains_each_lost_point(graded):
    _, _, results = graded
    bugs = results["planted_bugs", "part1"].feedback.read_text()
    assert "the mean of x_t must be sqrt(alphas_bar[t]) * x_0" in bugs
    assert "the final images must lie in [0, 1]" in bugs
    bugs = results["planted_bugs", "part2"].feedback.read_text()
    assert "Rotate180View is a half turn, not a mirror" in bugs
    assert (
        "must reproduce diffusers&#39; IFPipeline" in bugs
        or "must reproduce diffusers' IFPipeline" in bugs
    )
    cheat = results["reference_import", "part1"].feedback.read_text()
    assert (
        "instructor&#39;s reference solution" in cheat or "instructor's reference solution" in cheat
    )
    assert "not a readable notebook" in results["malformed", "part1"].feedback.read_text()
    death = results["kernel_death", "part1"]
    assert "the kernel died" in death.notes
    assert any(
        n.startswith("todo_1_1_3 killed the kernel (the process exited") for n in death.notes
    )
    assert "this cell killed the kernel during grading" in death.feedback.read_text()
    for result in results.values():
        assert "HIDDEN TESTS" not in result.feedback.read_text(), (
            f"{result.student}/{result.assignment}: hidden tests leak"
        )


def test_hostile_events_are_reported(graded):
    _, _, results = graded
    assert "a cell timed out" in results["infinite_loop", "part1"].notes
    assert {
        "edited locked cell(s) restored: test_1_1_3",
        "deleted locked cell(s) restored: test_1_2_2",
    } <= set(results["edited_tests", "part1"].notes)
    assert any(
        "uses the reference solution" in n for n in results["reference_import", "part1"].notes
    )
    assert results["reference", "part1"].notes == results["reference", "part2"].notes == []
    assert results["seed_report", "part1"].notes == results["seed_report", "part2"].notes == []


def test_cheats_that_pass_in_the_kernel_are_defeated_by_the_judge(graded):
    course, _, results = graded
    cheats = results["cheats", "part1"]
    assert cheats.scores["test_1_2_2"] == 0, "a score written into the gradebook is undone"
    for todo in ("1-1-1", "1-1-3"):
        assert any(
            n.startswith(f"TODO {todo}: outputs differ from the reference when re-run in isolation")
            for n in cheats.notes
        ), (todo, cheats.notes)
    feedback = cheats.feedback.read_text()
    assert "run on its own in a fresh Python" in feedback
    # 30 MB printed by TODO 1-2-1's cell: 64 KiB kept, in the notebook and the feedback.
    assert "output truncated" in feedback and cheats.feedback.stat().st_size < 2 << 20
    autograded = course / "autograded" / "cheats" / "part1" / "part1_anime_faces.ipynb"
    assert autograded.stat().st_size < 2 << 20
