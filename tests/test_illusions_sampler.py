"""The multi-view sampler against diffusers' IF pipelines, on tiny random IF components."""

from __future__ import annotations

import copy

import pytest
import torch
from diffusers import DDPMScheduler

from grading.authoring.reference import IdentityView, Rotate180View, denoising_loop
from helpers.illusions import views as V
from helpers.illusions.models import PromptEmbeddings
from helpers.illusions.sampler import generate_illusion, reduce_views, sample_stage
from helpers.tiny_models import IF_SCHEDULER, tiny_embeddings, tiny_stage_1, tiny_stage_2


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny models: thread start-up costs more than it saves, worse on a shared 2-core box.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def stage_1():
    return tiny_stage_1()


@pytest.fixture(scope="module")
def stage_2():
    return tiny_stage_2()


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _stage(model, embeddings, views, **kwargs):
    kwargs = {
        "num_inference_steps": 4,
        "guidance_scale": 7.0,
        "generator": _gen(),
        "progress": False,
        **kwargs,
    }
    return sample_stage(model, embeddings, views, denoising_loop, **kwargs)


@pytest.mark.parametrize("size", [None, 24])
def test_identity_view_reproduces_if_pipeline(stage_1, size):
    embeddings = tiny_embeddings(prompts=1)
    expected = stage_1(
        prompt_embeds=embeddings.prompt_embeds,
        negative_prompt_embeds=embeddings.negative_prompt_embeds,
        num_inference_steps=4,
        guidance_scale=7.0,
        generator=_gen(),
        height=size,
        width=size,
        output_type="pt",
    ).images
    ours = _stage(stage_1, embeddings, [IdentityView()], height=size, width=size)
    assert ours.shape == (1, 3, size or 16, size or 16)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)


def test_identity_view_reproduces_if_superresolution_pipeline(stage_2):
    embeddings = tiny_embeddings(prompts=1)
    low = torch.rand(1, 3, 16, 16, generator=_gen(5)) * 2 - 1
    expected = stage_2(
        image=low,
        prompt_embeds=embeddings.prompt_embeds,
        negative_prompt_embeds=embeddings.negative_prompt_embeds,
        num_inference_steps=3,
        guidance_scale=7.0,
        noise_level=50,
        generator=_gen(),
        output_type="pt",
    ).images
    ours = _stage(
        stage_2, embeddings, [IdentityView()], image=low, noise_level=50, num_inference_steps=3
    )
    assert ours.shape == (1, 3, 32, 32)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)


def test_two_identical_views_equal_one(stage_1):
    one = tiny_embeddings(prompts=1)
    two = PromptEmbeddings(
        one.prompts * 2,
        "",
        one.prompt_embeds.repeat(2, 1, 1),
        one.negative_prompt_embeds.repeat(2, 1, 1),
    )
    single = {
        type(v).__name__: _stage(stage_1, one, [v]) for v in (IdentityView(), Rotate180View())
    }
    for view in (IdentityView(), Rotate180View()):
        # A batch of 4 instead of 2 changes float32 GEMM blocking: ~3e-6 per UNet call, grown by 4 steps.
        torch.testing.assert_close(
            _stage(stage_1, two, [view, view]), single[type(view).__name__], rtol=0, atol=3e-4
        )
    # ... while a real second view changes the image far beyond that tolerance.
    mixed = _stage(stage_1, two, [IdentityView(), Rotate180View()])
    assert (mixed - single["IdentityView"]).abs().max() > 1e-2


class _StubUNet(torch.nn.Module):
    """Predicts noise = the input's first 3 channels x 1 (unconditional) or x 2(i + 1) (conditional,
    view i of a batch of ``batch``), and a variance of 0.1 (unconditional) or 0.3 (conditional)."""

    def __init__(self, channels: int, batch: int):
        super().__init__()
        self.batch = batch
        self.inputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
        self.config = type("Config", (), {"sample_size": 8, "in_channels": channels})()

    def forward(self, x, t, encoder_hidden_states, class_labels=None, return_dict=True):
        self.inputs.append((x.clone(), encoder_hidden_states, class_labels))
        half = x.shape[0] // 2
        view_index = torch.arange(half) // self.batch
        scale = torch.cat([torch.ones(half), 2.0 * (view_index + 1)]).view(-1, 1, 1, 1)
        variance = (
            torch.tensor([0.1] * half + [0.3] * half).view(-1, 1, 1, 1).expand(-1, 3, *x.shape[-2:])
        )
        return (torch.cat([x[:, :3] * scale, variance], dim=1),)


@pytest.mark.parametrize("stage_two", [False, True])
def test_one_step_batches_views_inverts_guides_and_drops_uncond_variance(stage_two):
    views = [IdentityView(), Rotate180View(), V.JigsawView(grid=2, seed=1)]
    batch, guidance = 2, 5.0
    unet = _StubUNet(6 if stage_two else 3, batch)
    model = type("Model", (), {"unet": unet, "scheduler": DDPMScheduler(**IF_SCHEDULER)})()
    model.scheduler.set_timesteps(10)
    t = model.scheduler.timesteps[:1]
    x = torch.randn(batch, 3, 8, 8, generator=_gen(1))
    upscaled = torch.randn(batch, 3, 8, 8, generator=_gen(2)) if stage_two else None
    embeds = torch.randn(2 * len(views) * batch, 4, 32)
    labels = torch.full((2 * len(views) * batch,), 50) if stage_two else None
    expected_scheduler = copy.deepcopy(model.scheduler)

    out = denoising_loop(
        model, x, embeds, views, t, guidance, _gen(3), noise_level=labels, upscaled=upscaled
    )

    ((model_input, seen_embeds, seen_labels),) = unet.inputs
    full = x if upscaled is None else torch.cat([x, upscaled], dim=1)
    n = len(views) * batch
    assert model_input.shape == (
        2 * n,
        full.shape[1],
        8,
        8,
    )  # all views and both halves in one call
    assert torch.equal(model_input[:n], model_input[n:])
    for i, view in enumerate(views):
        for b in range(batch):  # every image, not only image 0
            assert torch.equal(model_input[i * batch + b], view.view(full[b]))
    assert seen_embeds is embeds and seen_labels is labels
    # View i's inverted guided noise is x + s (2(i + 1) - 1) x only if its prediction was inverted
    # with its own view; the mean over i = 0, 1, 2 is (1 + 3 s) x, up to rounding. The variance
    # is the conditional one only (0.3; with the unconditional mixed in, 0.2).
    pred = torch.cat([(1 + 3 * guidance) * x, torch.full_like(x, 0.3)], dim=1)
    expected = expected_scheduler.step(pred, t[0], x, generator=_gen(3)).prev_sample
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


def test_reductions():
    per_view = torch.arange(3.0).view(3, 1, 1)
    assert reduce_views(per_view, "mean", 0).item() == 1.0
    assert [reduce_views(per_view, "alternate", i).item() for i in range(4)] == [0.0, 1.0, 2.0, 0.0]
    assert reduce_views(per_view, "sum", 0).item() == 3.0
    with pytest.raises(ValueError, match="mean"):
        reduce_views(per_view, "median", 0)


def test_generate_illusion_runs_both_stages_from_an_embeddings_file(stage_1, stage_2, tmp_path):
    tiny_embeddings(prompts=2).save(tmp_path / "embeds.pt")
    embeddings = PromptEmbeddings.load(tmp_path / "embeds.pt")
    views = [IdentityView(), V.NegateView()]
    run = lambda: generate_illusion(  # noqa: E731
        stage_1,
        stage_2,
        embeddings,
        views,
        denoising_loop,
        num_inference_steps=(3, 2),
        seed=7,
        progress=False,
    )
    first, second = run(), run()
    assert first.stage_1.shape == (1, 3, 16, 16) and first.image.shape == (1, 3, 32, 32)
    assert torch.isfinite(first.image).all()
    assert torch.equal(first.image, second.image)  # a seed names an image


def test_sampler_keeps_the_model_dtype(stage_1):
    model = copy.deepcopy(stage_1).to(torch.bfloat16)
    out = _stage(
        model,
        tiny_embeddings(prompts=2),
        [IdentityView(), V.HorizontalFlipView()],
        num_inference_steps=2,
    )
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_one_prompt_per_view_and_the_blank_loop_names_its_todo(stage_1):
    from helpers.illusions.sampler import denoising_loop as blank

    with pytest.raises(ValueError, match="one prompt per view"):
        _stage(stage_1, tiny_embeddings(prompts=1), [IdentityView(), Rotate180View()])
    with pytest.raises(NotImplementedError, match="TODO 2-3"):
        sample_stage(
            stage_1,
            tiny_embeddings(prompts=1),
            [IdentityView()],
            blank,
            num_inference_steps=1,
            guidance_scale=7.0,
            progress=False,
        )


def test_hybrid_components_of_one_prompt_add_up_to_the_plain_sample(stage_1):
    # "sum" with one prompt for both components must give the plain sample back: the
    # components of one estimate add up to it, noise and variance alike.
    two = tiny_embeddings(prompts=2)
    two.prompt_embeds[1] = two.prompt_embeds[0]
    one = PromptEmbeddings(["p"], "", two.prompt_embeds[:1], two.negative_prompt_embeds[:1])
    plain = _stage(stage_1, one, [IdentityView()])
    for components in ([V.LowPassView(), V.HighPassView()], [V.GrayscaleView(), V.ColorView()]):
        hybrid = _stage(stage_1, two, components, reduction="sum")
        torch.testing.assert_close(hybrid, plain, rtol=0, atol=1e-4)
        assert not torch.allclose(
            _stage(stage_1, two, components, reduction="mean"), plain, atol=1e-2
        )
