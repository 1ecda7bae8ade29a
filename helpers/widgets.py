"""ipywidgets viewers that step through frames: a denoising trajectory, an illusion's animation.

A slider (with a play button) picks the frame; the view shows it with a label (the
sampling step and timestep, or the frame's caption). Where widgets cannot render (a
static HTML export, GitHub, nbviewer), the notebook shows a static image instead: the
widget's display data also carries a PNG of the last frame, which such viewers fall back to.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import ipywidgets as widgets
import torch
from PIL import Image
from torchvision.utils import make_grid

__all__ = [
    "AnimationViewer",
    "DenoisingViewer",
    "FrameViewer",
    "png_bytes",
    "trajectory_frame_png",
]


def png_bytes(image: Image.Image, scale: int = 1) -> bytes:
    """``image`` as PNG bytes, enlarged ``scale`` times with sharp pixels (small images)."""
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def trajectory_frame_png(trajectory: torch.Tensor, step: int, max_images: int = 16) -> bytes:
    """PNG bytes of the first ``max_images`` images of ``trajectory[:, step]`` as a grid."""
    images = trajectory[:max_images, step].detach().float().cpu().clamp(0, 1)
    grid = make_grid(images, nrow=math.ceil(math.sqrt(len(images))), padding=2, pad_value=1.0)
    array = (grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8")
    return png_bytes(Image.fromarray(array), scale=2)


class FrameViewer(widgets.VBox):
    """Slider + play button over ``count`` frames; subclasses say how to draw and label one.

    Where widgets cannot render (a static HTML export, GitHub, nbviewer), the display
    data also carries a PNG of the last frame, which such viewers fall back to.
    """

    def __init__(self, count: int, description: str, interval_ms: int = 150) -> None:
        last = count - 1
        self.slider = widgets.IntSlider(
            value=0, min=0, max=last, description=description, continuous_update=True
        )
        self.play = widgets.Play(value=0, min=0, max=last, interval=interval_ms, description="play")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.image = widgets.Image(format="png")
        self.label = widgets.Label()
        self.slider.observe(self._show, names="value")
        super().__init__([widgets.HBox([self.play, self.slider, self.label]), self.image])
        self._show({"new": 0})

    def frame_png(self, index: int) -> bytes:
        raise NotImplementedError

    def frame_label(self, index: int) -> str:
        return f"{self.slider.description} {index} / {self.slider.max}"

    def _show(self, change: dict) -> None:
        self.image.value = self.frame_png(change["new"])
        self.label.value = self.frame_label(change["new"])

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["image/png"] = self.frame_png(self.slider.max)
        return bundle


class DenoisingViewer(FrameViewer):
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
        super().__init__(trajectory.shape[1], "step", interval_ms)

    def frame_png(self, index: int) -> bytes:
        return trajectory_frame_png(self.trajectory, index, self.max_images)

    def frame_label(self, index: int) -> str:
        t = ""
        if self.times is not None:
            t = f", t = {self.times[index]}" if self.times[index] >= 0 else ", final sample"
        return super().frame_label(index) + t


class AnimationViewer(FrameViewer):
    """Slider + play button over PIL frames, e.g. an illusion turning into its other view.

    ``labels`` names each frame; without it the label shows only the frame number.
    """

    def __init__(
        self,
        frames: Sequence[Image.Image],
        labels: Sequence[str] | None = None,
        scale: int = 1,
        interval_ms: int = 80,
    ) -> None:
        if not frames:
            raise ValueError("no frames to show: pass at least one image")
        if labels is not None and len(labels) != len(frames):
            raise ValueError(f"{len(frames)} frames but {len(labels)} labels: give one per frame")
        self.frames, self.labels, self.scale = list(frames), labels, scale
        super().__init__(len(self.frames), "frame", interval_ms)

    def frame_png(self, index: int) -> bytes:
        return png_bytes(self.frames[index], self.scale)

    def frame_label(self, index: int) -> str:
        text = super().frame_label(index)
        return f"{text}: {self.labels[index]}" if self.labels is not None else text
