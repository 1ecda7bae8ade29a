"""The roster: students.csv read tolerantly, its mistakes named, its import equal to nbgrader's."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from grading.lms import roster

REPO = Path(__file__).resolve().parents[1]

ROWS = [
    ("12345", "John Smith", "john.smith@uni.example", "jsmith"),
    ("23456", "José Núñez", "jose@uni.example", "jnunez"),
    ("34567", "Mary Ann Lee", "", "mlee"),
]


def write(path: Path, header: list[str], rows: list[tuple], bom: bool = False) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def students(tmp_path) -> Path:
    """Columns shuffled, an extra column, Excel's BOM: what a course exports from its LMS."""
    header = ["email", "Section", "nbgrader_id", "name", "lms_id"]
    rows = [(e, "A1", i, n, lms) for lms, n, e, i in ROWS]
    return write(tmp_path / "students.csv", header, rows, bom=True)


def test_every_lookup_finds_the_student_an_lms_names(students):
    found = roster.read_roster(students)
    assert [s.nbgrader_id for s in found.students] == ["jsmith", "jnunez", "mlee"]
    smith = found.by_nbgrader_id("jsmith")
    assert found.by_lms_id("12345") is smith
    assert found.by_email(" John.Smith@UNI.example") is smith
    assert found.by_name("john  smith") is smith
    assert found.by_canvas_key("smithjohn") is smith
    assert found.by_moodle_folder("John Smith_99999_assignsubmission_file") is smith
    assert found.by_moodle_folder("Someone Else_23456_assignsubmission_file").nbgrader_id == (
        "jnunez"
    )
    assert found.by_canvas_key("nunezjose").nbgrader_id == "jnunez"
    assert found.by_canvas_key("leemaryann").nbgrader_id == "mlee"
    assert found.by_name("Jose Nunez").nbgrader_id == "jnunez"
    assert found.by_lms_id("99999") is None and found.by_name("Nobody") is None
    assert smith.first_last == ("John", "Smith")


def test_a_name_two_students_share_names_nobody(tmp_path):
    path = write(
        tmp_path / "s.csv",
        list(roster.COLUMNS),
        [("1", "Kim Park", "", "kpark1"), ("2", "Kim Park", "", "kpark2")],
    )
    found = roster.read_roster(path)
    assert found.by_name("Kim Park") is None and found.by_canvas_key("parkkim") is None
    assert found.by_lms_id("2").nbgrader_id == "kpark2"


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (
            ["lms_id", "name", "nbgrader_id"],
            [("1", "A B", "ab")],
            "line 1: no column email (the header has lms_id, name, nbgrader_id): add it",
        ),
        (
            list(roster.COLUMNS),
            [("1", "A B", "", "ab"), ("1", "C D", "", "cd")],
            "line 3: lms_id '1' is already on line 2",
        ),
        (
            list(roster.COLUMNS),
            [("1", "A B", "", "ab"), ("2", "C D", "", "ab")],
            "line 3: nbgrader_id 'ab' is already on line 2",
        ),
        (
            list(roster.COLUMNS),
            [("1", "José Núñez", "", "José Núñez")],
            "line 2: nbgrader_id 'José Núñez' is not an nbgrader id: use ASCII letters",
        ),
    ],
)
def test_roster_mistakes_name_the_file_line_and_fix(tmp_path, header, rows, message):
    path = write(tmp_path / "students.csv", header, rows)
    with pytest.raises(roster.RosterError) as error:
        roster.read_roster(path)
    assert str(error.value).startswith(f"{path}, ") and message in str(error.value)


def _students(db: Path) -> list[tuple]:
    with Gradebook(f"sqlite:///{db}") as gradebook:
        return sorted((s.id, s.first_name, s.last_name, s.email) for s in gradebook.students)


def test_import_writes_what_stock_nbgrader_db_student_import_writes(students, tmp_path):
    """The same students through nbgrader's own command (its id,first_name,last_name,email
    CSV) and through the README's command, both run as printed in a clean environment."""
    env = {"PATH": f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    course = tmp_path / "course"
    done = subprocess.run(
        [
            ".venv/bin/python",
            "-m",
            "grading.lms.roster",
            "import",
            "--roster",
            str(students),
            "--course",
            str(course),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"3 students imported into {course / 'gradebook.db'}"
    stock_csv = write(
        tmp_path / "stock.csv",
        ["id", "first_name", "last_name", "email"],
        [(i, *n.rpartition(" ")[::2], e) for _, n, e, i in ROWS],
    )
    stock_db = tmp_path / "stock" / "gradebook.db"
    stock_db.parent.mkdir()
    done = subprocess.run(
        ["nbgrader", "db", "student", "import", str(stock_csv), f"--db=sqlite:///{stock_db}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    ours = _students(course / "gradebook.db")
    assert ours == _students(stock_db)
    assert ("jsmith", "John", "Smith", "john.smith@uni.example") in ours
    assert ("mlee", "Mary Ann", "Lee", None) in ours


def test_a_bad_roster_stops_the_import_with_the_fix(tmp_path, capsys):
    path = write(tmp_path / "students.csv", ["lms_id", "name"], [("1", "A")])
    assert roster.main(["import", "--roster", str(path), "--course", str(tmp_path)]) == 1
    assert "no column email, nbgrader_id" in capsys.readouterr().err
    assert not (tmp_path / "gradebook.db").exists()


def test_canvas_gradebook_export_is_a_roster_as_canvas_writes_it(tmp_path):
    """Grades, Export: ``Student`` as "Last, First", a Points Possible row, read-only
    columns, the Test Student; the login id gives the email and the nbgrader id."""
    export = write(
        tmp_path / "export.csv",
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
         "Part 1: Anime faces (88101)", "Part 2: Visual anagrams (88102)", "Current Score"],
        [
            ("    Points Possible", "", "", "", "", "40.00", "20.00", "(read only)"),
            ("van der Berg, Sara", "34567", "S003", "svdberg@uni.example", "B", "", "", ""),
            ("Núñez, José", "23456", "S002", "José", "A", "", "", ""),
            ("Student, Test", "99001", "", "", "A", "", "", ""),
        ],
        bom=True,
    )  # fmt: skip
    found = roster.read_roster(export)
    assert [(s.nbgrader_id, s.email) for s in found.students] == [
        ("svdberg", "svdberg@uni.example"),
        ("23456", ""),  # a login id that is no nbgrader id: the Canvas id
    ]
    sara = found.by_lms_id("34567")
    assert sara.first_last == ("Sara", "van der Berg")
    assert (sara.full_name, sara.sortable_name) == ("Sara van der Berg", "van der Berg, Sara")
    assert (sara.sis_user_id, sara.sis_login_id, sara.section) == (
        "S003",
        "svdberg@uni.example",
        "B",
    )
    assert found.by_canvas_key("vanderbergsara") is sara
    assert found.by_name("Sara van der Berg") is sara
    assert found.by_moodle_folder("Sara van der Berg_801_assignsubmission_file") is sara
    assert found.canvas_assignments == {
        "Part 1: Anime faces (88101)": "40.00",
        "Part 2: Visual anagrams (88102)": "20.00",
    }
    plain = write(tmp_path / "s.csv", list(roster.COLUMNS), [("1", "van der Berg, Sara", "", "s")])
    assert roster.read_roster(plain).students[0].first_last == ("Sara", "van der Berg")


def test_namesakes_are_listed_for_the_reason_they_match_nobody(tmp_path):
    path = write(
        tmp_path / "s.csv",
        list(roster.COLUMNS),
        [
            ("1", "Kim Park", "", "kpark1"),
            ("2", "Park, Kim", "", "kpark2"),
            ("3", "Ann Lee", "", "al"),
        ],
    )
    found = roster.read_roster(path)
    assert [s.nbgrader_id for s in found.namesakes("kim  PARK")] == ["kpark1", "kpark2"]
    assert [s.nbgrader_id for s in found.namesakes("Ann Lee")] == ["al"]
