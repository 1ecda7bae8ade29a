"""Figures of Part 1: sample grids, the denoising-progress grid and the loss curve.

All functions take images in [0, 1] (what the samplers return) and write PNG files;
the matplotlib ones also return the figure so that a notebook shows it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["save_image_grid", "plot_denoising_progress", "smooth", "figure_contents", "same_figure"]


def save_image_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None) -> Path:
    """Save a batch ``(B, C, H, W)`` in [0, 1] as one square-ish grid."""
    # torchvision costs seconds to import (its ops load torch's compiler): only when saving,
    # so that a notebook's first cell, which imports this module, starts fast.
    from torchvision.utils import save_image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(
        images.detach().float().cpu().clamp(0, 1),
        path,
        nrow=nrow or math.ceil(math.sqrt(len(images))),
    )
    return path


def plot_denoising_progress(
    trajectory: torch.Tensor,
    path: str | os.PathLike | None = "denoising_progress.png",
    num_images: int = 5,
    times: Sequence[int] | None = None,
    max_columns: int | None = None,
    seed: int = 0,
) -> plt.Figure:
    """Rows: ``num_images`` random images of the batch; columns: the sampling steps, x_T first.

    ``trajectory`` is ``(B, S + 1, C, H, W)`` in [0, 1] (``return_all_timesteps=True``).
    ``times`` labels the columns with their timestep t; ``max_columns`` keeps evenly
    spaced columns (always the first and the last) when S is large.
    """
    b, steps = trajectory.shape[:2]
    rows = torch.randperm(b, generator=torch.Generator().manual_seed(seed))[
        : min(num_images, b)
    ].tolist()
    columns = list(range(steps))
    if max_columns and steps > max_columns:
        columns = np.unique(np.linspace(0, steps - 1, max_columns).round().astype(int)).tolist()
    # One image of all the tiles on one axes, the step labels as its ticks: a grid of
    # axes (one per tile) costs matplotlib about a second per figure, and the figure is
    # drawn in every test of TODO 1-2-1 and for every submission the autograder judges.
    tiles = trajectory[rows][:, columns].detach().float().cpu().clamp(0, 1)
    n_rows, n_cols, channels, height, width = tiles.shape
    gap = max(1, height // 8)
    mosaic = torch.ones(channels, n_rows * (height + gap) - gap, n_cols * (width + gap) - gap)
    for r in range(n_rows):
        for c in range(n_cols):
            y, x = r * (height + gap), c * (width + gap)
            mosaic[:, y : y + height, x : x + width] = tiles[r, c]
    fig, ax = plt.subplots(figsize=(1.2 * n_cols, 1.3 * n_rows))
    ax.imshow(mosaic.permute(1, 2, 0).numpy(), interpolation="nearest")
    labels = [
        f"step {j}" if times is None else (f"t={times[j]}" if times[j] >= 0 else "sample")
        for j in columns
    ]
    ax.set_xticks([c * (width + gap) + (width - 1) / 2 for c in range(n_cols)], labels, fontsize=7)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.suptitle("Denoising progress (left: pure noise x_T, right: sample)", fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def smooth(values: Sequence[float], weight: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction (TensorBoard's smoothing)."""
    out, avg = np.empty(len(values)), 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out[i] = avg / (1 - weight ** (i + 1))
    return out


def figure_contents(fig: plt.Figure) -> list[dict]:
    """What a figure shows, as data: per axes its images, line y-values, tick and axis labels."""
    axes = []
    for ax in fig.axes:
        lines = []
        for line in ax.get_lines():
            try:
                lines.append(torch.from_numpy(np.asarray(line.get_ydata(), dtype=np.float64)))
            except (TypeError, ValueError):  # y-values that are not numbers show no curve
                continue
        axes.append(
            {
                "images": [
                    torch.from_numpy(np.asarray(im.get_array(), dtype=np.float32).copy())
                    for im in ax.get_images()
                ],
                "lines": lines,
                "xticks": [str(label.get_text()) for label in ax.get_xticklabels()],
                "labels": [str(ax.get_xlabel()), str(ax.get_ylabel())],
            }
        )
    return axes


def same_figure(a: plt.Figure, b: plt.Figure) -> bool:
    """Do two figures show exactly the same images, curves and labels?"""
    mine, theirs = figure_contents(a), figure_contents(b)
    if len(mine) != len(theirs):
        return False
    for x, y in zip(mine, theirs, strict=True):
        if (x["xticks"], x["labels"]) != (y["xticks"], y["labels"]):
            return False
        for kind in ("images", "lines"):
            if len(x[kind]) != len(y[kind]):
                return False
            if not all(
                p.shape == q.shape and torch.equal(p, q)
                for p, q in zip(x[kind], y[kind], strict=True)
            ):
                return False
    return True
