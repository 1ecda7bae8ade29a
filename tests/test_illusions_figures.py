"""Figures for an illusion: panels with prompts and scores, and the view animation."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from PIL import Image

from grading.authoring.reference import IdentityView, Rotate180View
from helpers.illusions import views as V
from helpers.illusions.figures import animation_frames, save_animation, to_pil, views_figure

matplotlib.use("Agg")


def test_to_pil_maps_the_model_range_to_bytes():
    image = torch.tensor([-1.0, 0.0, 1.0, 2.0]).view(1, 1, 4).expand(3, 1, 4)
    assert to_pil(image).tobytes() == bytes([0] * 3 + [128] * 3 + [255] * 6)


def test_views_figure_shows_each_view_with_prompt_and_score():
    image = torch.rand(3, 16, 16) * 2 - 1
    fig = views_figure(
        image,
        [IdentityView(), Rotate180View()],
        ["a rabbit", "a duck"],
        [0.3487, 0.3574],
        score_label="CLIP ViT-B/32 cosine",
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert "a rabbit" in titles[0] and "CLIP ViT-B/32 cosine: 0.3487" in titles[0]
    assert "a duck" in titles[1] and "0.3574" in titles[1]
    shown = fig.axes[1].images[0].get_array()
    assert (shown == to_pil(Rotate180View().view(image))).all()
    with pytest.raises(ValueError, match="one of each per view"):
        views_figure(image, [IdentityView()], ["a", "b"])


def test_animation_ends_exactly_on_each_view(tmp_path):
    image = torch.rand(3, 16, 16) * 2 - 1
    frames = animation_frames(image, Rotate180View(), frames=10, hold=3)
    assert len(frames) == 3 + 10 + 3 + 10
    assert frames[0].tobytes() == to_pil(image).tobytes()
    assert frames[13].tobytes() == to_pil(Rotate180View().view(image)).tobytes()
    once = animation_frames(image, Rotate180View(), frames=10, loop=False)
    assert [f.tobytes() for f in once] == [f.tobytes() for f in frames[3:13]]
    path = save_animation(image, V.JigsawView(grid=2), tmp_path / "jigsaw.gif", frames=6, hold=2)
    with Image.open(path) as gif:
        assert gif.n_frames > 1 and gif.size == (16, 16)


def test_a_half_turn_passes_through_a_quarter_turn():
    # The rotation animation really rotates (it does not cross-fade).
    image = torch.rand(3, 16, 16)
    halfway = Rotate180View().animate(image, 0.5)
    torch.testing.assert_close(halfway, V.Rotate90CWView().view(image), atol=1e-4, rtol=0)
    flip_start = V.HorizontalFlipView().animate(image, 0.0)
    torch.testing.assert_close(flip_start, image, atol=1e-5, rtol=0)
