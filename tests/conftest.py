"""Shared fixtures: tiny models that run in milliseconds on a CPU, and the expensive
artefacts (a released course) built once per run and shared by every xdist worker.

``make test`` runs the suite with pytest-xdist (``-n auto --dist loadfile``): each test
file runs whole on one worker, so its module fixtures are built once, and the files that
take minutes start first (:data:`SLOWEST_FIRST`) so that the workers finish together.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from grading.authoring.reference import REFERENCE_STEPS
from grading.distribute.release import release
from helpers import tiny_models
from helpers.diffusion import GaussianDiffusion

REPO = Path(__file__).resolve().parents[1]

SLOWEST_FIRST = [
    "test_grading.py",
    # Not test_kaggle.py second: it needs released_kit too, and would wait idle for the
    # release the first worker builds; test_mutations.py needs none.
    "test_mutations.py",
    "test_kaggle.py",
    "test_browser.py",
    "test_notebooks.py",
    "test_gradebook.py",
    "test_stock_nbgrader.py",
    "test_fid.py",
    "test_illusions_toy.py",
    "test_readme.py",
    "test_student_kit.py",
    "test_rubric_cells.py",
    "test_train.py",
    "test_engine.py",
    "test_instructor_tools.py",
    "test_formgrader_command.py",
    "test_pretrained.py",
]
"""The files that take minutes, slowest first, by the sum of their tests' durations in a
``make test`` run (``--durations=0``): xdist hands each file whole to the next free worker,
so a long file handed out last would leave the other worker idle at the end."""


def pytest_addoption(parser):
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        help="tests/test_browser.py also writes its screenshots here (e.g. docs/screenshots); "
        "default $COURSEKIT_SCREENSHOTS",
    )


def pytest_configure(config):
    """Under xdist, each worker's torch takes its share of the cores, not all of them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config, items):
    """Slowest files first: xdist hands out whole files in this order."""
    rank = {name: k for k, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


def tiny_diffusion(**overrides) -> GaussianDiffusion:
    """:func:`helpers.tiny_models.tiny_diffusion` running the reference steps."""
    return tiny_models.tiny_diffusion(REFERENCE_STEPS, **overrides)


def activated(**extra: str) -> dict[str, str]:
    """The environment of a shell after ``source .venv/bin/activate``: no PYTHONPATH."""
    venv = REPO / ".venv"
    return {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "VIRTUAL_ENV": str(venv),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        **extra,
    }


def build_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """``build(folder)`` once per test run; every worker gets the same ``folder``.

    Under xdist the folder lies beside the workers' own temp folders and a file lock makes
    the first worker that asks build it while the others wait. A failed build is recorded,
    so the other workers fail at once with its traceback instead of building it again.
    """
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent
    folder, done, failed = root / name, root / f"{name}.done", root / f"{name}.failed"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if failed.exists():
            pytest.fail(f"building {name} failed:\n{failed.read_text()}")
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            try:
                build(folder)
            except BaseException:
                failed.write_text(traceback.format_exc())
                raise
            done.touch()
    return folder


@pytest.fixture(scope="session")
def released_kit(tmp_path_factory) -> Path:
    """A copy of ``grading/`` and the root ``nbgrader_config.py`` with both assignments
    released (and checked by ``validate --invert``) into ``grading/course``.

    Shared: a test that grades into it works on a copy (:func:`copy_kit`).
    """

    def build(kit: Path) -> None:
        shutil.copytree(
            REPO / "grading",
            kit / "grading",
            ignore=shutil.ignore_patterns("course", "__pycache__"),
        )
        shutil.copy2(REPO / "nbgrader_config.py", kit)
        release(kit / "grading" / "course")

    return build_once(tmp_path_factory, "released-kit", build)


def copy_kit(kit: Path, dest: Path) -> Path:
    """A private copy of :func:`released_kit` at ``dest`` (its gradebook included)."""
    shutil.copytree(kit, dest, dirs_exist_ok=True)
    return dest
