"""The JupyterHub setup of ``grading/distribute/jupyterhub/``: nbgrader's exchange, loaded as nbgrader
loads it, and one assignment through it (release, fetch, submit, collect) with the stock
commands, as the instructor's service and a student's server run them."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

from grading.course import COURSE_ID
from tests.conftest import copy_kit

REPO = Path(__file__).resolve().parents[1]
HUB = REPO / "grading" / "distribute" / "jupyterhub"
VENV_BIN = REPO / ".venv" / "bin"

SETTINGS = """
import json
from nbgrader.apps import NbGrader
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeReleaseAssignment

app = NbGrader()
app.load_config_file()
coursedir = CourseDirectory(config=app.config)
exchange = ExchangeReleaseAssignment(coursedir=coursedir, config=app.config)
print(json.dumps({"exchange": exchange.root, "course_id": coursedir.course_id,
                  "course_root": coursedir.root}))
"""


def _hub_env(home: Path, **extra: str) -> dict[str, str]:
    """A single-user server's shell: the venv on PATH, the hub's nbgrader_config.py in a
    Jupyter config folder (standing in for /etc/jupyter), no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {
        **env,
        "PATH": f"{VENV_BIN}{os.pathsep}{env['PATH']}",
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_CONFIG_PATH": str(HUB),
        **extra,
    }


def _settings(cwd: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [VENV_BIN / "python", "-c", SETTINGS], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_students_and_the_grader_share_the_exchange_and_the_course(tmp_path):
    (tmp_path / "student").mkdir()
    env = _hub_env(tmp_path)
    student = _settings(tmp_path / "student", env)
    assert student["exchange"] == "/srv/nbgrader/exchange"
    grader = _settings(REPO / "grading", env)
    assert grader["exchange"] == student["exchange"]
    assert grader["course_id"] == student["course_id"] == COURSE_ID
    # The grader's course directory is the repository's, inside the service's root.
    assert Path(grader["course_root"]) == REPO / "grading" / "course"
    moved = _settings(tmp_path / "student", _hub_env(tmp_path, COURSEKIT_EXCHANGE="/mnt/x"))
    assert moved["exchange"] == "/mnt/x"


def test_the_hub_service_is_the_course_and_its_graders_group(tmp_path):
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(HUB)).load_config()
    (service,) = config.JupyterHub.services
    course = _settings(REPO / "grading", _hub_env(tmp_path))["course_id"]
    assert service["name"] == course
    assert service["cwd"].endswith("/grading")
    assert list(config.JupyterHub.load_groups) == [f"formgrade-{course}"]
    (role,) = config.JupyterHub.load_roles
    assert f"access:services!service={course}" in role["scopes"]


def _nbgrader(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["nbgrader", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def test_an_assignment_goes_through_the_exchange(released_kit, tmp_path):
    """The instructor releases from grading/, a student fetches and submits from their
    home, the instructor collects into grading/submitted/<student>/, where make autograde
    reads."""
    kit = copy_kit(released_kit, tmp_path / "kit")
    grading, home = kit / "grading", tmp_path / "home"
    home.mkdir()
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    env = _hub_env(home, COURSEKIT_EXCHANGE=str(exchange))

    _nbgrader(grading, env, "release_assignment", "part1")
    assert (exchange / COURSE_ID / "outbound" / "part1" / "part1_anime_faces.ipynb").is_file()
    assert "part1" in _nbgrader(home, env, "list")

    _nbgrader(home, env, "fetch_assignment", "part1")
    fetched = home / "part1" / "part1_anime_faces.ipynb"
    assert fetched.is_file()
    _nbgrader(home, env, "submit", "part1")
    (inbound,) = (exchange / COURSE_ID / "inbound").iterdir()
    student = getpass.getuser()
    assert inbound.name.startswith(f"{student}+part1+")

    _nbgrader(grading, env, "collect", "part1")
    collected = grading / "submitted" / student / "part1" / "part1_anime_faces.ipynb"
    assert collected.read_bytes() == fetched.read_bytes()
    assert (collected.parent / "timestamp.txt").is_file()
