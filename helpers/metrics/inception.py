"""The FID Inception network of pytorch-fid: 2048-d pool features for the Fréchet distance.

FID is only comparable between papers and courses when everybody uses the same network,
weights and preprocessing. This module follows pytorch-fid 0.3.0 (``InceptionV3`` with
``use_fid_inception=True``, block 3):

- weights ``pt_inception-2015-12-05-6726825d.pth``, TensorFlow's 2015 Inception ported
  to PyTorch, fetched through :mod:`helpers.weights`;
- input: RGB in [0, 1], any size, resized **bilinearly to 299×299** (``align_corners=False``,
  no antialiasing) and mapped to **[−1, 1]**;
- output: the 2048 channels of the final average pool.

The architecture is torchvision's ``Inception3`` (1008 classes, no auxiliary head) with
the blocks TensorFlow computes differently: its average pools ignore the zero padding
(``count_include_pad=False``) and the last block max-pools. The state dict has the same
keys as pytorch-fid's network, so the weights file loads unchanged.

For inference :meth:`FIDInceptionV3.optimize_for_inference` folds every batch norm into
the convolution before it (:math:`w' = w\\,\\gamma/\\sqrt{\\sigma^2+\\epsilon}`,
:math:`b' = \\beta - \\mu\\,\\gamma/\\sqrt{\\sigma^2+\\epsilon}`), which removes a pass
over every activation map, and stores the weights channels-last, the layout oneDNN and
cuDNN convolve fastest. Features change only by float rounding (about 1e-7 relative);
``make bench`` measures the gain against pytorch-fid's own network.

The code is here rather than imported from pytorch-fid because pytorch-fid is not a
dependency of the student package, only of the tests, which check that both networks
compute the same features on the same weights.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models.inception import BasicConv2d, Inception3, InceptionA, InceptionC, InceptionE

from helpers.weights import FID_INCEPTION, fetch

__all__ = ["FEATURE_DIM", "FIDInceptionV3", "load_fid_inception"]

FEATURE_DIM = 2048
INPUT_SIZE = 299


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's average pool divides by the number of real pixels, not by 9.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(InceptionA):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat(
            [self.branch1x1(x), branch5x5, branch3x3dbl, self.branch_pool(_tf_avg_pool(x))], 1
        )


class FIDInceptionC(InceptionC):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            branch7x7dbl = layer(branch7x7dbl)
        return torch.cat(
            [self.branch1x1(x), branch7x7, branch7x7dbl, self.branch_pool(_tf_avg_pool(x))], 1
        )


class FIDInceptionE(InceptionE):
    """InceptionE with TensorFlow's pooling: average (first block) or max (second block)."""

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = torch.cat(
            [self.branch3x3dbl_3a(branch3x3dbl), self.branch3x3dbl_3b(branch3x3dbl)], 1
        )
        # The ported TF graph max-pools in the last block (a quirk of that graph).
        pooled = (
            F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
            if self.max_pool
            else _tf_avg_pool(x)
        )
        return torch.cat([self.branch1x1(x), branch3x3, branch3x3dbl, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FID Inception, returning ``(N, 2048)`` pool features.

    Built with random weights; :func:`load_fid_inception` is the way to get the real ones.
    Input: ``(N, 3, H, W)`` in [0, 1].
    """

    def __init__(self) -> None:
        super().__init__()
        # init_weights=False: torchvision's truncated-normal init is slow and the weights
        # are overwritten by the file anyway.
        net = Inception3(num_classes=1008, aux_logits=False, init_weights=False)
        net.Mixed_5b = FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = FIDInceptionE(1280, max_pool=False)
        net.Mixed_7c = FIDInceptionE(2048, max_pool=True)
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = F.interpolate(
            images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False
        )
        x = 2 * x - 1
        x = F.max_pool2d(
            n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x))), kernel_size=3, stride=2
        )
        x = F.max_pool2d(n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(x)), kernel_size=3, stride=2)
        for block in (
            n.Mixed_5b,
            n.Mixed_5c,
            n.Mixed_5d,
            n.Mixed_6a,
            n.Mixed_6b,
            n.Mixed_6c,
            n.Mixed_6d,
            n.Mixed_6e,
        ):
            x = block(x)
        x = n.Mixed_7c(n.Mixed_7b(n.Mixed_7a(x)))
        return x.mean(dim=(2, 3))

    def load_pytorch_fid_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a state dict of pytorch-fid's ``fid_inception_v3()`` (the weights file's keys)."""
        self.net.load_state_dict(state_dict)

    @torch.no_grad()
    def optimize_for_inference(self) -> FIDInceptionV3:
        """Fold each batch norm into its convolution and go channels-last; puts the model in eval mode."""
        self.eval()
        for module in self.modules():
            if isinstance(module, BasicConv2d) and isinstance(module.bn, nn.BatchNorm2d):
                module.conv = fuse_conv_bn_eval(module.conv, module.bn)
                module.bn = nn.Identity()
        return self.to(memory_format=torch.channels_last)


def load_fid_inception(
    weights: str | os.PathLike | None = None, device: torch.device | str | None = None
) -> FIDInceptionV3:
    """The FID Inception with pytorch-fid's weights, ready for inference.

    Args:
        weights: path to ``pt_inception-2015-12-05-6726825d.pth``; default: found or
            downloaded by :func:`helpers.weights.fetch` (cache, ``$COURSEKIT_FID_WEIGHTS``,
            ``/kaggle/input``, pytorch-fid's URL).
        device: default: CUDA when available.

    Raises:
        helpers.weights.MissingWeightsError: the file is nowhere and cannot be downloaded.
    """
    path = fetch(FID_INCEPTION, weights)
    model = FIDInceptionV3()
    model.load_pytorch_fid_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.optimize_for_inference().to(device)
