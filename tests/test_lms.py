"""LMS upload: grades.csv as Canvas's gradebook import and Moodle's grading worksheet."""

from __future__ import annotations

import csv
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dateutil import parser as dateparser

from grading.lms import roster
from grading.lms import upload as lms
from grading.records.grades import read_grades

REPO = Path(__file__).resolve().parents[1]
ENV_PATH = f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin"

# grades.csv as grading.records.gradebook.write_grades writes it, plus a column another step may add.
GRADES_HEADER = [
    "student",
    "part1_autograded",
    "part1_manual",
    "part1_total",
    "part1_late_penalty",
    "part2_autograded",
    "part2_manual",
    "part2_total",
    "total",
    "notes",
]
GRADES_ROWS = [
    ["jsmith", "20", "15", "35", "0", "8", "6.5", "14.5", "49.5", ""],
    ["jdoe", "12", "", "12", "-3", "", "", "", "12", "part1: late"],
    ["ghost", "1", "0", "1", "0", "", "", "", "1", ""],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    grades = write_csv(tmp_path / "grades.csv", GRADES_HEADER, GRADES_ROWS)
    students = write_csv(
        tmp_path / "students.csv",
        ["lms_id", "name", "email", "nbgrader_id"],
        [
            ["12345", "John Smith", "john@uni.example", "jsmith"],
            ["23456", "Jane Q Doe", "jane@uni.example", "jdoe"],
        ],
    )
    return grades, students


CANVAS_EXPORT = [
    ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Part 1: Anime faces (88101)",
     "Part 2: Visual anagrams (88102)", "Current Score", "Final Score"],
    ["    Points Possible", "", "", "", "", "40.00", "20.00", "(read only)", "(read only)"],
    ["Smith, John", "12345", "S001", "jsmith@uni.example", "Section A", "", "", "", ""],
    ["Doe, Jane Q", "23456", "S002", "jdoe@uni.example", "Section B", "", "", "", ""],
    ["van der Berg, Sara", "34567", "S003", "svdberg@uni.example", "Section B", "", "", "", ""],
    ["Student, Test", "99001", "", "", "Section A", "", "", "", ""],
]  # fmt: skip
"""Canvas's gradebook export (Grades, Export) as the roster: its Points Possible row, its
read-only columns and its Test Student."""


def test_canvas_csv_has_the_gradebook_exports_own_headers_and_rows(files, tmp_path):
    grades, _ = files
    export = write_csv(tmp_path / "export.csv", CANVAS_EXPORT[0], CANVAS_EXPORT[1:])
    found = roster.read_roster(export)
    out = tmp_path / "canvas.csv"
    missing = lms.write_canvas(read_grades(grades), found, out, {})
    with out.open(newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    assert lines[0] == [*CANVAS_EXPORT[0][:7]]
    assert lines[1] == CANVAS_EXPORT[1][:7], "the Points Possible row, as Canvas wrote it"
    # The Canvas ids, SIS ids, sections and names as Canvas spells them; the totals.
    assert lines[2] == [*CANVAS_EXPORT[2][:5], "35", "14.5"]
    assert lines[3] == [*CANVAS_EXPORT[3][:5], "12", ""]
    assert len(lines) == 4
    assert missing == [
        f"ghost: not in the roster {export}: no LMS id, left out; "
        "add the student's row (lms_id, name, email, nbgrader_id)"
    ]


def test_canvas_columns_are_named_or_refused_never_made_up(files, tmp_path):
    """A plain roster knows no Canvas column: a header without its (id) would make Canvas
    create a new assignment, so the columns must be named."""
    grades, students = files
    found = roster.read_roster(students)
    out = tmp_path / "canvas.csv"
    with pytest.raises(ValueError, match=r"no Canvas column for part1 .*CANVAS_PART1="):
        lms.write_canvas(read_grades(grades), found, out, {})
    named = {"part1": "Part 1 (777001)", "part2": "Part 2 (777002)"}
    lms.write_canvas(read_grades(grades), found, out, named)
    header, rows = read_csv(out)
    assert header == [*roster.CANVAS_COLUMNS, "Part 1 (777001)", "Part 2 (777002)"]
    assert [r["Student"] for r in rows] == ["Smith, John", "Doe, Jane Q"]
    back = {found.by_lms_id(r["ID"]).nbgrader_id: r for r in rows}
    source = {row[0]: dict(zip(GRADES_HEADER, row, strict=True)) for row in GRADES_ROWS}
    for student, row in back.items():
        assert row["Part 1 (777001)"] == source[student]["part1_total"]
        assert row["Part 2 (777002)"] == source[student]["part2_total"]


def test_totals_with_a_report_not_graded_yet_warn_with_the_way_on(files, tmp_path, capsys):
    grades, _ = files
    rows = [list(r) for r in GRADES_ROWS]
    rows[0][-1] = "part1: report not graded yet | part2: TODO 2-2: wrong"
    write_csv(grades, GRADES_HEADER, rows)
    export = write_csv(tmp_path / "export.csv", CANVAS_EXPORT[0], CANVAS_EXPORT[1:])
    out = ["--grades", str(grades), "--roster", str(export), "--out", str(tmp_path / "x.csv")]
    lms.main(["canvas", *out])
    assert (
        "warning: 1 total(s) in " in (err := capsys.readouterr().err)
        and "count a report not graded yet as 0 (jsmith part1): grade the reports in "
        "formgrader (make formgrader), then make grades"
        in err
    )
    lms.main(["moodle", "--assignment", "part2", *out])
    assert "warning" not in capsys.readouterr().err, "Part 2's report was graded"


def test_moodle_worksheet_has_moodles_columns_and_its_participant_ids(files, tmp_path):
    grades, students = files
    out = tmp_path / "moodle.csv"
    when = datetime(2026, 12, 2, 13, 7, tzinfo=UTC)
    lms.write_moodle(read_grades(grades), roster.read_roster(students), out, "part1", now=when)
    header, rows = read_csv(out)
    assert header == lms.MOODLE_COLUMNS
    assert header[:6] == [
        "Identifier",
        "Full name",
        "Email address",
        "Status",
        "Grade",
        "Maximum Grade",
    ]
    assert [(r["Identifier"], r["Email address"], r["Grade"]) for r in rows] == [
        ("Participant 12345", "john@uni.example", "35"),
        ("Participant 23456", "jane@uni.example", "12"),
    ]
    assert {r["Maximum Grade"] for r in rows} == {"40"}
    # Moodle's importer reads this column with strtotime: it must be a parseable date.
    assert dateparser.parse(rows[0]["Last modified (grade)"]) == datetime(2026, 12, 2, 13, 7)
    lms.write_moodle(read_grades(grades), roster.read_roster(students), out)
    _, rows = read_csv(out)
    assert [r["Grade"] for r in rows] == ["49.5", "12"]
    assert rows[0]["Maximum Grade"] == "60"


def test_moodles_own_worksheet_gets_the_grades_by_email_and_keeps_its_other_rows(files, tmp_path):
    """Moodle numbers participants per assignment: Part 2's worksheet has its own numbers."""
    grades, students = files
    downloaded = write_csv(
        tmp_path / "Grades-Part 2.csv",
        lms.MOODLE_COLUMNS,
        [
            ["Participant 901", "John Smith", "JOHN@uni.example", "Submitted", "", "20.00",
             "Yes", "Monday, 30 November 2026, 2:05 PM", "-", "well done"],
            ["Participant 902", "Jane Doe", "jane.doe@other.example", "Submitted", "", "20.00",
             "Yes", "-", "-", ""],
            ["Participant 903", "Kim Park", "kim@uni.example", "No submission", "7", "20.00",
             "Yes", "-", "-", ""],
        ],
    )  # fmt: skip
    out = tmp_path / "moodle_part2.csv"
    missing = lms.write_moodle(
        read_grades(grades), roster.read_roster(students), out, "part2", downloaded
    )
    header, rows = read_csv(out)
    assert header == lms.MOODLE_COLUMNS
    assert [(r["Identifier"], r["Grade"], r["Feedback comments"]) for r in rows] == [
        ("Participant 901", "14.5", "well done"),
        ("Participant 902", "", ""),
        ("Participant 903", "7", ""),
    ]
    assert dateparser.parse(rows[0]["Last modified (grade)"]).year >= 2026
    assert rows[2]["Last modified (grade)"] == "-", "a row the kit does not grade is unchanged"
    assert missing == [
        f"ghost: not in the roster {students}: no LMS id, left out; "
        "add the student's row (lms_id, name, email, nbgrader_id)",
        f"jdoe: not in the worksheet {downloaded} (email jane@uni.example, Participant 23456): "
        "left out; download the worksheet of this assignment again",
    ]


def test_lms_commands_as_the_readme_prints_them(files, tmp_path):
    grades, students = files
    env = {"PATH": ENV_PATH, "HOME": str(tmp_path)}
    done = subprocess.run(
        [
            ".venv/bin/python",
            "-m",
            "grading.lms.upload",
            "canvas",
            "--grades",
            str(grades),
            "--roster",
            str(students),
            "--out",
            str(tmp_path / "c.csv"),
            "--canvas-assignment",
            "part2=Part 2 (777002)",
            "--canvas-assignment",
            "part1=Part 1 (777001)",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, "ghost is not in the roster"
    assert done.stdout.splitlines()[0].startswith("skipped: ghost: not in the roster")
    assert done.stdout.splitlines()[-1] == f"canvas: {tmp_path / 'c.csv'} (2 students)"
    assert read_csv(tmp_path / "c.csv")[0][-2:] == ["Part 1 (777001)", "Part 2 (777002)"]
    made = subprocess.run(
        [
            "make",
            "-s",
            "lms",
            f"ROSTER={students}",
            f"GRADES={grades}",
            f"LMS_DIR={tmp_path / 'lms'}",
            "CANVAS_PART1=Part 1 (777001)",
            "CANVAS_PART2=Part 2 (777002)",
            f"MOODLE_PART2={write_csv(tmp_path / 'w.csv', lms.MOODLE_COLUMNS, [])}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert made.returncode != 0 and made.stdout.count("skipped: ghost") == 3
    assert sorted(p.name for p in (tmp_path / "lms").iterdir()) == [
        "canvas_grades.csv",
        "moodle_part1.csv",
        "moodle_part2.csv",
    ]
    assert read_csv(tmp_path / "lms" / "canvas_grades.csv")[0][5] == "Part 1 (777001)"
    _, part1 = read_csv(tmp_path / "lms" / "moodle_part1.csv")
    assert [(r["Identifier"], r["Grade"]) for r in part1] == [
        ("Participant 12345", "35"),
        ("Participant 23456", "12"),
    ]
    assert read_csv(tmp_path / "lms" / "moodle_part2.csv")[1] == [], "Moodle's (empty) sheet"
    assert "jsmith: not in the worksheet" in made.stdout


def test_a_bad_canvas_column_names_the_fix(capsys):
    with pytest.raises(SystemExit):
        lms.main(["canvas", "--out", "x.csv", "--canvas-assignment", "Part 1 (777001)"])
    assert "write PART=HEADER with PART one of part1, part2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lms.main(["canvas", "--out", "x.csv", "--canvas-assignment", "part1=Part 1"])
    assert "makes Canvas create a new assignment" in capsys.readouterr().err


def test_missing_inputs_name_the_command_that_writes_them(files, tmp_path, capsys):
    grades, students = files
    out = ["--out", str(tmp_path / "x.csv")]
    assert lms.main(["moodle", "--roster", str(students), "--grades", "nope.csv", *out]) == 1
    assert "nope.csv: no grades file: write it with make grades" in capsys.readouterr().err
    assert lms.main(["moodle", "--roster", "nope.csv", "--grades", str(grades), *out]) == 1
    assert "nope.csv: no roster there" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
