r"""The three pieces of the diffusion process that students write (TODO 1-1-1 to 1-1-3).

:class:`helpers.diffusion.GaussianDiffusion` does everything else (training loss,
model predictions, DDPM and DDIM sampling) and calls these three functions through a
:class:`DiffusionSteps` bundle. The versions here are the blanks a student receives:
each raises ``NotImplementedError`` naming its TODO. The notebook passes the student's
own functions; the instructor-only reference lives in ``grading/reference``.

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
    r"""TODO 1-1-1: build the noise schedule.

    Pick the beta schedule called ``beta_schedule`` (``helpers.schedules.get_beta_schedule``
    gives the function; pass it ``timesteps`` and ``schedule_kwargs``), then return

    .. math:: \beta_t, \qquad \alpha_t = 1 - \beta_t, \qquad \bar\alpha_t = \prod_{s=1}^{t} \alpha_s

    as three tensors of shape ``(timesteps,)``, keeping the schedule's float64 dtype.
    """
    raise NotImplementedError("TODO 1-1-1 (schedule init): return betas, alphas, alphas_bar")


def denoise_forward(
    alphas_bar: torch.Tensor, x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    r"""TODO 1-1-2: sample :math:`x_t \sim q(x_t \mid x_0)` in one shot.

    .. math:: x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon

    ``x_start`` is :math:`x_0` and ``noise`` is :math:`\epsilon`, both ``(B, C, H, W)``;
    use :func:`extract` to read :math:`\bar\alpha_t` for each image.
    """
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
    r"""TODO 1-1-3: one DDIM step from :math:`x_t` to :math:`x_{t_{prev}}` (Song et al., 2021, eq. 12).

    .. math::

        \sigma_t^2 = \eta^2\,\frac{1-\bar\alpha_{prev}}{1-\bar\alpha_t}
                     \Big(1 - \frac{\bar\alpha_t}{\bar\alpha_{prev}}\Big), \qquad
        x_{prev} = \sqrt{\bar\alpha_{prev}}\,\hat x_0
                   + \sqrt{1 - \bar\alpha_{prev} - \sigma_t^2}\,\hat\epsilon
                   + \sigma_t\, z

    ``pred_x_start`` is :math:`\hat x_0`, ``pred_noise`` is :math:`\hat\epsilon`, ``noise``
    is :math:`z`. ``t`` and ``t_prev`` are ``(B,)`` tensors with ``0 <= t_prev < t``
    (the caller handles the final jump to :math:`\hat x_0`). ``eta = 0`` is
    deterministic DDIM; ``eta = 1`` with ``t_prev = t - 1`` is DDPM.
    """
    raise NotImplementedError("TODO 1-1-3 (DDIM backward step): return x_prev")


@dataclass(frozen=True)
class DiffusionSteps:
    """The three student-written functions that :class:`GaussianDiffusion` calls."""

    schedule_init: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    denoise_forward: Callable[..., torch.Tensor]
    denoise_backward: Callable[..., torch.Tensor]


STUDENT_STEPS = DiffusionSteps(schedule_init, denoise_forward, denoise_backward)
