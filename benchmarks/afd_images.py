"""Images for measuring the AFD detector: simple drawn anime faces, pure noise, plain colours.

The drawn faces are a crude stand-in (a skin oval, a fringe of hair, two big eyes with
highlights, a small mouth) until the kit's procedural toy faces land; they tell whether
the detector responds to face-like layouts at 64 px at all, while noise and plain colours
give its false-positive rate. ``make bench`` prints the rates, tests/test_afd.py checks them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64


def drawn_face(rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    s = size / 64
    background = tuple(int(v) for v in rng.integers(150, 256, 3))
    hair = tuple(int(v) for v in rng.integers(0, 200, 3))
    iris = tuple(int(v) for v in rng.integers(0, 160, 3))
    skin = (255, int(rng.integers(215, 235)), int(rng.integers(195, 215)))
    image = Image.new("RGB", (size, size), background)
    d = ImageDraw.Draw(image)
    d.ellipse([2 * s, 0, 62 * s, 58 * s], fill=hair)  # back hair
    d.ellipse([10 * s, 10 * s, 54 * s, 62 * s], fill=skin)  # face
    d.polygon(
        [(8 * s, 6 * s), (56 * s, 6 * s), (54 * s, 24 * s), (32 * s, 16 * s), (10 * s, 26 * s)],
        fill=hair,
    )  # fringe
    eye_y = float(rng.uniform(30, 34))
    for cx in (22, 42):
        d.ellipse(
            [(cx - 6) * s, (eye_y - 7) * s, (cx + 6) * s, (eye_y + 7) * s],
            fill=(255, 255, 255),
            outline=(0, 0, 0),
        )
        d.ellipse([(cx - 4.5) * s, (eye_y - 5) * s, (cx + 4.5) * s, (eye_y + 6) * s], fill=iris)
        d.ellipse(
            [(cx - 3) * s, (eye_y - 4) * s, (cx - 0.5) * s, (eye_y - 1) * s], fill=(255, 255, 255)
        )
        d.line(
            [(cx - 7) * s, (eye_y - 8) * s, (cx + 7) * s, (eye_y - 8) * s],
            fill=(0, 0, 0),
            width=max(1, int(s)),
        )
    d.line([29 * s, 52 * s, 35 * s, 52 * s], fill=(170, 60, 60), width=max(1, int(s)))  # mouth
    return image


def noise_image(rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def plain_image(rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    return Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 256, 3)))


KINDS = {"drawn faces": drawn_face, "pure noise": noise_image, "plain colour": plain_image}


def image_set(kind: str, n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [KINDS[kind](rng) for _ in range(n)]
