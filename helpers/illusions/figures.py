"""Figures for an illusion: its views side by side with prompts and scores, and a GIF animation.

Images are IF outputs: ``(3, H, W)`` tensors in ``[-1, 1]``. CLIP scores are passed in as
numbers (``helpers.metrics.clip_score`` computes them); the label says which model and scale
they are on, since raw cosines and torchmetrics' ``100 x cos`` differ by a factor of 100.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from helpers.illusions.views import View

__all__ = [
    "to_pil",
    "views_figure",
    "from_afar",
    "hybrid_figure",
    "animation_frames",
    "save_animation",
]


def to_pil(image: torch.Tensor) -> Image.Image:
    """A ``(3, H, W)`` image in ``[-1, 1]`` as an 8-bit PIL image."""
    array = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
    return Image.fromarray(array.permute(1, 2, 0).numpy())


def views_figure(
    image: torch.Tensor,
    views: Sequence[View],
    prompts: Sequence[str],
    clip_scores: Sequence[float] | None = None,
    score_label: str = "CLIP score",
    wrap: int = 32,
):
    """One panel per view: ``view(image)`` titled with its prompt and, if given, its score.

    Returns the matplotlib figure (``fig.savefig(...)`` to keep it).
    """
    import matplotlib.pyplot as plt

    if image.dim() == 4:
        image = image[0]
    if not len(views) == len(prompts) == len(clip_scores or prompts):
        raise ValueError(
            f"{len(views)} views, {len(prompts)} prompts and {len(clip_scores or [])} scores: give one of each per view"
        )
    fig, axes = plt.subplots(1, len(views), figsize=(3.2 * len(views), 4.2), squeeze=False)
    for k, (ax, view, prompt) in enumerate(zip(axes[0], views, prompts, strict=True)):
        ax.imshow(to_pil(view.view(image)))
        title = textwrap.fill(prompt, wrap)
        if clip_scores is not None:
            title += f"\n{score_label}: {clip_scores[k]:.4f}"
        ax.set_title(f"{type(view).__name__}\n{title}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def from_afar(image: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """``image`` as seen from ``factor`` times farther away: ``factor`` times fewer pixels."""
    return F.interpolate(image[None].float(), scale_factor=1 / factor, mode="area")[0]


def hybrid_figure(image: torch.Tensor, prompts: Sequence[str], scorer=None, wrap: int = 32):
    """A hybrid image read both ways: from afar (``prompts[0]``) and close up (``prompts[1]``).

    "From afar" is the image at a quarter of its size, drawn small; with a ``scorer``
    (:class:`~helpers.metrics.ClipScorer`), each reading is titled with its CLIP score
    for both prompts. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if image.dim() == 4:
        image = image[0]
    readings = {"from afar": from_afar(image), "close up": image.float()}
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 4.2), gridspec_kw={"width_ratios": [1, 4]})
    for k, (ax, (name, shown)) in enumerate(zip(axes, readings.items(), strict=True)):
        ax.imshow(to_pil(shown))
        title = f"{name}: {textwrap.fill(prompts[k], wrap)}"
        if scorer is not None:
            cosines = scorer.score([(shown.clamp(-1, 1) + 1) / 2] * 2, list(prompts)).cosines
            title += f"\nCLIP: {cosines[k]:.3f} (other prompt {cosines[1 - k]:.3f})"
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def animation_frames(
    image: torch.Tensor, view: View, frames: int = 24, hold: int = 8, loop: bool = True
) -> list[Image.Image]:
    """Frames going from ``image`` to ``view(image)`` and back, holding each end ``hold`` frames.

    The motion is the view's ``animate`` (a rotation turns, a flip turns over, other views
    cross-fade); the end frames are exact, only the frames in between interpolate.
    ``loop=False`` gives only the ``frames`` frames of the way there (for a slider).
    """
    if image.dim() == 4:
        image = image[0]
    image = image.detach().float().cpu()
    animate = getattr(view, "animate", None)
    if animate is None:  # a view written from scratch, without the kit's base class
        animate = View.animate.__get__(view)
    steps = [animate(image, s) for s in np.linspace(0.0, 1.0, frames)]
    steps[0], steps[-1] = image, view.view(image)
    forward = [to_pil(frame) for frame in steps]
    if not loop:
        return forward
    return [forward[0]] * hold + forward + [forward[-1]] * hold + forward[::-1]


def save_animation(
    image: torch.Tensor,
    view: View,
    path: str | Path,
    frames: int = 24,
    hold: int = 8,
    frame_ms: int = 50,
) -> Path:
    """Write the :func:`animation_frames` of ``image`` under ``view`` as a looping GIF."""
    path = Path(path)
    first, *rest = animation_frames(image, view, frames, hold)
    first.save(path, save_all=True, append_images=rest, duration=frame_ms, loop=0)
    return path
