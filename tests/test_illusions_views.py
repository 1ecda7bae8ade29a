"""Views for visual anagrams: exact inverses, pixel permutations, the failure view, the checker."""

from __future__ import annotations

import pytest
import torch

from grading.authoring.reference import IdentityView, Rotate180View
from helpers.illusions import views as V
from helpers.illusions.views import check_view

USABLE = [
    IdentityView(),
    Rotate180View(),
    V.Rotate90CWView(),
    V.Rotate90CCWView(),
    V.VerticalFlipView(),
    V.HorizontalFlipView(),
    V.NegateView(),
    V.SkewView(),
    V.PatchPermuteView(grid=4, seed=1),
    V.PixelPermuteView(grid=16, seed=2),
    V.JigsawView(grid=4, seed=3),
    V.InnerCircleView(quarter_turns=1),
    V.SquareHingeView(),
]
IDS = [type(v).__name__ for v in USABLE]


@pytest.mark.parametrize("view", USABLE, ids=IDS)
@pytest.mark.parametrize("channels", [3, 6])
def test_inverse_is_exact_on_images_and_batches(view, channels):
    x = torch.randn(2, channels, 32, 32)
    y = view.view(x)
    assert y.shape == x.shape
    if isinstance(view, V.NegateView) and channels == 6:
        # The variance half of a 6-channel prediction is not negated back, by design.
        assert torch.equal(view.inverse_view(y)[:, :3], x[:, :3])
        assert torch.equal(view.inverse_view(y)[:, 3:], -x[:, 3:])
    else:
        assert torch.equal(view.inverse_view(y), x)
    assert torch.equal(y[1], view.view(x[1]))  # batch and single image agree
    assert torch.equal(view.inverse_view(y)[0], view.inverse_view(y[0]))


@pytest.mark.parametrize("view", USABLE, ids=IDS)
def test_view_is_a_signed_permutation_of_whole_pixels(view):
    x = torch.randn(3, 32, 32)
    y = view.view(x)
    # Sorted absolute values equal: no value invented, none lost.
    assert torch.equal(torch.sort(y.abs().flatten()).values, torch.sort(x.abs().flatten()).values)
    # Each output pixel is one input pixel, all three channels together.
    pixels_in = {tuple(p.abs().tolist()) for p in x.flatten(1).T}
    assert all(tuple(p.abs().tolist()) in pixels_in for p in y.flatten(1).T)


@pytest.mark.parametrize("view", USABLE, ids=IDS)
def test_check_view_accepts_usable_views(view):
    result = check_view(view)
    assert result.ok, str(result)
    assert "usable" in str(result)


def test_check_view_rejects_blur_and_explains_why():
    result = check_view(V.BlurView())
    assert not result.ok
    text = str(result)
    assert "NOT usable" in text
    assert "inverse_view(view(x)) differs from x" in text
    assert "Gaussian" in text and "std" in text


def test_check_view_rejects_interpolating_and_non_permuting_views():
    class Resample(V.View):  # a rotation through interpolation: not exact
        def view(self, im):
            return V._affine(im, [[0.9, -0.1], [0.1, 0.9]])

        def inverse_view(self, noise):
            return noise

    class Duplicate(V.View):  # copies pixels but repeats some: not a permutation
        def view(self, im):
            return torch.cat([im[..., :1, :], im[..., :-1, :]], dim=-2)

        def inverse_view(self, noise):
            return noise

    assert not check_view(Resample()).ok
    duplicate = check_view(Duplicate())
    assert not duplicate.ok and "not a permutation" in str(duplicate)


def test_rotations_turn_the_right_way_and_compose():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    assert V.Rotate90CWView().view(x).tolist() == [[[3.0, 1.0], [4.0, 2.0]]]
    assert V.Rotate90CCWView().view(x).tolist() == [[[2.0, 4.0], [1.0, 3.0]]]
    assert V.VerticalFlipView().view(x).tolist() == [[[3.0, 4.0], [1.0, 2.0]]]
    assert V.HorizontalFlipView().view(x).tolist() == [[[2.0, 1.0], [4.0, 3.0]]]
    y = torch.randn(3, 8, 8)
    cw = V.Rotate90CWView()
    assert torch.equal(cw.view(cw.view(y)), Rotate180View().view(y))


def test_quarter_turns_refuse_non_square_images():
    with pytest.raises(ValueError, match="square"):
        V.Rotate90CWView().view(torch.zeros(3, 8, 16))
    assert Rotate180View().view(torch.zeros(3, 8, 16)).shape == (3, 8, 16)


def test_negate_keeps_the_variance_channels_of_a_prediction():
    pred = torch.randn(6, 8, 8)
    out = V.NegateView().inverse_view(pred)
    assert torch.equal(out[:3], -pred[:3]) and torch.equal(out[3:], pred[3:])


def test_seeded_views_are_reproducible_and_seeds_differ():
    x = torch.randn(3, 16, 16)
    for cls in (V.PatchPermuteView, V.JigsawView):
        assert torch.equal(cls(seed=5).view(x), cls(seed=5).view(x))
        assert not torch.equal(cls(seed=5).view(x), cls(seed=6).view(x))


def test_block_views_commute_with_upscaling():
    # Stage II sees the upscaled stage I image: the 4x view of a 4x image must be the 4x view.
    small = torch.randn(3, 16, 16)
    big = small.repeat_interleave(4, -2).repeat_interleave(4, -1)
    for view in (
        V.PixelPermuteView(grid=16),
        V.PatchPermuteView(grid=4),
        Rotate180View(),
        V.Rotate90CWView(),
    ):
        expected = view.view(small).repeat_interleave(4, -2).repeat_interleave(4, -1)
        assert torch.equal(view.view(big), expected), view


def test_jigsaw_moves_pieces_with_tabs():
    jigsaw = V.JigsawView(grid=4, seed=0)
    _, _, in_tab = jigsaw.piece_of(64, 64)
    assert 0 < in_tab.float().mean() < 0.25  # tabs exist and are small
    x = torch.randn(3, 64, 64)
    moved = (jigsaw.view(x) != x).any(0)
    assert moved.float().mean() > 0.5


def test_inner_circle_leaves_the_corners():
    x = torch.randn(3, 32, 32)
    y = V.InnerCircleView().view(x)
    assert torch.equal(y[:, 0, 0], x[:, 0, 0]) and torch.equal(y[:, -1, -1], x[:, -1, -1])
    assert not torch.equal(y[:, 8:24, 8:24], x[:, 8:24, 8:24])


def test_student_blanks_name_their_todo():
    for blank in (V.IdentityView(), V.Rotate180View()):
        with pytest.raises(NotImplementedError, match="TODO 2-2"):
            blank.view(torch.zeros(3, 4, 4))
        with pytest.raises(NotImplementedError, match="TODO 2-2"):
            blank.inverse_view(torch.zeros(3, 4, 4))


def test_get_view_by_name():
    assert isinstance(V.get_view("jigsaw", seed=2), V.JigsawView)
    with pytest.raises(ValueError, match="known views"):
        V.get_view("spin")


def test_square_hinge_turns_each_square_a_quarter_turn_and_is_no_half_turn():
    x = torch.randn(3, 30, 30)
    y = V.SquareHingeView().view(x)
    # The top-left square turns clockwise, its right neighbour counter-clockwise.
    assert torch.equal(y[:, :10, :10], V.Rotate90CWView().view(x[:, :10, :10]))
    assert torch.equal(y[:, :10, 10:20], V.Rotate90CCWView().view(x[:, :10, 10:20]))
    twice = V.SquareHingeView().view(y)
    assert not torch.equal(twice, x) and not torch.equal(twice, Rotate180View().view(x))
    assert not torch.equal(y, Rotate180View().view(x))
    # A size not divisible by 3 keeps its last row and column in place.
    z = torch.randn(3, 31, 31)
    assert torch.equal(V.SquareHingeView().view(z)[:, -1], z[:, -1])


COMPONENTS = [
    [V.LowPassView(), V.HighPassView()],
    [V.GrayscaleView(), V.ColorView()],
]


@pytest.mark.parametrize("components", COMPONENTS, ids=["frequency", "colour"])
def test_components_add_up_and_leave_the_input_alone(components):
    verdict = V.check_components(components, size=32)
    assert verdict.ok and "hybrid" in str(verdict), str(verdict)
    x = torch.randn(2, 6, 32, 32)
    parts = [view.inverse_view(x) for view in components]
    assert all(torch.equal(view.view(x), x) for view in components)
    assert not any(torch.allclose(part, x, atol=1e-3) for part in parts)  # each keeps a part only
    # Check_view refuses them: they are not permutations, and it says so.
    assert not check_view(components[0]).ok


def test_components_split_as_named():
    x = torch.randn(3, 32, 32)
    low, high = V.LowPassView().inverse_view(x), V.HighPassView().inverse_view(x)
    # The low pass is smoother: smaller differences between neighbouring pixels.
    assert low.diff(dim=-1).abs().mean() < 0.3 * high.diff(dim=-1).abs().mean()
    grey, colour = V.GrayscaleView().inverse_view(x), V.ColorView().inverse_view(x)
    assert torch.equal(grey[0], grey[1]) and torch.allclose(
        colour.sum(0), torch.zeros(32, 32), atol=1e-5
    )


def test_check_components_names_a_pair_that_does_not_add_up():
    verdict = V.check_components([V.GrayscaleView(), V.HighPassView()], size=32)
    assert not verdict.ok and "do not add up" in str(verdict)
