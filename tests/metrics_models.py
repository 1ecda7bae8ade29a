"""A test-only 16-d feature network.

The random stand-ins that smoke mode also uses are in :mod:`helpers.tiny_models`; pytorch-fid's
Inception on our weights, the anchor of both the FID tests and ``make bench``, is in
:mod:`benchmarks.metrics`."""

from __future__ import annotations

import torch
from torch import nn


class TinyFeatures(nn.Module):
    """A 16-d feature network that runs in microseconds, counting the images it sees."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 16, 3)
        self.images_seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images_seen += x.shape[0]
        return self.conv(x).relu().mean(dim=(2, 3))
