r"""The multi-view sampler for visual anagrams: the loop's building blocks and the stage I -> II driver.

One denoising step for ``N`` views ``v_i`` with prompts ``p_i`` (Geng et al., CVPR 2024):

.. math::

    \hat\epsilon_i = v_i^{-1}\big(\epsilon_\theta(v_i(x_t), t, \varnothing)
                     + s\,[\epsilon_\theta(v_i(x_t), t, p_i) - \epsilon_\theta(v_i(x_t), t, \varnothing)]\big),
    \qquad \hat\epsilon = \tfrac1N \textstyle\sum_i \hat\epsilon_i,

then one step of IF's DDPM scheduler with :math:`\hat\epsilon` and the (likewise averaged)
predicted variance. Since each :math:`v_i` permutes pixels, :math:`v_i(x_t)` is a noisy image
at step :math:`t` in its own right (see :mod:`helpers.illusions.views`), so every estimate is
valid and their mean denoises toward an image that fits every prompt in its view.

IF's UNets predict ``2C`` channels: ``C`` of noise and ``C`` of variance (``learned_range``).
As IF's pipelines do, guidance mixes only the noise halves, the unconditional variance is
dropped, and the conditional variance goes back to the scheduler next to the guided noise.

The loop itself is the student's TODO 2-3 (:func:`denoising_loop`); the reference lives in
``grading/authoring/reference``. Everything around it, sampling ``x_T``, stage II's upscaled and
noised condition, laying out the prompt embeddings, offloading, is :func:`sample_stage`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from helpers.illusions.models import PromptEmbeddings
from helpers.illusions.views import View

__all__ = [
    "apply_views",
    "invert_views",
    "split_noise_variance",
    "classifier_free_guidance",
    "reduce_views",
    "denoising_loop",
    "LoopFn",
    "sample_stage",
    "Illusion",
    "generate_illusion",
]


def apply_views(views: Sequence[View], images: torch.Tensor) -> torch.Tensor:
    """Every view of every image, view-major: ``(B, C, H, W) -> (N * B, C, H, W)``.

    Row ``i * B + b`` is ``views[i].view(images[b])``.
    """
    return torch.cat([view.view(images) for view in views])


def invert_views(views: Sequence[View], preds: torch.Tensor) -> torch.Tensor:
    """Undo each view on its predictions: ``(N * B, C, H, W) -> (N, B, C, H, W)``."""
    return torch.stack(
        [view.inverse_view(pred) for view, pred in zip(views, preds.chunk(len(views)), strict=True)]
    )


def split_noise_variance(pred: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split IF's ``2C``-channel prediction into noise and variance along the channel axis (-3)."""
    noise, variance = pred.split(channels, dim=-3)
    return noise, variance


def classifier_free_guidance(
    uncond: torch.Tensor, cond: torch.Tensor, scale: float
) -> torch.Tensor:
    r""":math:`\epsilon_\varnothing + s\,(\epsilon_p - \epsilon_\varnothing)`, as IF computes it."""
    return uncond + scale * (cond - uncond)


def reduce_views(per_view: torch.Tensor, reduction: str, step: int) -> torch.Tensor:
    """Combine ``(N, B, ...)`` estimates into ``(B, ...)``.

    ``"mean"`` averages the views (the method); ``"alternate"`` takes view ``step % N``, so the
    views take turns, one per step; ``"sum"`` adds them, for factorized diffusion (hybrid
    images), whose "views" are components that add up to the whole
    (:class:`~helpers.illusions.views.ComponentView`): each prompt sets one component of the
    noise estimate, e.g. the low frequencies for one prompt and the high ones for another.
    """
    if reduction == "mean":
        return per_view.mean(dim=0)
    if reduction == "alternate":
        return per_view[step % per_view.shape[0]]
    if reduction == "sum":
        return per_view.sum(dim=0)
    raise ValueError(f"unknown reduction {reduction!r}: use 'mean', 'alternate' or 'sum'")


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
    """TODO 2-3, the blank a student replaces: the contract is notebooks/part2_illusions.ipynb, cell ``md_loop``."""
    raise NotImplementedError("TODO 2-3 (denoising loop): return the denoised images")


LoopFn = Callable[..., torch.Tensor]
"""A function with :func:`denoising_loop`'s signature: the student's or the reference."""


def _conditioning_layout(embeds: torch.Tensor, negative: torch.Tensor, images: int) -> torch.Tensor:
    """``(N, L, D)`` prompt and negative embeddings -> ``(2 * N * B, L, D)``: [uncond views, cond views]."""
    return torch.cat(
        [negative.repeat_interleave(images, dim=0), embeds.repeat_interleave(images, dim=0)]
    )


def sample_stage(
    model: Any,
    embeddings: PromptEmbeddings,
    views: Sequence[View],
    loop: LoopFn,
    *,
    num_inference_steps: int,
    guidance_scale: float,
    generator: torch.Generator | None = None,
    image: torch.Tensor | None = None,
    noise_level: int = 50,
    num_images: int = 1,
    height: int | None = None,
    width: int | None = None,
    reduction: str = "mean",
    progress: bool = True,
) -> torch.Tensor:
    """Run one IF stage with ``loop`` and return its images ``(B, 3, H, W)`` in ``[-1, 1]``.

    Stage I when ``image`` is ``None``; stage II (super-resolution) when ``image`` is the stage I
    output: it is upscaled bilinearly (``align_corners=True``) and noised to ``noise_level`` with
    the pipeline's ``image_noising_scheduler``, as ``IFSuperResolutionPipeline`` does (IF's
    default level is 250; visual anagrams uses 50), and ``num_images`` is the number of images
    given. The size defaults to the UNet's ``sample_size``. Random draws (``x_T``, then stage II's condition noise) come from
    ``generator`` in the same order as diffusers' pipelines, so with one identity view this
    reproduces them.
    """
    if len(views) != embeddings.prompt_embeds.shape[0]:
        raise ValueError(
            f"{len(views)} views but {embeddings.prompt_embeds.shape[0]} prompts: give one prompt per view"
        )
    from diffusers.utils.torch_utils import randn_tensor

    unet, scheduler = model.unet, model.scheduler
    # With CPU offload the UNet's weights sit on the CPU between calls; _execution_device is
    # where diffusers' hooks run it (the GPU), as the pipelines' own __call__ uses.
    device, dtype = model._execution_device, unet.dtype
    height = height or unet.config.sample_size
    width = width or unet.config.sample_size
    if image is not None:
        num_images = image.shape[0]
    channels = unet.config.in_channels // (1 if image is None else 2)

    scheduler.set_timesteps(num_inference_steps, device=device)
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(0)
    noisy = randn_tensor(
        (num_images, channels, height, width), generator=generator, device=device, dtype=dtype
    )
    noisy = noisy * scheduler.init_noise_sigma

    upscaled = labels = None
    if image is not None:
        upscaled = F.interpolate(
            image.to(device, dtype), (height, width), mode="bilinear", align_corners=True
        )
        level = torch.full((num_images,), noise_level, device=device)
        noise = randn_tensor(upscaled.shape, generator=generator, device=device, dtype=dtype)
        upscaled = model.image_noising_scheduler.add_noise(upscaled, noise, timesteps=level)
        labels = level.repeat(2 * len(views))

    prompt_embeds = _conditioning_layout(
        embeddings.prompt_embeds.to(device, dtype),
        embeddings.negative_prompt_embeds.to(device, dtype),
        num_images,
    )
    stage = "stage I" if image is None else "stage II"
    timesteps = tqdm(scheduler.timesteps, desc=f"{stage} {height}x{width}", disable=not progress)
    out = loop(
        model,
        noisy,
        prompt_embeds,
        views,
        timesteps,
        guidance_scale,
        generator,
        noise_level=labels,
        upscaled=upscaled,
        reduction=reduction,
    )
    # With model CPU offload, move this stage's UNet off the GPU before the next stage loads.
    model.maybe_free_model_hooks()
    return out


@dataclass
class Illusion:
    """Both stages' outputs, in ``[-1, 1]``: ``stage_1`` at 64 px and ``image`` at 256 px."""

    stage_1: torch.Tensor
    image: torch.Tensor


def generate_illusion(
    stage_1: Any,
    stage_2: Any,
    embeddings: PromptEmbeddings,
    views: Sequence[View],
    loop: LoopFn,
    *,
    num_inference_steps: tuple[int, int] = (30, 30),
    guidance_scale: float = 10.0,
    noise_level: int = 50,
    reduction: str = "mean",
    seed: int | None = 0,
    num_images: int = 1,
    progress: bool = True,
) -> Illusion:
    """Stage I then stage II with the same views and ``loop`` (the student's or the reference).

    One ``torch.Generator`` seeded with ``seed`` drives both stages, so a seed names an image.
    """
    generator = None if seed is None else torch.Generator("cpu").manual_seed(seed)
    common = dict(
        guidance_scale=guidance_scale, generator=generator, reduction=reduction, progress=progress
    )
    low = sample_stage(
        stage_1,
        embeddings,
        views,
        loop,
        num_inference_steps=num_inference_steps[0],
        num_images=num_images,
        **common,
    )
    high = sample_stage(
        stage_2,
        embeddings,
        views,
        loop,
        num_inference_steps=num_inference_steps[1],
        image=low,
        noise_level=noise_level,
        **common,
    )
    return Illusion(stage_1=low, image=high)
