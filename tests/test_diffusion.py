"""The diffusion core and the reference TODO solutions against diffusers and lucidrains."""

from __future__ import annotations

import denoising_diffusion_pytorch.denoising_diffusion_pytorch as ddp
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from grading.authoring.reference import (
    REFERENCE_STEPS,
    denoise_backward,
    denoise_forward,
    sample_with_progress,
    schedule_init,
)
from helpers.diffusion import GaussianDiffusion
from helpers.tiny_models import tiny_unet
from helpers.todos import STUDENT_STEPS, DiffusionSteps
from tests.conftest import tiny_diffusion


def _trajectory(diffusion: GaussianDiffusion, batch: int, **kwargs) -> torch.Tensor:
    """The instructor's loop (TODO 1-2-1): the kit has none of its own."""
    return sample_with_progress(diffusion, batch, path=None, **kwargs)[1]


def _batch(t: int, n: int = 4) -> torch.Tensor:
    return torch.full((n,), t, dtype=torch.long)


@pytest.mark.parametrize("schedule", ["linear", "squaredcos_cap_v2"])
def test_forward_equals_diffusers_add_noise(schedule):
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule=schedule)
    x0, noise = torch.randn(6, 3, 8, 8), torch.randn(6, 3, 8, 8)
    t = torch.tensor([0, 1, 250, 500, 998, 999])
    ours = denoise_forward(scheduler.alphas_cumprod, x0, t, noise)
    torch.testing.assert_close(ours, scheduler.add_noise(x0, noise, t), atol=1e-6, rtol=1e-6)


def test_forward_has_the_marginal_moments_of_q():
    # x_t | x_0 ~ N(sqrt(ab) x_0, (1 - ab) I): check mean and variance on many samples.
    d = tiny_diffusion(timesteps=1000)
    x0 = torch.full((20000, 1, 1, 1), 0.7)
    for t in (10, 500, 900):
        xt = d.q_sample(x0, _batch(t, 20000), torch.randn_like(x0))
        ab = d.alphas_bar[t].item()
        assert abs(xt.mean().item() - ab**0.5 * 0.7) < 0.03
        assert abs(xt.var().item() - (1 - ab)) < 0.03


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize(("T", "S"), [(1000, 50), (1000, 100), (100, 10)])
def test_ddim_step_equals_diffusers(eta, T, S):
    scheduler = DDIMScheduler(
        num_train_timesteps=T,
        beta_schedule="squaredcos_cap_v2",
        timestep_spacing="trailing",
        clip_sample=False,
        set_alpha_to_one=True,
    )
    scheduler.set_timesteps(S)
    alphas_bar = scheduler.alphas_cumprod
    x_t = torch.randn(4, 3, 8, 8)
    for t in scheduler.timesteps[:-1].tolist():  # the last step jumps to x_0 (handled by the core)
        eps, z = torch.randn_like(x_t), torch.randn_like(x_t)
        expected = scheduler.step(eps, t, x_t, eta=eta, variance_noise=z).prev_sample
        x0 = (x_t - (1 - alphas_bar[t]).sqrt() * eps) / alphas_bar[t].sqrt()
        ours = denoise_backward(alphas_bar, x0, eps, _batch(t), _batch(t - T // S), z, eta)
        torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_ddim_with_eta_one_and_unit_gap_is_the_ddpm_posterior():
    # sigma^2 = (1-ab_prev)/(1-ab_t) * beta_t  (DDPM's beta tilde), and the mean is the
    # posterior mean coef1 * x_0 + coef2 * x_t once eps is expressed through x_t and x_0.
    # In float64: 1 - ab_t / ab_prev cancels badly in float32 for small t.
    betas, alphas, ab = schedule_init(1000, "cosine")
    x0, x_t = (
        torch.randn(4, 3, 8, 8, dtype=torch.float64),
        torch.randn(4, 3, 8, 8, dtype=torch.float64),
    )
    zero = torch.zeros_like(x0)
    for t in (1, 10, 500, 999):
        bt, bp = _batch(t), _batch(t - 1)
        beta_tilde = betas[t] * (1 - ab[t - 1]) / (1 - ab[t])
        sigma = denoise_backward(ab, zero, zero, bt, bp, torch.ones_like(x0), 1.0)
        torch.testing.assert_close(
            sigma**2, torch.full_like(x0, beta_tilde.item()), rtol=1e-9, atol=0
        )
        eps = (x_t - ab[t].sqrt() * x0) / (1 - ab[t]).sqrt()
        mean = denoise_backward(ab, x0, eps, bt, bp, zero, 1.0)
        coef1 = betas[t] * ab[t - 1].sqrt() / (1 - ab[t])
        coef2 = (1 - ab[t - 1]) * alphas[t].sqrt() / (1 - ab[t])
        torch.testing.assert_close(mean, coef1 * x0 + coef2 * x_t, rtol=1e-9, atol=1e-9)


def test_ddim_eta_zero_is_deterministic():
    d = tiny_diffusion()
    x0, eps = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    a = denoise_backward(d.alphas_bar, x0, eps, _batch(50), _batch(40), torch.randn_like(x0), 0.0)
    b = denoise_backward(d.alphas_bar, x0, eps, _batch(50), _batch(40), torch.randn_like(x0), 0.0)
    torch.testing.assert_close(a, b, atol=0, rtol=0)


def _lucidrains_pair(
    objective="pred_noise", T=100, S=10, eta=0.0, schedule="cosine", self_condition=False
):
    unet = tiny_unet(self_condition=self_condition).eval()
    ours = GaussianDiffusion(
        unet,
        image_size=16,
        steps=REFERENCE_STEPS,
        timesteps=T,
        sampling_timesteps=S,
        beta_schedule=schedule,
        objective=objective,
        ddim_sampling_eta=eta,
    )
    theirs = ddp.GaussianDiffusion(
        unet,
        image_size=16,
        timesteps=T,
        sampling_timesteps=S,
        beta_schedule=schedule,
        objective=objective,
        ddim_sampling_eta=eta,
    )
    return ours, theirs


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize(
    ("T", "S", "schedule"), [(100, 10, "cosine"), (100, 30, "linear"), (1000, 50, "sigmoid")]
)
def test_ddim_trajectory_equals_lucidrains(eta, T, S, schedule):
    ours, theirs = _lucidrains_pair(T=T, S=S, eta=eta, schedule=schedule)
    torch.manual_seed(7)
    expected = theirs.ddim_sample((2, 3, 16, 16), return_all_timesteps=True)
    torch.manual_seed(7)  # the loop draws from torch's global generator when given none
    got = _trajectory(ours, 2)
    assert got.shape == (2, S + 1, 3, 16, 16)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("objective", ["pred_x0", "pred_v"])
def test_ddim_other_objectives_and_self_condition_equal_lucidrains(objective):
    ours, theirs = _lucidrains_pair(objective=objective, eta=0.3, self_condition=True)
    torch.manual_seed(3)
    expected = theirs.ddim_sample((2, 3, 16, 16))
    torch.manual_seed(3)
    torch.testing.assert_close(_trajectory(ours, 2)[:, -1], expected, atol=1e-5, rtol=1e-5)


def test_ddim_with_eta_1_over_every_step_is_lucidrains_ddpm():
    """S = T and eta = 1: the DDIM step's sigma is the posterior's, so the loop is DDPM's
    ancestral sampling (the same random draws; equal up to rounding of the two algebras)."""
    ours, theirs = _lucidrains_pair(T=20, S=20)
    torch.manual_seed(11)
    expected = theirs.p_sample_loop((2, 3, 16, 16), return_all_timesteps=True)
    torch.manual_seed(11)
    got = _trajectory(ours, 2, eta=1.0)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("objective", ["pred_noise", "pred_x0", "pred_v"])
def test_training_loss_equals_lucidrains(objective):
    ours, theirs = _lucidrains_pair(objective=objective)
    x0 = torch.rand(4, 3, 16, 16) * 2 - 1
    t, noise = torch.tensor([0, 10, 50, 99]), torch.randn(4, 3, 16, 16)
    torch.testing.assert_close(
        ours.p_losses(x0, t, noise), theirs.p_losses(x0, t, noise), atol=1e-6, rtol=1e-5
    )


@pytest.mark.parametrize("objective", ["pred_x0", "pred_v"])
def test_objective_weights_make_every_loss_the_noise_mse(objective):
    d = tiny_diffusion(objective=objective)
    x0, noise, t = (
        torch.randn(4, 3, 16, 16),
        torch.randn(4, 3, 16, 16),
        torch.tensor([1, 20, 60, 99]),
    )
    x_t = d.q_sample(x0, t, noise)
    d.model = _Constant(torch.randn_like(x0))
    pred_noise = d.model_predictions(x_t, t).pred_noise
    expected = ((pred_noise - noise) ** 2).mean()
    torch.testing.assert_close(d.p_losses(x0, t, noise), expected, rtol=1e-3, atol=1e-5)


class _Constant(torch.nn.Module):
    """A "network" that always answers the same tensor."""

    def __init__(self, output: torch.Tensor) -> None:
        super().__init__()
        self.output = output

    def forward(self, x, time, x_self_cond=None):
        return self.output


def test_sample_shapes_dtypes_and_range():
    d = tiny_diffusion()
    traj = _trajectory(d, 3)
    assert traj.shape == (3, 11, 3, 16, 16) and traj.dtype == torch.float32
    assert traj[:, -1].min() >= 0 and traj[:, -1].max() <= 1, (
        "the last DDIM step returns the clipped x_0, in [0, 1]"
    )
    assert len(d.trajectory_times()) == traj.shape[1]


def test_generator_makes_sampling_reproducible():
    d = tiny_diffusion(ddim_sampling_eta=1.0)
    a = _trajectory(d, 2, generator=torch.Generator().manual_seed(1))
    b = _trajectory(d, 2, generator=torch.Generator().manual_seed(1))
    c = _trajectory(d, 2, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert not torch.allclose(a, c)


def test_ddim_time_pairs_span_T_to_minus_one():
    d = tiny_diffusion(timesteps=1000, sampling_timesteps=50)
    pairs = d.ddim_time_pairs()
    assert len(pairs) == 50 and pairs[0][0] == 999 and pairs[-1][1] == -1
    assert all(t > t_prev for t, t_prev in pairs)
    assert [t for t, _ in pairs] == list(range(999, -1, -20)), (
        "S=50 | T=1000: diffusers' trailing spacing"
    )


def test_training_steps_decrease_the_loss_on_a_fixed_batch():
    d = tiny_diffusion()
    x0 = torch.rand(8, 3, 16, 16) * 2 - 1
    t, noise = torch.randint(0, 100, (8,)), torch.randn(8, 3, 16, 16)
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = d.p_losses(x0, t, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"loss did not fall: {losses[0]:.3f} -> {losses[-1]:.3f}"


def test_forward_rejects_images_of_the_wrong_size():
    d = tiny_diffusion()
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 3, 16, 16\)"):
        d(torch.rand(2, 3, 32, 32))


def test_student_blanks_name_their_todo():
    with pytest.raises(NotImplementedError, match="TODO 1-1-1"):
        GaussianDiffusion(tiny_unet(), image_size=16, steps=STUDENT_STEPS)
    steps = DiffusionSteps(
        REFERENCE_STEPS.schedule_init, STUDENT_STEPS.denoise_forward, STUDENT_STEPS.denoise_backward
    )
    d = GaussianDiffusion(
        tiny_unet(),
        image_size=16,
        steps=steps,
        timesteps=10,
        sampling_timesteps=5,
        beta_schedule="cosine",
    )
    with pytest.raises(NotImplementedError, match="TODO 1-1-2"):
        d(torch.rand(2, 3, 16, 16))
    with pytest.raises(NotImplementedError, match="TODO 1-1-3"):
        _trajectory(d, 1)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (lambda b, a, ab: (b, a, ab[:-1]), r"alphas_bar as a tensor of shape \(10,\)"),
        (lambda b, a, ab: (b, b, ab), "alphas must equal 1 - betas"),
        (lambda b, a, ab: (b, a, ab.flip(0)), "alphas_bar must decrease monotonically"),
        (lambda b, a, ab: (b, a, -ab), r"alphas_bar must lie in \(0, 1\]"),
    ],
)
def test_a_wrong_schedule_init_is_explained(broken, message):
    def schedule_init(T, name, **kw):
        return broken(*REFERENCE_STEPS.schedule_init(T, name, **kw))

    steps = DiffusionSteps(
        schedule_init, REFERENCE_STEPS.denoise_forward, REFERENCE_STEPS.denoise_backward
    )
    with pytest.raises(ValueError, match=message):
        GaussianDiffusion(
            tiny_unet(), image_size=16, steps=steps, timesteps=10, beta_schedule="cosine"
        )
