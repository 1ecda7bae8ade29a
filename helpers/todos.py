r"""The three pieces of the diffusion process that students write (TODO 1-1-1 to 1-1-3).

:class:`helpers.diffusion.GaussianDiffusion` does everything else (training loss,
model predictions, DDPM and DDIM sampling) and calls these three functions through a
:class:`DiffusionSteps` bundle. The versions here are the blanks a student receives:
each raises ``NotImplementedError`` naming its TODO, and its docstring names the notebook
cell that states its contract (written once, for the student who reads it). The notebook
passes the student's own functions; the instructor-only reference lives in
``grading/authoring/reference``.

Shapes used below: ``x`` is a batch ``(B, C, H, W)``; ``t`` is a ``LongTensor`` of
shape ``(B,)`` holding one timestep per image (0-based: ``t = 0`` is the first noising
step, ``t = T - 1`` the last); ``alphas_bar`` has shape ``(T,)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = [
    "DiffusionSteps",
    "STUDENT_STEPS",
    "extract",
    "schedule_init",
    "denoise_forward",
    "denoise_backward",
]


def extract(values: torch.Tensor, t: torch.Tensor, x_shape: torch.Size) -> torch.Tensor:
    """Pick ``values[t]`` for each image and shape it ``(B, 1, 1, 1)`` to broadcast over ``x``.

    >>> extract(torch.tensor([10., 20., 30.]), torch.tensor([2, 0]), (2, 3, 4, 4)).flatten()
    tensor([30., 10.])
    """
    batch = t.shape[0]
    out = values.gather(-1, t.to(values.device))
    return out.reshape(batch, *((1,) * (len(x_shape) - 1)))


def schedule_init(
    timesteps: int, beta_schedule: str, **schedule_kwargs: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TODO 1-1-1, the blank a student replaces: the contract is notebooks/part1_anime_faces.ipynb, cell ``md_schedule``."""
    raise NotImplementedError("TODO 1-1-1 (schedule init): return betas, alphas, alphas_bar")


def denoise_forward(
    alphas_bar: torch.Tensor, x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """TODO 1-1-2, the blank a student replaces: the contract is notebooks/part1_anime_faces.ipynb, cell ``md_forward``."""
    raise NotImplementedError("TODO 1-1-2 (forward process): return x_t from x_start and noise")


def denoise_backward(
    alphas_bar: torch.Tensor,
    pred_x_start: torch.Tensor,
    pred_noise: torch.Tensor,
    t: torch.Tensor,
    t_prev: torch.Tensor,
    noise: torch.Tensor,
    eta: float,
) -> torch.Tensor:
    """TODO 1-1-3, the blank a student replaces: the contract is notebooks/part1_anime_faces.ipynb, cell ``md_backward``."""
    raise NotImplementedError("TODO 1-1-3 (DDIM backward step): return x_prev")


@dataclass(frozen=True)
class DiffusionSteps:
    """The three student-written functions that :class:`GaussianDiffusion` calls."""

    schedule_init: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    denoise_forward: Callable[..., torch.Tensor]
    denoise_backward: Callable[..., torch.Tensor]


STUDENT_STEPS = DiffusionSteps(schedule_init, denoise_forward, denoise_backward)
