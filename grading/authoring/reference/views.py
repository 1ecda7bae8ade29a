"""Reference solution of TODO 2-2: the identity and 180-degree rotation views.

The contract is the notebook's markdown cell ``md_views``; these subclasses
keep everything else the blanks provide (the rotation's animation, ``repr``).
"""

from __future__ import annotations

import torch

from helpers.illusions import views


class IdentityView(views.IdentityView):
    # Copied from helpers.illusions.views.IdentityView.view (signature)
    def view(self, im: torch.Tensor) -> torch.Tensor:
        return im

    # Copied from helpers.illusions.views.IdentityView.inverse_view (signature)
    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        return noise


class Rotate180View(views.Rotate180View):
    # Two flips, not torchvision's rotate: rotate() resamples through an affine grid, and
    # check_view demands an exact inverse.
    # Copied from helpers.illusions.views.Rotate180View.view (signature)
    def view(self, im: torch.Tensor) -> torch.Tensor:
        return torch.flip(im, dims=(-2, -1))

    # Copied from helpers.illusions.views.Rotate180View.inverse_view (signature)
    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        return torch.flip(noise, dims=(-2, -1))
