"""The Kaggle kernels: each released notebook behind the bootstrap cell, and its metadata."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from grading.distribute.kaggle import BundleError
from grading.distribute.kaggle.bootstrap import bootstrap_source
from grading.distribute.kaggle.guide import Attached, guide_markdown
from grading.distribute.kaggle.image import MACHINE_SHAPE

# Text that only the instructor's source version of a notebook holds.
SECRETS = ("BEGIN SOLUTION", "HIDDEN TESTS", "grading.authoring.reference")


@dataclass(frozen=True)
class Inputs:
    """What an assignment's notebook needs on Kaggle besides the kit.

    Attributes:
        faces: attaches the course's anime-faces dataset, and trains for hours on it (so
            its first cell tells how to carry a run across sessions).
        weights: attributes of :mod:`helpers.weights` (``Asset``) the notebook fetches; the
            bootstrap looks for their files under ``/kaggle/input``.
        hub_models: Hugging Face models the notebook downloads at run time, which needs
            the kernel's internet on.
        smoke: what its smoke mode runs instead, for the bootstrap's message.
    """

    faces: bool = False
    weights: tuple[str, ...] = ()
    hub_models: tuple[str, ...] = ()
    smoke: str = "a few steps on small stand-ins"


# Per assignment folder; a folder missing here gets only the kit (a warning says so).
INPUTS = {
    "part1": Inputs(
        faces=True,
        weights=("FID_INCEPTION", "ANIMEFACE_CASCADE"),
        smoke="toy faces, a tiny UNet and the kit's pretrained toy model",
    ),
    # IF is gated and about 10 GB with T5: downloaded with the student's HF_TOKEN rather
    # than attached (helpers/illusions/models.py); CLIP scores the views.
    "part2": Inputs(
        hub_models=(
            "DeepFloyd/IF-I-M-v1.0",
            "DeepFloyd/IF-II-M-v1.0",
            "openai/clip-vit-base-patch32",
        ),
        smoke="tiny IF and CLIP networks with random weights",
    ),
}


def inputs_for(assignment: str) -> Inputs:
    """What ``assignment`` needs on Kaggle; an assignment missing from :data:`INPUTS` needs only the kit."""
    if assignment not in INPUTS:
        print(
            f"warning: {assignment} is not in grading/distribute/kaggle/kernels.py INPUTS: its kernel gets only "
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


def guide_cell(text: str) -> dict:
    """A plain markdown cell, like :func:`bootstrap_cell`."""
    return {
        "cell_type": "markdown",
        "id": "coursekit-kaggle-guide",
        "metadata": {"tags": ["coursekit-kaggle-guide"]},
        "source": text.splitlines(keepends=True),
    }


def attached_datasets(
    needs: Inputs,
    *,
    wheels_dataset: str,
    faces_dataset: str,
    weights_dataset: str,
    weights_attached: bool,
) -> list[Attached]:
    """The course datasets a kernel with ``needs`` uses, for its first cell."""
    attached = [
        Attached(wheels_dataset, "the course kit (`helpers`) and the libraries Kaggle lacks")
    ]
    if needs.faces:
        attached.append(
            Attached(
                faces_dataset,
                f"the anime faces, in `/kaggle/input/{faces_dataset.split('/')[1]}/faces/faces`",
            )
        )
    if needs.weights:
        holds = "the FID Inception weights and the anime-face cascade that the scores need"
        if not weights_attached:
            holds += (
                " (not attached by the course: attach it if the course published it, or "
                "turn on Settings → Internet so that the scores download them)"
            )
        attached.append(Attached(weights_dataset, holds))
    return attached


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
    weights_dataset: str,
    weights_attached: bool,
    kit_url: str,
) -> Path:
    """``folder/<notebook>.ipynb`` (guide, bootstrap, release) and ``folder/kernel-metadata.json``.

    ``weights_dataset`` is attached to kernels whose notebook needs weights when
    ``weights_attached`` (the bundle built it); either way their text names it.
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
        weights_dataset=weights_dataset,
        hub_models=needs.hub_models,
        smoke=needs.smoke,
        kit_url=kit_url,
    )
    datasets = attached_datasets(
        needs,
        wheels_dataset=wheels_dataset,
        faces_dataset=faces_dataset,
        weights_dataset=weights_dataset,
        weights_attached=weights_attached,
    )
    guide = guide_markdown(assignment, datasets, trains=needs.faces, hub_models=needs.hub_models)
    notebook["cells"][:0] = [guide_cell(guide), bootstrap_cell(source)]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / released.name
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    sources = [wheels_dataset] + ([faces_dataset] if needs.faces else [])
    if needs.weights and weights_attached:
        sources.append(weights_dataset)
    metadata = kernel_metadata(
        target, username=username, dataset_sources=sources, internet=bool(needs.hub_models)
    )
    (folder / "kernel-metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return target
