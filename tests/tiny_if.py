"""Tiny random DeepFloyd IF components for CPU tests and benchmarks, built from configs.

The UNet configs are diffusers' own IF test components (tests/pipelines/deepfloyd_if), at a
smaller ``sample_size`` and with the default attention processor (fused scaled-dot-product
attention, as real IF runs; diffusers' tests swap in the unfused one, whose cost grows
faster than the batch); the schedulers carry IF's real settings. Prompts enter as random
embeddings, so no text encoder or tokenizer is needed.
"""

from __future__ import annotations

import torch
from diffusers import DDPMScheduler, IFPipeline, IFSuperResolutionPipeline, UNet2DConditionModel

from helpers.illusions.models import PromptEmbeddings

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
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=size, layers_per_block=1, in_channels=3, **_UNET)
    pipe = IFPipeline(unet=unet.eval(), scheduler=DDPMScheduler(**IF_SCHEDULER), **_OPTIONAL_NONE)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_stage_2(size: int = 32) -> IFSuperResolutionPipeline:
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


def tiny_embeddings(prompts: int = 2, tokens: int = 7, seed: int = 0) -> PromptEmbeddings:
    gen = torch.Generator().manual_seed(seed)
    negative = torch.randn(1, tokens, EMBED_DIM, generator=gen)
    return PromptEmbeddings(
        prompts=[f"prompt {i}" for i in range(prompts)],
        negative_prompt="",
        prompt_embeds=torch.randn(prompts, tokens, EMBED_DIM, generator=gen),
        negative_prompt_embeds=negative.expand(prompts, -1, -1).clone(),
    )
