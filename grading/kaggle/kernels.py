"""The Kaggle kernels: each released notebook behind the bootstrap cell, and its metadata."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from grading.kaggle import RELEASE, BundleError
from grading.kaggle.bootstrap import bootstrap_source
from grading.kaggle.image import MACHINE_SHAPE

# data/README.md: the course's faces dataset mounts at /kaggle/input/diffusion/faces/faces.
DEFAULT_FACES_SLUG = "diffusion"
# Text that only the instructor's source version of a notebook holds.
SECRETS = ("BEGIN SOLUTION", "HIDDEN TESTS", "grading.reference")


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
            f"warning: {assignment} is not in grading/kaggle/kernels.py INPUTS: its kernel gets only "
            "the wheels dataset (no faces, no weights, internet off)",
            file=sys.stderr,
        )
    return INPUTS.get(assignment, Inputs())


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
    weights_dataset: str | None,
    kit_url: str,
) -> Path:
    """``folder/<notebook>.ipynb`` (bootstrap + release) and ``folder/kernel-metadata.json``.

    ``weights_dataset`` is attached to kernels whose notebook needs weights; None when the
    bundle was built without it.
    """
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
    if needs.weights and weights_dataset:
        datasets.append(weights_dataset)
    metadata = kernel_metadata(
        target, username=username, dataset_sources=datasets, internet=bool(needs.hub_models)
    )
    (folder / "kernel-metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return target
