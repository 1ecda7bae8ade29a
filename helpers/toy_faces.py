"""Procedural cartoon "anime-style" faces: a small offline stand-in for the Kaggle dataset.

Each face is drawn with PIL from a handful of random choices (background, hair colour
and style, skin tone, eye colour and shape, mouth, blush), at 4x the target size and
then downsampled for smooth edges. The same seed always gives the same face, so a
folder of toy faces is reproducible from ``(n, size, seed)`` alone.

    python -m helpers data toy-faces --n 2000 --size 64
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from helpers import places

__all__ = ["draw_face", "write_toy_faces"]

HAIR = [
    (40, 30, 30),
    (90, 55, 35),
    (230, 200, 120),
    (250, 160, 190),
    (120, 170, 240),
    (170, 120, 220),
    (240, 240, 245),
    (200, 60, 60),
    (60, 140, 90),
    (255, 140, 60),
]
EYES = [(60, 110, 220), (40, 160, 110), (170, 60, 60), (150, 80, 200), (200, 140, 40), (70, 50, 40)]
SKIN = [(255, 228, 210), (250, 215, 190), (240, 200, 170), (255, 235, 225)]
BACKGROUND = [
    (250, 245, 235),
    (225, 235, 250),
    (235, 250, 235),
    (250, 230, 240),
    (240, 240, 240),
    (210, 220, 240),
]
SUPERSAMPLE = 4


def draw_face(seed: int, size: int = 64) -> Image.Image:
    """Draw one face of ``size`` x ``size`` pixels, determined entirely by ``seed``."""
    rng = random.Random(seed)
    s = size * SUPERSAMPLE
    image = Image.new("RGB", (s, s), _jitter(rng, rng.choice(BACKGROUND), 10))
    draw = ImageDraw.Draw(image)

    hair = _jitter(rng, rng.choice(HAIR), 20)
    skin = _jitter(rng, rng.choice(SKIN), 6)
    cx, cy = s * (0.5 + rng.uniform(-0.04, 0.04)), s * (0.55 + rng.uniform(-0.03, 0.03))
    face_w, face_h = s * rng.uniform(0.27, 0.33), s * rng.uniform(0.30, 0.36)
    long_hair = rng.random() < 0.6

    # Back hair first, so that the face covers it.
    if long_hair:
        draw.rounded_rectangle(
            (
                cx - face_w * 1.35,
                cy - face_h * 1.25,
                cx + face_w * 1.35,
                cy + face_h * rng.uniform(1.0, 1.6),
            ),
            radius=s * 0.15,
            fill=hair,
        )
    draw.ellipse(
        (cx - face_w * 1.25, cy - face_h * 1.35, cx + face_w * 1.25, cy + face_h * 0.5), fill=hair
    )

    # Face: wider at the cheeks, a pointed chin as in anime drawings.
    draw.ellipse((cx - face_w, cy - face_h, cx + face_w, cy + face_h * 0.75), fill=skin)
    draw.polygon(
        [
            (cx - face_w * 0.93, cy + face_h * 0.1),
            (cx + face_w * 0.93, cy + face_h * 0.1),
            (cx, cy + face_h * 1.05),
        ],
        fill=skin,
    )

    # Fringe: a few triangles hanging over the forehead.
    fringe_top, fringe_bottom = cy - face_h * 1.1, cy - face_h * rng.uniform(0.25, 0.45)
    strands = rng.randint(3, 6)
    for i in range(strands):
        x0 = cx - face_w * 1.1 + i * (2.2 * face_w / strands)
        x1 = x0 + 2.2 * face_w / strands
        tip = (x0 + x1) / 2 + rng.uniform(-0.2, 0.2) * face_w / strands
        draw.polygon(
            [
                (x0, fringe_top),
                (x1, fringe_top),
                (tip, fringe_bottom + rng.uniform(-0.1, 0.1) * face_h),
            ],
            fill=hair,
        )
    draw.rectangle(
        (
            cx - face_w * 1.1,
            fringe_top - face_h * 0.2,
            cx + face_w * 1.1,
            fringe_top + face_h * 0.12,
        ),
        fill=hair,
    )

    # Eyes: large, with iris, pupil and two highlights.
    iris = _jitter(rng, rng.choice(EYES), 15)
    eye_y = cy + face_h * rng.uniform(-0.05, 0.1)
    eye_dx, eye_w, eye_h = (
        face_w * rng.uniform(0.42, 0.5),
        face_w * rng.uniform(0.22, 0.28),
        face_h * rng.uniform(0.26, 0.34),
    )
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse((ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h), fill=(255, 255, 255))
        draw.ellipse(
            (ex - eye_w * 0.8, eye_y - eye_h * 0.85, ex + eye_w * 0.8, eye_y + eye_h), fill=iris
        )
        draw.ellipse(
            (ex - eye_w * 0.4, eye_y - eye_h * 0.35, ex + eye_w * 0.4, eye_y + eye_h * 0.55),
            fill=(20, 20, 30),
        )
        draw.ellipse(
            (ex - eye_w * 0.55, eye_y - eye_h * 0.65, ex - eye_w * 0.1, eye_y - eye_h * 0.2),
            fill=(255, 255, 255),
        )
        draw.ellipse(
            (ex + eye_w * 0.2, eye_y + eye_h * 0.3, ex + eye_w * 0.45, eye_y + eye_h * 0.55),
            fill=(255, 255, 255),
        )
        draw.line(
            (ex - eye_w * 1.1, eye_y - eye_h * 1.05, ex + eye_w * 1.1, eye_y - eye_h * 1.0),
            fill=(30, 20, 20),
            width=max(2, s // 80),
        )

    if rng.random() < 0.5:  # blush
        for side in (-1, 1):
            bx, by = cx + side * face_w * 0.62, eye_y + eye_h * 1.35
            draw.ellipse(
                (bx - face_w * 0.15, by - face_h * 0.05, bx + face_w * 0.15, by + face_h * 0.05),
                fill=(250, 170, 170),
            )

    mouth_y, mouth_w = cy + face_h * rng.uniform(0.55, 0.65), face_w * rng.uniform(0.1, 0.2)
    if rng.random() < 0.5:
        draw.arc(
            (cx - mouth_w, mouth_y - mouth_w * 0.6, cx + mouth_w, mouth_y + mouth_w * 0.6),
            20,
            160,
            fill=(150, 50, 60),
            width=max(2, s // 90),
        )
    else:
        draw.ellipse(
            (
                cx - mouth_w * 0.5,
                mouth_y - mouth_w * 0.3,
                cx + mouth_w * 0.5,
                mouth_y + mouth_w * 0.5,
            ),
            fill=(190, 70, 80),
        )

    return image.resize((size, size), Image.Resampling.LANCZOS)


def write_toy_faces(
    out_dir: str | Path | None = None,
    n: int = 2000,
    size: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write faces ``seed .. seed + n - 1`` as ``out_dir/00000.png`` … and return ``out_dir``.

    ``out_dir`` defaults to ``toy-faces`` in :func:`helpers.places.data_root`.

    A manifest records ``(n, size, seed)``: asking again for the same set is free, and
    asking for another set replaces the folder's images rather than mixing two sets.
    Each image and the manifest appear whole (written aside, then renamed), so processes
    that ask for the same set at once (parallel tests, two notebooks) never read half a file.
    """
    out_dir = Path(out_dir) if out_dir is not None else places.data_root() / "toy-faces"
    manifest = out_dir / "toy-faces.json"
    wanted = {"n": n, "size": size, "seed": seed}
    if manifest.is_file() and json.loads(manifest.read_text()) == wanted:
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    if manifest.is_file():  # another set: its images go
        manifest.unlink(missing_ok=True)
        for old in out_dir.glob("*.png"):
            old.unlink(missing_ok=True)
    part = f".part{os.getpid()}"
    for i in tqdm(range(n), desc="toy faces", disable=not progress):
        path = out_dir / f"{i:05d}.png"
        draw_face(seed + i, size).save(path.with_name(path.name + part), format="PNG")
        os.replace(path.with_name(path.name + part), path)
    for extra in out_dir.glob("*.png"):  # a bigger set written before (a run stopped early)
        if not extra.stem.isdigit() or int(extra.stem) >= n:
            extra.unlink(missing_ok=True)
    manifest.with_name(manifest.name + part).write_text(json.dumps(wanted))
    os.replace(manifest.with_name(manifest.name + part), manifest)
    return out_dir


def _jitter(rng: random.Random, colour: tuple[int, int, int], amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)
