"""The instructor's tools after an autograde: the class report, a resumed run's table,
Ctrl-C, feedback of this run only, dropping a student, the rubric for the whole class,
the similarity check and the re-grade of one TODO.

No notebook is run: a small class is merged into a copy of the released course the way
``make autograde`` merges it (:func:`grading.autograde.batch.record`), from the shipped example
notebooks, with the scores and judge's comments of an autograde written in.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from grading.autograde import batch as pipeline
from grading.autograde import engine, regrade, sandbox
from grading.notebook_format import todo_of
from grading.records import class_report, drop
from grading.records.cell_grades import read_cell_grades
from grading.records.verdicts import judge_comment
from tests.conftest import activated, copy_kit

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "grading" / "submitted"
NOTEBOOK = "part1_anime_faces.ipynb"
FULL = {
    "test_1_1_1": 4.0,
    "test_1_1_2": 4.0,
    "test_1_1_3": 5.0,
    "test_1_2_1": 4.0,
    "test_1_2_2": 3.0,
}
MEAN = "t=250: the mean of x_t must be sqrt(alphas_bar[t]) * x_0 = 0.361, got {}"
LOOP = "the final images must lie in [0, 1] (use unnormalize)"

CLASS = {
    # student: (example notebook, points lost per test cell with the judge's reason)
    "reference": ("reference", {}),
    "seed_report": ("seed_report", {}),
    "planted_bugs": ("planted_bugs", {"test_1_1_2": MEAN.format("0.259"), "test_1_2_1": LOOP}),
    "alice": ("planted_bugs", {"test_1_1_2": MEAN.format("0.112")}),
    "bob": ("reference", {"test_1_1_2": MEAN.format("-1.5e-03")}),
}


def merge_class(course: Path, submitted: Path) -> None:
    """The :data:`CLASS` as an autograde merges it, and ``carol``, whose notebook never ran."""
    for student, (example, lost) in CLASS.items():
        folder = submitted / student / "part1"
        shutil.copytree(EXAMPLES / example / "part1", folder)
        graded = pipeline.Graded(
            student,
            "part1",
            auto_scores={cell: 0.0 if cell in lost else most for cell, most in FULL.items()},
            max_scores=FULL,
            comments={
                cell.replace("test_", "todo_"): judge_comment(why) for cell, why in lost.items()
            },
            notes=[f"TODO {todo_of(cell)}: {why}" for cell, why in lost.items()],
            notebook=json.loads((folder / NOTEBOOK).read_text()),
            timestamp=None,
            seconds=1.0,
            fingerprint=pipeline.fingerprint(folder),
        )
        pipeline.record(course, graded)
    (submitted / "carol" / "part1").mkdir(parents=True)
    job = pipeline.Job("carol", "part1", submitted / "carol" / "part1", course)
    pipeline.record(course, pipeline.not_graded(job, "the folder holds no notebook"))


@pytest.fixture(scope="module")
def graded_class(released_kit, tmp_path_factory) -> tuple[Path, Path]:
    kit = copy_kit(released_kit, tmp_path_factory.mktemp("instructor-kit"))
    course, submitted = kit / "grading" / "course", kit / "submissions"
    merge_class(course, submitted)
    return course, submitted


@pytest.fixture
def own_class(graded_class, tmp_path) -> tuple[Path, Path]:
    """A private copy of the graded class, for a test that changes it."""
    course, submitted = graded_class
    return (
        Path(shutil.copytree(course, tmp_path / "course")),
        Path(shutil.copytree(submitted, tmp_path / "submissions")),
    )


def command(*argv: str) -> subprocess.CompletedProcess:
    """``.venv/bin/python -m …`` as the README prints it, in a clean environment."""
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", *argv],
        cwd=REPO, env=activated(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def grades_csv(course: Path) -> dict[str, dict[str, str]]:
    with (course / "grades.csv").open() as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_the_class_report_counts_each_todo_and_each_mistake(graded_class):
    course, _ = graded_class
    done = command("grading.records.class_report", "--course", str(course))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "class report: part1 (part1_anime_faces), 6 students"
    # TODO, points, full, partial, zero, mean: 1-1-2 lost by three students and carol.
    assert lines[lines.index("TODO    points  full  partial  zero  mean") + 2].split() == [
        "1-1-2", "4", "2", "0", "4", "1.3",
    ]  # fmt: skip
    mistakes = lines[lines.index("most common reasons for lost points:") + 1 :]
    expected = "t=250: the mean of x_t must be sqrt(alphas_bar[t]) * x_0 = …, got …"
    assert mistakes[0] == f"    3 × 1-1-2: {expected}", "one mistake, however its numbers came out"
    assert f"    1 × 1-2-1: {LOOP}" in mistakes
    assert any("the folder holds no notebook" in m for m in mistakes), "carol's notes"
    picture = course / class_report.PICTURE
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"picture: {picture}" in lines
    page = (course / class_report.PAGE).read_text()
    assert "alice, bob, planted_bugs" in page and "data:image/png;base64," in page


def test_a_resumed_run_shows_the_recorded_scores(graded_class, tmp_path):
    course, submitted = graded_class
    jobs = [
        pipeline.Job(student, "part1", submitted / student / "part1", course)
        for student in ("reference", "planted_bugs", "alice")
    ]
    changed = tmp_path / "alice" / "part1"  # alice handed in again since
    shutil.copytree(submitted / "alice" / "part1", changed)
    (changed / "timestamp.txt").write_text("2026-11-30 13:05:00.000000 UTC")
    jobs[2] = pipeline.Job("alice", "part1", changed, course)
    kept = pipeline.kept_results(course, jobs)
    assert set(kept) == {("reference", "part1"), ("planted_bugs", "part1")}
    table = pipeline.format_table(list(kept.values()))
    assert "reference     4      4      5      4      3      20/20" in table, table
    assert "planted_bugs  4      0      5      0      3      12/20" in table, table
    assert table.count("already graded (--resume): kept") == 2


def test_ctrl_c_keeps_what_was_merged_and_names_resume(own_class, monkeypatch):
    course, submitted = own_class
    shutil.rmtree(course / "autograded")  # not graded yet: nothing to resume from

    def interrupted(function, jobs, *, on_result, **_):
        graded = pipeline.not_graded(jobs[0], "stand-in for a graded submission")
        on_result(engine.Outcome(jobs[0], graded, None, 1.0))
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run_jobs", interrupted)
    with pytest.raises(pipeline.Interrupted) as caught:
        pipeline.autograde(submitted, course, use_sandbox=False, assignment="part1")
    assert caught.value.message("make autograde RESUME=1") == (
        "interrupted: 1 submission graded in this run is kept in the gradebook and "
        "grades.csv, 5 were not graded: `make autograde RESUME=1` goes on with those not "
        "graded since they last changed, and writes the feedback"
    )
    assert "stand-in for a graded submission" in grades_csv(course)["alice"]["notes"]
    with pytest.raises(sandbox.Stopped):  # the killed run's threads start no sandbox
        sandbox.run(["true"], course, {}, sandbox=False)
    sandbox.reopen()


def test_ctrl_c_prints_the_make_command_that_goes_on(monkeypatch, capsys, tmp_path):
    def interrupted(*_, **__):
        raise pipeline.Interrupted(2, 3)

    monkeypatch.setattr(pipeline, "autograde", interrupted)
    argv = ["--submitted", str(tmp_path), "--student", "bob", "--assignment", "part1"]
    assert pipeline.main(argv) == 130
    said = capsys.readouterr().err.strip().splitlines()
    assert said == [
        pipeline.Interrupted(2, 3).message(
            f"make autograde SUBMITTED={tmp_path} STUDENT=bob ASSIGNMENT=part1 RESUME=1"
        )
    ], "one line, no traceback"


def test_stopping_kills_a_running_sandbox_at_once(tmp_path):
    outcome = {}

    def long_run():
        try:
            sandbox.run(["sleep", "60"], tmp_path, dict(os.environ), sandbox=False)
        except sandbox.Stopped as stopped:
            outcome["stopped"] = stopped

    worker = threading.Thread(target=long_run)
    worker.start()
    time.sleep(0.5)
    start = time.perf_counter()
    assert sandbox.stop_all() == 1
    worker.join(timeout=10)
    sandbox.reopen()
    assert "stopped" in outcome and time.perf_counter() - start < 5


def test_feedback_is_written_for_the_submissions_graded_since(own_class):
    course, _ = own_class
    pipeline.write_feedback(course, {})
    pages = {p.parts[-3]: p for p in (course / "feedback").glob("*/part1/*.html")}
    assert set(pages) == {*CLASS, "carol"}, "every submission has its page"
    written = {student: page.stat().st_mtime_ns for student, page in pages.items()}
    os.utime(pipeline.autograded_notebook(course, "alice", "part1"))  # alice re-graded
    pipeline.write_feedback(course, {})
    again = {student: page.stat().st_mtime_ns for student, page in pages.items()}
    assert {s for s in pages if again[s] != written[s]} == {"alice"}


def test_a_dropped_student_leaves_the_grades_and_is_not_graded(own_class):
    course, submitted = own_class
    done = command(
        "grading.records.drop", "bob", "--reason", "withdrew on 2026-11-02", "--course", str(course)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        f"dropped bob (withdrew on 2026-11-02): removed from {course / 'gradebook.db'} (part1)"
    )
    assert "bob" not in grades_csv(course) and not (course / "autograded" / "bob").exists()
    assert (submitted / "bob" / "part1" / NOTEBOOK).is_file(), "the submission stays"
    with pytest.raises(pipeline.PipelineError, match="bob was dropped from the course"):
        pipeline.autograde(submitted, course, student="bob", use_sandbox=False)
    only_bob = submitted.parent / "only-bob"
    shutil.copytree(submitted / "bob", only_bob / "bob")
    with pytest.raises(pipeline.PipelineError, match="no submissions"):
        pipeline.autograde(only_bob, course, use_sandbox=False)
    assert command("grading.records.drop", "bob", "--undo", "--course", str(course)).returncode == 0
    assert json.loads((course / "dropped.json").read_text()) == {}


def test_the_assignment_filter_grades_nothing_else(own_class):
    course, submitted = own_class
    with pytest.raises(pipeline.PipelineError, match="no submissions"):
        pipeline.autograde(submitted, course, use_sandbox=False, assignment="part2")


def test_the_rubric_scores_every_report_of_the_class(own_class):
    course, submitted = own_class
    (submitted / "reference" / "part1" / "scores.json").write_text('{"fid": 72.38, "afd": 0.943}')
    (submitted / "alice" / "part1" / "scores.json").write_text('{"fid": 140.0, "afd": 0.5}')
    done = command(
        "grading.records.rubric",
        "--class",
        "part1",
        "--submitted",
        str(submitted),
        "--course",
        str(course),
    )
    assert done.returncode == 1, "reports left unscored are an error to look at"
    lines = done.stdout.splitlines()
    assert "reference: FID 72.38, AFD 94.30 %: 18 / 20" in lines
    assert lines[-3] == (
        "no scores.json (nor in a zip) from 4: bob, carol, planted_bugs, seed_report: the "
        "notebook writes it beside its results; ask them for it"
    )
    assert lines[-2].startswith(
        "part1: 2 of 6 reports recorded as the manual grade of report_scores"
    )
    assert lines[-1] == f"grades: {course / 'grades.csv'}"
    rows = grades_csv(course)
    assert rows["reference"]["part1_manual"] == "18" and rows["bob"]["part1_manual"] == "0"


def test_similarity_ranks_the_copy_first_and_ignores_the_starter_code(graded_class, tmp_path):
    course, submitted = graded_class
    for student in ("reference", "planted_bugs", "seed_report"):
        shutil.copytree(EXAMPLES / student / "part1", tmp_path / student / "part1")
    shutil.copytree(EXAMPLES / "reference" / "part1", tmp_path / "copier" / "part1")
    shutil.copytree(EXAMPLES / "untouched" / "part1", tmp_path / "untouched" / "part1")
    shutil.copytree(EXAMPLES / "untouched" / "part1", tmp_path / "untouched2" / "part1")
    done = command(
        "grading.autograde.similarity", "--assignment", "part1", "--submitted", str(tmp_path),
        "--course", str(course),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ranked = done.stdout.splitlines()[2:]
    assert ranked[0].split()[1:] == [
        "100%",
        "copier",
        "(100%)",
        "↔",
        "reference",
        "(100%)",
        ranked[0].split()[-1],
    ]
    assert not any("untouched" in line for line in ranked), "two blank releases are not similar"
    report = course / "similarity" / "part1.html"
    assert ranked[-1] == f"report: {report}" and "copier" in report.read_text()


def test_regrading_one_todo_changes_that_cell_only(own_class):
    course, submitted = own_class
    for student in ("reference", "seed_report", "planted_bugs", "carol"):  # a class of two
        drop.drop(course, student, "not in this test")
    before = {g.student: g for g in read_cell_grades(course, "part1")}
    lines = regrade.regrade("1-1-2", submitted, course, workers=2, use_sandbox=False)
    after = {g.student: g for g in read_cell_grades(course, "part1")}
    # The old scores were made up: the judge now gives reference's code (bob) its points
    # and finds planted_bugs' (alice's) bug again.
    assert after["bob"].scores["test_1_1_2"] == 4 and after["alice"].scores["test_1_1_2"] == 0
    assert "x_t differs from the reference" in after["alice"].reasons["test_1_1_2"]
    assert "  bob: 0 -> 4" in lines and lines[0].startswith("re-graded TODO 1-1-2 (part1) of 2")
    for student in before:
        other = {c: s for c, s in before[student].scores.items() if c != "test_1_1_2"}
        assert {c: after[student].scores[c] for c in other} == other, student
