"""Test-only feature networks: pytorch-fid's Inception on our weights, and a 16-d stand-in.

The random stand-ins that smoke mode also uses are in :mod:`helpers.tiny_models`."""

from __future__ import annotations

from unittest import mock

import torch
from torch import nn

from helpers.metrics.inception import FIDInceptionV3


def pytorch_fid_inception(ours: FIDInceptionV3):
    """pytorch-fid's own ``InceptionV3`` (block 3) holding the same weights as ``ours``."""
    import pytorch_fid.inception as pfi

    state = ours.net.state_dict()
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *args, **kwargs: state):
        return pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()


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
