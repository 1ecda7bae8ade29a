"""Figures and the denoising widget: files written, content not blank, slider drives the image."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.figures import (
    figure_contents,
    plot_denoising_progress,
    same_figure,
    save_image_grid,
    smooth,
)
from helpers.widgets import AnimationViewer, DenoisingViewer, trajectory_frame_png


def _trajectory(b=6, steps=8, size=8):
    # From noise to a smooth gradient, so that each step differs from the previous one.
    noise = torch.rand(b, 1, 3, size, size)
    clean = torch.linspace(0, 1, size).expand(b, 1, 3, size, size)
    w = torch.linspace(0, 1, steps).view(1, steps, 1, 1, 1)
    return (1 - w) * noise + w * clean


def _not_blank(path):
    pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
    return pixels.std() > 5


def test_denoising_progress_grid_has_rows_and_columns_and_content(tmp_path):
    path = tmp_path / "denoising_progress.png"
    trajectory = _trajectory()
    fig = plot_denoising_progress(trajectory, path, num_images=5, times=[7, 6, 5, 4, 3, 2, 1, -1])
    (ax,) = fig.axes
    # 5 rows and 8 columns of 8-pixel tiles, 1 white pixel between them.
    mosaic = np.asarray(ax.images[0].get_array())
    assert mosaic.shape == (5 * 9 - 1, 8 * 9 - 1, 3)
    # Each row is one image of the batch from x_T (left) to its sample (right).
    first = torch.from_numpy(mosaic[-8:, :8]).permute(2, 0, 1)
    rows = [i for i in range(len(trajectory)) if torch.equal(trajectory[i, 0], first)]
    assert rows, "the bottom-left tile is not the x_T of any image of the batch"
    row = rows[0]
    assert torch.equal(torch.from_numpy(mosaic[-8:, -8:]).permute(2, 0, 1), trajectory[row, -1])
    assert [label.get_text() for label in ax.get_xticklabels()] == [
        "t=7",
        "t=6",
        "t=5",
        "t=4",
        "t=3",
        "t=2",
        "t=1",
        "sample",
    ]
    assert path.is_file() and _not_blank(path)


def test_denoising_progress_can_thin_out_columns_keeping_both_ends(tmp_path):
    fig = plot_denoising_progress(_trajectory(steps=51), None, num_images=2, max_columns=6)
    titles = [label.get_text() for label in fig.axes[0].get_xticklabels()]
    assert len(titles) == 6 and titles[0] == "step 0" and titles[-1] == "step 50"


def test_figure_contents_read_back_what_was_drawn_and_same_figure_compares_them():
    import matplotlib.pyplot as plt

    trajectory = _trajectory(steps=5)
    a = plot_denoising_progress(trajectory, None, num_images=2, times=[4, 3, 2, 1, 0])
    b = plot_denoising_progress(trajectory, None, num_images=2, times=[4, 3, 2, 1, 0])
    (ax,) = figure_contents(a)
    assert ax["xticks"] == ["t=4", "t=3", "t=2", "t=1", "t=0"]
    assert len(ax["images"]) == 1 and ax["images"][0].shape[-1] == 3
    assert same_figure(a, b)
    assert not same_figure(a, plot_denoising_progress(trajectory, None, num_images=2))
    assert not same_figure(
        a, plot_denoising_progress(trajectory[:, 1:], None, num_images=2, times=[3, 2, 1, 0])
    )
    fig, axis = plt.subplots()
    axis.plot([1.0, 2.0, 4.0])
    axis.set_xlabel("step")
    (curve,) = figure_contents(fig)
    assert curve["lines"][0].tolist() == [1.0, 2.0, 4.0] and curve["labels"] == ["step", ""]
    plt.close("all")


def test_smoothing_is_bias_corrected():
    np.testing.assert_allclose(smooth([3.0, 3.0, 3.0], 0.9), [3.0, 3.0, 3.0])


def test_sample_grid_is_written(tmp_path):
    path = save_image_grid(torch.rand(9, 3, 8, 8), tmp_path / "grid.png")
    assert Image.open(path).size == (2 + 3 * 10, 2 + 3 * 10) and _not_blank(path)


def test_widget_slider_spans_the_steps_and_moving_it_changes_the_image():
    trajectory = _trajectory(steps=8)
    viewer = DenoisingViewer(trajectory, times=[7, 6, 5, 4, 3, 2, 1, -1])
    assert viewer.slider.min == 0 and viewer.slider.max == 7 and viewer.play.max == 7
    first = viewer.image.value
    assert first == trajectory_frame_png(trajectory, 0)
    assert viewer.label.value == "step 0 / 7, t = 7"
    viewer.slider.value = 7
    assert viewer.image.value != first
    assert viewer.image.value == trajectory_frame_png(trajectory, 7)
    assert viewer.label.value == "step 7 / 7, final sample"


def test_widget_falls_back_to_a_static_png_where_widgets_do_not_render():
    viewer = DenoisingViewer(_trajectory())
    bundle = viewer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_widget_rejects_a_final_batch_instead_of_a_trajectory():
    with pytest.raises(ValueError, match="return_all_timesteps=True"):
        DenoisingViewer(torch.rand(4, 3, 8, 8))


def test_animation_viewer_shows_the_chosen_frame_with_its_caption():
    frames = [Image.new("RGB", (8, 8), (40 * k, 0, 0)) for k in range(4)]
    viewer = AnimationViewer(frames, labels=["a", "b", "c", "d"], scale=2)
    assert viewer.slider.max == 3 and viewer.label.value == "frame 0 / 3: a"
    first = viewer.image.value
    viewer.slider.value = 2
    assert viewer.image.value != first and viewer.label.value == "frame 2 / 3: c"
    shown = Image.open(io.BytesIO(viewer.image.value))
    assert shown.size == (16, 16) and shown.getpixel((0, 0)) == (80, 0, 0)
    with pytest.raises(ValueError, match="one per frame"):
        AnimationViewer(frames, labels=["a"])
