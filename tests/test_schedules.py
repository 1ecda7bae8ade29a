"""Beta schedules against diffusers and lucidrains' denoising-diffusion-pytorch."""

from __future__ import annotations

import denoising_diffusion_pytorch.denoising_diffusion_pytorch as ddp
import pytest
import torch
from diffusers import DDPMScheduler

from grading.authoring.reference import schedule_init
from helpers.schedules import (
    cosine_beta_schedule,
    get_beta_schedule,
    linear_beta_schedule,
    sigmoid_beta_schedule,
)

TIMESTEPS = [50, 1000, 4000, 10000]


@pytest.mark.parametrize("T", TIMESTEPS)
def test_linear_equals_diffusers_linear_scaled_to_T(T):
    scale = 1000 / T
    scheduler = DDPMScheduler(
        num_train_timesteps=T,
        beta_schedule="linear",
        beta_start=1e-4 * scale,
        beta_end=0.02 * scale,
    )
    torch.testing.assert_close(linear_beta_schedule(T).float(), scheduler.betas, atol=1e-6, rtol=0)


@pytest.mark.parametrize("T", TIMESTEPS)
def test_cosine_equals_diffusers_squaredcos_cap_v2(T):
    scheduler = DDPMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2")
    torch.testing.assert_close(cosine_beta_schedule(T).float(), scheduler.betas, atol=1e-6, rtol=0)


@pytest.mark.parametrize("T", TIMESTEPS[1:])
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (linear_beta_schedule, ddp.linear_beta_schedule),
        (cosine_beta_schedule, ddp.cosine_beta_schedule),
    ],
)
def test_schedules_equal_lucidrains(T, ours, theirs):
    torch.testing.assert_close(ours(T), theirs(T), atol=1e-6, rtol=0)


@pytest.mark.parametrize("T", TIMESTEPS)
def test_sigmoid_equals_lucidrains(T):
    # lucidrains rounds sigmoid(+-3) to float32 before mixing it into the float64
    # schedule, which moves its last few betas by up to 7e-5 (T = 10 000). What the
    # process uses, alphas_bar, still agrees to 1e-6, and the betas agree to float64
    # precision with the same formula evaluated without that rounding.
    ours = sigmoid_beta_schedule(T)
    torch.testing.assert_close(
        torch.cumprod(1 - ours, 0),
        torch.cumprod(1 - ddp.sigmoid_beta_schedule(T), 0),
        atol=1e-6,
        rtol=0,
    )
    t = torch.linspace(0, 1, T + 1, dtype=torch.float64)
    v_start, v_end = torch.tensor([-3.0, 3.0], dtype=torch.float64).sigmoid()
    alphas_bar = (v_end - (t * 6 - 3).sigmoid()) / (v_end - v_start)
    expected = (1 - alphas_bar[1:] / alphas_bar[:-1]).clamp(0, 0.999)
    torch.testing.assert_close(ours, expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", ["linear", "cosine", "sigmoid"])
def test_schedules_are_float64_valid_betas(name):
    betas = get_beta_schedule(name)(1000)
    assert betas.dtype == torch.float64, "schedules are computed in float64"
    assert betas.shape == (1000,)
    assert (betas > 0).all() and (betas <= 0.999).all(), "betas must lie in (0, 0.999]"


def test_cosine_alphas_bar_closed_form():
    T, s = 1000, 0.008
    _, _, alphas_bar = schedule_init(T, "cosine")
    t = torch.arange(1, T + 1, dtype=torch.float64) / T
    f = torch.cos((t + s) / (1 + s) * torch.pi / 2) ** 2
    f0 = torch.cos(torch.tensor(s / (1 + s) * torch.pi / 2, dtype=torch.float64)) ** 2
    # Away from the clipped tail (last few betas reach 0.999) the product telescopes to f(t)/f(0).
    torch.testing.assert_close(alphas_bar[:-5], (f / f0)[:-5], atol=1e-12, rtol=1e-9)


def test_linear_scaling_keeps_total_noise_for_any_T():
    # The point of the 1000/T factor: alphas_bar_T stays tiny whatever T is.
    for T in (250, 1000, 10000):
        _, _, alphas_bar = schedule_init(T, "linear")
        assert alphas_bar[-1] < 1e-4, f"T={T}: the image is not destroyed at t=T"


def test_unknown_schedule_and_bad_timesteps_are_explained():
    with pytest.raises(ValueError, match="unknown beta schedule 'cosin'.*'cosine'"):
        get_beta_schedule("cosin")
    with pytest.raises(ValueError, match="positive integer"):
        linear_beta_schedule(0)
    with pytest.raises(ValueError, match="more than 20 timesteps"):
        linear_beta_schedule(10)
