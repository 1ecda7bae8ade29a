"""The data the kernels attach: the weights dataset and, from a folder of images, the faces dataset.

With internet off (Part 1's kernel), the scores can only find the FID Inception weights
and the anime-face cascade in an attached dataset; without them the run fails after its
hours of training. :func:`write_weights_dataset` fetches each file through
:func:`helpers.weights.fetch` (cache, ``$COURSEKIT_*`` path or download, always
hash-checked) and copies it into the dataset folder.

:func:`write_faces_dataset` lays a folder of face images out as the notebook reads it:
the dataset ``<user>/diffusion`` mounts at ``/kaggle/input/diffusion``, and its files
under ``faces/faces/``, so the images appear in ``/kaggle/input/diffusion/faces/faces``
(:data:`helpers.data.KAGGLE_FACES`). Sub-folders upload only with ``kaggle datasets create
--dir-mode zip`` (the default skips them); Kaggle unpacks the archive into the folder.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from grading.distribute.kaggle import BundleError
from helpers.data import KAGGLE_FACES, find_images
from helpers.weights import ANIMEFACE_CASCADE, FID_INCEPTION, Asset, MissingWeightsError, fetch

WEIGHTS = (FID_INCEPTION, ANIMEFACE_CASCADE)


def write_dataset_metadata(folder: Path, title: str, dataset_id: str, license_name: str) -> None:
    """``dataset-metadata.json`` as ``kaggle datasets create`` reads it (title of 6 to 50 characters)."""
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {"title": title, "id": dataset_id, "licenses": [{"name": license_name}]}
    (folder / "dataset-metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")


def write_weights_dataset(
    folder: Path, dataset_id: str, license_name: str, assets: tuple[Asset, ...] = WEIGHTS
) -> list[Path]:
    """The weights dataset: a hash-checked copy of each asset, and its metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for asset in assets:
        try:
            source = fetch(asset)
        except (MissingWeightsError, ValueError) as error:
            raise BundleError(
                f"the weights dataset needs {asset.name}: {error} Or build without it: --no-weights."
            ) from None
        files.append(Path(shutil.copy2(source, folder / asset.name)))
    write_dataset_metadata(folder, "Diffusion course weights", dataset_id, license_name)
    return files


def write_faces_dataset(source: Path, folder: Path, dataset_id: str, license_name: str) -> int:
    """Link (or copy) every image below ``source`` into ``folder/faces/faces``; the number of images.

    Names are kept; images in sub-folders are numbered by their position so that two
    ``0.jpg`` in different folders cannot collide.
    """
    images = find_images(source) if source.is_dir() else []
    if not images:
        raise BundleError(
            f"--faces {source}: no images there (looked for .jpg, .jpeg, .png, .webp, also in "
            "sub-folders). Pass the folder that holds the face images."
        )
    target = folder / Path(*KAGGLE_FACES.parts[1:])
    target.mkdir(parents=True)
    flat = all(image.parent == source for image in images)
    for i, image in enumerate(images):
        name = image.name if flat else f"{i}{image.suffix.lower()}"
        try:
            os.link(image, target / name)  # 71,314 faces: no second copy where the disk allows
        except OSError:
            shutil.copy2(image, target / name)
    write_dataset_metadata(folder, "Diffusion course anime faces", dataset_id, license_name)
    return len(images)
