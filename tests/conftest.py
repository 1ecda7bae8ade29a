"""Shared fixtures: tiny models that run in milliseconds on a CPU."""

from __future__ import annotations

import pytest
import torch

from grading.reference import REFERENCE_STEPS
from helpers import tiny_models
from helpers.diffusion import GaussianDiffusion


def pytest_addoption(parser):
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        help="tests/test_browser.py also writes its screenshots here (e.g. docs/screenshots); "
        "default $COURSEKIT_SCREENSHOTS",
    )


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


def tiny_diffusion(**overrides) -> GaussianDiffusion:
    """:func:`helpers.tiny_models.tiny_diffusion` running the reference steps."""
    return tiny_models.tiny_diffusion(REFERENCE_STEPS, **overrides)
