"""Bad input costs one row, never the batch (grading/autograde/batch.py, grading/records/submission_times.py).

Whatever raises while one submission is restored, graded, merged or given its feedback
becomes that submission's row with a one-line reason; links and special files in
``submitted/`` are refused; the submission time is the LMS's, from the times file that
``make collect`` writes, never a file of the student's folder. Nothing here runs student
code: the grading step itself is replaced where a test needs it to succeed or to raise
(the real grading of hostile submissions is tests/test_grading.py's).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from grading import notebook_format as nbcells
from grading.autograde import batch as pipeline
from grading.autograde import submission
from grading.autograde.jobs import LINK_REFUSED, refused_entries, time_notes
from grading.course import released_notebook
from grading.records import gradebook, submission_times
from tests.conftest import activated, copy_kit

SECRET = "SECRET-REFERENCE-LINE = torch.cumprod(alphas)"
"""Stands for a file of the grader's that a student's link or bad file points at."""

NOTEBOOK = f"{pipeline.ASSIGNMENTS['part1']}.ipynb"


def test_submission_times_are_recorded_in_utc_kept_per_row_and_removed_with_none(tmp_path):
    berlin = timezone(timedelta(hours=1))
    LmsTime = submission_times.LmsTime
    submission_times.record(
        tmp_path,
        {
            ("alice", "part1"): LmsTime(
                datetime(2026, 11, 30, 14, 5, tzinfo=berlin), False, "worksheet"
            ),
            ("bob", "part1"): LmsTime(datetime(2026, 11, 29, 9, 0, tzinfo=UTC)),
            ("carl", "part1"): LmsTime(None, True, "Canvas file name"),
        },
    )
    submission_times.record(tmp_path, {("bob", "part1"): None})
    assert submission_times.read_times(tmp_path) == {
        ("alice", "part1"): datetime(2026, 11, 30, 13, 5)
    }
    assert submission_times.times_file(tmp_path).read_text() == (
        "student,assignment,submitted,late_mark,source\n"
        "alice,part1,2026-11-30T13:05:00+00:00,,worksheet\n"
        "carl,part1,,LATE,Canvas file name\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == [submission_times.TIMES_FILE]
    with pytest.raises(ValueError, match="has no time zone"):
        submission_times.record(tmp_path, {("carol", "part1"): LmsTime(datetime(2026, 1, 1))})


def test_a_broken_times_file_names_its_line_and_the_fix(tmp_path):
    path = submission_times.times_file(tmp_path)
    path.write_text(
        "student,assignment,submitted,late_mark,source\n"
        "alice,part1,2026-11-30T13:05:00+00:00,,\nbob,part1,yesterday,,\n"
    )
    with pytest.raises(
        submission_times.TimesError,
        match=r"line 3: the time of bob/part1 .* 2026-11-30T13:05:00\+00:00",
    ):
        submission_times.read_times(tmp_path)
    path.write_text("who,when\n")
    with pytest.raises(
        submission_times.TimesError, match="header must be student,assignment,submitted,late_mark"
    ):
        submission_times.read_times(tmp_path)


def test_links_and_special_files_are_refused_and_named_safely(tmp_path):
    folder = tmp_path / "part1"
    (folder / "sub").mkdir(parents=True)
    (folder / "scores.json").write_text("{}")
    assert refused_entries(folder) == ""
    secret = tmp_path / "secret.py"
    secret.write_text(SECRET)
    (folder / NOTEBOOK).symlink_to(secret)
    (folder / "sub" / "escape\x1b[31m").symlink_to(tmp_path)
    os.mkfifo(folder / "fifo")
    (folder / ("x" * 200)).symlink_to(secret)
    refused = refused_entries(folder)
    assert refused.startswith("refused: ") and refused.endswith("submit the files themselves")
    assert "fifo" in refused and NOTEBOOK in refused and "and 1 more" in refused
    assert "\x1b" not in refused and SECRET not in refused and len(refused) < 300, refused


def test_a_student_or_assignment_folder_that_is_a_link_is_a_row_of_its_own(tmp_path):
    (tmp_path / "carol" / "part1").mkdir(parents=True)
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "part1").symlink_to(tmp_path / "carol" / "part1")
    (tmp_path / "mallory").symlink_to(tmp_path / "carol")
    jobs, problems = pipeline.find_jobs(tmp_path)
    assert jobs == [("carol", "part1")]
    assert {(r.student, r.assignment): r.notes for r in problems} == {
        ("bob", "part1"): [LINK_REFUSED],
        ("mallory", ""): [LINK_REFUSED],
    }


def submit(submitted: Path, student: str, notebook: Path) -> Path:
    folder = submitted / student / "part1"
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_bytes(notebook.read_bytes())
    return folder


@pytest.fixture
def course(released_kit, tmp_path) -> Path:
    return copy_kit(released_kit, tmp_path / "kit") / "grading" / "course"


def test_every_step_that_raises_costs_its_own_row_only(course, tmp_path, monkeypatch, capsys):
    """Grading raises for one submission (a message holding a whole file), merging for
    another, a third is a link to a grader's file, a fourth brings its own timestamp.txt
    (made of that file); the two honest ones are merged at the LMS's time."""
    release = released_notebook("part1", course)
    secret = tmp_path / "secret.py"
    secret.write_text(SECRET + "\n" + "x = 1\n" * 2000)
    submitted = tmp_path / "submitted"
    for student in ("honest", "late", "raises", "unmergeable"):
        submit(submitted, student, release)
    (submitted / "late" / "part1" / "timestamp.txt").write_text(secret.read_text())
    (submitted / "linked" / "part1").mkdir(parents=True)
    (submitted / "linked" / "part1" / NOTEBOOK).symlink_to(secret)
    lms_time = datetime(2026, 11, 30, 13, 5, tzinfo=UTC)
    submission_times.record(submitted, {("late", "part1"): submission_times.LmsTime(lms_time)})

    def grade(job: pipeline.Job) -> pipeline.Graded:  # stands for the sandboxed grading
        if job.student == "raises":
            raise ValueError("cannot parse\n" + secret.read_text())
        tests = nbcells.test_cells(nbcells.read_notebook(release))
        return pipeline.Graded(
            job.student, job.assignment, auto_scores=tests, max_scores=tests, comments={},
            notes=time_notes(job), notebook=nbcells.read_notebook(release),
            timestamp=job.submitted_at, seconds=0.0, fingerprint=pipeline.fingerprint(job.folder),
        )  # fmt: skip

    merge = gradebook.merge_submission

    def merge_or_raise(course, assignment, student, **kwargs):
        if student == "unmergeable":
            raise RuntimeError("database is locked\n" + SECRET)
        return merge(course, assignment, student, **kwargs)

    monkeypatch.setattr(submission, "_grade", grade)
    monkeypatch.setattr(gradebook, "merge_submission", merge_or_raise)
    results = {
        r.student: r for r in pipeline.autograde(submitted, course=course, workers=2, progress=True)
    }
    assert sorted(results) == ["honest", "late", "linked", "raises", "unmergeable"]
    assert results["honest"].total == results["late"].total == 20
    for student in ("linked", "raises", "unmergeable"):
        assert results[student].total == 0
    assert results["linked"].notes[0].startswith(f"refused: {NOTEBOOK} is a link")
    assert results["raises"].notes[0] == "grading failed: ValueError: 'cannot parse'"
    assert results["unmergeable"].notes == ["merging failed: RuntimeError: 'database is locked'"]
    assert any(
        n.startswith("timestamp.txt in the submission folder ignored")
        for n in results["late"].notes
    )
    shown = pipeline.format_table(list(results.values())) + "".join(capsys.readouterr())
    for result in results.values():
        assert all("\n" not in n and len(n) <= 300 for n in result.notes), result.notes
        page = result.feedback.read_text() if result.feedback else ""
        shown += page
        assert result.feedback is not None, result
    assert SECRET not in shown and "x = 1" not in shown, "a file's content is shown"
    from nbgrader.api import Gradebook

    with Gradebook(gradebook.database_url(course)) as gb:
        assert gb.find_submission("part1", "late").timestamp == datetime(2026, 11, 30, 13, 5)
        assert gb.find_submission("part1", "honest").timestamp is None


def test_the_cli_grades_a_batch_of_bad_files_into_rows(course, tmp_path):
    """As the README runs it: links and a student's timestamp.txt beside a notebook that
    is not one; exit 0, one row each, no file content on the console."""
    kit = course.parents[1]
    secret = kit / "grading" / "authoring" / "reference" / "planted_secret.py"
    secret.write_text(SECRET)
    submitted = tmp_path / "subs"
    (submitted / "linked" / "part1").mkdir(parents=True)
    (submitted / "linked" / "part1" / NOTEBOOK).symlink_to(secret)
    (submitted / "stamped" / "part1").mkdir(parents=True)
    (submitted / "stamped" / "part1" / NOTEBOOK).write_text("not a notebook")
    (submitted / "stamped" / "part1" / "timestamp.txt").symlink_to(secret)
    (submitted / "badtime" / "part1").mkdir(parents=True)
    (submitted / "badtime" / "part1" / NOTEBOOK).write_text("{}")
    (submitted / "badtime" / "part1" / "timestamp.txt").write_text(SECRET)
    done = subprocess.run(
        [sys.executable, "-m", "grading.autograde.batch", "--submitted", str(submitted), "--workers", "2"],
        cwd=kit, env=activated(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET not in done.stdout + done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.split()}
    assert "refused: part1_anime_faces.ipynb is a link" in rows["linked"]
    assert "refused: timestamp.txt is a link" in rows["stamped"]
    assert (
        "0/20" in rows["badtime"]
        and "timestamp.txt in the submission folder ignored" in rows["badtime"]
    )
