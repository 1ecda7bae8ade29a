"""Shared fixtures: tiny models that run in milliseconds on a CPU."""

from __future__ import annotations

import pytest
import torch

from grading.reference import REFERENCE_STEPS
from helpers.diffusion import GaussianDiffusion
from helpers.unet import UNet


def pytest_addoption(parser):
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        help="tests/test_browser.py also writes its screenshots here (e.g. docs/screenshots); "
        "default $COURSEKIT_SCREENSHOTS",
    )


TINY_UNET = dict(dim=8, dim_mults=(1, 2), attn_heads=2, attn_dim_head=8)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


def tiny_unet(**overrides) -> UNet:
    return UNet(**{**TINY_UNET, **overrides})


def tiny_diffusion(**overrides) -> GaussianDiffusion:
    unet_kwargs = overrides.pop("unet", {})
    kwargs = dict(image_size=16, timesteps=100, sampling_timesteps=10, beta_schedule="cosine")
    kwargs.update(overrides)
    return GaussianDiffusion(tiny_unet(**unet_kwargs), steps=REFERENCE_STEPS, **kwargs)
