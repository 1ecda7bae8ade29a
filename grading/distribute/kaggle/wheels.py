"""The wheels dataset: the kit's own wheel (``helpers`` only) and what Kaggle's image lacks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grading.distribute.kaggle import REPO, BundleError
from grading.distribute.kaggle.datasets import write_dataset_metadata
from grading.distribute.kaggle.image import KAGGLE_PLATFORMS, KAGGLE_PYTHON, missing_on_kaggle
from grading.distribute.kaggle.kernels import check_student_text

# Markers of nbgrader's source format. Not the name grading.authoring.reference, unlike the notebooks'
# check: the kit's docstrings name it as the command that trains (`python -m grading.authoring.reference
# train`), and no module of helpers imports it (tests/test_student_package.py).
WHEEL_SECRETS = ("BEGIN SOLUTION", "HIDDEN TESTS")


WHEEL_README = """\
# diffusion-course-kit

The `helpers` package of the diffusion course: the UNet, the diffusion process around the
students' TODO functions, the trainer, the scorers and the Part 2 illusion sampler.
Built by the course's `make kaggle` for offline installation on Kaggle.
"""


def build_kit_wheel(dest: Path) -> Path:
    """The wheel of ``helpers`` alone, built offline with this environment's setuptools.

    Built from a staging copy of ``pyproject.toml`` and ``helpers/`` so that nothing else
    of the repository (``grading/``, a stale ``build/``) can end up inside, and with a
    short student-facing README: the repository's describes the instructor's tools.
    """
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    for requirement in map(Requirement, requires):
        try:
            have = installed_version(requirement.name)
        except PackageNotFoundError:
            have = "none"
        if have == "none" or not requirement.specifier.contains(have, prereleases=True):
            raise BundleError(
                f"building the kit needs {requirement}, this environment has {have}: "
                "run `make setup` (or install that version)"
            )
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        shutil.copy2(REPO / "pyproject.toml", stage)
        (stage / "README.md").write_text(WHEEL_README)
        shutil.copytree(
            REPO / "helpers",
            stage / "helpers",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        # setuptools.build_meta is the project's PEP 517 backend; calling it directly needs
        # no build isolation, hence no download.
        hook = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
        done = subprocess.run(
            [sys.executable, "-c", hook, str(dest.resolve())],
            cwd=stage,
            capture_output=True,
            text=True,
        )
    if done.returncode:
        raise BundleError(
            f"building the kit's wheel failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    wheel = dest / done.stdout.strip().splitlines()[-1]
    check_kit_wheel(wheel)
    return wheel


def check_kit_wheel(wheel: Path) -> None:
    """Raise unless the wheel holds only ``helpers/`` and its metadata, and no solutions."""
    dist_info = wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info/"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        stray = [n for n in names if not n.startswith(("helpers/", dist_info))]
        if stray:
            raise BundleError(
                f"{wheel.name} holds files outside helpers/: {', '.join(stray[:10])}. "
                "Only helpers* may be packaged ([tool.setuptools.packages.find] in pyproject.toml)."
            )
        for name in names:
            text = archive.read(name).decode("utf-8", errors="replace")
            check_student_text(text, f"{wheel.name}:{name}", WHEEL_SECRETS)


def kit_requirements() -> list[Requirement]:
    """The kit's runtime dependencies, from ``pyproject.toml``."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]]


def locked_versions() -> dict[str, set[str]]:
    """Versions of each package in ``uv.lock`` (several where the lock splits by Python version)."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    versions: dict[str, set[str]] = {}
    for package in lock.get("package", []):
        if "version" in package:
            versions.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    return versions


def pinned(requirement: Requirement, locked: dict[str, set[str]]) -> str:
    """``name==version`` of uv.lock when it holds one version that fits, else the requirement."""
    versions = locked.get(canonicalize_name(requirement.name), set())
    if len(versions) == 1:
        (only,) = versions
        if requirement.specifier.contains(only, prereleases=True):
            return f"{requirement.name}=={only}"
    return str(requirement.name) + str(requirement.specifier)


def pip_command() -> list[str]:
    """``python -m pip`` of this interpreter, else of the Python it was made from, else of
    ``python3`` (uv environments have no pip, and ``python3`` may be the venv's own)."""
    for python in (sys.executable, getattr(sys, "_base_executable", None), shutil.which("python3")):
        if (
            python
            and not subprocess.run(
                [python, "-m", "pip", "--version"], capture_output=True
            ).returncode
        ):
            return [python, "-m", "pip"]
    raise BundleError(
        f"downloading the dependency wheels needs pip, which neither {sys.executable} nor python3 "
        "has: run `python3 -m ensurepip`, or build with --no-deps-download"
    )


def download_dependencies(dest: Path, python: str = KAGGLE_PYTHON) -> list[Path]:
    """Wheels, for Kaggle's Python and platform, of what the kit needs and Kaggle lacks.

    Transitive: each downloaded wheel's own requirements go through :func:`missing_on_kaggle`
    too. Versions are uv.lock's, so Kaggle gets what the tests ran with.
    """
    pip, locked = pip_command(), locked_versions()
    abi = "cp" + python.replace(".", "")
    queue, seen, wheels = missing_on_kaggle(kit_requirements(), python), set(), []
    while queue:
        requirement = queue.pop(0)
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        before = set(dest.glob("*.whl"))
        # --only-binary: Kaggle offline cannot build an sdist; --no-deps: the image
        # provides the rest, and this loop adds what it lacks; abi3: the stable ABI's wheels.
        platforms = [arg for tag in KAGGLE_PLATFORMS for arg in ("--platform", tag)]
        done = subprocess.run(
            [*pip, "download", "--only-binary=:all:", "--no-deps", *platforms,
             "--python-version", python, "--implementation", "cp", "--abi", abi, "--abi", "abi3",
             "--dest", str(dest), pinned(requirement, locked)],
            capture_output=True,
            text=True,
        )  # fmt: skip
        new = sorted(set(dest.glob("*.whl")) - before)
        if done.returncode or not new:
            raise BundleError(
                f"pip download {pinned(requirement, locked)} for Kaggle (Python {python}, "
                f"{KAGGLE_PLATFORMS[0]}) failed; is PyPI reachable? Build with --no-deps-download "
                f"to skip the dependency wheels.\n{done.stdout[-1500:]}{done.stderr[-1500:]}"
            )
        wheels += new
        queue += missing_on_kaggle(wheel_requirements(new[0]), python)
    return wheels


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """``Requires-Dist`` of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    return [
        Requirement(line.split(":", 1)[1]) for line in lines if line.startswith("Requires-Dist:")
    ]


def write_wheels(
    folder: Path, *, dataset_id: str, license_name: str, download_deps: bool, python: str
) -> tuple[Path, list[Path]]:
    """The wheels dataset: its metadata, the kit's wheel and the missing dependencies' wheels."""
    write_dataset_metadata(folder, "Diffusion course kit wheels", dataset_id, license_name)
    kit = build_kit_wheel(folder)
    return kit, download_dependencies(folder, python) if download_deps else []
