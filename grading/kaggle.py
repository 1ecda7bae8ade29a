"""Build what a course uploads to Kaggle from the nbgrader student release: ``make kaggle``.

    python -m grading.kaggle --out outputs/kaggle [--username NAME] [--no-deps-download]

Every released notebook, ``grading/course/release/<assignment>/<notebook>.ipynb`` (made by
``python -m grading.pipeline release``), becomes a Kaggle kernel; the course's ``helpers``
package and the dependencies Kaggle's image lacks become one dataset of wheels. Layout
of ``--out``::

    <assignment>/<notebook>.ipynb      the released notebook, a bootstrap cell prepended
    <assignment>/kernel-metadata.json  for `kaggle kernels push -p <out>/<assignment>`
    wheels/dataset-metadata.json       for `kaggle datasets create -p <out>/wheels`
    wheels/diffusion_course_kit-<version>-py3-none-any.whl   helpers/ only, never grading/
    wheels/<dependency>-<version>-*.whl                      what Kaggle's image lacks

**The bootstrap cell** (:func:`bootstrap_source`) is a plain code cell without nbgrader
metadata. On Kaggle (``/kaggle/input`` exists or ``KAGGLE_KERNEL_RUN_TYPE`` is set) it
installs the kit with ``pip install --no-index --find-links <dir> diffusion-course-kit``,
``<dir>`` being wherever the attached wheels dataset holds ``diffusion_course_kit-*.whl``
(found by file name up to four folders deep, whatever the dataset's slug mounts as),
falling back to ``--no-deps`` for the bundled wheels when pip finds the image's own
requirements inconsistent; without that dataset it installs from ``--kit-url`` when the
network works, else stops with a message naming the dataset to attach. It then sets ``COURSEKIT_RESULTS`` to
``/kaggle/working/<assignment>`` and, on a working GPU, ``COURSEKIT_MODE=full`` (each only
if not already set), points ``COURSEKIT_FID_WEIGHTS`` / ``COURSEKIT_ANIMEFACE_CASCADE`` at
attached copies of those files, and lists what is still missing: the faces dataset, the
weights, internet and ``HF_TOKEN`` for the Hugging Face models. Anywhere else it prints
that it is not on Kaggle and does nothing. ``COURSEKIT_KAGGLE_INPUT`` and
``COURSEKIT_KAGGLE_WORKING`` replace ``/kaggle/input`` and ``/kaggle/working``, so that a
temporary folder can imitate Kaggle (:func:`imitate_kaggle`, :func:`kaggle_like_venv`).
The cell avoids the words that the autograder's reference scan flags in an added cell
(see ``grading.pipeline.REFERENCE_USE``): a submission downloaded from Kaggle keeps it.

**Kaggle's side**, as found in public sources (2025-2026):

* ``kernel-metadata.json`` fields and types: Kaggle/kaggle-cli ``docs/kernels_metadata.md``
  (``id`` "user/slug", the slug being the title lowercased with dashes; ``code_file``
  relative to the metadata file; ``language``; ``kernel_type``; ``is_private``,
  ``enable_gpu``, ``enable_internet`` booleans; ``dataset_sources``,
  ``competition_sources``, ``kernel_sources``, ``model_sources`` lists; ``machine_shape``,
  "the accelerator/GPU type to use (e.g. ``NvidiaTeslaT4``…)"); ``kaggle kernels push``
  refuses a title under five characters or a missing ``code_file``. ``enable_tpu`` is not
  in that document but is a field of kagglesdk's ``ApiSaveKernelRequest``; false either
  way. Kaggle/kaggle-cli PR #916 (docs/kernels.md) adds
  ``kaggle kernels push --accelerator`` and names ``NvidiaTeslaP100`` "(aka default GPU)":
  without ``machine_shape`` a GPU kernel gets a P100, which recent Kaggle torch builds no
  longer support, hence ``"machine_shape": "NvidiaTeslaT4"``.
* ``dataset-metadata.json``: Kaggle/kaggle-cli ``docs/datasets_metadata.md`` (``title`` of 6
  to 50 characters, ``id`` "user/slug", exactly one ``licenses`` entry of which only
  ``name`` is read). Its list of license names does not include "MIT"; if
  ``kaggle datasets create`` refuses it, build with ``--license other``.
* The image: Kaggle/docker-python ``installed_cpu_packages.txt`` (commit 1ebea3c) lists the
  packages of :data:`KAGGLE_IMAGE`; PR #1496 ("Python 3.12 bump", 2025) moved it to
  Python 3.12, and it is built on Colab's Ubuntu 22.04 image (glibc 2.35), hence the
  platform of the downloads (:data:`KAGGLE_PYTHON`, :data:`KAGGLE_PLATFORM`).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

GRADING = Path(__file__).resolve().parent
REPO = GRADING.parent
RELEASE = GRADING / "course" / "release"
DIST_NAME = "diffusion-course-kit"
DEFAULT_USERNAME = "your-kaggle-username"
DEFAULT_WHEELS_SLUG = "diffusion-course-kit-wheels"
# data/README.md: the course's faces dataset mounts at /kaggle/input/diffusion/faces/faces.
DEFAULT_FACES_SLUG = "diffusion"
MACHINE_SHAPE = "NvidiaTeslaT4"
KAGGLE_PYTHON = "3.12"
# pip counts older manylinux tags as compatible with this one (glibc 2.35, Ubuntu 22.04).
KAGGLE_PLATFORM = "manylinux_2_35_x86_64"
# Text that only the instructor's source version of a notebook holds.
SECRETS = ("BEGIN SOLUTION", "HIDDEN TESTS", "grading.reference")
# Markers of nbgrader's source format: the kit's own modules mention grading.reference
# (an instructor-only import in helpers/cli.py, docstrings), so the wheel is checked for these.
WHEEL_SECRETS = ("BEGIN SOLUTION", "HIDDEN TESTS")

# What Kaggle's Python image already has, with the version its package list records
# (Kaggle/docker-python installed_cpu_packages.txt, commit 1ebea3c). A dependency of the
# kit named here is never bundled: pip finds it installed. Its version must satisfy the
# kit's requirement, or pip --no-index would try to upgrade it and fail offline; the
# build checks that. Everything else the kit needs is downloaded into the wheels folder.
KAGGLE_IMAGE = {
    "torch": "2.10.0",  # never bundled: Kaggle's build matches its CUDA
    "torchvision": "0.25.0",
    "numpy": "2.4.6",
    "scipy": "1.16.3",
    "pillow": "11.3.0",
    "matplotlib": "3.10.0",
    "tqdm": "4.67.3",
    "pyyaml": "6.0.3",
    "ipywidgets": "8.1.5",
    "accelerate": "1.13.0",
    "diffusers": "0.37.1",
    "transformers": "5.0.0",
    "opencv-python-headless": "4.13.0.92",  # beside opencv-python and opencv-contrib-python
    "sentencepiece": "0.2.1",
    "protobuf": "5.29.5",
}
# Not in the image, so bundled: ema-pytorch (0.8.3 requires only torch>=2.0; older
# releases needed einops, which the image has anyway).


@dataclass(frozen=True)
class Inputs:
    """What an assignment's notebook needs on Kaggle besides the kit.

    Attributes:
        faces: attaches the course's anime-faces dataset.
        weights: attributes of :mod:`helpers.weights` (``Asset``) the notebook fetches; the
            bootstrap looks for their files under ``/kaggle/input``.
        hub_models: Hugging Face models the notebook downloads at run time, which needs
            the kernel's internet on.
    """

    faces: bool = False
    weights: tuple[str, ...] = ()
    hub_models: tuple[str, ...] = ()


# Per assignment folder; a folder missing here gets only the kit (a warning says so).
INPUTS = {
    "part1": Inputs(faces=True, weights=("FID_INCEPTION", "ANIMEFACE_CASCADE")),
    # IF is gated and about 10 GB with T5: downloaded with the student's HF_TOKEN rather
    # than attached (helpers/illusions/models.py); CLIP scores the views.
    "part2": Inputs(
        hub_models=(
            "DeepFloyd/IF-I-M-v1.0",
            "DeepFloyd/IF-II-M-v1.0",
            "openai/clip-vit-base-patch32",
        )
    ),
}

WHEEL_README = """\
# diffusion-course-kit

The `helpers` package of the diffusion course: the UNet, the diffusion process around the
students' TODO functions, the trainer, the scorers and the Part 2 illusion sampler.
Built by the course's `make kaggle` for offline installation on Kaggle.
"""

BOOTSTRAP_BODY = r"""def _coursekit_setup(assignment, wheels_dataset, faces_dataset, weights, hub_models, kit_url):
    import glob
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    kaggle_input = Path(os.environ.get("COURSEKIT_KAGGLE_INPUT", "/kaggle/input"))
    working = Path(os.environ.get("COURSEKIT_KAGGLE_WORKING", "/kaggle/working"))
    if not (kaggle_input.is_dir() or "KAGGLE_KERNEL_RUN_TYPE" in os.environ):
        print(f"Not on Kaggle ({kaggle_input} does not exist): nothing to set up, cell skipped.")
        return

    def find(pattern):
        # A dataset mounts at /kaggle/input/<slug>/..., a model a few folders deeper,
        # under names that depend on the slug and version: search by file name.
        hits = []
        for depth in range(5):
            hits += glob.glob(str(kaggle_input.joinpath(*["*"] * depth, pattern)))
        return sorted(Path(hit) for hit in hits)

    def online():
        try:
            socket.create_connection(("pypi.org", 443), timeout=3).close()
            return True
        except OSError:
            return False

    def pip_install(*args):
        command = [sys.executable, "-m", "pip", "install", *args]
        done = subprocess.run(command, capture_output=True, text=True)
        return done.returncode, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"

    def conflict(log):
        reasons = [line.strip() for line in log.splitlines() if " depends on " in line]
        return "; ".join(reasons) or log.strip().splitlines()[-1]

    kits = find("diffusion_course_kit-*.whl")
    if kits:
        folder = kits[-1].parent
        failed, log = pip_install("--no-index", "--find-links", str(folder), "diffusion-course-kit")
        lines = [f"course kit: {kits[-1].name} from {folder}"]
        if failed:
            # pip also re-checks the requirements of what the image has installed, and an
            # image whose own pins disagree (a GPU torch and its nvidia-* packages) fails
            # that though nothing is missing: install the bundled wheels alone.
            wheels = [str(wheel) for wheel in sorted(folder.glob("*.whl"))]
            failed, fallback = pip_install("--no-index", "--no-deps", *wheels)
            if failed:
                raise RuntimeError(f"Installing the course kit failed.\n{log[-3000:]}\n{fallback[-3000:]}")
            lines.append(
                "  (installed without dependency resolution: pip found the image's own "
                f"requirements inconsistent: {conflict(log)})"
            )
    elif kit_url and online():
        failed, log = pip_install(kit_url)
        if failed:
            raise RuntimeError(f"Installing the course kit failed.\n{log[-3000:]}")
        lines = [f"course kit: {kit_url}, dependencies from PyPI"]
    else:
        raise RuntimeError(
            f"The course kit is not installed: no diffusion_course_kit-*.whl under {kaggle_input}. "
            f"Attach the dataset {wheels_dataset} (Add Input > Datasets) and run this cell again"
            + (f", or turn Internet on (Settings > Internet) to install {kit_url}." if kit_url else ".")
        )
    sys.path_importer_cache.clear()  # so that the import sees what pip just wrote
    try:
        import helpers.train  # imports every dependency of Part 1's training
    except ImportError as error:
        raise RuntimeError(
            f"The course kit is installed but {error.name} is missing from this image, so the "
            "wheels dataset must bundle it: tell the instructor (the course's `make kaggle`)."
        ) from error

    import helpers.data
    import helpers.weights
    import torch

    lines.append(f"helpers: {Path(helpers.__file__).parent}")
    results = Path(os.environ.setdefault("COURSEKIT_RESULTS", str(working / assignment)))
    results.mkdir(parents=True, exist_ok=True)
    lines.append(f"results: {results} (COURSEKIT_RESULTS)")
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
        try:
            torch.ones(1, device="cuda").add_(1)
        except RuntimeError as error:
            raise RuntimeError(
                f"The GPU {gpu} does not run this torch ({error}). "
                "Choose Settings > Accelerator > GPU T4 and restart the session."
            ) from None
        os.environ.setdefault("COURSEKIT_MODE", "full")
        lines.append(f"GPU: {gpu}, mode {os.environ['COURSEKIT_MODE']} (COURSEKIT_MODE)")
    else:
        lines.append(
            "GPU: none, so the notebook runs in smoke mode (toy faces, tiny model). "
            "For the real run choose Settings > Accelerator > GPU T4."
        )

    for name in weights:
        asset = getattr(helpers.weights, name)
        copies = find(glob.escape(asset.name))
        if asset.env not in os.environ and copies:
            os.environ[asset.env] = str(copies[0])
        if asset.env in os.environ:
            lines.append(f"{asset.name}: {os.environ[asset.env]} ({asset.env})")
        else:
            lines.append(
                f"{asset.name}: missing. The scores need {asset.what}: attach a dataset "
                f"holding {asset.name}, or turn Internet on to download it."
            )

    if faces_dataset:
        try:
            faces = helpers.data.resolve_data_dir(kaggle_input=kaggle_input)
        except FileNotFoundError:
            faces = None
        if faces is not None and kaggle_input in faces.parents:
            lines.append(f"faces: {faces}")
        else:
            lines.append(
                f"faces: missing. Attach the dataset {faces_dataset} (Add Input > Datasets) "
                "for the full run."
            )

    if hub_models:
        internet = "on" if online() else "OFF: turn it on in Settings > Internet"
        lines.append(
            f"Hugging Face models, downloaded when loaded: {', '.join(hub_models)}; internet {internet}. "
            "DeepFloyd IF is gated: accept its licence on huggingface.co and add a secret "
            "named HF_TOKEN (Add-ons > Secrets)."
        )
    print("\n".join(lines))
"""


class BundleError(RuntimeError):
    """The Kaggle bundle cannot be built; the message names the cause and the fix."""


@dataclass
class Bundle:
    """Paths of a built bundle (see the module docstring for the layout)."""

    root: Path
    wheels: Path
    notebooks: list[Path] = field(default_factory=list)
    kit_wheel: Path | None = None
    dependency_wheels: list[Path] = field(default_factory=list)


# --- the notebooks -------------------------------------------------------------------


def released_notebooks(release: Path = RELEASE) -> list[Path]:
    """Every ``<assignment>/<notebook>.ipynb`` of the student release, sorted."""
    notebooks = sorted(release.glob("*/*.ipynb"))
    if not notebooks:
        raise BundleError(
            f"no released notebooks in {release}/<assignment>/: run `make release` "
            "(python -m grading.pipeline release) first"
        )
    return notebooks


def inputs_for(assignment: str) -> Inputs:
    """What ``assignment`` needs on Kaggle; an assignment missing from :data:`INPUTS` needs only the kit."""
    if assignment not in INPUTS:
        print(
            f"warning: {assignment} is not in grading/kaggle.py INPUTS: its kernel gets only "
            "the wheels dataset (no faces, no weights, internet off)",
            file=sys.stderr,
        )
    return INPUTS.get(assignment, Inputs())


def bootstrap_source(
    assignment: str,
    *,
    wheels_dataset: str,
    faces_dataset: str | None = None,
    weights: tuple[str, ...] = (),
    hub_models: tuple[str, ...] = (),
    kit_url: str = "",
) -> str:
    """The code of the bootstrap cell of ``assignment``'s notebook (see the module docstring).

    Args:
        wheels_dataset: "user/slug" of the wheels dataset, named when it is not attached.
        faces_dataset: "user/slug" of the faces dataset, or None when the notebook does
            not train on the faces.
        weights: :mod:`helpers.weights` asset names to look for under ``/kaggle/input``.
        hub_models: Hugging Face models the notebook downloads (needs internet).
        kit_url: a pip requirement (URL of the kit's wheel, ``git+https://…``) installed
            when no wheels dataset is attached and the network works; empty: none.
    """
    call = (
        f"_coursekit_setup(\n"
        f"    assignment={assignment!r},\n"
        f"    wheels_dataset={wheels_dataset!r},\n"
        f"    faces_dataset={faces_dataset!r},\n"
        f"    weights={tuple(weights)!r},\n"
        f"    hub_models={tuple(hub_models)!r},\n"
        f"    kit_url={kit_url!r},\n"
        f")\n"
        f"del _coursekit_setup\n"
    )
    header = (
        "# Course kit setup: run this cell first. On Kaggle it installs the course's `helpers`\n"
        "# package from the attached wheels dataset, keeps results in /kaggle/working and lists\n"
        "# what is missing; anywhere else it does nothing. Added by the course's `make kaggle`.\n"
    )
    return header + BOOTSTRAP_BODY + "\n\n" + call


def bootstrap_cell(source: str) -> dict:
    """A plain code cell: no nbgrader metadata, since Kaggle never runs nbgrader."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "coursekit-bootstrap",
        "metadata": {"tags": ["coursekit-bootstrap"]},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def check_student_text(text: str, where: str, secrets: tuple[str, ...] = SECRETS) -> None:
    """Raise if ``text`` holds a solution, a hidden test or the reference's module name."""
    for secret in secrets:
        if secret in text:
            raise BundleError(
                f"{where} contains {secret!r}: that is instructor-only. Build the bundle from "
                "the student release (grading/course/release, written by `make release`)."
            )


def kaggle_slug(title: str) -> str:
    """Kaggle's slug of a kernel title: lowercased, dashes for spaces (and other symbols)."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def kernel_metadata(
    notebook: Path, *, username: str, dataset_sources: list[str], internet: bool
) -> dict:
    """``kernel-metadata.json`` for ``notebook`` as ``kaggle kernels push`` reads it."""
    # kaggle kernels push refuses titles under five characters: the prefix rules that out.
    title = f"Diffusion course {notebook.stem.replace('_', ' ')}"
    return {
        "id": f"{username}/{kaggle_slug(title)}",
        "title": title,
        "code_file": notebook.name,
        "language": "python",
        "kernel_type": "notebook",
        "is_private": True,
        "enable_gpu": True,
        "enable_tpu": False,
        "enable_internet": internet,
        "machine_shape": MACHINE_SHAPE,
        "dataset_sources": dataset_sources,
        "competition_sources": [],
        "kernel_sources": [],
        "model_sources": [],
    }


def write_kernel(
    released: Path,
    folder: Path,
    *,
    username: str,
    wheels_dataset: str,
    faces_dataset: str,
    kit_url: str,
) -> Path:
    """``folder/<notebook>.ipynb`` (bootstrap + release) and ``folder/kernel-metadata.json``."""
    assignment = released.parent.name
    needs = inputs_for(assignment)
    text = released.read_text()
    check_student_text(text, str(released))
    notebook = json.loads(text)
    source = bootstrap_source(
        assignment,
        wheels_dataset=wheels_dataset,
        faces_dataset=faces_dataset if needs.faces else None,
        weights=needs.weights,
        hub_models=needs.hub_models,
        kit_url=kit_url,
    )
    notebook["cells"].insert(0, bootstrap_cell(source))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / released.name
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    datasets = [wheels_dataset] + ([faces_dataset] if needs.faces else [])
    metadata = kernel_metadata(
        target, username=username, dataset_sources=datasets, internet=bool(needs.hub_models)
    )
    (folder / "kernel-metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return target


# --- the wheels ----------------------------------------------------------------------


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


def kaggle_environment(python: str = KAGGLE_PYTHON) -> dict[str, str]:
    """Marker values of Kaggle's kernel, to tell which requirements apply there."""
    env = dict(default_environment())
    env.update(
        python_version=python,
        python_full_version=f"{python}.0",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
        os_name="posix",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        extra="",
    )
    return env


def missing_on_kaggle(
    requirements: list[Requirement], python: str = KAGGLE_PYTHON
) -> list[Requirement]:
    """The requirements Kaggle's image lacks; raise if it has one in a version that does not fit."""
    missing = []
    for requirement in requirements:
        if requirement.marker and not requirement.marker.evaluate(kaggle_environment(python)):
            continue
        name = canonicalize_name(requirement.name)
        if name not in KAGGLE_IMAGE:
            missing.append(requirement)
        elif not requirement.specifier.contains(KAGGLE_IMAGE[name], prereleases=True):
            raise BundleError(
                f"the kit requires {requirement}, but Kaggle's image has {name} "
                f"{KAGGLE_IMAGE[name]} and pip --no-index cannot upgrade it offline. Relax the "
                f"requirement in pyproject.toml, or remove {name} from KAGGLE_IMAGE in "
                "grading/kaggle.py to bundle its wheel."
            )
    return missing


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
    """``python -m pip`` of this interpreter, else of ``python3`` (uv environments have no pip)."""
    for python in (sys.executable, shutil.which("python3")):
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
        # provides the rest, and this loop adds what it lacks.
        done = subprocess.run(
            [*pip, "download", "--only-binary=:all:", "--no-deps", "--platform", KAGGLE_PLATFORM,
             "--python-version", python, "--implementation", "cp", "--abi", abi,
             "--dest", str(dest), pinned(requirement, locked)],
            capture_output=True,
            text=True,
        )  # fmt: skip
        new = sorted(set(dest.glob("*.whl")) - before)
        if done.returncode or not new:
            raise BundleError(
                f"pip download {pinned(requirement, locked)} for Kaggle (Python {python}, "
                f"{KAGGLE_PLATFORM}) failed; is PyPI reachable? Build with --no-deps-download "
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
    folder: Path, *, username: str, slug: str, license_name: str, download_deps: bool, python: str
) -> tuple[Path, list[Path]]:
    """The wheels dataset: its metadata, the kit's wheel and the missing dependencies' wheels."""
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {
        "title": "Diffusion course kit wheels",
        "id": f"{username}/{slug}",
        "licenses": [{"name": license_name}],
    }
    (folder / "dataset-metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    kit = build_kit_wheel(folder)
    return kit, download_dependencies(folder, python) if download_deps else []


# --- the bundle ----------------------------------------------------------------------


def build_bundle(
    out: Path,
    *,
    release: Path = RELEASE,
    username: str = DEFAULT_USERNAME,
    wheels_slug: str = DEFAULT_WHEELS_SLUG,
    faces_dataset: str | None = None,
    kit_url: str = "",
    license_name: str = "MIT",
    download_deps: bool = True,
    python: str = KAGGLE_PYTHON,
) -> Bundle:
    """Write the Kaggle bundle of every released notebook into ``out`` (layout: module docstring).

    Only ``out/wheels`` and ``out/<assignment>`` of the released assignments are replaced;
    anything else in ``out`` is left alone.
    """
    notebooks = released_notebooks(release)
    wheels_dataset = f"{username}/{wheels_slug}"
    faces_dataset = faces_dataset or f"{username}/{DEFAULT_FACES_SLUG}"
    bundle = Bundle(root=out, wheels=out / "wheels")
    for folder in [bundle.wheels, *(out / nb.parent.name for nb in notebooks)]:
        shutil.rmtree(folder, ignore_errors=True)
    bundle.kit_wheel, bundle.dependency_wheels = write_wheels(
        bundle.wheels,
        username=username,
        slug=wheels_slug,
        license_name=license_name,
        download_deps=download_deps,
        python=python,
    )
    for released in notebooks:
        bundle.notebooks.append(
            write_kernel(
                released,
                out / released.parent.name,
                username=username,
                wheels_dataset=wheels_dataset,
                faces_dataset=faces_dataset,
                kit_url=kit_url,
            )
        )
    return bundle


# --- imitating Kaggle (tests, smoke runs of the bundled notebooks) --------------------


def imitate_kaggle(bundle: Bundle, root: Path, faces: Path | None = None) -> dict[str, str]:
    """A folder laid out like a Kaggle session with the bundle's inputs attached.

    ``root/input/<wheels slug>/`` holds the wheels (as the attached dataset would),
    ``root/input/course-faces/faces`` a copy of ``faces`` when given, ``root/working`` is
    empty. Returns the environment variables that make the bootstrap cell use them.
    """
    slug = json.loads((bundle.wheels / "dataset-metadata.json").read_text())["id"].split("/")[1]
    shutil.copytree(bundle.wheels, root / "input" / slug)
    if faces is not None:
        shutil.copytree(faces, root / "input" / "course-faces" / "faces")
    (root / "working").mkdir(parents=True, exist_ok=True)
    return {
        "COURSEKIT_KAGGLE_INPUT": str(root / "input"),
        "COURSEKIT_KAGGLE_WORKING": str(root / "working"),
    }


def kaggle_like_venv(path: Path, image: Path | None = None, hide: tuple[str, ...] = ()) -> Path:
    """A virtual environment that, like Kaggle's image, has the kit's dependencies but not the kit.

    Its Python is this one's; its "image" is ``image`` (default: this environment's
    site-packages), seen through symbolic links in ``path/kaggle-image`` without the kit
    itself (the editable install of the repository) and without the distributions named
    in ``hide``, so that ``pip install --no-index`` must take those from the wheels folder.
    Returns its python.
    """
    image = image or Path(sysconfig.get_paths()["purelib"])
    hidden = {canonicalize_name(DIST_NAME).replace("-", "_")} | {
        canonicalize_name(name).replace("-", "_") for name in hide
    }
    done = subprocess.run([sys.executable, "-m", "venv", str(path)], capture_output=True, text=True)
    if done.returncode:
        raise BundleError(f"python -m venv {path} failed:\n{done.stderr}")
    python = path / "bin" / "python"
    # ensurepip's old setuptools would shadow the image's and break torch's requirement on it.
    subprocess.run([python, "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"], check=True)
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


# --- command line ----------------------------------------------------------------------


def _size(path: Path) -> str:
    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*"))
    return f"{size / 1024:.0f} KB" if size < 1024**2 else f"{size / 1024**2:.1f} MB"


def describe(bundle: Bundle) -> str:
    """What was written, and the commands that upload it."""
    root = bundle.root
    lines = [f"Kaggle bundle in {root}:"]
    for notebook in bundle.notebooks:
        meta = json.loads((notebook.parent / "kernel-metadata.json").read_text())
        lines.append(
            f"  {notebook.relative_to(root)}  bootstrap cell + release ({_size(notebook)})"
        )
        lines.append(
            f"  {(notebook.parent / 'kernel-metadata.json').relative_to(root)}  {meta['id']}, "
            f"{meta['machine_shape']}, internet {'on' if meta['enable_internet'] else 'off'}, "
            f"datasets {', '.join(meta['dataset_sources'])}"
        )
    lines.append(
        f"  {bundle.kit_wheel.relative_to(root)}  {_size(bundle.kit_wheel)}, helpers/ only"
    )
    for wheel in bundle.dependency_wheels:
        lines.append(f"  {wheel.relative_to(root)}  {_size(wheel)}, not in Kaggle's image")
    if not bundle.dependency_wheels:
        lines.append(
            "  (no dependency wheels: --no-deps-download; offline, Kaggle would lack "
            + ", ".join(str(r.name) for r in missing_on_kaggle(kit_requirements()))
            + ")"
        )
    wheels_meta = json.loads((bundle.wheels / "dataset-metadata.json").read_text())
    lines.append(
        f"  {bundle.wheels.relative_to(root)}/dataset-metadata.json  {wheels_meta['id']}; "
        f"wheels folder {_size(bundle.wheels)}"
    )
    lines += [
        "Upload (kaggle CLI, logged in as the username above):",
        f"  kaggle datasets create -p {bundle.wheels}    # later: kaggle datasets version -p {bundle.wheels} -m 'new kit'",
        *(f"  kaggle kernels push -p {nb.parent}" for nb in bundle.notebooks),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.kaggle", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "kaggle")
    parser.add_argument("--release", type=Path, default=RELEASE, help="the nbgrader release folder")
    parser.add_argument(
        "--username", default=DEFAULT_USERNAME, help="Kaggle user owning the kernels and datasets"
    )
    parser.add_argument(
        "--wheels-slug", default=DEFAULT_WHEELS_SLUG, help="slug of the wheels dataset"
    )
    parser.add_argument(
        "--faces-dataset",
        help=f"user/slug of the anime-faces dataset (default: <username>/{DEFAULT_FACES_SLUG})",
    )
    parser.add_argument(
        "--kit-url",
        default="",
        help="pip requirement the bootstrap installs when no wheels dataset is attached and it is online",
    )
    parser.add_argument("--license", default="MIT", help="license name of the wheels dataset")
    parser.add_argument(
        "--kaggle-python", default=KAGGLE_PYTHON, help="Python version of Kaggle's image"
    )
    parser.add_argument(
        "--no-deps-download",
        action="store_true",
        help="skip downloading the dependency wheels from PyPI (offline builds, tests)",
    )
    args = parser.parse_args(argv)
    try:
        bundle = build_bundle(
            args.out,
            release=args.release,
            username=args.username,
            wheels_slug=args.wheels_slug,
            faces_dataset=args.faces_dataset,
            kit_url=args.kit_url,
            license_name=args.license,
            download_deps=not args.no_deps_download,
            python=args.kaggle_python,
        )
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(describe(bundle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
