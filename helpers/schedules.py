r"""Noise schedules: the sequence :math:`\beta_1, \dots, \beta_T` of a diffusion process.

A schedule fixes how much Gaussian noise each forward step adds:

.. math::

    q(x_t \mid x_{t-1}) = \mathcal{N}\big(\sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\big),
    \qquad \alpha_t = 1 - \beta_t,
    \qquad \bar\alpha_t = \prod_{s \le t} \alpha_s .

Every function returns ``betas`` as a float64 tensor of shape ``(T,)``. They are
computed in float64 because :math:`\bar\alpha_t` is a long product of numbers close
to 1: in float32 its last digits drift for T = 10 000. The diffusion stores them as
float32 buffers afterwards.

Conventions follow DDPM (Ho et al., 2020), improved DDPM (Nichol & Dhariwal, 2021)
and lucidrains' ``denoising-diffusion-pytorch``, so that results agree with both that
library and diffusers (``linear``, ``squaredcos_cap_v2``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = [
    "linear_beta_schedule",
    "cosine_beta_schedule",
    "sigmoid_beta_schedule",
    "BETA_SCHEDULES",
    "get_beta_schedule",
]

# Betas above this make alpha_t almost 0 near t = T; improved DDPM clips there.
MAX_BETA = 0.999


def linear_beta_schedule(timesteps: int) -> torch.Tensor:
    r"""DDPM's linear schedule, rescaled so that any T spans the same total noise.

    .. math:: \beta_t = \text{linspace}\big(10^{-4} \cdot \tfrac{1000}{T},\ 0.02 \cdot \tfrac{1000}{T},\ T\big)

    With T = 1000 this is exactly DDPM's 1e-4 → 0.02. The factor 1000 / T keeps
    :math:`\bar\alpha_T` close to DDPM's value when T changes; without it, T = 10 000
    would destroy the image long before the last step.
    """
    _check_timesteps(timesteps)
    if timesteps <= 20:
        # beta_T = 0.02 * 1000 / T reaches 1 at T = 20 (alpha_T = 0): x_T would no longer be a mixture.
        raise ValueError(f"the linear schedule needs more than 20 timesteps, got {timesteps}")
    scale = 1000 / timesteps
    return torch.linspace(scale * 1e-4, scale * 0.02, timesteps, dtype=torch.float64)


def cosine_beta_schedule(timesteps: int, s: float = 0.008) -> torch.Tensor:
    r"""Improved DDPM's cosine schedule, defined through :math:`\bar\alpha_t`.

    .. math::

        f(t) = \cos^2\!\Big(\frac{t/T + s}{1 + s}\cdot\frac{\pi}{2}\Big), \qquad
        \bar\alpha_t = \frac{f(t)}{f(0)}, \qquad
        \beta_t = \min\Big(1 - \frac{\bar\alpha_t}{\bar\alpha_{t-1}},\ 0.999\Big)

    The small offset ``s`` keeps :math:`\beta_1` from being vanishingly small.
    """
    _check_timesteps(timesteps)
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi * 0.5) ** 2
    return _betas_from_alphas_bar(f / f[0])


def sigmoid_beta_schedule(
    timesteps: int, start: float = -3.0, end: float = 3.0, tau: float = 1.0
) -> torch.Tensor:
    r"""Sigmoid schedule (Jabri et al., 2022), also defined through :math:`\bar\alpha_t`.

    .. math::

        \bar\alpha_t \propto \sigma\big(\tfrac{end}{\tau}\big)
            - \sigma\Big(\frac{(t/T)(end - start) + start}{\tau}\Big)

    normalised so that :math:`\bar\alpha_0 = 1`, with betas clipped at 0.999. It adds
    noise more slowly than the cosine schedule at both ends; it suits larger images.
    """
    _check_timesteps(timesteps)
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64) / timesteps
    v_start = torch.tensor(start / tau, dtype=torch.float64).sigmoid()
    v_end = torch.tensor(end / tau, dtype=torch.float64).sigmoid()
    alphas_bar = (v_end - ((t * (end - start) + start) / tau).sigmoid()) / (v_end - v_start)
    return _betas_from_alphas_bar(alphas_bar / alphas_bar[0])


BETA_SCHEDULES: dict[str, Callable[..., torch.Tensor]] = {
    "linear": linear_beta_schedule,
    "cosine": cosine_beta_schedule,
    "sigmoid": sigmoid_beta_schedule,
}


def get_beta_schedule(name: str) -> Callable[..., torch.Tensor]:
    """Return the schedule function called ``name`` ("linear", "cosine" or "sigmoid")."""
    try:
        return BETA_SCHEDULES[name]
    except KeyError:
        known = ", ".join(repr(k) for k in BETA_SCHEDULES)
        raise ValueError(f"unknown beta schedule {name!r}: choose one of {known}") from None


def _betas_from_alphas_bar(alphas_bar: torch.Tensor) -> torch.Tensor:
    betas = 1 - alphas_bar[1:] / alphas_bar[:-1]
    return betas.clamp(0, MAX_BETA)


def _check_timesteps(timesteps: int) -> None:
    if int(timesteps) != timesteps or timesteps < 1:
        raise ValueError(f"timesteps must be a positive integer, got {timesteps!r}")
