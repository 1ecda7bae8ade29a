"""Trained model -> images, through the student's sampling loop (TODO 1-2-1).

The kit has no sampling loop of its own: what it samples (the trainer's milestone grids,
the 1000 faces that are scored) is drawn by the function a student writes in TODO 1-2-1,
passed in as ``sampler``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch
from torchvision.utils import save_image
from tqdm.auto import tqdm

from helpers.diffusion import GaussianDiffusion

__all__ = ["Sampler", "sample", "sample_to_folder"]

Sampler = Callable[..., tuple[torch.Tensor, torch.Tensor]]
"""TODO 1-2-1's signature: ``sampler(diffusion, batch_size, eta=None, generator=None,
path=...) -> (images, trajectory)``, images in [0, 1]."""


def sample(
    sampler: Sampler,
    diffusion: GaussianDiffusion,
    batch_size: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``batch_size`` images in [0, 1] from ``sampler``, without its progress figure."""
    import matplotlib.pyplot as plt

    figures = set(plt.get_fignums())
    images, _ = sampler(diffusion, batch_size, generator=generator, path=None)
    for number in set(plt.get_fignums()) - figures:
        plt.close(number)  # one progress figure per batch would pile up over 1000 samples
    return images


@torch.inference_mode()
def sample_to_folder(
    sampler: Sampler,
    diffusion: GaussianDiffusion,
    n: int,
    out_dir: str | os.PathLike,
    batch_size: int = 64,
    seed: int | None = 0,
    progress: bool = True,
) -> list[Path]:
    """Sample ``n`` images with ``sampler`` in batches; write ``out_dir/1.png`` … ``out_dir/n.png``.

    With a ``seed`` the images are reproducible (a CPU generator, so the same seed gives
    the same images on any device for the same weights up to float rounding).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    paths: list[Path] = []
    written: list[Future] = []
    # PNG encoding runs in a thread while the next batch is sampled (zlib releases the GIL,
    # and on a GPU the sampler mostly waits for kernels).
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="png-writer") as writer,
        tqdm(total=n, desc="sampling images", disable=not progress) as bar,
    ):
        while len(paths) < n:
            count = min(batch_size, n - len(paths))
            images = sample(sampler, diffusion, count, generator).float().cpu()
            for image in images:
                paths.append(out_dir / f"{len(paths) + 1}.png")
                written.append(writer.submit(save_image, image, paths[-1]))
            bar.update(count)
        for future in written:
            future.result()  # a failed write raises here, not silently
    return paths
