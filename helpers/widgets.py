"""An ipywidgets viewer that steps through a saved denoising trajectory.

A slider (with a play button) picks the sampling step; the view shows the batch's
images at that step and the step / timestep. Where widgets cannot render (a static
HTML export, GitHub, nbviewer), the notebook shows a static grid instead: the widget's
display data also carries a PNG of the trajectory, which such viewers fall back to.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import ipywidgets as widgets
import torch
from PIL import Image
from torchvision.utils import make_grid

__all__ = ["DenoisingViewer", "trajectory_frame_png"]


def trajectory_frame_png(trajectory: torch.Tensor, step: int, max_images: int = 16) -> bytes:
    """PNG bytes of the first ``max_images`` images of ``trajectory[:, step]`` as a grid."""
    images = trajectory[:max_images, step].detach().float().cpu().clamp(0, 1)
    grid = make_grid(images, nrow=math.ceil(math.sqrt(len(images))), padding=2, pad_value=1.0)
    array = (grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(array).resize(
        (array.shape[1] * 2, array.shape[0] * 2), Image.Resampling.NEAREST
    ).save(buffer, "PNG")
    return buffer.getvalue()


class DenoisingViewer(widgets.VBox):
    """Slider + play button over a trajectory ``(B, S + 1, C, H, W)`` in [0, 1].

    ``times`` gives the timestep t of each step (``GaussianDiffusion.trajectory_times()``,
    -1 for the final sample); without it the label shows only the step number.
    """

    def __init__(
        self,
        trajectory: torch.Tensor,
        times: Sequence[int] | None = None,
        max_images: int = 16,
        interval_ms: int = 150,
    ) -> None:
        if trajectory.ndim != 5:
            raise ValueError(
                f"expected a trajectory of shape (B, steps, C, H, W), got {tuple(trajectory.shape)}: "
                "sample with return_all_timesteps=True"
            )
        self.trajectory, self.max_images = trajectory, max_images
        self.times = list(times) if times is not None else None
        last = trajectory.shape[1] - 1
        self.slider = widgets.IntSlider(
            value=0, min=0, max=last, description="step", continuous_update=True
        )
        self.play = widgets.Play(value=0, min=0, max=last, interval=interval_ms, description="play")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.image = widgets.Image(format="png")
        self.label = widgets.Label()
        self.slider.observe(self._show, names="value")
        super().__init__([widgets.HBox([self.play, self.slider, self.label]), self.image])
        self._show({"new": 0})

    def _show(self, change: dict) -> None:
        step = change["new"]
        self.image.value = trajectory_frame_png(self.trajectory, step, self.max_images)
        t = ""
        if self.times is not None:
            t = f", t = {self.times[step]}" if self.times[step] >= 0 else ", final sample"
        self.label.value = f"step {step} / {self.slider.max}{t}"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # Static viewers skip the widget mimetype and show this image (the final step).
        bundle["image/png"] = trajectory_frame_png(
            self.trajectory, self.slider.max, self.max_images
        )
        return bundle
