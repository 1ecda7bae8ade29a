"""Training step and DDIM sampling against lucidrains' denoising-diffusion-pytorch 2.3.4.

Both sides get the same UNet configuration, image size, batch and thread count; each
side runs its own network class (ours: ``helpers.unet.UNet``; theirs: ``Unet``).
"""

from __future__ import annotations

import denoising_diffusion_pytorch as ddp
import torch

from benchmarks.timing import BenchResult, interleaved
from grading.authoring.reference import REFERENCE_STEPS, sample_with_progress
from helpers.diffusion import GaussianDiffusion
from helpers.unet import UNet

CONFIG = dict(dim=32, dim_mults=(1, 2, 3, 4))
IMAGE_SIZE, TRAIN_BATCH, SAMPLE_BATCH, SAMPLING_STEPS = 32, 16, 16, 50


def _pair() -> tuple[GaussianDiffusion, ddp.GaussianDiffusion]:
    ours = GaussianDiffusion(
        UNet(**CONFIG),
        image_size=IMAGE_SIZE,
        steps=REFERENCE_STEPS,
        timesteps=1000,
        sampling_timesteps=SAMPLING_STEPS,
        beta_schedule="cosine",
    )
    theirs = ddp.GaussianDiffusion(
        ddp.Unet(**CONFIG),
        image_size=IMAGE_SIZE,
        timesteps=1000,
        sampling_timesteps=SAMPLING_STEPS,
        beta_schedule="cosine",
        objective="pred_noise",
    )
    return ours, theirs


def _train_step(diffusion: torch.nn.Module, batch: torch.Tensor) -> callable:
    opt = torch.optim.Adam(diffusion.parameters(), lr=1e-4)

    def step() -> None:
        loss = diffusion(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def run() -> list[BenchResult]:
    torch.manual_seed(0)
    ours, theirs = _pair()
    batch = torch.rand(TRAIN_BATCH, 3, IMAGE_SIZE, IMAGE_SIZE)
    train_ours, train_theirs = interleaved(
        _train_step(ours, batch), _train_step(theirs, batch), repeat=7
    )

    shape = (SAMPLE_BATCH, 3, IMAGE_SIZE, IMAGE_SIZE)
    ours.eval(), theirs.eval()
    sample_ours, sample_theirs = interleaved(
        lambda: sample_with_progress(ours, SAMPLE_BATCH, path=None),  # the instructor's loop
        lambda: theirs.ddim_sample(shape),
        repeat=3,
    )
    setup = f"dim={CONFIG['dim']}, dim_mults={CONFIG['dim_mults']}, {IMAGE_SIZE}px"
    return [
        BenchResult(
            f"train step, batch {TRAIN_BATCH}, {setup}",
            train_ours,
            train_theirs,
            "lucidrains 2.3.4",
            "ratio <= 1.0",
        ),
        BenchResult(
            f"DDIM {SAMPLING_STEPS} steps, {SAMPLE_BATCH} images, {setup}",
            sample_ours,
            sample_theirs,
            "lucidrains 2.3.4",
            "ratio <= 1.0",
        ),
    ]
