"""Reference solutions of TODO 1-1-1 (schedule init), 1-1-2 (forward) and 1-1-3 (DDIM step).

The contracts are the notebook's markdown cells (named in the blanks of ``helpers.todos``);
the notebook's solution cells are written from this code (``python -m grading.authoring.solutions``).
"""

from __future__ import annotations

import torch

from helpers.schedules import get_beta_schedule
from helpers.todos import DiffusionSteps, extract


# Copied from helpers.todos.schedule_init (signature)
def schedule_init(
    timesteps: int, beta_schedule: str, **schedule_kwargs: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    betas = get_beta_schedule(beta_schedule)(timesteps, **schedule_kwargs)
    alphas = 1.0 - betas
    alphas_bar = torch.cumprod(alphas, dim=0)
    return betas, alphas, alphas_bar


# Copied from helpers.todos.denoise_forward (signature)
def denoise_forward(
    alphas_bar: torch.Tensor, x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    alpha_bar_t = extract(alphas_bar, t, x_start.shape)
    return alpha_bar_t.sqrt() * x_start + (1.0 - alpha_bar_t).sqrt() * noise


# Copied from helpers.todos.denoise_backward (signature)
def denoise_backward(
    alphas_bar: torch.Tensor,
    pred_x_start: torch.Tensor,
    pred_noise: torch.Tensor,
    t: torch.Tensor,
    t_prev: torch.Tensor,
    noise: torch.Tensor,
    eta: float,
) -> torch.Tensor:
    alpha_bar_t = extract(alphas_bar, t, pred_x_start.shape)
    alpha_bar_prev = extract(alphas_bar, t_prev, pred_x_start.shape)
    # Same operation order as lucidrains' ddim_sample, so that whole trajectories agree
    # to the last bit: small rounding differences grow along a stochastic chain.
    sigma = (
        eta
        * (
            (1.0 - alpha_bar_t / alpha_bar_prev) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t)
        ).sqrt()
    )
    direction = (1.0 - alpha_bar_prev - sigma**2).sqrt()
    return pred_x_start * alpha_bar_prev.sqrt() + direction * pred_noise + sigma * noise


REFERENCE_STEPS = DiffusionSteps(schedule_init, denoise_forward, denoise_backward)
