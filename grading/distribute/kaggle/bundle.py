"""The whole upload: kernels, the wheels dataset, the weights dataset and (optionally) the faces."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from grading.distribute.kaggle import (
    DEFAULT_FACES_SLUG,
    DEFAULT_USERNAME,
    DEFAULT_WEIGHTS_SLUG,
    DEFAULT_WHEELS_SLUG,
    RELEASE,
    released_notebooks,
)
from grading.distribute.kaggle.datasets import WEIGHTS, write_faces_dataset, write_weights_dataset
from grading.distribute.kaggle.image import KAGGLE_PYTHON
from grading.distribute.kaggle.kernels import write_kernel
from grading.distribute.kaggle.wheels import write_wheels
from helpers.weights import Asset


@dataclass
class Bundle:
    """Paths of a built bundle (layout: :mod:`grading.distribute.kaggle`); ``weights`` / ``faces`` None when not built."""

    root: Path
    wheels: Path
    notebooks: list[Path] = field(default_factory=list)
    kit_wheel: Path | None = None
    dependency_wheels: list[Path] = field(default_factory=list)
    weights: Path | None = None
    faces: Path | None = None
    faces_count: int = 0


def build_bundle(
    out: Path,
    *,
    release: Path = RELEASE,
    username: str = DEFAULT_USERNAME,
    wheels_slug: str = DEFAULT_WHEELS_SLUG,
    faces_dataset: str | None = None,
    faces: Path | None = None,
    weights: tuple[Asset, ...] | None = WEIGHTS,
    kit_url: str = "",
    license_name: str = "MIT",
    download_deps: bool = True,
    python: str = KAGGLE_PYTHON,
) -> Bundle:
    """Write the Kaggle bundle of every released notebook into ``out``.

    ``weights``: the assets of the weights dataset (None: no weights dataset, and the
    kernels do not attach one); ``faces``: a folder of face images to pack. Only the
    folders this build writes are replaced; anything else in ``out`` is left alone.
    """
    notebooks = released_notebooks(release)
    wheels_dataset = f"{username}/{wheels_slug}"
    faces_dataset = faces_dataset or f"{username}/{DEFAULT_FACES_SLUG}"
    weights_dataset = f"{username}/{DEFAULT_WEIGHTS_SLUG}"
    bundle = Bundle(root=out, wheels=out / "wheels")
    written = [bundle.wheels, out / "weights", *(out / nb.parent.name for nb in notebooks)]
    for folder in written + ([out / "faces"] if faces is not None else []):
        shutil.rmtree(folder, ignore_errors=True)
    # The kernels first: a notebook holding solutions stops the build before any download.
    for released in notebooks:
        bundle.notebooks.append(
            write_kernel(
                released,
                out / released.parent.name,
                username=username,
                wheels_dataset=wheels_dataset,
                faces_dataset=faces_dataset,
                weights_dataset=weights_dataset,
                weights_attached=weights is not None,
                kit_url=kit_url,
            )
        )
    if weights is not None:  # before the downloads: a missing file stops the build at once
        bundle.weights = out / "weights"
        write_weights_dataset(bundle.weights, weights_dataset, license_name, weights)
    bundle.kit_wheel, bundle.dependency_wheels = write_wheels(
        bundle.wheels,
        dataset_id=wheels_dataset,
        license_name=license_name,
        download_deps=download_deps,
        python=python,
    )
    if faces is not None:
        bundle.faces = out / "faces"
        bundle.faces_count = write_faces_dataset(faces, bundle.faces, faces_dataset, license_name)
    return bundle
