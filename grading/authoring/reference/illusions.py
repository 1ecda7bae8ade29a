"""Reference solution of TODO 2-3: the multi-view denoising loop.

The contract (arguments, UNet batch layout, the five steps) is the notebook's markdown cell
``md_loop``; the notebook's solution cell is written from this code (``python -m grading.authoring.solutions``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from helpers.illusions.sampler import (
    apply_views,
    classifier_free_guidance,
    invert_views,
    reduce_views,
    split_noise_variance,
)
from helpers.illusions.views import View


# Copied from helpers.illusions.sampler.denoising_loop (signature)
@torch.no_grad()
def denoising_loop(
    model: Any,
    noisy_images: torch.Tensor,
    prompt_embeds: torch.Tensor,
    views: Sequence[View],
    timesteps: Iterable[torch.Tensor],
    guidance_scale: float,
    generator: torch.Generator | None,
    noise_level: torch.Tensor | None = None,
    upscaled: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    channels = noisy_images.shape[1]
    for i, t in enumerate(timesteps):
        x = noisy_images if upscaled is None else torch.cat([noisy_images, upscaled], dim=1)
        viewed = apply_views(views, x)
        model_input = model.scheduler.scale_model_input(torch.cat([viewed, viewed]), t)
        pred = model.unet(
            model_input,
            t,
            encoder_hidden_states=prompt_embeds,
            class_labels=noise_level,
            return_dict=False,
        )[0]
        uncond, cond = (invert_views(views, half) for half in pred.chunk(2))
        # IF drops the unconditional variance.
        noise_uncond, _ = split_noise_variance(uncond, channels)
        noise_cond, variance = split_noise_variance(cond, channels)
        noise = classifier_free_guidance(noise_uncond, noise_cond, guidance_scale)
        pred = torch.cat(
            [reduce_views(noise, reduction, i), reduce_views(variance, reduction, i)], dim=1
        )
        noisy_images = model.scheduler.step(
            pred, t, noisy_images, generator=generator, return_dict=False
        )[0]
    return noisy_images
