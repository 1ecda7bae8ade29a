"""Stand-ins for Kaggle in tests: its folders with a bundle's inputs attached, and its image.

Not part of the instructor's tools: only the tests (and `make test-kaggle`) imitate Kaggle.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from packaging.utils import canonicalize_name

from grading.distribute.kaggle import DIST_NAME, BundleError
from grading.distribute.kaggle.bundle import Bundle


def imitate_kaggle(bundle: Bundle, root: Path, faces: Path | None = None) -> dict[str, str]:
    """A folder laid out like a Kaggle session with the bundle's inputs attached.

    ``root/input/<slug>/`` holds the wheels and the weights datasets (as attached),
    ``root/input/course-faces/faces`` a copy of ``faces`` when given, ``root/working`` is
    empty. Returns the environment variables that make the bootstrap cell use them.
    """
    for dataset in (bundle.wheels, bundle.weights):
        if dataset is not None:
            slug = json.loads((dataset / "dataset-metadata.json").read_text())["id"].split("/")[1]
            shutil.copytree(dataset, root / "input" / slug)
    if faces is not None:
        shutil.copytree(faces, root / "input" / "course-faces" / "faces")
    (root / "working").mkdir(parents=True, exist_ok=True)
    return {
        "COURSEKIT_KAGGLE_INPUT": str(root / "input"),
        "COURSEKIT_KAGGLE_WORKING": str(root / "working"),
    }


def kaggle_like_venv(path: Path, image: Path | None = None, hide: tuple[str, ...] = ()) -> Path:
    """A virtual environment that, like Kaggle's image, has the kit's dependencies but not the kit.

    Its Python is this one's; its "image" is ``image`` (default: ``$COURSEKIT_KAGGLE_IMAGE``,
    set by ``make test-kaggle`` to an environment with Kaggle's versions, else this
    environment's site-packages), seen through symbolic links in ``path/kaggle-image`` without the kit
    itself (the editable install of the repository) and without the distributions named
    in ``hide``, so that ``pip install --no-index`` must take those from the wheels folder.
    Returns its python.
    """
    image = image or Path(
        os.environ.get("COURSEKIT_KAGGLE_IMAGE") or sysconfig.get_paths()["purelib"]
    )
    hidden = {canonicalize_name(DIST_NAME).replace("-", "_")} | {
        canonicalize_name(name).replace("-", "_") for name in hide
    }
    # A copy of one fresh venv per process: ensurepip takes seconds per venv, and a venv
    # run as `python -m ...` (as the bootstrap and the tests run it) does not depend on
    # where it lies: its python is a link to this one, its site-packages is found from it.
    shutil.copytree(_fresh_venv(), path, symlinks=True)
    python = path / "bin" / "python"
    farm = path / "kaggle-image"
    farm.mkdir()
    for entry in image.iterdir():
        stem = canonicalize_name(entry.name.split("-")[0].removesuffix(".py")).replace("-", "_")
        if entry.suffix == ".pth" or entry.name.startswith("__editable__") or stem in hidden:
            continue
        (farm / entry.name).symlink_to(entry)
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "kaggle-image.pth").write_text(f"{farm}\n")
    return python


@functools.cache
def _fresh_venv() -> Path:
    """``python -m venv`` with pip and without setuptools, made once per process (removed
    at its exit); :func:`kaggle_like_venv` copies it."""
    path = Path(tempfile.mkdtemp(prefix="kaggle-venv-")) / "venv"
    atexit.register(shutil.rmtree, path.parent, ignore_errors=True)
    done = subprocess.run([sys.executable, "-m", "venv", str(path)], capture_output=True, text=True)
    if done.returncode:
        raise BundleError(f"python -m venv {path} failed:\n{done.stderr}")
    # ensurepip's old setuptools would shadow the image's and break torch's requirement on it.
    subprocess.run(
        [path / "bin" / "python", "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"],
        check=True,
    )
    return path
