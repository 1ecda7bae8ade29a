"""Tiny stand-ins with random weights for the networks the kit otherwise downloads.

The tests and the notebooks' test cells use them in place of DeepFloyd IF (stage I and
II), T5 prompt embeddings, CLIP and the FID Inception, and Part 1's smoke mode uses the
random Inception; the Part 1 notebook's test cells and the test suite share
:func:`tiny_diffusion`. (Part 2's smoke mode samples with trained toy models instead:
:mod:`helpers.illusions.toy_models`.) They are built from
configs in a second, so every code path around the real models runs; their outputs are
noise, so only shapes, equivalences and the plumbing mean anything, never the scores.

The IF UNet configs are diffusers' own IF test components (tests/pipelines/deepfloyd_if),
at a smaller ``sample_size`` and with the default attention processor (fused
scaled-dot-product attention, as real IF runs; diffusers' tests swap in the unfused one,
whose cost grows faster than the batch); the schedulers carry IF's real settings. Prompts
enter as random embeddings, so no text encoder or tokenizer is needed.

diffusers and transformers are imported inside the functions: they take seconds to import.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from helpers.diffusion import GaussianDiffusion
from helpers.illusions.models import PromptEmbeddings
from helpers.illusions.views import View
from helpers.todos import DiffusionSteps, extract
from helpers.unet import UNet

if TYPE_CHECKING:
    from diffusers import IFPipeline, IFSuperResolutionPipeline
    from transformers import CLIPModel, CLIPProcessor, CLIPTokenizer

    from helpers.metrics.inception import FIDInceptionV3

__all__ = [
    "TINY_UNET",
    "tiny_unet",
    "tiny_diffusion",
    "EMBED_DIM",
    "IF_SCHEDULER",
    "tiny_stage_1",
    "tiny_stage_2",
    "tiny_embeddings",
    "stand_in_views",
    "loop_cases",
    "letter_tokenizer",
    "tiny_clip",
    "random_fid_inception",
]

# Small enough that the Part 1 model samples in a blink on a CPU.
TINY_UNET = dict(dim=8, dim_mults=(1, 2), attn_heads=2, attn_dim_head=8)


def tiny_unet(**overrides: object) -> UNet:
    """The Part 1 UNet at :data:`TINY_UNET`, with ``overrides`` of its arguments."""
    return UNet(**{**TINY_UNET, **overrides})


def tiny_diffusion(
    steps: DiffusionSteps,
    timesteps: int = 100,
    sampling_timesteps: int = 10,
    beta_schedule: str = "cosine",
    seed: int = 0,
    unet: dict | None = None,
    **overrides: object,
) -> GaussianDiffusion:
    """A 16 px :class:`GaussianDiffusion` on :func:`tiny_unet`, seeded, in eval mode.

    ``steps`` are the three TODO functions it runs (a student's or the reference); ``unet``
    overrides the UNet's arguments and ``overrides`` the diffusion's.
    """
    torch.manual_seed(seed)
    return GaussianDiffusion(
        tiny_unet(**(unet or {})),
        image_size=16,
        steps=steps,
        timesteps=timesteps,
        sampling_timesteps=sampling_timesteps,
        beta_schedule=beta_schedule,
        **overrides,
    ).eval()


def _stand_in_schedule(
    timesteps: int, beta_schedule: str, **schedule_kwargs: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # alphas_bar falls linearly from 0.999 to 0.001 whatever the name asks for: a schedule
    # the sampler can run on that is none of TODO 1-1-1's, so it answers nothing there.
    alphas_bar = torch.linspace(0.999, 0.001, timesteps, dtype=torch.float64)
    alphas = alphas_bar / F.pad(alphas_bar[:-1], (1, 0), value=1.0)
    return 1 - alphas, alphas, alphas_bar


def _stand_in_step(
    alphas_bar: torch.Tensor,
    x0: torch.Tensor,
    eps: torch.Tensor,
    t: torch.Tensor,
    t_prev: torch.Tensor,
    z: torch.Tensor,
    eta: float,
) -> torch.Tensor:
    ab_prev = extract(alphas_bar, t_prev, x0.shape)
    return ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps + 0.1 * eta * z


def stand_in_steps() -> DiffusionSteps:
    """Steps for testing the sampling loop (TODO 1-2-1) alone: a schedule linear in
    alphas_bar (none of TODO 1-1-1's) and a simple step that is not DDIM (its noise is
    ``0.1 * eta * z``, not sigma_t's), so that a mistake in TODO 1-1-1 or 1-1-3 costs the
    loop's test nothing, and the kit gives away neither of those answers. The forward
    process is not used by sampling."""
    return DiffusionSteps(_stand_in_schedule, None, _stand_in_step)


LOOP_CASES = Path(__file__).parent / "fixtures" / "sampling_loop.pt"
"""The instructor's loop (TODO 1-2-1) on :func:`tiny_diffusion` with :func:`stand_in_steps`:
a few trajectories for the visible test to compare with (``make notebooks`` writes them).
They are outputs for two fixed seeds, not a loop: the graded cases use other models."""


def loop_cases() -> list[dict]:
    """``[{"sampling_timesteps", "eta", "seed", "trajectory"}]`` of :data:`LOOP_CASES`.

    Sample each as ``sample_with_progress(tiny_diffusion(stand_in_steps(),
    sampling_timesteps=S), 2, eta=eta, generator=torch.Generator().manual_seed(seed))``.
    """
    if not LOOP_CASES.is_file():
        raise FileNotFoundError(
            f"{LOOP_CASES} is missing: reinstall the kit (instructors: make notebooks writes it)"
        )
    return torch.load(LOOP_CASES, weights_only=True)


EMBED_DIM = 32

_UNET = dict(
    block_out_channels=(32, 64),
    down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
    mid_block_type="UNetMidBlock2DSimpleCrossAttn",
    up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
    out_channels=6,
    cross_attention_dim=EMBED_DIM,
    encoder_hid_dim=EMBED_DIM,
    attention_head_dim=8,
    addition_embed_type="text",
    addition_embed_type_num_heads=2,
    cross_attention_norm="group_norm",
    resnet_time_scale_shift="scale_shift",
    act_fn="gelu",
)

# IF's scheduler_config.json (stage I and II).
IF_SCHEDULER = dict(
    num_train_timesteps=1000,
    beta_schedule="squaredcos_cap_v2",
    beta_start=0.0001,
    beta_end=0.02,
    clip_sample=True,
    clip_sample_range=1.0,
    thresholding=True,
    dynamic_thresholding_ratio=0.95,
    sample_max_value=1.5,
    prediction_type="epsilon",
    variance_type="learned_range",
)

_OPTIONAL_NONE = dict(
    tokenizer=None,
    text_encoder=None,
    safety_checker=None,
    feature_extractor=None,
    watermarker=None,
    requires_safety_checker=False,
)


def tiny_stage_1(size: int = 16) -> IFPipeline:
    """An ``IFPipeline`` (stage I) with a random UNet of ``size`` px and IF's scheduler."""
    from diffusers import DDPMScheduler, IFPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=size, layers_per_block=1, in_channels=3, **_UNET)
    pipe = IFPipeline(unet=unet.eval(), scheduler=DDPMScheduler(**IF_SCHEDULER), **_OPTIONAL_NONE)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_stage_2(size: int = 32) -> IFSuperResolutionPipeline:
    """An ``IFSuperResolutionPipeline`` (stage II) with a random UNet of ``size`` px."""
    from diffusers import DDPMScheduler, IFSuperResolutionPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=size,
        layers_per_block=(1, 2),
        in_channels=6,
        class_embed_type="timestep",
        mid_block_scale_factor=1.414,
        time_embedding_act_fn="gelu",
        time_embedding_dim=32,
        **_UNET,
    )
    noising = DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        beta_start=0.0001,
        beta_end=0.02,
    )
    pipe = IFSuperResolutionPipeline(
        unet=unet.eval(),
        scheduler=DDPMScheduler(**IF_SCHEDULER),
        image_noising_scheduler=noising,
        **_OPTIONAL_NONE,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_embeddings(
    prompts: int | list[str] = 2, tokens: int = 7, seed: int = 0
) -> PromptEmbeddings:
    """Random "embeddings" of ``prompts`` (a count or the texts) for the tiny UNets.

    The texts are only recorded: a random vector stands in for T5's embedding of each.
    """
    texts = [f"prompt {i}" for i in range(prompts)] if isinstance(prompts, int) else list(prompts)
    gen = torch.Generator().manual_seed(seed)
    negative = torch.randn(1, tokens, EMBED_DIM, generator=gen)
    return PromptEmbeddings(
        prompts=texts,
        negative_prompt="",
        prompt_embeds=torch.randn(len(texts), tokens, EMBED_DIM, generator=gen),
        negative_prompt_embeds=negative.expand(len(texts), -1, -1).clone(),
    )


def stand_in_views() -> list[View]:
    """The identity and the upside-down flip: two exact views for the tests of TODO 2-3 (in
    the notebook and in the judge), so that those tests do not depend on TODO 2-2. Neither
    gives TODO 2-2 away: the identity is its text (v(x) = x), and a flip is not a half turn."""
    from helpers.illusions.views import VerticalFlipView

    class Same(View):
        def view(self, im: torch.Tensor) -> torch.Tensor:
            return im

        def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
            return noise

    return [Same(), VerticalFlipView()]


def random_fid_inception(seed: int = 0) -> FIDInceptionV3:
    """The FID Inception with random weights and batch-norm statistics calibrated on noise.

    PyTorch's default init with unit running variances makes the pool features vanish
    (about 1e-8) after 90 layers; one forward pass in training mode with cumulative
    averaging sets running statistics that keep the features of order 1, so that
    distances between image sets are meaningful numbers.
    """
    from helpers.metrics.inception import FIDInceptionV3  # torchvision: seconds to import

    torch.manual_seed(seed)
    model = FIDInceptionV3()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 3, 96, 96))
    return model.eval()


def letter_tokenizer(folder: str | Path) -> CLIPTokenizer:
    """A ``CLIPTokenizer`` whose vocabulary is single letters (no merges), written to ``folder``.

    Every word becomes its letters, the last one marked as a word's end: enough for tiny
    and toy CLIPs, with no vocabulary file to download.
    """
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))


def tiny_clip(folder: str | Path | None = None) -> tuple[CLIPModel, CLIPProcessor]:
    """A tiny random ``CLIPModel`` and a processor whose tokenizer knows single letters.

    The tokenizer's vocabulary files are written to ``folder`` (default: a new temporary one).
    """
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = letter_tokenizer(folder or tempfile.mkdtemp(prefix="tiny-clip-"))
    vocab = tokenizer.get_vocab()
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
    )
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
        ),
        projection_dim=16,
    )
    return CLIPModel(config).eval(), processor
