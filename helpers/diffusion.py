r"""Gaussian diffusion (DDPM, Ho et al. 2020) with DDIM sampling (Song et al. 2021).

Forward process, fixed:

.. math:: q(x_t \mid x_0) = \mathcal{N}\big(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t) I\big)

Training draws :math:`t \sim U\{0, T-1\}` and :math:`\epsilon \sim \mathcal{N}(0, I)`, forms
:math:`x_t` and regresses the network's output on a target fixed by ``objective``:

=============  =====================================================================
``pred_noise``  :math:`\epsilon` (DDPM's choice; the default here)
``pred_x0``     :math:`x_0`
``pred_v``      :math:`v = \sqrt{\bar\alpha_t}\,\epsilon - \sqrt{1-\bar\alpha_t}\,x_0`
=============  =====================================================================

The per-sample MSE is weighted so that all three objectives equal the
:math:`\epsilon`-MSE of DDPM's simple loss (weights 1, SNR and SNR / (SNR + 1)).

Sampling runs DDIM over ``sampling_timesteps`` S <= T steps with the pairs of
:meth:`GaussianDiffusion.ddim_time_pairs` and stochasticity :math:`\eta`. The loop itself
is TODO 1-2-1: the kit has none, and samples only through the student's loop
(:mod:`helpers.sampling`).

The schedule initialisation, the forward sample :math:`q(x_t \mid x_0)` and the DDIM
step are the students' TODOs too: this class calls them through ``steps``
(:class:`helpers.todos.DiffusionSteps`). Everything else matches lucidrains'
``denoising-diffusion-pytorch`` 2.3.4 with ``objective='pred_noise'`` number for
number (the tests sample it with the instructor's loop and compare).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from helpers.todos import DiffusionSteps, extract

__all__ = ["GaussianDiffusion", "ModelPrediction", "OBJECTIVES"]

OBJECTIVES = ("pred_noise", "pred_x0", "pred_v")


class ModelPrediction(NamedTuple):
    pred_noise: torch.Tensor
    pred_x_start: torch.Tensor


def unnormalize(img: torch.Tensor) -> torch.Tensor:
    """Map the process's range [-1, 1] to the image range [0, 1]."""
    return (img + 1) * 0.5


class GaussianDiffusion(nn.Module):
    """Wraps a denoising network with the diffusion process and its loss.

    Args:
        model: network called as ``model(x_t, t, x_self_cond)``, with attributes
            ``channels`` and ``self_condition`` (``helpers.unet.UNet`` has them).
        image_size: side of the square images, or ``(height, width)``.
        steps: the three student functions (the notebook's TODOs); the course
            repository's ``grading.authoring.reference.REFERENCE_STEPS`` are the instructor's.
        timesteps: T, the length of the forward process.
        sampling_timesteps: S, the DDIM steps of sampling (default T).
        beta_schedule: "linear", "cosine" or "sigmoid" (``helpers.schedules``).
        objective: "pred_noise", "pred_x0" or "pred_v".
        ddim_sampling_eta: default :math:`\\eta` of DDIM sampling (0 = deterministic).

    Images go in (training) in [-1, 1], the range :mod:`helpers.data` produces and the
    process works in; samples come out in [0, 1], ready to save or show.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        image_size: int | tuple[int, int],
        steps: DiffusionSteps,
        timesteps: int = 1000,
        sampling_timesteps: int | None = None,
        beta_schedule: str = "linear",
        schedule_kwargs: dict | None = None,
        objective: str = "pred_noise",
        ddim_sampling_eta: float = 0.0,
    ) -> None:
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        self.model = model
        self.steps = steps
        self.channels = model.channels
        self.self_condition = model.self_condition
        self.image_size = (
            (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        )
        self.objective = objective
        self.beta_schedule = beta_schedule
        # What a checkpoint needs to rebuild this object (helpers.train.load_diffusion).
        self.config = dict(
            image_size=list(self.image_size),
            timesteps=timesteps,
            sampling_timesteps=sampling_timesteps,
            beta_schedule=beta_schedule,
            schedule_kwargs=dict(schedule_kwargs or {}),
            objective=objective,
            ddim_sampling_eta=ddim_sampling_eta,
        )

        betas, alphas, alphas_bar = steps.schedule_init(
            timesteps, beta_schedule, **(schedule_kwargs or {})
        )
        _check_schedule(betas, alphas, alphas_bar, timesteps)
        betas, alphas_bar = betas.double(), alphas_bar.double()
        alphas_bar_prev = F.pad(alphas_bar[:-1], (1, 0), value=1.0)

        self.num_timesteps = int(timesteps)
        self.sampling_timesteps = int(sampling_timesteps or timesteps)
        if not 1 <= self.sampling_timesteps <= self.num_timesteps:
            raise ValueError(
                f"sampling_timesteps must be between 1 and timesteps={timesteps}, "
                f"got {sampling_timesteps}"
            )
        self.ddim_sampling_eta = ddim_sampling_eta

        # Derived quantities are computed in float64 from the float64 schedule, then
        # stored as float32 like the model's weights.
        def buffer(name: str, value: torch.Tensor) -> None:
            self.register_buffer(name, value.to(torch.float32), persistent=False)

        buffer("betas", betas)
        buffer("alphas", 1.0 - betas)
        buffer("alphas_bar", alphas_bar)
        buffer("alphas_bar_prev", alphas_bar_prev)
        buffer("sqrt_recip_alphas_bar", (1.0 / alphas_bar).sqrt())
        buffer("sqrt_recipm1_alphas_bar", (1.0 / alphas_bar - 1).sqrt())
        buffer("sqrt_alphas_bar", alphas_bar.sqrt())
        buffer("sqrt_one_minus_alphas_bar", (1.0 - alphas_bar).sqrt())

        snr = alphas_bar / (1.0 - alphas_bar)
        loss_weight = {
            "pred_noise": torch.ones_like(snr),
            "pred_x0": snr,
            "pred_v": snr / (snr + 1),
        }
        buffer("loss_weight", loss_weight[objective])

    @property
    def device(self) -> torch.device:
        return self.betas.device

    # --- conversions between the three parameterisations -----------------------

    def predict_start_from_noise(
        self, x_t: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        r""":math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon) / \sqrt{\bar\alpha_t}`."""
        return (
            extract(self.sqrt_recip_alphas_bar, t, x_t.shape) * x_t
            - extract(self.sqrt_recipm1_alphas_bar, t, x_t.shape) * noise
        )

    def predict_noise_from_start(
        self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor
    ) -> torch.Tensor:
        r""":math:`\hat\epsilon = (x_t - \sqrt{\bar\alpha_t}\,x_0) / \sqrt{1-\bar\alpha_t}`."""
        return (extract(self.sqrt_recip_alphas_bar, t, x_t.shape) * x_t - x0) / extract(
            self.sqrt_recipm1_alphas_bar, t, x_t.shape
        )

    def predict_v(
        self, x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        return (
            extract(self.sqrt_alphas_bar, t, x_start.shape) * noise
            - extract(self.sqrt_one_minus_alphas_bar, t, x_start.shape) * x_start
        )

    def predict_start_from_v(
        self, x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        return (
            extract(self.sqrt_alphas_bar, t, x_t.shape) * x_t
            - extract(self.sqrt_one_minus_alphas_bar, t, x_t.shape) * v
        )

    def model_predictions(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        x_self_cond: torch.Tensor | None = None,
        clip_x_start: bool = False,
        rederive_pred_noise: bool = False,
    ) -> ModelPrediction:
        """Run the network and express its output as both predicted noise and predicted x_0.

        ``clip_x_start`` clamps the predicted x_0 to the data range [-1, 1];
        ``rederive_pred_noise`` then recomputes the noise from the clamped x_0 so the
        two stay consistent (only matters for ``pred_noise``: the other objectives
        always derive the noise from x_0).
        """
        output = self.model(x, t, x_self_cond)
        clip = (lambda v: v.clamp(-1.0, 1.0)) if clip_x_start else _identity

        if self.objective == "pred_noise":
            pred_noise = output
            x_start = clip(self.predict_start_from_noise(x, t, pred_noise))
            if clip_x_start and rederive_pred_noise:
                pred_noise = self.predict_noise_from_start(x, t, x_start)
        else:
            if self.objective == "pred_x0":
                x_start = clip(output)
            else:
                x_start = clip(self.predict_start_from_v(x, t, output))
            pred_noise = self.predict_noise_from_start(x, t, x_start)
        return ModelPrediction(pred_noise, x_start)

    # --- training -----------------------------------------------------------------

    def q_sample(self, x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Sample x_t ~ q(x_t | x_0) with the student's forward function (TODO 1-1-2)."""
        return self.steps.denoise_forward(self.alphas_bar, x_start, t, noise)

    def p_losses(
        self, x_start: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Training loss for images ``x_start`` in [-1, 1] at timesteps ``t``."""
        if noise is None:
            noise = torch.randn_like(x_start)
        x = self.q_sample(x_start, t, noise)

        # Self-conditioning (Chen et al., 2022): half of the time, feed the network its
        # own detached x_0 estimate so that at sampling time it can refine it.
        x_self_cond = None
        if self.self_condition and torch.rand(()).item() < 0.5:
            with torch.no_grad():
                x_self_cond = self.model_predictions(x, t).pred_x_start.detach()

        output = self.model(x, t, x_self_cond)
        if self.objective == "pred_noise":
            target = noise
        elif self.objective == "pred_x0":
            target = x_start
        else:
            target = self.predict_v(x_start, t, noise)

        loss = F.mse_loss(output, target, reduction="none").mean(dim=tuple(range(1, output.ndim)))
        return (loss * extract(self.loss_weight, t, loss.shape)).mean()

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Training loss on a batch of images in [-1, 1], at uniformly drawn timesteps."""
        b, c, h, w = img.shape
        if (h, w) != self.image_size or c != self.channels:
            raise ValueError(
                f"expected images of shape (B, {self.channels}, {self.image_size[0]}, "
                f"{self.image_size[1]}), got {tuple(img.shape)}: check the dataset's image size"
            )
        t = torch.randint(0, self.num_timesteps, (b,), device=img.device).long()
        return self.p_losses(img, t)

    # --- sampling -------------------------------------------------------------------

    def ddim_time_pairs(self, sampling_timesteps: int | None = None) -> list[tuple[int, int]]:
        """The (t, t_prev) pairs DDIM visits, from t = T - 1 down to t_prev = -1.

        S + 1 points evenly spaced over [-1, T - 1], truncated to integers: the
        spacing diffusers calls "trailing" when S divides T. ``t_prev = -1`` marks
        the last step, which returns the predicted x_0.
        """
        s = sampling_timesteps or self.sampling_timesteps
        times = torch.linspace(-1, self.num_timesteps - 1, steps=s + 1).int().tolist()
        times = list(reversed(times))
        return list(zip(times[:-1], times[1:], strict=True))

    def trajectory_times(self) -> list[int]:
        """The timestep of each state of a sampling trajectory: x_T first, -1 for the final sample."""
        pairs = self.ddim_time_pairs()
        return [pairs[0][0]] + [t_prev for _, t_prev in pairs]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _check_schedule(
    betas: torch.Tensor, alphas: torch.Tensor, alphas_bar: torch.Tensor, timesteps: int
) -> None:
    """Catch a broken TODO 1-1-1 at construction time, with a message that says what is wrong."""
    for name, value in (("betas", betas), ("alphas", alphas), ("alphas_bar", alphas_bar)):
        if not isinstance(value, torch.Tensor) or value.shape != (timesteps,):
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(
                f"schedule_init must return {name} as a tensor of shape ({timesteps},), got {got}"
            )
    if not torch.allclose(alphas, 1 - betas):
        raise ValueError("schedule_init: alphas must equal 1 - betas")
    if not ((alphas_bar > 0).all() and (alphas_bar <= 1).all()):
        raise ValueError("schedule_init: alphas_bar must lie in (0, 1]")
    if (alphas_bar[1:] > alphas_bar[:-1]).any():
        raise ValueError(
            "schedule_init: alphas_bar must decrease monotonically (it is a cumulative product)"
        )
