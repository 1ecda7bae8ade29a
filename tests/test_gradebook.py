"""The trusted merge into the course gradebook, nbgrader's late penalties and one truth for
grades, all against real nbgrader.

One released course (``released_kit``) is configured once for this module: Part 1 due
2026-10-16 23:59 +02:00 (21:59 UTC) and ``penalty_method = "zero"``. Stock ``nbgrader
autograde`` grades one late submission there once (:func:`stock`); every test merges into
its own copy of the course.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import compute_checksum

from grading.records import gradebook, submission_times
from grading.records.deadlines import DeadlineError, LatePolicy, load_deadlines
from grading.records.grades import gradebook_grades, write_grades
from grading.records.submission_times import LmsTime
from tests.conftest import activated, copy_kit

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "part1_anime_faces"
DUE = "[due]\npart1 = 2026-10-16T23:59:00+02:00\n"
LATE = "2026-10-18 09:59:00.000000 UTC"  # 1.5 days after the due date (21:59 UTC)
ON_TIME = "2026-10-16 20:00:00.000000 UTC"
TESTS = {"test_1_1_1": 4, "test_1_1_2": 4, "test_1_1_3": 5, "test_1_2_1": 4, "test_1_2_2": 3}
"""Part 1's autograded test cells and their points."""


@pytest.fixture(scope="module")
def kit(released_kit, tmp_path_factory) -> Path:
    """The released kit with Part 1's due date and the "zero" late penalty configured."""
    kit = copy_kit(released_kit, tmp_path_factory.mktemp("gradebook-kit"))
    (kit / "grading" / "deadlines.toml").write_text(DUE)
    with (kit / "grading" / "nbgrader_config.py").open("a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    return kit


@pytest.fixture
def course(kit, tmp_path) -> Path:
    """A private copy of the configured course directory."""
    return copy_kit(kit, tmp_path / "kit") / "grading" / "course"


def submit(course: Path, student: str, example: str, stamp: str | None) -> Path:
    """``<student>/part1/`` beside ``course``, holding the shipped ``example``'s notebook
    and, given ``stamp``, nbgrader's ``timestamp.txt``."""
    folder = course.parents[1] / "submissions" / student / "part1"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy2(REPO / "grading" / "submitted" / example / "part1" / f"{NOTEBOOK}.ipynb", folder)
    if stamp:
        (folder / "timestamp.txt").write_text(stamp)
    return folder


def snapshot(course: Path, student: str) -> dict:
    """What nbgrader holds for ``student``'s Part 1: the submission and every cell."""
    with Gradebook(gradebook.database_url(course)) as gb:
        submission = gb.find_submission("part1", student)
        (notebook,) = submission.notebooks
        return {
            "timestamp": submission.timestamp,
            "duedate": submission.duedate,
            "seconds_late": submission.total_seconds_late,
            "score": submission.score,
            "penalty": notebook.late_submission_penalty,
            "grades": {
                g.name: (g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                for g in notebook.grades
            },
            "comments": {c.name: (c.auto_comment, c.manual_comment) for c in notebook.comments},
        }


def stock_autograde(kit: Path, student: str) -> None:
    done = subprocess.run(
        ["nbgrader", "autograde", "part1", f"--student={student}", "--force",
         f"--CourseDirectory.submitted_directory={kit / 'submissions'}"],
        cwd=kit / "grading", env=activated(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def stock(kit, tmp_path_factory) -> dict:
    """Stock nbgrader, trusted mode, on the shipped reference notebook submitted 1.5 days
    late: autograde; the instructor grades the report (17); autograde again."""
    stock = copy_kit(kit, tmp_path_factory.mktemp("stock"))
    course = stock / "grading" / "course"
    assert gradebook.main(["deadlines", "--course", str(course)]) == 0
    submit(course, "late", "reference", LATE)
    stock_autograde(stock, "late")
    first = snapshot(course, "late")
    gradebook.record_manual_grade(course, "part1", "late", 17, "good report")
    stock_autograde(stock, "late")
    return {
        "first": first,
        "again": snapshot(course, "late"),
        "notebook": course / "autograded" / "late" / "part1" / f"{NOTEBOOK}.ipynb",
    }


def merge(course: Path, student: str, folder: Path | None, scores: dict, notebook, **extra):
    return gradebook.merge_submission(
        course,
        "part1",
        student,
        timestamp=gradebook.read_timestamp(folder) if folder else None,
        auto_scores=scores,
        comments=extra.pop("comments", {}),
        notes=extra.pop("notes", []),
        notebook=notebook,
    )


def full(points: float | None = None) -> dict[str, float]:
    return {cell: most if points is None else min(points, most) for cell, most in TESTS.items()}


def released(course: Path) -> Path:
    return course / "release" / "part1" / f"{NOTEBOOK}.ipynb"


# --- the merge ------------------------------------------------------------------------


def test_merge_writes_the_trusted_scores_and_no_manual_field(course, stock, tmp_path):
    # The report cell's metadata claims the release's checksum for the student's own text:
    # the merge takes the checksum from the gradebook, so the report still waits for a grade.
    nb = nbformat.read(stock["notebook"], as_version=4)
    (report,) = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "report_scores"
    ]
    report.metadata.nbgrader.update(checksum=compute_checksum(report), points=40)
    forged = tmp_path / f"{NOTEBOOK}.ipynb"
    nbformat.write(nb, forged)

    scores = {**full(), "test_1_1_2": 1.5}
    merged = merge(
        course,
        "alice",
        None,
        scores,
        forged,
        comments={"test_1_1_2": "off by one"},
        notes=["restored cell"],
    )
    assert merged.replaced and merged.late_penalty == 0.0
    got = snapshot(course, "alice")
    for cell, points in scores.items():
        assert got["grades"][cell] == (points, None, None, False)
    assert got["grades"]["report_scores"] == (None, None, None, True), (
        "a changed report waits for the instructor"
    )
    assert got["comments"]["todo_1_1_2"] == ("off by one", None)
    assert got["comments"]["report_scores"][0] == f"{gradebook.NOTES_TITLE}: restored cell"
    assert got["score"] == 17.5  # 20 - 4 + 1.5

    merge(course, "bob", None, full(0), released(course))
    got = snapshot(course, "bob")
    assert got["grades"]["report_scores"] == (0.0, None, None, False), (
        "an untouched report scores 0"
    )
    assert got["comments"]["todo_1_1_1"] == ("No response.", None)


def test_a_submission_that_could_not_be_graded_scores_zero_with_its_notes(course):
    merged = merge(course, "carol", None, {}, None, notes=["the kernel died"])
    got = snapshot(course, "carol")
    assert set(got["grades"].values()) == {(0.0, None, None, False)}
    assert got["comments"]["report_scores"][0].endswith("the kernel died")
    assert merged.notes == ["the kernel died"]
    assert gradebook_grades(course)["carol"]["part1"].notes == "the kernel died"


@pytest.mark.parametrize(
    "scores, message",
    [
        ({**full(), "report_scores": 20}, "not an autograded test cell"),
        ({**full(), "test_1_1_1": 5}, "outside 0..4"),
        ({"test_1_1_1": 4}, "lacks the autograded cells"),
    ],
)
def test_scores_the_grader_cannot_mean_are_refused_before_anything_is_written(
    course, scores, message
):
    with pytest.raises(ValueError, match=message):
        merge(course, "dave", None, scores, released(course))
    with Gradebook(gradebook.database_url(course)) as gb, pytest.raises(MissingEntry):
        gb.find_submission("part1", "dave")


def test_the_instructor_grades_survive_a_re_merge_as_in_stock_nbgrader(course, stock):
    merge(course, "erin", None, full(), stock["notebook"])
    gradebook.record_manual_grade(course, "part1", "erin", 17, "good report")
    with Gradebook(gradebook.database_url(course)) as gb:
        gb.find_grade("test_1_1_1", NOTEBOOK, "part1", "erin").extra_credit = 2
        # formgrader's override of an autograded cell: it stays, flagged for review.
        override = gb.find_grade("test_1_2_2", NOTEBOOK, "part1", "erin")
        override.manual_score, override.needs_manual_grade = 1, False
        gb.db.commit()
    merge(course, "erin", None, full(0), stock["notebook"], comments={"test_1_1_1": "wrong"})
    got = snapshot(course, "erin")
    assert got["grades"]["report_scores"] == (None, 17, None, True), "kept, flagged for review"
    assert got["grades"]["test_1_1_1"] == (0.0, None, 2, False)
    assert got["grades"]["test_1_2_2"] == (0.0, 1, None, True)
    assert got["comments"]["report_scores"][1] == "good report"
    assert got["comments"]["todo_1_1_1"] == ("wrong", None)
    grade = gradebook_grades(course)["erin"]["part1"]
    assert (grade.autograded, grade.manual, grade.total) == (3, 17, 20)
    assert "report to review" in grade.notes


def test_an_older_submission_never_replaces_a_newer_one(course):
    newer = submit(course, "frank", "reference", "2026-10-16 12:00:00 UTC")
    older = submit(course / "old", "frank", "untouched", "2026-10-15 12:00:00 UTC")
    assert merge(course, "frank", newer, full(), released(course)).replaced
    merged = merge(course, "frank", older, full(0), released(course))
    assert not merged.replaced and "newer submission" in merged.notes[0]
    got = snapshot(course, "frank")
    assert (got["timestamp"], got["score"]) == (datetime(2026, 10, 16, 12), 20)
    assert merge(course, "frank", newer, full(1), released(course)).replaced, (
        "the same one: re-graded"
    )
    assert snapshot(course, "frank")["score"] == 5


# --- late work ---------------------------------------------------------------------------


def test_a_late_submission_gets_stock_nbgraders_penalty_and_score(course, stock):
    """Same notebook, timestamp.txt, due date and plugin: the kit's merge gives what stock
    autograde gives (the penalty, the score, every cell)."""
    folder = submit(course, "late", "reference", LATE)
    merged = merge(course, "late", folder, stock_scores(stock), stock["notebook"])
    assert stock["first"]["penalty"] == stock["first"]["score"] == 20, "stock: zero for late work"
    assert merged.late_penalty == 20
    assert "late penalty 20 points" in merged.notes[-1]
    assert_same(snapshot(course, "late"), stock["first"])


def test_a_late_re_merge_after_a_manual_grade_matches_stock(course, stock):
    folder = submit(course, "late", "reference", LATE)
    merge(course, "late", folder, stock_scores(stock), stock["notebook"])
    gradebook.record_manual_grade(course, "part1", "late", 17, "good report")
    merged = merge(course, "late", folder, stock_scores(stock), stock["notebook"])
    assert stock["again"]["penalty"] == 37 == merged.late_penalty
    assert stock["again"]["grades"]["report_scores"] == (None, 17, None, True)
    assert_same(snapshot(course, "late"), stock["again"])


def stock_scores(stock: dict) -> dict[str, float]:
    return {cell: stock["first"]["grades"][cell][0] for cell in TESTS}


def assert_same(ours: dict, theirs: dict) -> None:
    for key in ("timestamp", "duedate", "seconds_late", "score", "penalty", "grades"):
        assert ours[key] == theirs[key], key
    # The report's automatic comment holds our notes (the lateness); stock has none.
    ours, theirs = dict(ours["comments"]), dict(theirs["comments"])
    assert ours.pop("report_scores")[1] == theirs.pop("report_scores")[1]
    assert ours == theirs


def test_an_extension_moves_the_deadline(course):
    folder = submit(course, "gina", "reference", LATE)
    deadlines = course.parent / "deadlines.toml"
    deadlines.write_text(DUE + '\n[extensions.part1]\ngina = "1 day 12 hours"\n')
    assert merge(course, "gina", folder, full(), released(course)).late_penalty == 0
    assert snapshot(course, "gina")["seconds_late"] == 0

    deadlines.write_text(DUE + '\n[extensions.part1]\ngina = "35 hours"\n')
    assert gradebook.main(["deadlines", "--course", str(course)]) == 0, "an extension cut"
    got = snapshot(course, "gina")
    assert (got["seconds_late"], got["penalty"]) == (3600, 20)


PER_DAY = '\n[late]\npolicy = "10% per started day, at most 5 days"\n'


def test_the_per_day_late_policy_of_the_deadlines_file_is_nbgraders_penalty(course, stock):
    """1.5 days late is 2 started days: 20 % of the score (20 + the report's 17 = 37)."""
    (course.parent / "deadlines.toml").write_text(DUE + PER_DAY)
    folder = submit(course, "late", "reference", LATE)
    merge(course, "late", folder, stock_scores(stock), stock["notebook"])
    gradebook.record_manual_grade(course, "part1", "late", 17, "good report")
    merged = merge(course, "late", folder, stock_scores(stock), stock["notebook"])
    assert merged.late_penalty == pytest.approx(0.2 * 37)
    assert snapshot(course, "late")["penalty"] == pytest.approx(0.2 * 37), "in nbgrader's row"
    # Past the last day, all of it; on time, nothing.
    (course.parent / "deadlines.toml").write_text(DUE + PER_DAY.replace("at most 5", "at most 1"))
    assert merge(course, "late", folder, stock_scores(stock), stock["notebook"]).late_penalty == 37
    on_time = submit(course, "ivy", "reference", ON_TIME)
    assert merge(course, "ivy", on_time, full(), released(course)).late_penalty == 0


@pytest.mark.parametrize(
    "seconds_late, penalty",
    [(0, 0), (60, 2.5), (86400, 2.5), (86401, 5), (3 * 86400, 7.5), (3 * 86400 + 1, 50)],
)
def test_per_started_day_counts_every_day_begun_and_all_after_the_last(
    seconds_late, penalty, tmp_path
):
    """5 % of a score of 50 per started day, at most 3 days."""
    path = tmp_path / "deadlines.toml"
    path.write_text('[late]\npolicy = "5% per started day, at most 3 days"\n')
    policy = load_deadlines(path).late
    assert policy.penalty(50, seconds_late) == pytest.approx(penalty)


def test_a_late_mark_without_a_time_is_said_on_the_row_and_by_make_grades(course, capsys):
    """Canvas's download marks a file LATE but gives no time (make collect records that):
    no penalty can be computed, and the grades say why instead of dropping the mark."""
    folder = submit(course, "kim", "reference", None)
    submission_times.record(
        folder.parents[1],
        {(folder.parent.name, folder.name): LmsTime(None, True, "Canvas file name")},
    )
    merged = merge(course, "kim", folder, full(), released(course))
    assert merged.late_penalty == 0
    submitted = folder.parents[1]
    assert gradebook.main(["grades", "--course", str(course), "--submitted", str(submitted)]) == 0
    out = capsys.readouterr().out
    assert (
        "warning: kim: part1: marked LATE by the LMS (Canvas file name) but no submission time "
        "is known: no late penalty applied; collect again with the Canvas API"
    ) in out
    with (course / "grades.csv").open(newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["student"] == "kim")
    assert row["notes"].startswith("part1: marked LATE by the LMS (Canvas file name) but no")
    assert row["part1_late_penalty"] == "0"


def test_the_deadlines_command_prints_and_writes_the_due_dates(course, capsys):
    (course.parent / "deadlines.toml").write_text(DUE + '\n[extensions.part1]\nivy = "2 days"\n')
    assert gradebook.main(["deadlines", "--course", str(course)]) == 0
    out = capsys.readouterr().out
    assert "part1: due 2026-10-16T23:59:00+02:00" in out
    assert "ivy: +2 days, 0:00:00 (due 2026-10-18T23:59:00+02:00)" in out
    with Gradebook(gradebook.database_url(course)) as gb:
        assert gb.find_assignment("part1").duedate == datetime(2026, 10, 16, 21, 59)
        assert gb.find_assignment("part2").duedate is None


def test_the_deadlines_command_names_a_malformed_line(course, capsys):
    (course.parent / "deadlines.toml").write_text('[extensions.part1]\nivy = "soon"\n')
    assert gradebook.main(["deadlines", "--course", str(course)]) == 1
    error = capsys.readouterr().err
    assert "deadlines.toml: extensions.part1.ivy = 'soon' is not a length of time" in error
    assert 'e.g. student_id = "2 days"' in error


def test_the_shipped_deadlines_file_reads():
    deadlines = load_deadlines(REPO / "grading" / "deadlines.toml")
    assert deadlines.late == LatePolicy("none")
    assert set(deadlines.due) == {"part1", "part2"}
    assert all(due.tzinfo is not None for due in deadlines.due.values())


@pytest.mark.parametrize(
    "text, message",
    [
        ("[due\n", "not valid TOML"),
        ("[due]\npart1 = 2026-10-16T23:59:00\n", "due.part1 = .* with its timezone"),
        ('[due]\npart1 = "next friday"\n', "due.part1 = 'next friday'"),
        ("[due]\npart3 = 2026-10-16T23:59:00Z\n", "unknown assignment 'part3'"),
        (
            '[extensions.part1]\nbob = "2 weeks-ish"\n',
            "extensions.part1.bob = '2 weeks-ish' is not a length",
        ),
        ("[extensions.part1]\nbob = 2\n", "extensions.part1.bob = 2 is not a length"),
        (
            '[extensions.part1]\n"bob smith" = "2 days"\n',
            "'bob smith' is not an nbgrader student id",
        ),
        ("[deadline]\npart1 = 2026-10-16T23:59:00Z\n", r"unknown table\(s\) \['deadline'\]"),
        (
            '[late]\npolicy = "10% per day"\n',
            "late.policy = '10% per day' is no late policy: write",
        ),
        ('[late]\npenalty = "zero"\n', r"\[late\] takes one key, policy = "),
    ],
)
def test_a_malformed_deadlines_file_names_the_key_and_the_fix(tmp_path, text, message):
    path = tmp_path / "deadlines.toml"
    path.write_text(text)
    with pytest.raises(DeadlineError, match=message) as error:
        load_deadlines(path)
    assert str(path) in str(error.value)


def test_durations_and_timestamps_read_as_nbgrader_reads_them(tmp_path):
    path = tmp_path / "deadlines.toml"
    path.write_text('[extensions.part2]\na = "1 week"\nb = "90 minutes"\nc = "1 day, 12 hours"\n')
    extensions = load_deadlines(path).extensions["part2"]
    assert [e.total_seconds() for e in extensions.values()] == [7 * 86400, 5400, 129600]
    assert gradebook.read_timestamp(tmp_path) is None
    (tmp_path / "timestamp.txt").write_text("2026-10-18T11:59:00+02:00")
    assert gradebook.read_timestamp(tmp_path) == datetime(2026, 10, 18, 9, 59)


# --- one truth for grades ------------------------------------------------------------------


def export(course: Path) -> dict[tuple[str, str], dict[str, float]]:
    """``nbgrader export``, run as the README prints it, in the course's folder."""
    out = course.parent / "export.csv"
    done = subprocess.run(
        ["nbgrader", "export", f"--to={out}"],
        cwd=course.parent, env=activated(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with out.open() as f:
        return {
            (row["student_id"], row["assignment"]): {
                k: float(row[k]) for k in ("raw_score", "late_submission_penalty", "score")
            }
            for row in csv.DictReader(f)
        }


def assert_one_truth(course: Path) -> None:
    with write_grades(course).open() as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    exported = export(course)
    assert {student for student, _ in exported} == set(rows)
    for (student, part), theirs in exported.items():
        row = rows[student]
        if not row[f"{part}_total"]:  # not submitted: export's zero
            assert theirs == {"raw_score": 0, "late_submission_penalty": 0, "score": 0}
            continue
        raw = float(row[f"{part}_autograded"]) + float(row[f"{part}_manual"])
        ours = {
            "raw_score": raw,
            "late_submission_penalty": float(row[f"{part}_late_penalty"]),
            "score": float(row[f"{part}_total"]),
        }
        assert ours == theirs, (student, part)
    for student, row in rows.items():
        assert float(row["total"]) == sum(
            v["score"] for (s, _), v in exported.items() if s == student
        )


def test_grades_csv_gives_nbgrader_exports_numbers_through_a_term(course, stock):
    on_time = submit(course, "kim", "reference", ON_TIME)
    merge(course, "kim", on_time, full(), stock["notebook"])
    merge(course, "lee", submit(course, "lee", "untouched", None), full(0), released(course))
    merge(course, "mo", None, {}, None, notes=["no notebook"])
    assert_one_truth(course)

    gradebook.record_manual_grade(course, "part1", "kim", 17, "good report")
    assert_one_truth(course)

    merge(course, "kim", on_time, {**full(), "test_1_1_3": 2}, stock["notebook"])  # re-autograde
    with write_grades(course).open() as f:
        kim = next(row for row in csv.DictReader(f) if row["student"] == "kim")
    assert (kim["part1_manual"], kim["part1_total"]) == ("17", "34"), "the manual grade counts"
    assert "report to review" in kim["notes"]
    assert_one_truth(course)

    late = submit(course, "kim", "reference", LATE)  # a late resubmission, re-graded
    merged = merge(course, "kim", late, full(), stock["notebook"])
    assert merged.late_penalty == 37
    assert_one_truth(course)
