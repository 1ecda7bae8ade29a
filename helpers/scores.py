"""The scores of a Part 1 run and the submission: FID, AFD, ``scores.json``, ``submission_part1.zip``.

**full** mode scores the samples against the training faces with the real FID Inception
and the anime-face cascade; both are fetched once and hash-checked
(:mod:`helpers.weights`), and a missing one is an error, since the report needs them.

**smoke** mode has neither the weights nor the time: FID uses an Inception with
*random* weights (:func:`helpers.tiny_models.random_fid_inception`), on as many toy
faces as samples, at the samples' size. Its scale means nothing, so the same scores are
given for pure noise (the sampler's starting point): samples from a working sampler
score far closer to the faces than noise does, a broken one does not. AFD runs on both
when the cascade is available and is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import torch
from torchvision.utils import save_image

from helpers.config import TrainConfig
from helpers.diffusion import unnormalize
from helpers.metrics import afd_score, fid_score
from helpers.metrics.images import list_images, load_rgb
from helpers.weights import MissingWeightsError

__all__ = ["score_part1", "write_noise"]

RANDOM_FID = "Inception-v3 with random weights (smoke mode): compare, do not read the scale"


def score_part1(
    samples: str | os.PathLike,
    faces: str | os.PathLike,
    results: str | os.PathLike,
    *,
    mode: str,
    config: TrainConfig,
    progress: bool = True,
) -> dict:
    """Score the images in ``samples`` against ``faces``, print the scores, write and pack them.

    Writes ``results/scores.json`` (FID, AFD rate, sample count, mode, the
    hyper-parameters of the model sampled, and in smoke mode the scores of pure noise)
    and ``results/submission_part1.zip`` (``images/1.png`` … and ``scores.json``).
    Returns what ``scores.json`` holds.
    """
    results = Path(results)
    paths = list_images(samples)
    report: dict = {"mode": mode, "samples": len(paths), "hyper_parameters": config.to_dict()}
    if mode == "full":
        fid, afd = (
            fid_score(samples, faces, progress=progress),
            afd_score(samples, progress=progress),
        )
        print(f"{fid}\nAFD {afd}")
        report.update(fid=fid.fid, afd=afd.rate)
    else:
        report.update(_smoke_scores(paths, faces, results, progress))
    (results / "scores.json").write_text(json.dumps(report, indent=1))
    with zipfile.ZipFile(results / "submission_part1.zip", "w") as archive:
        for image in paths:
            archive.write(image, f"images/{image.name}")
        archive.write(results / "scores.json", "scores.json")
    print(f"scores: {results / 'scores.json'}\nsubmission: {results / 'submission_part1.zip'}")
    return report


def write_noise(out_dir: str | os.PathLike, n: int, size: int, seed: int = 0) -> Path:
    """``n`` images of pure Gaussian noise, x_T of the sampler mapped to [0, 1], as 1.png … n.png."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    noise = torch.randn((n, 3, size, size), generator=torch.Generator().manual_seed(seed))
    for i, image in enumerate(unnormalize(noise).clamp(0, 1), start=1):
        save_image(image, out_dir / f"{i}.png")
    return out_dir


def _smoke_scores(
    paths: list[Path], faces: str | os.PathLike, results: Path, progress: bool
) -> dict:
    from helpers.tiny_models import random_fid_inception

    size = load_rgb(paths[0]).width
    reference = results / "fid_reference"
    reference.mkdir(parents=True, exist_ok=True)
    for face in list_images(faces)[: len(paths)]:
        shutil.copy2(face, reference / face.name)
    noise = write_noise(results / "noise", len(paths), size)
    model = random_fid_inception()
    sets = {"samples": paths[0].parent, "pure noise": noise}
    fid = {
        name: fid_score(
            folder,
            reference,
            model=model,
            image_size=size,
            cache=results / "fid-stats",
            progress=progress,
        ).fid
        for name, folder in sets.items()
    }
    try:
        afd = {name: afd_score(folder, progress=progress).rate for name, folder in sets.items()}
    except MissingWeightsError as error:
        print(f"AFD skipped in smoke mode: {error}")
        afd = dict.fromkeys(sets)
    print(f"FID: {RANDOM_FID}; {len(paths)} images of {size} px against as many toy faces")
    print(f"{'':12}{'FID':>10}{'AFD':>10}")
    for name in sets:
        rate = "-" if afd[name] is None else f"{100 * afd[name]:.1f} %"
        print(f"{name:12}{fid[name]:10.1f}{rate:>10}")
    return {
        "fid": fid["samples"],
        "afd": afd["samples"],
        "fid_network": RANDOM_FID,
        "noise": {"fid": fid["pure noise"], "afd": afd["pure noise"]},
    }
