"""AFD, the anime face detection rate: the share of generated images in which a face is found.

.. math:: \\mathrm{AFD} = \\frac{\\#\\{\\text{images with at least one detected face}\\}}{\\#\\{\\text{images}\\}}

reported with its count, e.g. ``943 / 1000 = 94.30 %``.

The scorer takes any :class:`FaceDetector`: an object whose ``detect(image)`` returns the
face boxes found in an RGB ``PIL.Image``. A course that prefers another detector (a YOLO
anime-face model, say) wraps it in a class with that method and passes it to
:func:`afd_score`; nothing else changes.

The default, :class:`CascadeDetector`, is nagadomi's ``lbpcascade_animeface.xml``
(an OpenCV LBP cascade, MIT licence) found through :mod:`helpers.weights`: the path
given, else ``$COURSEKIT_ANIMEFACE_CASCADE``, else the cache, else its canonical URL,
checked against SHA-256 ``9376d3…ce30``. Its settings were chosen by measurement on
64 px images (``python -m benchmarks metrics`` prints the rates; drawn faces, pure noise
and plain colours, 100 each):

- grayscale, **upscaled 2×** (``cv2.INTER_CUBIC``, 64 → 128 px): the cascade's window is
  24×24 and at 64 px the eyes of a face are a few pixels wide;
- **padded by 25 % of the side on every side** (``cv2.BORDER_REPLICATE``, 128 → 192 px):
  generated faces fill the frame, and the cascade was trained on windows with some
  context around the face; without padding it found none of the drawn faces at any
  upscale, with it 90 of 100;
- ``cv2.equalizeHist`` (nagadomi's recipe), then ``detectMultiScale(scaleFactor=1.05,
  minNeighbors=5, minSize=(24, 24))``: scaleFactor 1.1 found 73 of the 100 drawn faces,
  1.05 finds 90; at 4× upscale ``minNeighbors`` 1 or 3 let pure noise "contain" faces
  (25 and 1 of 60), while 5 keeps noise and plain colours at 0 % at 2× and 4×.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from helpers.metrics.images import list_images, load_rgb
from helpers.weights import ANIMEFACE_CASCADE, fetch

__all__ = ["AFDResult", "Box", "CascadeDetector", "FaceDetector", "afd_score", "detection_rate"]

Box = tuple[int, int, int, int]  # x, y, width, height in the pixels of the image given


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces: ``detect`` returns one box per face (empty when none)."""

    def detect(self, image: Image.Image) -> Sequence[Box]: ...


class CascadeDetector:
    """nagadomi's anime-face LBP cascade through OpenCV (see the module docstring).

    Args:
        cascade: path to ``lbpcascade_animeface.xml``; default: :func:`helpers.weights.fetch`.
        upscale: factor applied to the image before detection (cubic).
        pad: border added on each side, as a fraction of the upscaled side (replicated edge).
        scale_factor, min_neighbors, min_size: ``cv2.CascadeClassifier.detectMultiScale``'s,
            ``min_size`` in pixels of the upscaled image.
    """

    def __init__(
        self,
        cascade: str | os.PathLike | None = None,
        *,
        upscale: float = 2.0,
        pad: float = 0.25,
        scale_factor: float = 1.05,
        min_neighbors: int = 5,
        min_size: int = 24,
    ) -> None:
        import cv2

        self.path = fetch(ANIMEFACE_CASCADE, cascade)
        if not hasattr(cv2, "CascadeClassifier"):
            raise ImportError(
                f"OpenCV {cv2.__version__} has no CascadeClassifier (OpenCV 5 dropped it from the main "
                "modules): install OpenCV 4, e.g. `pip install 'opencv-python-headless>=4.8,<5'`."
            )
        self.classifier = cv2.CascadeClassifier(str(self.path))
        if self.classifier.empty():
            raise ValueError(
                f"OpenCV could not load the cascade {self.path}: delete it and fetch it again."
            )
        self.upscale, self.pad = upscale, pad
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, min_size

    def detect(self, image: Image.Image) -> list[Box]:
        import cv2

        gray = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
        if self.upscale != 1:
            gray = cv2.resize(
                gray, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_CUBIC
            )
        border = int(self.pad * max(gray.shape))
        gray = cv2.copyMakeBorder(gray, border, border, border, border, cv2.BORDER_REPLICATE)
        faces = self.classifier.detectMultiScale(
            cv2.equalizeHist(gray),
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        # Back to the pixels of the image given (boxes may reach into the border).
        return [
            (
                round((x - border) / self.upscale),
                round((y - border) / self.upscale),
                round(w / self.upscale),
                round(h / self.upscale),
            )
            for x, y, w, h in faces
        ]


@dataclass(frozen=True)
class AFDResult:
    detected: int
    total: int

    @property
    def rate(self) -> float:
        """In [0, 1]; ``str()`` shows it in percent."""
        return self.detected / self.total

    def __str__(self) -> str:
        return f"{self.detected} / {self.total} = {100 * self.rate:.2f} %"


def detection_rate(
    images: Iterable[Image.Image],
    detector: FaceDetector,
    *,
    total: int | None = None,
    progress: bool = True,
) -> AFDResult:
    """AFD of images already in memory."""
    detected = n = 0
    for image in tqdm(images, total=total, desc="AFD", disable=not progress, unit="img"):
        detected += len(detector.detect(image)) > 0
        n += 1
    if n == 0:
        raise ValueError("AFD of no images: pass at least one")
    return AFDResult(detected=detected, total=n)


def afd_score(
    folder: str | os.PathLike, detector: FaceDetector | None = None, *, progress: bool = True
) -> AFDResult:
    """AFD of the images directly inside ``folder``, at their own size.

    Args:
        detector: default :class:`CascadeDetector` with the documented settings.
    """
    files: list[Path] = list_images(folder)
    detector = detector if detector is not None else CascadeDetector()
    return detection_rate(
        (load_rgb(f) for f in files), detector, total=len(files), progress=progress
    )
