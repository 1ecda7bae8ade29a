"""Reading the image folders the scorers work on, with errors that say what to fix."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = ["IMAGE_SUFFIXES", "batches", "list_images", "load_rgb", "to_tensor"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name.

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
        ValueError: it holds no image (the message lists what it holds instead).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of images: check the path.")
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not files:
        seen = sorted(p.name for p in folder.iterdir())[:5]
        raise ValueError(
            f"{folder} holds no image ({', '.join(IMAGE_SUFFIXES)}); it holds {seen or 'nothing'}. "
            "Save the generated images there first, or point to the folder that holds them."
        )
    return files


def load_rgb(path: str | os.PathLike, size: int | None = None) -> Image.Image:
    """Open ``path`` fully as RGB (grayscale, RGBA and palette images included); with ``size``, resize to ``size``×``size`` (PIL bilinear, antialiased).

    Raises:
        ValueError: the file is not a readable image (named, with the fix).
    """
    try:
        with Image.open(path) as image:
            if image.mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")  # PIL warns converting such a palette straight to RGB
            image = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(
            f"cannot read {path} as an image ({exc}): delete or re-save that file."
        ) from exc
    if size is not None and image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    return image


def to_tensor(images: Sequence[Image.Image]) -> torch.Tensor:
    """``(N, 3, H, W)`` float32 in [0, 1]; all images must have one size."""
    sizes = {image.size for image in images}
    if len(sizes) > 1:
        raise ValueError(
            f"images of several sizes {sorted(sizes)}: pass image_size to resize them to one."
        )
    array = np.stack([np.asarray(image) for image in images])
    return torch.from_numpy(array).permute(0, 3, 1, 2).float().div_(255)


def batches(
    files: Sequence[Path], batch_size: int, size: int | None = None
) -> Iterator[torch.Tensor]:
    """The images of ``files`` as ``(B, 3, H, W)`` tensors in [0, 1], ``batch_size`` at a time."""
    for start in range(0, len(files), batch_size):
        yield to_tensor([load_rgb(f, size) for f in files[start : start + batch_size]])
