"""Speed of the scorers against pytorch-fid, plus the AFD detector's rates on known image sets.

    python -m benchmarks metrics

- Fréchet distance at d = 2048 against pytorch-fid's ``sqrtm`` route (target: 10× faster),
  for two full-rank sets and for 1,000 generated images against a full-rank reference;
  the relative difference of the two results is printed too.
- Feature extraction (64 px images, batch 16) against pytorch-fid's own ``InceptionV3``
  holding the same random weights (target: at least as fast).
- AFD rates of the default detector on drawn faces, pure noise and plain colours.
"""

from __future__ import annotations

import copy
import os
from functools import partial
from unittest import mock

import numpy as np
import torch

from benchmarks.afd_images import KINDS, image_set
from benchmarks.timing import BenchResult, interleaved
from helpers.metrics.inception import FIDInceptionV3


def pytorch_fid_inception(ours: FIDInceptionV3):
    """pytorch-fid's own ``InceptionV3`` (block 3) holding the same weights as ``ours``."""
    import pytorch_fid.inception as pfi

    state = ours.net.state_dict()
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *args, **kwargs: state):
        return pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()


def _features(
    rng: np.random.Generator, n: int, d: int, shift: float
) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.05 + shift + rng.random(d)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def bench_frechet() -> list[BenchResult]:
    from pytorch_fid.fid_score import calculate_frechet_distance

    from helpers.metrics.fid import frechet_distance

    rng = np.random.default_rng(0)
    results = []
    for label, n_generated in (("full rank, 3000 vs 2500", 3000), ("1000 generated vs 2500", 1000)):
        a, b = _features(rng, n_generated, 2048, 0.0), _features(rng, 2500, 2048, 0.1)
        ours, anchor = frechet_distance(*a, *b), calculate_frechet_distance(*a, *b)
        print(
            f"  frechet d=2048 {label}: ours {ours:.9f}, pytorch-fid {anchor:.9f}, relative difference {abs(ours - anchor) / abs(anchor):.1e}"
        )
        ours_s, anchor_s = interleaved(
            partial(frechet_distance, *a, *b), partial(calculate_frechet_distance, *a, *b), repeat=1
        )
        results.append(
            BenchResult(
                f"frechet_distance d=2048 ({label})",
                ours_s,
                anchor_s,
                "pytorch-fid sqrtm",
                "ratio <= 0.1",
            )
        )
    return results


def bench_features() -> list[BenchResult]:
    from helpers.tiny_models import random_fid_inception

    model = random_fid_inception()
    anchor = pytorch_fid_inception(model)
    ours = copy.deepcopy(model).optimize_for_inference()
    x = torch.rand(16, 3, 64, 64)
    with torch.inference_mode():
        ours_s, anchor_s = interleaved(lambda: ours(x), lambda: anchor(x), repeat=3)
    return [
        BenchResult(
            "FID Inception features, 16 images 64 px",
            ours_s,
            anchor_s,
            "pytorch-fid InceptionV3",
            "ratio <= 1.0",
        )
    ]


def report_afd_rates() -> None:
    from helpers.metrics.afd import CascadeDetector, detection_rate

    try:
        detector = CascadeDetector(os.environ.get("COURSEKIT_ANIMEFACE_CASCADE"))
    except (ImportError, FileNotFoundError) as exc:
        print(f"  AFD rates skipped: {exc}")
        return
    settings = (
        f"upscale {detector.upscale}, pad {detector.pad}, scaleFactor {detector.scale_factor}, "
        f"minNeighbors {detector.min_neighbors}, minSize {detector.min_size}"
    )
    for kind in KINDS:
        print(
            f"  AFD on 100 {kind} (64 px; {settings}): {detection_rate(image_set(kind, 100), detector, progress=False)}"
        )


def run() -> list[BenchResult]:
    report_afd_rates()
    return bench_features() + bench_frechet()
