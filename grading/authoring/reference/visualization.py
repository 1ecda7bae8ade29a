"""Reference solutions of TODO 1-2-1 (sampling loop with progress) and 1-2-2 (loss curve).

The notebook's solution cells are written from this code (``python -m grading.authoring.solutions``);
the hidden tests compare a student's functions with these.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch

from helpers.diffusion import GaussianDiffusion, unnormalize
from helpers.figures import plot_denoising_progress


@torch.inference_mode()
def sample_with_progress(
    diffusion: GaussianDiffusion,
    batch_size: int,
    eta: float | None = None,
    generator: torch.Generator | None = None,
    path: str | None = "denoising_progress.png",
) -> tuple[torch.Tensor, torch.Tensor]:
    eta = diffusion.ddim_sampling_eta if eta is None else eta
    shape = (batch_size, diffusion.channels, *diffusion.image_size)
    img = torch.randn(shape, generator=generator).to(diffusion.device)
    imgs = [img]
    x_start = None
    for t, t_prev in diffusion.ddim_time_pairs():
        batched_t = torch.full((batch_size,), t, dtype=torch.long, device=diffusion.device)
        self_cond = x_start if diffusion.self_condition else None
        pred_noise, x_start = diffusion.model_predictions(
            img, batched_t, self_cond, clip_x_start=True, rederive_pred_noise=True
        )
        if t_prev < 0:
            img = x_start
        else:
            noise = torch.randn(shape, generator=generator).to(diffusion.device)
            batched_prev = torch.full_like(batched_t, t_prev)
            img = diffusion.steps.denoise_backward(
                diffusion.alphas_bar, x_start, pred_noise, batched_t, batched_prev, noise, eta
            )
        imgs.append(img)
    trajectory = unnormalize(torch.stack(imgs, dim=1))
    plot_denoising_progress(trajectory, path, times=diffusion.trajectory_times(), max_columns=11)
    return trajectory[:, -1], trajectory


def plot_losses(losses: Sequence[float]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(range(1, len(losses) + 1), list(losses), label="loss per step")
    ax.set_xlabel("training step")
    ax.set_ylabel("MSE loss")
    ax.set_title("Training loss")
    ax.legend()
    return fig
