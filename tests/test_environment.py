"""environment.yml (conda users) must pin exactly what uv.lock pins; the setup must fail loudly.

Regenerate environment.yml after `uv lock` with ``python -m tests.test_environment --write``
(``make lock`` does both).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

from tests.conftest import activated

ROOT = Path(__file__).resolve().parents[1]
CONDA_PYTHON = "3.11"
# The interpreter the conda environment gets; markers in the lock are evaluated for it.
MARKER_ENV = {"python_full_version": "3.11.9", "python_version": "3.11", "sys_platform": "linux"}


def direct_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = project["project"]["dependencies"] + project["dependency-groups"]["dev"]
    return [Requirement(r) for r in names]


def locked_versions() -> dict[str, str]:
    versions = {}
    for package in tomllib.loads((ROOT / "uv.lock").read_text())["package"]:
        markers = package.get("resolution-markers")
        if markers and not any(Marker(m).evaluate(MARKER_ENV) for m in markers):
            continue
        versions[_normalise(package["name"])] = package["version"]
    return versions


def render_environment_yml() -> str:
    versions = locked_versions()
    # Extras stay on the pin: pip installs dask's scheduler and workers only for
    # dask[distributed], and the lock lists the extra's packages under dask, not on their own.
    pins = "\n".join(
        f"      - {r.name}{_extras(r)}=={versions[_normalise(r.name)]}"
        for r in direct_requirements()
    )
    return (
        "# Generated from uv.lock by `make lock`: the same pins as `make setup` installs.\n"
        "# conda env create -f environment.yml && conda activate diffusion-course-kit\n"
        "# then, from the repository root: pip install --no-deps -e .\n"
        "name: diffusion-course-kit\n"
        "channels:\n"
        "  - conda-forge\n"
        "dependencies:\n"
        f"  - python={CONDA_PYTHON}\n"
        "  - pip\n"
        "  - pip:\n"
        f"{pins}\n"
    )


def _extras(requirement: Requirement) -> str:
    return f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_environment_yml_matches_the_lock():
    current = (ROOT / "environment.yml").read_text()
    assert current == render_environment_yml(), (
        "environment.yml and uv.lock disagree: run `make lock` to regenerate environment.yml"
    )


def test_torch_pair_is_pinned_together():
    versions = locked_versions()
    assert versions["torch"] == "2.13.0" and versions["torchvision"] == "0.28.0", (
        "torch and torchvision must be pinned as one matching pair"
    )


def test_doctor_names_a_broken_torchvision_and_the_fix(monkeypatch, capsys):
    import importlib

    from helpers import doctor

    real_import = importlib.import_module

    def broken(name, *args, **kwargs):
        if name == "torchvision.ops":
            raise RuntimeError("operator torchvision::nms does not exist")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", broken)
    assert doctor.main() == 1
    err = capsys.readouterr().err
    assert "cannot import torchvision.ops" in err and "torchvision::nms" in err
    assert "make clean setup" in err


def test_doctor_passes_here(capsys):
    from helpers import doctor

    assert doctor.main() == 0
    assert "environment OK" in capsys.readouterr().out


def test_setup_runs_uv_from_an_activated_venv_after_a_pin_changes():
    """After `source .venv/bin/activate`, python3 is .venv's, which has neither uv nor pip:
    the setup that a changed pyproject.toml or uv.lock triggers must still find uv."""
    # This shell's PATH (where its python3 has uv) with .venv/bin first, as activate leaves it.
    env = activated(PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    # -n -W: the recipe make would run if pyproject.toml had just changed, printed, not run.
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "-W", "pyproject.toml", "setup"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    check = next(line for line in dry.stdout.splitlines() if "uv --version" in line)
    done = subprocess.run(["bash", "-c", check], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{check}\n{done.stdout}{done.stderr}"
    sync = next(line for line in dry.stdout.splitlines() if " sync " in line)
    found = subprocess.run(
        ["bash", "-c", sync.split(" sync ")[0] + " --version"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0 and found.stdout.startswith("uv "), f"{sync}\n{found.stderr}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        (ROOT / "environment.yml").write_text(render_environment_yml())
    else:
        print(render_environment_yml(), end="")
