"""Collection: notebooks matched to their assignment by content, LMS downloads taken in.

Each LMS's bulk download is built here as grading/lms/collect.py documents it. Fast: no
notebook runs. The grading of what is collected is in tests/test_grading.py.
"""

from __future__ import annotations

import csv
import http.server
import json
import shutil
import stat
import subprocess
import threading
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import parse_utc

from grading import course
from grading.autograde import batch as pipeline
from grading.lms import canvas_times, collect, layouts, roster
from grading.notebook_format import find_notebook
from grading.records import gradebook, submission_times
from grading.records.submission_times import LmsTime

REPO = Path(__file__).resolve().parents[1]
SHIPPED = pipeline.SUBMITTED / "reference"


def shipped(assignment: str) -> Path:
    return SHIPPED / assignment / f"{pipeline.ASSIGNMENTS[assignment]}.ipynb"


def stripped_of_nbgrader(source: Path, target: Path) -> Path:
    notebook = json.loads(source.read_text())
    for cell in notebook["cells"]:
        cell["metadata"].pop("nbgrader", None)
    target.write_text(json.dumps(notebook))
    return target


@pytest.mark.parametrize("assignment", sorted(pipeline.ASSIGNMENTS))
def test_a_notebook_belongs_to_the_assignment_whose_cells_it_holds(assignment, tmp_path):
    renamed = tmp_path / "My Kaggle kernel (3).ipynb"
    shutil.copy2(shipped(assignment), renamed)
    assert collect.assignment_of(renamed) == (assignment, "")


def test_notebooks_of_no_assignment_are_named_with_the_reason(tmp_path):
    plain = stripped_of_nbgrader(shipped("part1"), tmp_path / "plain.ipynb")
    owner, why = collect.assignment_of(plain)
    assert owner is None and why.startswith("plain.ipynb has no nbgrader metadata")
    (tmp_path / "broken.ipynb").write_text("{not json")
    owner, why = collect.assignment_of(tmp_path / "broken.ipynb")
    assert owner is None and "not a readable notebook" in why
    other = json.loads(shipped("part1").read_text())
    for cell in other["cells"]:
        if "nbgrader" in cell["metadata"]:
            cell["metadata"]["nbgrader"]["grade_id"] = (
                "hw9_" + cell["metadata"]["nbgrader"]["grade_id"]
            )
    (tmp_path / "hw9.ipynb").write_text(json.dumps(other))
    owner, why = collect.assignment_of(tmp_path / "hw9.ipynb")
    assert owner is None and "no assignment of this course (part1, part2)" in why


def test_find_notebook_grades_a_renamed_file_and_refuses_to_guess(tmp_path):
    folder = tmp_path / "part1"
    folder.mkdir()
    shutil.copy2(shipped("part1"), folder / "download.ipynb")
    assert find_notebook(folder, "part1") == (folder / "download.ipynb", [])
    shutil.copy2(shipped("part1"), folder / "copy.ipynb")
    found, why = find_notebook(folder, "part1")
    assert found is None
    assert why == ["2 notebooks of part1 (copy.ipynb, download.ipynb): submit one; none was graded"]
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    shutil.copy2(shipped("part2"), wrong / "part1_anime_faces.ipynb")
    found, why = find_notebook(wrong, "part1")
    assert found is None
    assert why == [
        "part1_anime_faces.ipynb is a notebook of part2, not of part1",
        "no notebook of part1: nothing was graded",
    ]


def test_student_ids_become_ascii_nbgrader_ids():
    assert collect.student_id("José Núñez") == "Jose_Nunez"
    assert collect.student_id("  o'brien 2 ") == "o_brien_2"
    assert collect.student_id("张伟") == ""
    assert all(course.STUDENT_ID.match(collect.student_id(n)) for n in ["José Núñez", "a.b-c_d"])


@pytest.fixture
def lms_download(tmp_path) -> Path:
    """An LMS-style zip: a wrapping folder, then one folder or zip per student."""
    root = tmp_path / "lms" / "Diffusion course - all submissions"
    alice = root / "alice"
    alice.mkdir(parents=True)
    shutil.copy2(shipped("part1"), alice / "alice_part1_final.ipynb")
    (alice / "scores.json").write_text(json.dumps({"fid": 72.38, "afd": 0.943}))
    alice_part2 = alice / "part two"
    alice_part2.mkdir()
    shutil.copy2(shipped("part2"), alice_part2 / "illusions.ipynb")
    with zipfile.ZipFile(root / "bob.zip", "w") as archive:
        archive.write(shipped("part2"), "nested/Untitled.ipynb")
    jose = root / "José Núñez"
    jose.mkdir()
    shutil.copy2(shipped("part1"), jose / "part1_anime_faces.ipynb")
    carol = root / "carol"
    carol.mkdir()
    shutil.copy2(shipped("part1"), carol / "v1.ipynb")
    shutil.copy2(shipped("part1"), carol / "v2.ipynb")
    (root / "dave").mkdir()
    (root / "erin.zip").write_text("this is no zip")
    frank = root / "frank"
    frank.mkdir()
    stripped_of_nbgrader(shipped("part1"), frank / "notebook.ipynb")
    download = tmp_path / "download.zip"
    with zipfile.ZipFile(download, "w") as archive:
        for path in sorted((tmp_path / "lms").rglob("*")):
            archive.write(path, path.relative_to(tmp_path / "lms"))
    return download


def test_collect_places_every_notebook_by_content_and_names_each_problem(lms_download, tmp_path):
    out = tmp_path / "submitted"
    result = collect.collect(lms_download, out)
    assert (out / "alice" / "part1" / "part1_anime_faces.ipynb").read_bytes() == shipped(
        "part1"
    ).read_bytes()
    assert json.loads((out / "alice" / "part1" / "scores.json").read_text())["fid"] == 72.38
    assert (out / "alice" / "part2" / "part2_illusions.ipynb").is_file()
    assert (out / "bob" / "part2" / "part2_illusions.ipynb").is_file()
    assert (out / "Jose_Nunez" / "part1" / "part1_anime_faces.ipynb").is_file()
    assert sorted(p.name for p in (out / "carol" / "part1").iterdir()) == ["v1.ipynb", "v2.ipynb"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "Jose_Nunez",
        "alice",
        "bob",
        "carol",
    ]
    assert not list(out.rglob("timestamp.txt")), "a plain folder carries no LMS time"
    assert result.collected == [
        "'José Núñez' collected as student Jose_Nunez (nbgrader ids take ASCII letters, digits, _ . -)",
        "Jose_Nunez: part1 collected",
        "alice: part1 collected (was alice_part1_final.ipynb)",
        "alice: part2 collected (was illusions.ipynb)",
        "bob: part2 collected (was Untitled.ipynb)",
    ]
    assert result.skipped == [
        "erin: erin.zip is not a readable zip file (File is not a zip file): nothing collected",
        "carol: 2 notebooks of part1 (v1.ipynb, v2.ipynb): submit one; none will be graded",
        "dave: the upload holds no notebook (.ipynb): nothing submitted",
        "frank: notebook.ipynb has no nbgrader metadata: it is not a notebook of this course "
        "(submit the notebook you were given, saved from Jupyter): not collected",
    ]
    assert not result.ok


def write_roster(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(["nbgrader_id", "name", "email", "lms_id", "section"])
        writer.writerow(["jsmith", "John Smith", "john@uni.example", "12345", "A"])
        writer.writerow(["jdoe", "Jane Doe", "jane@uni.example", "23456", "A"])
        writer.writerow(["jnunez", "José Núñez", "jose@uni.example", "34567", "B"])
        writer.writerow(["svdberg", "van der Berg, Sara", "sara@uni.example", "45679", "B"])
    return path


def zipped(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder.parent))
    return target


def submitted_at(folder: Path) -> datetime:
    """The time nbgrader itself reads from ``folder/timestamp.txt`` (naive UTC)."""
    return CourseDirectory().get_existing_timestamp(str(folder))


@pytest.fixture
def canvas_zip(tmp_path) -> Path:
    """Canvas's "Download Submissions": flat files, LATE markers, a re-upload's -1 suffix."""
    root = tmp_path / "canvas" / "submissions"
    root.mkdir(parents=True)
    shutil.copy2(shipped("part1"), root / "smithjohn_12345_678901_part1_anime_faces-1.ipynb")
    (root / "smithjohn_12345_678901_scores.json").write_text('{"fid": 70.1}')
    shutil.copy2(shipped("part1"), root / "doejane_LATE_23456_678902_part1_anime_faces.ipynb")
    # Canvas writes the mark in lower case too; Sara's key is her whole sortable name.
    shutil.copy2(shipped("part1"), root / "vanderbergsara_late_45679_678906_faces.ipynb")
    # A student's own "submission time": never taken.
    (root / "smithjohn_12345_678901_timestamp.txt").write_text("2026-10-01 00:00:00.000000 UTC")
    shutil.copy2(shipped("part2"), root / "nunezjose_34567_678903_illusions.ipynb")
    shutil.copy2(shipped("part1"), root / "strangerbob_99999_678904_part1_anime_faces.ipynb")
    (root / "leeann_45678_678905_part1_anime_faces.ipynb").write_text("")
    (root / "smithjohn_12345_678901_empty.ipynb").write_text("")
    return zipped(root, tmp_path / "submissions.zip")


def test_canvas_files_map_through_the_roster_with_late_marks(canvas_zip, tmp_path):
    out = tmp_path / "out"
    result = collect.collect(
        canvas_zip, out, roster=roster.read_roster(write_roster(tmp_path / "s.csv"))
    )
    assert result.collected == [
        "jdoe: part1 collected (marked LATE by the LMS, no time known)",
        "jnunez: part2 collected (was illusions.ipynb)",
        "jsmith: part1 collected (was part1_anime_faces-1.ipynb)",
        "svdberg: part1 collected (was faces.ipynb; marked LATE by the LMS, no time known)",
    ]
    assert json.loads((out / "jsmith" / "part1" / "scores.json").read_text()) == {"fid": 70.1}
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        "jdoe", "jnunez", "jsmith", "svdberg"
    ]  # fmt: skip
    assert len(result.skipped) == 4
    assert result.skipped[0].startswith("'leeann_45678' is not in the roster")
    assert result.skipped[1].startswith("'strangerbob_99999' is not in the roster")
    assert "LMS id 99999" in result.skipped[1] and "add the student" in result.skipped[1]
    assert result.skipped[2] == "jsmith: empty.ipynb is empty (0 bytes): not collected"
    assert result.skipped[3].startswith("jsmith: part1: the upload's timestamp.txt is not the")
    # No time: neither the student's file nor any timestamp.txt; the LATE mark is recorded.
    assert not list(out.rglob("timestamp.txt"))
    assert gradebook.read_timestamp(out / "jsmith" / "part1") is None
    assert submission_times.lms_time(out / "jdoe" / "part1") == LmsTime(
        None, True, "Canvas file name"
    )
    assert submission_times.lms_time(out / "jsmith" / "part1") == LmsTime(
        None, False, "Canvas file name"
    )
    assert "no late penalty applied" in submission_times.late_unknown(
        submission_times.lms_time(out / "jdoe" / "part1")
    )
    assert not submission_times.late_unknown(submission_times.lms_time(out / "jsmith" / "part1"))


def test_canvas_times_from_a_csv_become_the_submission_times(canvas_zip, tmp_path):
    times = tmp_path / "times.csv"
    times.write_text(
        "lms_id,submitted_at\n23456,2026-10-17T10:30:00+02:00\n12345,2026-10-16 20:00:00\n45679,\n"
    )
    out = tmp_path / "out"
    result = collect.collect(
        canvas_zip,
        out,
        roster=roster.read_roster(write_roster(tmp_path / "s.csv")),
        canvas=canvas_times.from_csv(times, collect.ZoneInfo("Europe/Berlin")),
    )
    assert (
        "jdoe: part1 collected (submitted 2026-10-17 08:30:00.000000 UTC; marked LATE by the LMS)"
        in (result.collected)
    )
    # A time without an offset is the LMS's local time: 20:00 in Berlin (CEST) is 18:00 UTC.
    assert submitted_at(out / "jsmith" / "part1") == datetime(2026, 10, 16, 18, 0)
    assert gradebook.read_timestamp(out / "jsmith" / "part1") == datetime(2026, 10, 16, 18, 0)
    assert submission_times.lms_time(out / "svdberg" / "part1").time is None
    bad = tmp_path / "bad.csv"
    bad.write_text("lms_id,submitted_at\n23456,yesterday\n")
    with pytest.raises(
        canvas_times.CanvasTimesError, match="line 2: 'yesterday' is not an ISO 8601"
    ):
        canvas_times.from_csv(bad, collect.ZoneInfo("UTC"))


class CanvasAPI(http.server.BaseHTTPRequestHandler):
    """Canvas's REST API as its documentation shows it: a course, an assignment and its
    submissions (Submissions API: ``user_id``, ``submitted_at``, ``late``, …), two to a
    page with a ``Link: <…>; rel="next"`` header, behind a bearer token."""

    TOKEN = "7~teacher-token"
    SUBMISSIONS = [
        {"id": 5001, "user_id": 12345, "assignment_id": 88101, "attempt": 2,
         "submitted_at": "2026-10-16T19:40:00Z", "late": False, "missing": False,
         "seconds_late": 0, "workflow_state": "submitted", "submission_type": "online_upload",
         "grade": None, "score": None, "excused": False, "late_policy_status": None},
        {"id": 5002, "user_id": 23456, "assignment_id": 88101, "attempt": 1,
         "submitted_at": "2026-10-17T08:30:00Z", "late": True, "missing": False,
         "seconds_late": 37860, "workflow_state": "submitted", "submission_type": "online_upload",
         "grade": None, "score": None, "excused": False, "late_policy_status": None},
        {"id": 5003, "user_id": 45679, "assignment_id": 88101, "attempt": 1,
         "submitted_at": "2026-10-18T09:00:00Z", "late": True, "missing": False,
         "seconds_late": 126060, "workflow_state": "submitted", "submission_type": "online_upload",
         "grade": None, "score": None, "excused": False, "late_policy_status": None},
        {"id": 5004, "user_id": 99999, "assignment_id": 88101, "attempt": None,
         "submitted_at": None, "late": False, "missing": True, "seconds_late": 0,
         "workflow_state": "unsubmitted", "submission_type": None,
         "grade": None, "score": None, "excused": False, "late_policy_status": None},
    ]  # fmt: skip

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.headers.get("Authorization") != f"Bearer {self.TOKEN}":
            return self.reply(
                401,
                {"errors": [{"message": "Invalid access token."}]},
                headers={"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
            )
        path, _, query = self.path.partition("?")
        base = "/api/v1/courses/1234"
        if path == base:
            return self.reply(200, {"id": 1234, "name": "Diffusion", "course_code": "DIFF"})
        if path == f"{base}/assignments/88101":
            return self.reply(200, {"id": 88101, "course_id": 1234, "name": "Part 1: Anime faces",
                                    "due_at": "2026-10-16T21:59:00Z", "points_possible": 40})  # fmt: skip
        if path == f"{base}/assignments/88101/submissions":
            page = 2 if "page=2" in query else 1
            link = (
                f'<http://{self.headers["Host"]}{path}?page=2>; rel="next"' if page == 1 else None
            )
            links = {"Link": link} if link else {}
            return self.reply(200, self.SUBMISSIONS[2 * page - 2 : 2 * page], headers=links)
        return self.reply(404, {"errors": [{"message": "The specified resource does not exist."}]})

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def canvas_api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CanvasAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.filterwarnings("ignore:Canvas may respond unexpectedly:UserWarning")
def test_canvas_times_from_the_canvas_api_through_make_collect(canvas_zip, canvas_api, tmp_path):
    """``make collect … CANVAS_URL=`` with the token in the environment, as the README prints it."""
    url = f"{canvas_api}/courses/1234/assignments/88101"
    students = write_roster(tmp_path / "students.csv")
    env = {"PATH": f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    command = ["make", "-s", "collect", f"ZIP={canvas_zip}", f"ROSTER={students}",
               "ASSIGNMENT=part1", f"CANVAS_URL={url}", f"OUT={tmp_path / 'c'}"]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, env={**env, "CANVAS_TOKEN": CanvasAPI.TOKEN},
        capture_output=True, text=True,
    )  # fmt: skip
    assert "Canvas API: 'Part 1: Anime faces': 3 submission times" in done.stdout, done.stderr
    assert (
        "jdoe: part1 collected (submitted 2026-10-17 08:30:00.000000 UTC; marked LATE by the LMS)"
        in (done.stdout)
    )
    assert (
        "svdberg: part1 collected (was faces.ipynb; submitted 2026-10-18 09:00:00.000000 UTC; "
        in (done.stdout)
    )
    assert submitted_at(tmp_path / "c" / "jsmith" / "part1") == datetime(2026, 10, 16, 19, 40)
    assert submission_times.lms_time(tmp_path / "c" / "jdoe" / "part1").source == "Canvas API"
    refused = subprocess.run(
        command, cwd=REPO, env={**env, "CANVAS_TOKEN": "stolen"}, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "Canvas refused" in refused.stderr and "InvalidAccessToken" in refused.stderr
    assert "CANVAS_TOKEN is a token of a teacher of this course" in refused.stderr
    with pytest.raises(canvas_times.CanvasTimesError, match="not a Canvas assignment's address"):
        canvas_times.from_api(f"{canvas_api}/courses/1234", CanvasAPI.TOKEN)


def test_student_folders_map_through_the_roster_by_any_of_its_keys(lms_download, tmp_path):
    path = write_roster(tmp_path / "s.csv")
    with path.open("a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerow(["alice", "Alice Liddell", "alice@uni.example", "56789", "A"])
    out = tmp_path / "out"
    result = collect.collect(lms_download, out, roster=roster.read_roster(path))
    assert "jnunez: part1 collected" in result.collected, "José Núñez's folder, by name"
    assert "alice: part2 collected (was illusions.ipynb)" in result.collected
    assert any(line.startswith("'bob' is not in the roster") for line in result.skipped)
    assert not (out / "bob").exists()


def test_with_an_assignment_the_other_parts_notebook_is_named_and_skipped(canvas_zip, tmp_path):
    out = tmp_path / "out"
    result = collect.collect(
        canvas_zip,
        out,
        roster=roster.read_roster(write_roster(tmp_path / "s.csv")),
        assignment="part1",
    )
    assert "jnunez: illusions.ipynb is a notebook of part2, not of part1: not collected" in (
        result.skipped
    )
    assert not (out / "jnunez").exists()


@pytest.fixture
def moodle_zip(tmp_path) -> Path:
    """Moodle's "Download all submissions" in folders, and its grading worksheet."""
    root = tmp_path / "moodle" / "Diffusion-Part 1-42"
    smith = root / "John Smith_801_assignsubmission_file"
    smith.mkdir(parents=True)
    shutil.copy2(shipped("part1"), smith / "my part 1.ipynb")
    doe = root / "Jane Doe_802_assignsubmission_file"
    doe.mkdir()
    shutil.copy2(shipped("part1"), doe / "draft.ipynb")
    (doe / "notes.pdf").write_bytes(b"%PDF-1.4")
    nobody = root / "Max Mustermann_803_assignsubmission_file"
    nobody.mkdir()
    shutil.copy2(shipped("part1"), nobody / "part1.ipynb")
    empty = root / "José Núñez_804_assignsubmission_file"
    empty.mkdir()
    (empty / "report.docx").write_bytes(b"PK")
    return zipped(root, tmp_path / "moodle.zip")


def write_worksheet(path: Path) -> Path:
    """Moodle's worksheet columns (mod/assign gradingtable: recordid, fullname, email, ...)."""
    header = [
        "Identifier",
        "Full name",
        "Email address",
        "Status",
        "Grade",
        "Maximum Grade",
        "Grade can be changed",
        "Last modified (submission)",
        "Last modified (grade)",
        "Feedback comments",
    ]
    rows = [
        ["Participant 801", "John Smith", "john@uni.example", "Submitted for grading", "",
         "100.00", "Yes", "Monday, 30 November 2026, 2:05 PM", "-", ""],
        ["Participant 802", "Jane Doe", "jane@uni.example", "Submitted for grading", "",
         "100.00", "Yes", "Tuesday, 1 December 2026, 11:59 PM", "-", ""],
        ["Participant 804", "José Núñez", "jose@uni.example", "Submitted for grading", "",
         "100.00", "Yes", "Dienstag, 1. Dezember 2026, 09:00", "-", ""],
    ]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_moodle_folders_take_the_worksheets_time_in_the_lms_time_zone(moodle_zip, tmp_path):
    out = tmp_path / "out"
    result = collect.collect(
        moodle_zip,
        out,
        lms="moodle",
        roster=roster.read_roster(write_roster(tmp_path / "s.csv")),
        tz=collect.ZoneInfo("Europe/Berlin"),
        worksheet=write_worksheet(tmp_path / "worksheet.csv"),
    )
    # 14:05 in Berlin (CET, UTC+1) is 13:05 UTC, as nbgrader reads it back.
    assert submitted_at(out / "jsmith" / "part1") == datetime(2026, 11, 30, 13, 5)
    assert submitted_at(out / "jdoe" / "part1") == datetime(2026, 12, 1, 22, 59)
    assert (out / "jsmith" / "part1" / "timestamp.txt").read_text() == (
        "2026-11-30 13:05:00.000000 UTC"
    )
    assert parse_utc((out / "jdoe" / "part1" / "timestamp.txt").read_text()) == datetime(
        2026, 12, 1, 22, 59
    )
    assert (out / "jdoe" / "part1" / "notes.pdf").is_file()
    assert result.collected == [
        "jdoe: part1 collected (was draft.ipynb; submitted 2026-12-01 22:59:00.000000 UTC)",
        "jsmith: part1 collected (was my part 1.ipynb; submitted 2026-11-30 13:05:00.000000 UTC)",
    ]
    assert result.skipped == [
        "José Núñez_804_assignsubmission_file: the worksheet's time 'Dienstag, 1. Dezember 2026, 09:00' is no date: "
        "collected without a time (download the worksheet with the site language English)",
        f"'Max Mustermann_803_assignsubmission_file' is not in the roster {tmp_path / 's.csv'} (LMS id 803, name "
        "Max Mustermann): nothing collected; add the student to the roster",
        "jnunez: the upload holds no notebook (.ipynb) (only report.docx): nothing submitted",
    ]


def test_make_collect_takes_moodles_worksheet_and_names_namesakes(moodle_zip, tmp_path):
    """Two Jane Does in the roster: the folder's name finds neither (and says so); with
    WORKSHEET= the email tells them apart and the worksheet gives the time."""
    students = write_roster(tmp_path / "students.csv")
    with students.open("a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerow(["jdoe2", "Jane Doe", "jane.doe2@uni.example", "77777", "B"])
    env = {"PATH": f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    command = ["make", "-s", "collect", f"ZIP={moodle_zip}", "LMS=moodle", f"ROSTER={students}",
               "TZ_NAME=Europe/Berlin"]  # fmt: skip
    done = subprocess.run(
        [*command, f"OUT={tmp_path / 'a'}"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert (
        "skipped: 'Jane Doe_802_assignsubmission_file': 2 students of the roster are named Jane "
        "Doe (jdoe, jdoe2): nothing collected, since the name tells them not apart; give "
        "Moodle's grading worksheet (WORKSHEET=, matched by email)"
    ) in done.stdout
    worksheet = write_worksheet(tmp_path / "worksheet.csv")
    done = subprocess.run(
        [*command, f"WORKSHEET={worksheet}", f"OUT={tmp_path / 'b'}"],
        cwd=REPO, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert (
        "jdoe: part1 collected (was draft.ipynb; submitted 2026-12-01 22:59:00.000000 UTC)"
        in done.stdout
    ), done.stdout + done.stderr
    assert submission_times.lms_time(tmp_path / "b" / "jdoe" / "part1").source == "Moodle worksheet"


def test_the_newest_of_two_attempts_is_kept_by_the_lms_time(tmp_path):
    """Blackboard: one file and one .txt receipt per attempt, times in the server's zone."""
    root = tmp_path / "gradebook_download"
    root.mkdir()
    for stamp, name in [("2026-11-30-14-05-12", "old.ipynb"), ("2026-12-01-09-00-00", "new.ipynb")]:
        shutil.copy2(shipped("part1"), root / f"Part 1_jsmith_attempt_{stamp}_{name}")
        (root / f"Part 1_jsmith_attempt_{stamp}.txt").write_text("Name: John Smith (jsmith)\n")
    shutil.copy2(shipped("part2"), root / "Part 1_jdoe_attempt_2026-11-29-08-00-00_p2.ipynb")
    (root / "Part 1_jdoe_attempt_2026-11-29-08-00-00.txt").write_text("Name: Jane Doe\n")
    out = tmp_path / "out"
    result = collect.collect(root, out, tz=collect.ZoneInfo("America/New_York"))
    assert collect.detect_layout(root) == "blackboard"
    assert (out / "jsmith" / "part1" / "part1_anime_faces.ipynb").is_file()
    assert submitted_at(out / "jsmith" / "part1") == datetime(2026, 12, 1, 14, 0)
    assert result.skipped == [
        "jsmith: 2 notebooks of part1 (new.ipynb, old.ipynb): kept the newest by the LMS's "
        "time, new.ipynb (2026-12-01 14:00:00.000000 UTC)"
    ]
    assert result.collected == [
        "jdoe: part2 collected (was p2.ipynb; submitted 2026-11-29 13:00:00.000000 UTC)",
        "jsmith: part1 collected (was new.ipynb; submitted 2026-12-01 14:00:00.000000 UTC)",
    ]


def test_brightspace_files_are_found_by_name_with_their_local_time(tmp_path):
    root = tmp_path / "Part 1 Download Nov 30, 2026 1005 PM"
    root.mkdir()
    (root / "index.html").write_text("<html></html>")
    shutil.copy2(
        shipped("part1"), root / "12345-67890 - John Smith - Nov 30, 2026 105 PM - part1.ipynb"
    )
    shutil.copy2(
        shipped("part1"), root / "12346-67891 - José Núñez - Dec 1, 2026 1159 AM - faces.ipynb"
    )
    out = tmp_path / "out"
    result = collect.collect(root, out, roster=roster.read_roster(write_roster(tmp_path / "s.csv")))
    assert result.ok, result.skipped
    assert submitted_at(out / "jsmith" / "part1") == datetime(2026, 11, 30, 13, 5)
    assert submitted_at(out / "jnunez" / "part1") == datetime(2026, 12, 1, 11, 59)


def test_auto_tells_the_layouts_apart(canvas_zip, moodle_zip, lms_download, tmp_path):
    for download, layout in [
        (canvas_zip, "canvas"),
        (moodle_zip, "moodle"),
        (lms_download, "folders"),
    ]:
        folder = tmp_path / layout
        with zipfile.ZipFile(download) as archive:
            archive.extractall(folder)
        assert collect.detect_layout(layouts.students_folder(folder)) == layout


def test_make_collect_as_the_readme_prints_it(canvas_zip, lms_download, tmp_path):
    """The README's commands in a clean environment; --out/OUT keep the checkout clean."""
    env = {"PATH": f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [
            ".venv/bin/python",
            "-m",
            "grading.lms.collect",
            str(lms_download),
            "--out",
            str(tmp_path / "s"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert "bob: part2 collected (was Untitled.ipynb)" in done.stdout
    assert "skipped: dave: the upload holds no notebook (.ipynb): nothing submitted" in done.stdout
    assert done.stdout.strip().endswith(f"submissions: {tmp_path / 's'}/<student>/<assignment>/")
    students = write_roster(tmp_path / "students.csv")
    done = subprocess.run(
        [
            "make",
            "collect",
            f"ZIP={canvas_zip}",
            "LMS=canvas",
            f"ROSTER={students}",
            "ASSIGNMENT=part1",
            "TZ_NAME=Europe/Berlin",
            f"OUT={tmp_path / 'c'}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0, "a student outside the roster was skipped"
    assert (
        f'-m grading.lms.collect "{canvas_zip}" --out "{tmp_path / "c"}" --lms canvas '
        f'--roster "{students}" --assignment part1 --timezone Europe/Berlin'
    ) in done.stdout
    assert "jdoe: part1 collected (marked LATE by the LMS, no time known)" in done.stdout
    assert sorted(p.name for p in (tmp_path / "c").iterdir() if p.is_dir()) == [
        "jdoe", "jsmith", "svdberg"
    ]  # fmt: skip
    bad = subprocess.run(
        ["make", "-s", "collect"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "usage: make collect ZIP=" in bad.stdout


def test_a_bad_time_zone_or_roster_stops_before_anything_is_written(canvas_zip, tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")]
    assert collect.main([str(canvas_zip), *out, "--timezone", "Berlin"]) == 1
    assert "--timezone 'Berlin' is no IANA time zone: use a name like Europe/Berlin" in (
        capsys.readouterr().err
    )
    bad = tmp_path / "students.csv"
    bad.write_text("lms_id,name,email,nbgrader_id\n1,A B,,José\n", encoding="utf-8")
    assert collect.main([str(canvas_zip), *out, "--roster", str(bad)]) == 1
    assert f"{bad}, line 2: nbgrader_id 'José' is not an nbgrader id" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def zip_bomb(path: Path, megabytes: int = 64) -> Path:
    """Zeros: 64 MiB deflate to 64 KB (a ratio near 1000, as the 2.6 MB bomb of issue 26)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("part1_anime_faces.ipynb", "w") as member:
            for _ in range(megabytes):
                member.write(bytes(1 << 20))
    return path


def test_a_zip_bomb_is_refused_before_unpacking_and_costs_only_its_student(tmp_path):
    bomb = zip_bomb(tmp_path / "bomb.zip")
    assert bomb.stat().st_size < 1 << 20
    out = tmp_path / "out"
    result = collect.collect(bomb, out)
    assert result.skipped == [
        "error: bomb.zip is refused before unpacking: part1_anime_faces.ipynb unpacks "
        f"{zipfile.ZipFile(bomb).infolist()[0].compress_size:,} bytes into 67,108,864 (more "
        "than 100 times): a zip bomb, not a submission"
    ]
    assert not out.exists()
    # Inside a class's download, the bomb is one student's entry: the others are collected.
    root = tmp_path / "download" / "all"
    (root / "alice").mkdir(parents=True)
    shutil.copy2(shipped("part1"), root / "alice" / "faces.ipynb")
    zip_bomb(root / "mallory.zip")
    result = collect.collect(zipped(root, tmp_path / "class.zip"), out)
    assert result.collected == ["alice: part1 collected (was faces.ipynb)"]
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith("mallory: mallory.zip is refused before unpacking")
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["alice"]


def test_symbolic_links_in_a_download_are_refused_with_a_message(tmp_path):
    """A link to the instructor's notebook (issue 26: it scored 20/20 and put the solutions
    in its feedback) is never followed, in a folder download or in a zip."""
    root = tmp_path / "download"
    (root / "mallory").mkdir(parents=True)
    (root / "mallory" / "part1_anime_faces.ipynb").symlink_to(course.source_notebook("part1"))
    (root / "alice").mkdir()
    shutil.copy2(shipped("part1"), root / "alice" / "part1_anime_faces.ipynb")
    out = tmp_path / "out"
    result = collect.collect(root, out)
    assert result.collected == ["alice: part1 collected"]
    assert result.skipped == [
        "mallory/part1_anime_faces.ipynb is a symbolic link: refused (a download holds files, "
        "never links)",
        "mallory: the upload holds no notebook (.ipynb): nothing submitted",
    ]
    assert (root / "mallory" / "part1_anime_faces.ipynb").is_symlink(), "the download is untouched"
    link = zipfile.ZipInfo("mallory/part1_anime_faces.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "links.zip", "w") as archive:
        archive.writestr(link, str(course.source_notebook("part1")))
        archive.write(shipped("part1"), "alice/part1_anime_faces.ipynb")
    result = collect.collect(tmp_path / "links.zip", tmp_path / "out2")
    assert result.collected == ["alice: part1 collected"]
    assert result.skipped[0] == (
        "links.zip: mallory/part1_anime_faces.ipynb is a symbolic link: refused (a download "
        "holds files, never links)"
    )
