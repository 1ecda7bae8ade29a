"""The student kit holds the released notebooks, ``helpers`` and the setup, and no answer.

It is built from a release (the shared :func:`released_kit`), unzipped into a folder of
its own, and set up there with its own ``make setup`` from nothing, in a clean
environment (no PYTHONPATH, no activated venv); uv installs from its cache, so that
takes seconds. ``make lab`` then starts JupyterLab on the notebooks, as root too.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

import grading.authoring.reference
from grading.authoring.reference import prompts
from grading.authoring.solutions import body_lines
from grading.course import ASSIGNMENTS, released_notebook, source_notebook
from grading.distribute.student_kit import students_section
from tests.lab_server import lab_from

REPO = Path(__file__).resolve().parents[1]
UV_VERSION = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.M)[1]


def _clean_env(**extra: str) -> dict[str, str]:
    """The user's shell: their PATH (its python3) without this repository's venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    venv_bin = str(REPO / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    return {**env, **extra}


@pytest.fixture(scope="module")
def built(released_kit, tmp_path_factory) -> tuple[Path, Path, Path]:
    """``(the kit's folder, its zip, the course it was built from)``: the shared release."""
    out = tmp_path_factory.mktemp("student-kit")
    done = subprocess.run(
        [REPO / ".venv/bin/python", "-m", "grading.distribute.student_kit", "--out", out]
        + ["--course", released_kit / "grading" / "course", "--uv-version", UV_VERSION],
        cwd=REPO,
        env=_clean_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    archive = Path(done.stdout.splitlines()[-1].removeprefix("student kit: "))
    assert archive.name == "coursekit-student-0.1.0.zip" and archive.is_file()
    return archive.with_suffix(""), archive, released_kit / "grading" / "course"


@pytest.fixture(scope="module")
def unzipped(built, tmp_path_factory) -> Path:
    """The kit as a student has it: unzipped from the archive, nothing else around."""
    place = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(built[1]) as archive:
        archive.extractall(place)
    (kit,) = place.iterdir()
    return kit


def _files(kit: Path) -> dict[str, Path]:
    return {p.relative_to(kit).as_posix(): p for p in sorted(kit.rglob("*")) if p.is_file()}


def _text(path: Path) -> str | None:
    """A text file's text, a notebook's as its cells' sources; None for a binary file."""
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        return None  # the toy checkpoint
    if path.suffix == ".ipynb":
        return "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
    return text


def _texts(kit: Path) -> dict[str, str]:
    """Every text file of the kit, by its path in the kit."""
    texts = {name: _text(path) for name, path in _files(kit).items()}
    return {name: text for name, text in texts.items() if text is not None}


def _significant(text: str) -> str:
    """``text`` without indentation, blank lines and comment lines: code matches wherever
    it is nested and however it is commented."""
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("#"))


def _reference_bodies() -> dict[str, list[str]]:
    """The significant lines of every reference answer (function bodies and PROMPTS)."""
    functions = {}
    for name in grading.authoring.reference.__all__:
        obj = getattr(grading.authoring.reference, name)
        if inspect.isfunction(obj):
            functions[name] = obj
        elif inspect.isclass(obj):
            functions |= {
                f"{name}.{method}": f for method, f in vars(obj).items() if inspect.isfunction(f)
            }
    sources = {name: inspect.getsource(inspect.unwrap(f)) for name, f in functions.items()}
    sources["prompts"] = inspect.getsource(prompts)
    bodies = {}
    for name, source in sources.items():
        lines = _significant("\n".join(body_lines(source))).splitlines()
        # `return im` (the identity view) gives nothing away and is common code.
        if not (len(lines) == 1 and re.fullmatch(r"return \w+", lines[0])):
            bodies[name] = lines
    return bodies


def test_the_kit_holds_the_release_helpers_and_the_setup_and_nothing_else(built):
    kit, archive, course = built
    files = _files(kit)
    with zipfile.ZipFile(archive) as z:
        assert sorted(n.removeprefix(f"{kit.name}/") for n in z.namelist() if n[-1] != "/") == (
            sorted(files)
        )
    assert {"Makefile", "README.md", "pyproject.toml", "uv.lock", "environment.yml"} <= set(files)
    assert "helpers/__init__.py" in files and "helpers/checkpoints/toy.pt" in files
    assert not [n for n in files if n.split("/")[0] in ("grading", "tests", "benchmarks")]
    assert not [n for n in files if "reference" in n or "__pycache__" in n]
    for part, name in ASSIGNMENTS.items():
        released = released_notebook(part, course)
        assert files[f"notebooks/{name}.ipynb"].read_bytes() == released.read_bytes()
    assert sorted(n for n in files if n.startswith("notebooks/")) == sorted(
        f"notebooks/{name}.ipynb" for name in ASSIGNMENTS.values()
    )


def test_no_solution_hidden_test_or_reference_answer_is_in_the_kit(built):
    texts = _texts(built[0])
    assert len(texts) > 30
    for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"):
        assert not [name for name, text in texts.items() if marker in text], marker
    bodies = _reference_bodies()
    assert {"schedule_init", "denoising_loop", "Rotate180View.view", "prompts"} <= set(bodies)
    stripped = {name: _significant(text) for name, text in texts.items()}
    for answer, lines in bodies.items():
        leaked = [name for name, text in stripped.items() if "\n".join(lines) in text]
        assert not leaked, f"the reference {answer} is in {leaked}"
    # The same search finds every answer in the instructor's notebooks, where they are.
    source = "\n".join(_significant(_text(source_notebook(part))) for part in ASSIGNMENTS)
    assert [a for a, lines in bodies.items() if "\n".join(lines) not in source] == []


def test_the_kit_readme_is_the_students_section(built):
    text = (built[0] / "README.md").read_text()
    assert students_section((REPO / "README.md").read_text()) in text
    assert "make setup" in text and "make lab" in text and "Train on Kaggle" in text
    assert "grading/" not in text and "make release" not in text


def _notebook_imports(notebook: Path) -> list[str]:
    """The import statements of a notebook's code cells, as written."""
    imports = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                imports.append(ast.unparse(node))
    return imports


@pytest.mark.slow
def test_the_kit_sets_up_from_nothing_and_opens_its_notebooks(unzipped, tmp_path):
    """`make setup` and `make lab`, as the kit's README prints them, in the unzipped kit."""
    assert not (unzipped / ".venv").exists()
    done = subprocess.run(
        ["make", "setup"],
        cwd=unzipped,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "environment OK" in done.stdout
    python = unzipped / ".venv" / "bin" / "python"

    # Every import of both notebooks works with the kit alone, from anywhere; `grading`
    # (the answers) is not there to import.
    imports = sorted(
        {i for nb in (unzipped / "notebooks").glob("*.ipynb") for i in _notebook_imports(nb)}
    )
    assert any(i.startswith("from helpers") for i in imports), imports
    script = "\n".join(imports) + (
        "\nimport helpers, importlib.util\n"
        "print(helpers.__file__)\n"
        "print(importlib.util.find_spec('grading'))\n"
    )
    done = subprocess.run(
        [python, "-c", script], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    where, grading_spec = done.stdout.splitlines()[-2:]
    assert Path(where).is_relative_to(unzipped / "helpers"), where
    assert grading_spec == "None"

    # make lab: JupyterLab serves the notebooks (as root it needs --allow-root, which the
    # kit's Makefile adds).
    with lab_from(["make", "lab"], unzipped, _clean_env()) as lab:
        if os.geteuid() == 0:
            assert "--allow-root" in lab.output
        # Its root is the notebooks folder.
        assert "part1_anime_faces.ipynb" in lab.page("/api/contents")
