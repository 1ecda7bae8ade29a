"""A procedural, captioned toy world for Part 2's offline text-to-image model and CLIP.

Four classes, drawn with PIL like :mod:`helpers.toy_faces`, designed as two anagram
pairs under a half turn, so that one picture can read as both members of a pair:

* **face / house**: a face is a round head with two dark eyes above a red smile; turned
  over, the smile is an arch above two dark dots, the shape of a red roof above two
  windows, which is a house;
* **tree / boat**: a tree is a round green crown on a brown trunk; turned over, the trunk
  is a mast standing on a rounded mass, the shape of a sail and mast above a hull.

Colours, sizes and positions vary; each picture gets one of a few caption wordings. An
item is determined by ``seed`` alone, so a data set is reproducible from ``(n, size, seed)``.

    >>> images, labels, captions = toy_world(8, size=32, seed=0)
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw

from helpers.toy_faces import _jitter

__all__ = [
    "CLASSES",
    "ANAGRAM_PAIRS",
    "WORDINGS",
    "caption",
    "draw_item",
    "toy_world",
    "vocabulary",
]

CLASSES = ("face", "house", "tree", "boat")
"""Class names; a class's index is its label."""
ANAGRAM_PAIRS = (("face", "house"), ("tree", "boat"))
"""Pairs whose members share their layout under a half turn (module docstring)."""
WORDINGS = ("a {}", "a picture of a {}", "a drawing of a {}", "a toy {}")
"""Caption templates; ``WORDINGS[0]`` is the plain prompt the demo and the tests use."""

SUPERSAMPLE = 4
BACKGROUND = [(235, 235, 225), (200, 225, 245), (215, 240, 215), (245, 220, 230), (250, 240, 200)]
HEAD = [(250, 210, 120), (245, 190, 160), (150, 200, 240), (200, 170, 230), (240, 160, 150)]
WALL = [(240, 230, 200), (230, 200, 150), (180, 210, 230), (230, 180, 180), (200, 220, 170)]
GREEN = [(60, 150, 60), (90, 170, 70), (40, 120, 70)]
BROWN = [(120, 80, 40), (140, 95, 55), (100, 65, 35)]
DARK = (35, 30, 40)
RED = [(200, 40, 40), (210, 70, 50), (180, 40, 70)]


def caption(label: int, wording: int = 0) -> str:
    """The caption of class ``label`` in wording ``wording`` (``0``: "a face")."""
    return WORDINGS[wording].format(CLASSES[label])


def vocabulary() -> list[str]:
    """Every word a caption can hold, sorted: the toy text encoder's vocabulary."""
    return sorted(
        {
            word
            for label in range(len(CLASSES))
            for w in range(len(WORDINGS))
            for word in caption(label, w).split()
        }
    )


def _face(draw: ImageDraw.ImageDraw, rng: random.Random, cx: float, cy: float, r: float) -> None:
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_jitter(rng, rng.choice(HEAD), 12))
    eye = r * rng.uniform(0.14, 0.19)
    for side in (-1, 1):
        ex, ey = cx + side * r * 0.4, cy - r * 0.3
        draw.ellipse((ex - eye, ey - eye, ex + eye, ey + eye), fill=DARK)
    # The smile: the lower half of an ellipse, drawn thick (a roof once turned over).
    w, top = r * rng.uniform(0.55, 0.7), cy - r * 0.05
    draw.arc(
        (cx - w, top - w * 0.6, cx + w, top + w),
        20,
        160,
        fill=_jitter(rng, rng.choice(RED), 15),
        width=int(r * 0.22),
    )


def _house(draw: ImageDraw.ImageDraw, rng: random.Random, cx: float, cy: float, r: float) -> None:
    wall_top, bottom, half = cy - r * 0.1, cy + r * 0.85, r * rng.uniform(0.7, 0.8)
    draw.rectangle(
        (cx - half, wall_top, cx + half, bottom), fill=_jitter(rng, rng.choice(WALL), 12)
    )
    draw.polygon(
        [(cx - half * 1.25, wall_top), (cx + half * 1.25, wall_top), (cx, cy - r * 0.95)],
        fill=_jitter(rng, rng.choice(RED), 15),
    )
    window = r * rng.uniform(0.14, 0.19)
    for side in (-1, 1):
        wx, wy = cx + side * half * 0.5, cy + r * 0.35
        draw.rectangle((wx - window, wy - window, wx + window, wy + window), fill=DARK)


def _tree(draw: ImageDraw.ImageDraw, rng: random.Random, cx: float, cy: float, r: float) -> None:
    trunk = r * rng.uniform(0.12, 0.17)
    draw.rectangle((cx - trunk, cy, cx + trunk, cy + r), fill=_jitter(rng, rng.choice(BROWN), 10))
    crown = r * rng.uniform(0.6, 0.7)
    draw.ellipse(
        (cx - crown, cy - r, cx + crown, cy - r + 2 * crown * rng.uniform(0.85, 1.0)),
        fill=_jitter(rng, rng.choice(GREEN), 15),
    )


def _boat(draw: ImageDraw.ImageDraw, rng: random.Random, cx: float, cy: float, r: float) -> None:
    mast = r * 0.07
    draw.rectangle(
        (cx - mast, cy - r, cx + mast, cy + r * 0.3), fill=_jitter(rng, rng.choice(BROWN), 10)
    )
    draw.polygon(
        [
            (cx + mast * 2, cy - r * 0.9),
            (cx + mast * 2, cy + r * 0.15),
            (cx + r * rng.uniform(0.55, 0.7), cy + r * 0.15),
        ],
        fill=(245, 245, 240),
    )
    # The hull: the lower half of an ellipse (a tree's crown once turned over).
    hull = r * rng.uniform(0.75, 0.9)
    draw.chord(
        (cx - hull, cy - r * 0.3, cx + hull, cy + r),
        0,
        180,
        fill=_jitter(rng, rng.choice(BROWN + GREEN[:1]), 15),
    )


DRAW: dict[str, Callable[[ImageDraw.ImageDraw, random.Random, float, float, float], None]] = {
    "face": _face,
    "house": _house,
    "tree": _tree,
    "boat": _boat,
}


def draw_item(seed: int, size: int = 32) -> tuple[Image.Image, int, str]:
    """One picture of ``size`` x ``size`` pixels, its label and its caption, all from ``seed``."""
    rng = random.Random(seed)
    label = rng.randrange(len(CLASSES))
    s = size * SUPERSAMPLE
    image = Image.new("RGB", (s, s), _jitter(rng, rng.choice(BACKGROUND), 12))
    r = s * rng.uniform(0.3, 0.4)
    cx, cy = s * (0.5 + rng.uniform(-0.08, 0.08)), s * (0.5 + rng.uniform(-0.08, 0.08))
    DRAW[CLASSES[label]](ImageDraw.Draw(image), rng, cx, cy, r)
    text = caption(label, rng.randrange(len(WORDINGS)))
    return image.resize((size, size), Image.Resampling.LANCZOS), label, text


def toy_world(
    n: int, size: int = 32, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Items ``seed .. seed + n - 1``: images ``(n, 3, size, size)`` in ``[-1, 1]``, labels, captions."""
    items = [draw_item(seed + i, size) for i in range(n)]
    pixels = np.stack([np.asarray(image) for image, _, _ in items])
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1
    return images, torch.tensor([label for _, label, _ in items]), [text for _, _, text in items]
