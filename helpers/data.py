"""Images on disk -> tensors in [-1, 1]: the dataset of Part 1 and where to find it.

The anime-faces dataset on Kaggle holds 71,314 Crypko faces at 96 px and is attached
to a notebook at ``/kaggle/input/diffusion/faces/faces``. Offline (or on a laptop), the
procedural toy faces of :mod:`helpers.toy_faces` stand in for it.

Bad input loses nothing and stops nobody: files that cannot be read are skipped and
counted (reported once), grayscale / RGBA / palette images become RGB, and files that
are not images are ignored.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms import functional as TF

from helpers import places
from helpers.metrics.images import load_rgb

__all__ = [
    "IMAGE_EXTENSIONS",
    "KAGGLE_FACES",
    "ImageFolderDataset",
    "ResumableBatchSampler",
    "find_images",
    "resolve_data_dir",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
# Where the course's faces dataset appears on Kaggle, relative to places.kaggle_input_dir().
KAGGLE_FACES = Path("diffusion") / "faces" / "faces"


def find_images(folder: str | os.PathLike) -> list[Path]:
    """All image files below ``folder`` (recursively), sorted so that order is reproducible."""
    return sorted(p for p in _iter_images(Path(folder)) if p.is_file())


def resolve_data_dir(
    path: str | os.PathLike | None = None, kaggle_input: Path | None = None
) -> Path:
    """Find the training images: an explicit ``path`` wins; else Kaggle, else ``data/``.

    Without a path, looks at ``/kaggle/input/diffusion/faces/faces``, then any
    ``faces`` folder under ``/kaggle/input`` (:func:`helpers.places.kaggle_input_dir`), then
    ``data/faces`` and ``data/toy-faces`` (:func:`helpers.places.data_root`). The error lists what *is* there.
    """
    if path is not None:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"data folder {folder} does not exist. {_describe_folder(folder.parent)} "
                "Pass the folder that contains the images (subfolders are searched too)."
            )
        return folder

    kaggle_input = kaggle_input if kaggle_input is not None else places.kaggle_input_dir()
    candidates = [kaggle_input / KAGGLE_FACES]
    if kaggle_input.is_dir():
        candidates += sorted(p for p in kaggle_input.glob("*/**/faces") if p.is_dir())
    data = places.data_root()
    candidates += [data / "faces", data / "toy-faces"]
    for folder in candidates:
        if folder.is_dir() and any(_iter_images(folder)):
            return folder

    raise FileNotFoundError(
        "no training images found. Looked in: "
        + ", ".join(str(c) for c in dict.fromkeys(candidates))
        + f". {_describe_folder(kaggle_input)} "
        "On Kaggle: 'Add Input' -> the course's faces dataset (it appears under /kaggle/input). "
        "Offline: generate toy faces with `python -m helpers data toy-faces --n 2000 --size 64`, "
        "or pass the folder explicitly."
    )


def _iter_images(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)


def _describe_folder(folder: Path) -> str:
    if not folder.is_dir():
        return f"{folder} does not exist either."
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    if not entries:
        return f"{folder} is empty."
    shown = ", ".join(entries[:20]) + (f", … ({len(entries)} entries)" if len(entries) > 20 else "")
    return f"{folder} contains: {shown}."


class ImageFolderDataset(Dataset):
    """Square RGB images from a folder tree, as float tensors in [-1, 1] of shape (3, S, S).

    Each image is resized so that its short side is ``image_size`` and center-cropped.
    An index is either an int or a pair ``(index, flip)``; :class:`ResumableBatchSampler`
    passes pairs so that the random horizontal flips are part of the resumable stream.

    Args:
        folder: root folder, searched recursively for jpg / jpeg / png / webp files.
        image_size: side of the output images.
        augment_horizontal_flip: whether a plain int index may be flipped at random.
    """

    def __init__(
        self, folder: str | os.PathLike, image_size: int, augment_horizontal_flip: bool = True
    ) -> None:
        self.folder = Path(folder)
        self.image_size = image_size
        self.augment_horizontal_flip = augment_horizontal_flip
        if not self.folder.is_dir():
            raise FileNotFoundError(f"data folder {self.folder} does not exist")
        candidates = find_images(self.folder)
        self.paths: list[Path] = []
        self.skipped: list[Path] = []
        for path in candidates:
            (self.paths if _readable_header(path) else self.skipped).append(path)
        if self.skipped:
            warnings.warn(
                f"skipped {len(self.skipped)} unreadable image file(s) in {self.folder} "
                f"(first: {self.skipped[0].name}); training uses the other {len(self.paths)}",
                stacklevel=2,
            )
        if not self.paths:
            raise ValueError(
                f"no readable images (jpg, jpeg, png, webp) in {self.folder} or its subfolders"
                + (f": all {len(self.skipped)} image files are corrupt" if self.skipped else "")
            )
        self._warned_decode = False

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int | tuple[int, bool]) -> torch.Tensor:
        if isinstance(index, tuple):
            index, flip = index
        else:
            flip = self.augment_horizontal_flip and bool(torch.rand(()) < 0.5)
        # A file whose header was fine can still be truncated: use the next image and
        # remember the file, rather than kill a training run hours in.
        for offset in range(len(self.paths)):
            path = self.paths[(index + offset) % len(self.paths)]
            try:
                image = load_rgb(path)
                break
            except (OSError, UnidentifiedImageError, ValueError):
                self._note_decode_failure(path)
        else:
            raise ValueError(
                f"none of the {len(self.paths)} images in {self.folder} can be decoded"
            )
        tensor = self.to_tensor(image)
        return tensor.flip(-1) if flip else tensor

    def to_tensor(self, image: Image.Image) -> torch.Tensor:
        image = TF.resize(
            image, self.image_size, interpolation=TF.InterpolationMode.BICUBIC, antialias=True
        )
        image = TF.center_crop(image, [self.image_size, self.image_size])
        return TF.to_tensor(image) * 2 - 1

    def _note_decode_failure(self, path: Path) -> None:
        if path not in self.skipped:
            self.skipped.append(path)
        if not self._warned_decode:
            self._warned_decode = True
            warnings.warn(
                f"could not decode {path} (truncated or corrupt); it and any further such files "
                "are replaced by the next image. The dataset's `skipped` list holds them all.",
                stacklevel=3,
            )


def _readable_header(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.verify()
        return True
    except Exception:  # noqa: BLE001 - PIL raises many types for broken files
        return False


class ResumableBatchSampler(torch.utils.data.Sampler):
    """An endless stream of shuffled batches that depends only on ``(seed, position)``.

    Batch ``k`` is the same whether training ran straight through or stopped and
    resumed at ``start_batch = k``: each epoch's permutation and flips come from a
    generator seeded with ``seed + epoch``, not from the global random state. Each
    element is ``(index, flip)`` for :class:`ImageFolderDataset`. With several processes
    (``accelerate launch``), process ``rank`` of ``world_size`` gets its slice of each
    global batch.
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        seed: int,
        start_batch: int = 0,
        flip: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        global_batch = batch_size * world_size
        if num_items < global_batch:
            raise ValueError(
                f"the dataset has {num_items} images, fewer than one batch of {global_batch}: "
                "add images or lower batch_size in the config"
            )
        self.num_items, self.batch_size, self.seed = num_items, batch_size, seed
        self.start_batch, self.flip, self.rank, self.world_size = (
            start_batch,
            flip,
            rank,
            world_size,
        )
        self.batches_per_epoch = num_items // global_batch

    def __iter__(self) -> Iterator[list[tuple[int, bool]]]:
        epoch, position = divmod(self.start_batch, self.batches_per_epoch)
        while True:
            order, flips = self._epoch(epoch)
            for b in range(position, self.batches_per_epoch):
                start = (b * self.world_size + self.rank) * self.batch_size
                chunk = range(start, start + self.batch_size)
                yield [(int(order[i]), bool(flips[i])) for i in chunk]
            epoch, position = epoch + 1, 0

    def _epoch(self, epoch: int) -> tuple[Sequence[int], Sequence[bool]]:
        generator = torch.Generator().manual_seed(self.seed + epoch)
        order = torch.randperm(self.num_items, generator=generator).tolist()
        flips = (
            (torch.rand(self.num_items, generator=generator) < 0.5).tolist()
            if self.flip
            else [False] * self.num_items
        )
        return order, flips

    def __len__(self) -> int:  # an endless stream; DataLoader only needs this for its repr
        return self.batches_per_epoch
