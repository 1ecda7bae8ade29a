r"""Views for visual anagrams (Part 2, TODO 2-2) and a checker that says whether a view is usable.

A *view* is a pair of functions on images:

* ``view(im)`` shows the image the way one prompt should see it (rotated, flipped, ...);
* ``inverse_view(noise)`` maps a noise estimate made in that view back to the original frame.

Both accept a single image ``(C, H, W)`` or a batch ``(B, C, H, W)`` and act on every channel
of a pixel alike: stage II of IF feeds 6 channels (the noisy image and the upscaled stage I
image) through ``view``, and its UNet predicts 6 channels (3 of noise, 3 of variance) that go
through ``inverse_view``.

Why only pixel permutations (and negation) work. The sampler denoises every view of
:math:`x_t` and averages the inverted noise estimates. The UNet was trained on inputs
:math:`x_t = \sqrt{\bar\alpha_t} x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon` with
:math:`\epsilon \sim \mathcal N(0, I)`. If the view is a permutation matrix :math:`P` (or
:math:`-I`), then :math:`P\epsilon` is again :math:`\mathcal N(0, P P^\top) = \mathcal N(0, I)`:
each viewed input still looks like a noisy image at step :math:`t`, so each estimate is valid,
and :math:`P^{-1}` maps it back exactly. A blur :math:`K` gives :math:`\mathcal N(0, K K^\top)`,
correlated noise of smaller variance the UNet never saw, and :math:`K` has no exact inverse:
:class:`BlurView` is kept as the classroom example of a view that fails.

Every view here is defined on fractions of the image (quarter turns, a grid of patches, tabs
whose size is a fraction of a piece) so that the same view object works at 64 px in stage I
and 256 px in stage II and the two agree up to upscaling.

``IdentityView`` and ``Rotate180View`` are the student's TODO 2-2: the classes here raise
``NotImplementedError`` naming the TODO, and no view here is a half turn. Two quarter turns,
or an upside-down and a left-right flip, make one: the TODO's text allows building it so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

__all__ = [
    "NOISE_CHANNELS",
    "View",
    "IdentityView",
    "TurnView",
    "Rotate180View",
    "Rotate90CWView",
    "Rotate90CCWView",
    "FlipView",
    "VerticalFlipView",
    "HorizontalFlipView",
    "NegateView",
    "PermutationView",
    "SkewView",
    "PatchPermuteView",
    "PixelPermuteView",
    "JigsawView",
    "InnerCircleView",
    "SquareHingeView",
    "BlurView",
    "gaussian_blur",
    "ComponentView",
    "LowPassView",
    "HighPassView",
    "GrayscaleView",
    "ColorView",
    "VIEWS",
    "get_view",
    "ViewCheck",
    "check_view",
    "check_components",
]

NOISE_CHANNELS = 3
"""IF's UNets predict ``2 * 3`` channels: the first 3 are noise, the last 3 the learned variance."""


class View:
    """Base class: subclasses define :meth:`view` and :meth:`inverse_view` on ``(..., C, H, W)``."""

    def view(self, im: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__}.view")

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__}.inverse_view")

    def animate(self, im: torch.Tensor, s: float) -> torch.Tensor:
        """A display frame ``s`` of the way from ``im`` (``s = 0``) to ``view(im)`` (``s = 1``).

        Only for figures: the default cross-fades; rotations and flips move instead.
        """
        return (1 - s) * im + s * self.view(im)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _require_square(im: torch.Tensor, what: str) -> None:
    height, width = im.shape[-2:]
    if height != width:
        raise ValueError(
            f"{what} needs a square image, got {height}x{width}: a quarter turn would change the "
            "shape the UNet sees. Generate square images (IF's default) or use a 180-degree view."
        )


def _affine(im: torch.Tensor, matrix: list[list[float]]) -> torch.Tensor:
    """Resample ``im`` with a 2x2 linear map about the centre (display only: it interpolates)."""
    batch = im if im.dim() == 4 else im[None]
    theta = torch.tensor(
        [[*matrix[0], 0.0], [*matrix[1], 0.0]], dtype=batch.dtype, device=batch.device
    )
    grid = F.affine_grid(theta.expand(batch.shape[0], 2, 3), list(batch.shape), align_corners=False)
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out if im.dim() == 4 else out[0]


class IdentityView(View):
    """TODO 2-2: the view that changes nothing (the first prompt's view)."""

    def view(self, im: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("TODO 2-2 (IdentityView.view): return the image unchanged")

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "TODO 2-2 (IdentityView.inverse_view): return the noise unchanged"
        )


class TurnView(View):
    """A turn by ``degrees`` clockwise: its display frames rotate (``animate``).

    Subclasses define the exact view with ``torch.rot90`` (no interpolation).
    """

    degrees: int

    def animate(self, im: torch.Tensor, s: float) -> torch.Tensor:
        if s == 1:
            return self.view(im)
        # affine_grid maps output to input coordinates: sample from the counter-rotated point.
        angle = -math.radians(self.degrees) * s
        c, si = math.cos(angle), math.sin(angle)
        return _affine(im, [[c, -si], [si, c]])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Rotate180View(TurnView):
    """TODO 2-2: turn the image upside down by a 180-degree rotation (the second prompt's view)."""

    degrees = 180

    def view(self, im: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "TODO 2-2 (Rotate180View.view): return the image rotated by 180 degrees"
        )

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "TODO 2-2 (Rotate180View.inverse_view): undo the 180-degree rotation"
        )


class Rotate90CWView(TurnView):
    """Quarter turn clockwise (square images only)."""

    degrees = 90

    def view(self, im: torch.Tensor) -> torch.Tensor:
        _require_square(im, type(self).__name__)
        # torch.rot90 turns counter-clockwise for positive k on (H, W) axes.
        return torch.rot90(im, -1, dims=(-2, -1))

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        _require_square(noise, type(self).__name__)
        return torch.rot90(noise, 1, dims=(-2, -1))


class Rotate90CCWView(TurnView):
    """Quarter turn counter-clockwise (square images only)."""

    degrees = -90

    def view(self, im: torch.Tensor) -> torch.Tensor:
        _require_square(im, type(self).__name__)
        return torch.rot90(im, 1, dims=(-2, -1))

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        _require_square(noise, type(self).__name__)
        return torch.rot90(noise, -1, dims=(-2, -1))


class FlipView(View):
    """Mirror along one image axis; a flip is its own inverse."""

    axis: int  # -2 flips rows (upside down), -1 flips columns (left-right)

    def view(self, im: torch.Tensor) -> torch.Tensor:
        return torch.flip(im, dims=(self.axis,))

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        return torch.flip(noise, dims=(self.axis,))

    def animate(self, im: torch.Tensor, s: float) -> torch.Tensor:
        if s == 1:
            return self.view(im)
        # Squash the flipped axis through zero, like a card turning over.
        scale = 1 / max(abs(math.cos(math.pi * s)), 1e-3) * (1 if s < 0.5 else -1)
        return _affine(
            im, [[scale, 0.0], [0.0, 1.0]] if self.axis == -1 else [[1.0, 0.0], [0.0, scale]]
        )


class VerticalFlipView(FlipView):
    """Upside-down mirror (visual anagrams' ``flip``)."""

    axis = -2


class HorizontalFlipView(FlipView):
    """Left-right mirror."""

    axis = -1


class NegateView(View):
    """Photographic negative: ``-x``. Negation keeps :math:`\\mathcal N(0, I)` noise Gaussian.

    ``inverse_view`` negates only the first :data:`NOISE_CHANNELS` channels: on a 6-channel IF
    prediction the last 3 are a variance, which is the same for ``x`` and ``-x``.
    """

    def view(self, im: torch.Tensor) -> torch.Tensor:
        return -im

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        sign = torch.ones(noise.shape[-3], 1, 1, dtype=noise.dtype, device=noise.device)
        sign[:NOISE_CHANNELS] = -1
        return noise * sign


class PermutationView(View):
    """A view that moves pixels by an index table: ``out[p] = im[source[p]]`` over flattened pixels.

    Subclasses define :meth:`source_index` for a size ``(H, W)``; the view gathers with it and the
    inverse gathers with its inverse permutation, so both are exact. Tables are cached per size.
    """

    def __init__(self) -> None:
        self._tables: dict[tuple[int, int, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}

    def source_index(self, height: int, width: int) -> torch.Tensor:
        """``(H * W,)`` LongTensor: for each output pixel, the flat index of the input pixel it shows."""
        raise NotImplementedError

    def _table(self, x: torch.Tensor, inverse: bool) -> torch.Tensor:
        height, width = x.shape[-2:]
        key = (height, width, x.device)
        if key not in self._tables:
            source = self.source_index(height, width)
            if not torch.equal(torch.sort(source).values, torch.arange(height * width)):
                raise RuntimeError(f"{self!r}.source_index({height}, {width}) is not a permutation")
            self._tables[key] = (source.to(x.device), torch.argsort(source).to(x.device))
        return self._tables[key][1 if inverse else 0]

    def _gather(self, x: torch.Tensor, inverse: bool) -> torch.Tensor:
        index = self._table(x, inverse)
        return x.flatten(-2)[..., index].view(x.shape)

    def view(self, im: torch.Tensor) -> torch.Tensor:
        return self._gather(im, inverse=False)

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        return self._gather(noise, inverse=True)


class SkewView(PermutationView):
    """Shear with wrap-around: row ``i`` rolls right by ``factor * (i - H/2) * W/H`` pixels."""

    def __init__(self, factor: float = 1.5) -> None:
        super().__init__()
        self.factor = factor

    def source_index(self, height: int, width: int) -> torch.Tensor:
        rows = torch.arange(height)[:, None]
        cols = torch.arange(width)[None, :]
        shift = torch.round(self.factor * (rows - height / 2) * width / height).long()
        return (rows * width + (cols - shift) % width).flatten()


def _seeded_permutation(n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


class PatchPermuteView(PermutationView):
    """Cut the image into ``grid x grid`` patches and shuffle them (seeded, so views are reproducible)."""

    def __init__(self, grid: int = 4, seed: int = 0) -> None:
        super().__init__()
        self.grid = grid
        self.seed = seed

    def source_index(self, height: int, width: int) -> torch.Tensor:
        g = self.grid
        if height % g or width % g:
            raise ValueError(
                f"{type(self).__name__}(grid={g}) needs a size divisible by {g}, got {height}x{width}: "
                f"choose a grid that divides the image size."
            )
        ph, pw = height // g, width // g
        perm = _seeded_permutation(g * g, self.seed)  # output patch k shows input patch perm[k]
        out_r, out_c = torch.arange(height)[:, None], torch.arange(width)[None, :]
        src_patch = perm[(out_r // ph) * g + out_c // pw]
        src_r = (src_patch // g) * ph + out_r % ph
        src_c = (src_patch % g) * pw + out_c % pw
        return (src_r * width + src_c).flatten()


class PixelPermuteView(PatchPermuteView):
    """Shuffle single pixels of a ``grid x grid`` image (seeded).

    At a larger size each of those pixels is a block (4 x 4 at 256 px for ``grid=64``), so stage II
    shuffles the upscaled stage I image exactly as stage I shuffled its pixels.
    """

    def __init__(self, grid: int = 64, seed: int = 0) -> None:
        super().__init__(grid, seed)


class JigsawView(PermutationView):
    """Rearrange jigsaw-puzzle pieces, generated in code (no image assets).

    The image is a ``grid x grid`` board on a torus; every piece is its cell plus a round tab
    sticking into its right and its bottom neighbour, minus the tabs of its left and top
    neighbours. All pieces are translates of one shape, so any shuffle of pieces (seeded) tiles
    the board again: the view is an exact pixel permutation.
    """

    def __init__(self, grid: int = 4, seed: int = 0, tab_radius: float = 0.2) -> None:
        super().__init__()
        if not 0 < tab_radius < 0.35:
            raise ValueError(
                "tab_radius must be in (0, 0.35) of a cell, or neighbouring tabs overlap"
            )
        self.grid = grid
        self.seed = seed
        self.tab_radius = tab_radius

    def piece_of(self, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For each pixel: its piece's (row, column) cell and whether it lies in a tab, as ``(H, W)`` maps."""
        g = self.grid
        if height % g or width % g:
            raise ValueError(
                f"JigsawView(grid={g}) needs a size divisible by {g}, got {height}x{width}"
            )
        ch, cw = height // g, width // g
        rows, cols = torch.arange(height)[:, None], torch.arange(width)[None, :]
        # Pixel centres in cell units: u down, v right, both in [0, 1).
        u = ((rows % ch) + 0.5) / ch
        v = ((cols % cw) + 0.5) / cw
        r2 = self.tab_radius**2
        from_left = (u - 0.5) ** 2 + v**2 < r2  # tab of the left neighbour's right edge
        from_top = u**2 + (v - 0.5) ** 2 < r2  # tab of the top neighbour's bottom edge
        piece_r = (rows // ch - from_top.long()).expand(height, width)
        piece_c = (cols // cw - from_left.long()).expand(height, width)
        return piece_r, piece_c, from_left | from_top

    def source_index(self, height: int, width: int) -> torch.Tensor:
        g = self.grid
        ch, cw = height // g, width // g
        piece_r, piece_c, _ = self.piece_of(height, width)
        rows, cols = torch.arange(height)[:, None], torch.arange(width)[None, :]
        offset_r, offset_c = (
            rows - piece_r * ch,
            cols - piece_c * cw,
        )  # may exceed a cell inside a tab
        perm = _seeded_permutation(g * g, self.seed)  # input piece k moves to cell perm[k]
        dest = perm[(piece_r % g) * g + piece_c % g]
        dest_r = ((dest // g) * ch + offset_r) % height
        dest_c = ((dest % g) * cw + offset_c) % width
        source = torch.empty(height * width, dtype=torch.long)
        source[(dest_r * width + dest_c).flatten()] = torch.arange(height * width)
        return source


class InnerCircleView(PermutationView):
    """Rotate the central disc by ``quarter_turns`` x 90 degrees clockwise; the ring outside stays.

    A disc centred on the image is symmetric under quarter turns of the pixel grid, so this is
    an exact permutation (square images only).
    """

    def __init__(self, quarter_turns: int = 2, radius: float = 0.5) -> None:
        super().__init__()
        self.quarter_turns = quarter_turns % 4
        self.radius = radius  # as a fraction of the image's side

    def source_index(self, height: int, width: int) -> torch.Tensor:
        if height != width:
            raise ValueError(f"InnerCircleView needs a square image, got {height}x{width}")
        index = torch.arange(height * width).view(height, width)
        centre = (height - 1) / 2
        rows, cols = torch.arange(height)[:, None], torch.arange(width)[None, :]
        inside = (rows - centre) ** 2 + (cols - centre) ** 2 <= (self.radius * height) ** 2
        rotated = torch.rot90(index, -self.quarter_turns, dims=(0, 1))
        return torch.where(inside, rotated, index).flatten()


class SquareHingeView(PermutationView):
    """A 3 x 3 grid of squares, each turned by a quarter turn, neighbours in opposite senses.

    The "square hinge" of visual anagrams: like a hinged dissection, the squares swing about
    their corners. Squares have ``size // 3`` pixels; a remainder of 1 or 2 rows and columns
    at the bottom and right stays in place. Square images only.
    """

    def source_index(self, height: int, width: int) -> torch.Tensor:
        if height != width:
            raise ValueError(f"SquareHingeView needs a square image, got {height}x{width}")
        index = torch.arange(height * width).view(height, width)
        side = height // 3
        for row in range(3):
            for col in range(3):
                block = index[row * side : (row + 1) * side, col * side : (col + 1) * side]
                block.copy_(torch.rot90(block.clone(), 1 if (row + col) % 2 else -1, dims=(0, 1)))
        return index.flatten()


class BlurView(View):
    """A deliberate failure: a Gaussian blur is not a permutation and has no exact inverse.

    Blurred Gaussian noise is correlated and has a smaller variance, so the UNet's estimates for
    this view are wrong; ``inverse_view`` can only blur again. :func:`check_view` rejects it.
    """

    def __init__(self, sigma: float = 1.5) -> None:
        self.sigma = sigma

    def view(self, im: torch.Tensor) -> torch.Tensor:
        return gaussian_blur(im, self.sigma)

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        # The blur is symmetric, so this is its adjoint: the closest a non-invertible view gets.
        return gaussian_blur(noise, self.sigma)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(..., C, H, W)`` with ``sigma`` pixels, edges reflected."""
    radius = max(1, math.ceil(2 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    batch = x if x.dim() == 4 else x[None]
    c = batch.shape[1]
    out = F.pad(batch, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return out if x.dim() == 4 else out[0]


class ComponentView(View):
    r"""One component of a factorized image (Geng et al., "Factorized Diffusion", 2024).

    Hybrid images use the sampler's ``"sum"`` reduction with views that leave the UNet's
    input as it is (``view`` is the identity) and keep one *component* of each noise
    estimate in ``inverse_view``: :math:`\hat\epsilon = \sum_i f_i(\epsilon_i)`, where the
    components :math:`f_i` add up to the whole (:math:`\sum_i f_i(x) = x`), so prompt
    :math:`p_i` sets component :math:`f_i` of the image and no other. These are no pixel
    permutations: :func:`check_components` checks them, not :func:`check_view`.

    The component acts on every group of :data:`NOISE_CHANNELS` channels alike (noise and
    IF's variance), so the summed variance stays a variance.
    """

    def view(self, im: torch.Tensor) -> torch.Tensor:
        return im

    def component(self, x: torch.Tensor) -> torch.Tensor:
        """This view's component of ``(..., 3, H, W)``."""
        raise NotImplementedError(f"{type(self).__name__}.component")

    def inverse_view(self, noise: torch.Tensor) -> torch.Tensor:
        groups = noise.split(NOISE_CHANNELS, dim=-3)
        return torch.cat([self.component(group) for group in groups], dim=-3)


class LowPassView(ComponentView):
    """The low frequencies: a Gaussian blur of ``sigma`` x the image's side (what is seen from afar).

    The authors use 2 px at 64 px (1/32); a 32 px toy image needs a wider one.
    """

    def __init__(self, sigma: float = 1 / 16) -> None:
        self.sigma = sigma

    def component(self, x: torch.Tensor) -> torch.Tensor:
        return gaussian_blur(x, self.sigma * x.shape[-1])


class HighPassView(LowPassView):
    """The high frequencies: the image minus :class:`LowPassView`'s blur (what is seen close up)."""

    def component(self, x: torch.Tensor) -> torch.Tensor:
        return x - super().component(x)


class GrayscaleView(ComponentView):
    """The grey level: each pixel's mean over its colour channels, in all three."""

    def component(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=-3, keepdim=True).expand_as(x)


class ColorView(GrayscaleView):
    """The colour: the image minus its grey level (:class:`GrayscaleView`)."""

    def component(self, x: torch.Tensor) -> torch.Tensor:
        return x - super().component(x)


VIEWS: dict[str, type[View]] = {
    "identity": IdentityView,
    "rotate_180": Rotate180View,
    "rotate_cw": Rotate90CWView,
    "rotate_ccw": Rotate90CCWView,
    "flip": VerticalFlipView,
    "mirror": HorizontalFlipView,
    "negate": NegateView,
    "skew": SkewView,
    "patch_permute": PatchPermuteView,
    "pixel_permute": PixelPermuteView,
    "jigsaw": JigsawView,
    "inner_circle": InnerCircleView,
    "square_hinge": SquareHingeView,
    "blur": BlurView,
    "low_pass": LowPassView,
    "high_pass": HighPassView,
    "grayscale": GrayscaleView,
    "color": ColorView,
}
"""Views by the names visual anagrams uses (``mirror`` is the left-right flip); the last four
are components for hybrid images (:class:`ComponentView`)."""


def get_view(name: str, **kwargs: float) -> View:
    """The view called ``name`` (see :data:`VIEWS`), built with ``kwargs``."""
    try:
        return VIEWS[name](**kwargs)
    except KeyError:
        raise ValueError(f"unknown view {name!r}; known views: {', '.join(VIEWS)}") from None


@dataclass
class ViewCheck:
    """What :func:`check_view` found: ``ok`` and, when not, the problems in plain words."""

    view: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    verdict: str = ""  # what "usable" means, when not the anagram sampler's default below

    def __str__(self) -> str:
        if self.ok and self.verdict:
            return f"{self.view} {self.verdict}"
        if self.ok:
            return (
                f"{self.view} is usable for anagrams: inverse_view undoes view exactly, and view only "
                "moves (or negates) whole pixels, so Gaussian noise stays Gaussian."
            )
        return f"{self.view} is NOT usable for anagrams:\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )


def _pixel_provenance(
    view: View, channels: int, size: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Which input pixel each output pixel copies, or ``None`` if some output value is no copy.

    Input value ``p * C + c + 1`` at pixel ``p``, channel ``c`` is unique and exact in float32,
    so an output entry is a (possibly negated) copy of exactly one input entry or of none.
    """
    n = size * size
    tags = (torch.arange(n)[None, :] * channels + torch.arange(channels)[:, None] + 1).float()
    out = view.view(tags.view(channels, size, size)).flatten(-2).abs()
    if (
        out.shape != tags.shape
        or not torch.equal(out, out.round())
        or out.min() < 1
        or out.max() > n * channels
    ):
        return None
    out = out.long() - 1
    source_pixel, source_channel = out // channels, out % channels
    return source_pixel, source_channel


def check_view(view: View, size: int = 64, channels: int = NOISE_CHANNELS) -> ViewCheck:
    """Check that ``view`` can be used in the anagram sampler, and say why not in plain words.

    Checks, on a square ``size`` image with ``channels`` channels and on IF's 6-channel tensors:

    1. ``view`` keeps the shape, and ``inverse_view(view(x)) == x`` exactly;
    2. ``view`` is a permutation of whole pixels, possibly negated, so that i.i.d. Gaussian
       noise stays i.i.d. Gaussian (see the module docstring);
    3. it treats every channel of a pixel alike (stage II's 6-channel input) and its inverse
       maps the noise channels of a 6-channel prediction like a 3-channel noise;
    4. a batch gives the same result as its images one by one.

    ``print(check_view(MyView()))`` prints the verdict.
    """
    name = type(view).__name__
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(channels, size, size, generator=gen)
    problems: list[str] = []

    y = view.view(x)
    if y.shape != x.shape:
        return ViewCheck(
            name,
            False,
            [
                f"view changes the shape from {tuple(x.shape)} to {tuple(y.shape)}; "
                "the UNet needs every view of x_t to have the same shape."
            ],
        )
    back = view.inverse_view(y)
    if back.shape != x.shape or not torch.equal(back, x):
        err = (back - x).abs().max().item() if back.shape == x.shape else float("inf")
        problems.append(
            f"inverse_view(view(x)) differs from x (largest error {err:.3g}); it must undo view exactly. "
            "Use exact operations (torch.flip, torch.rot90, index gathers), not interpolation."
        )

    provenance = _pixel_provenance(view, channels, size)
    if provenance is None:
        noise_std = view.view(torch.randn(channels, size, size, generator=gen)).std().item()
        problems.append(
            "view mixes pixel values instead of moving whole pixels: its output is not a copy of the "
            f"input's pixels. Pure Gaussian noise (std 1) comes out with std {noise_std:.2f} and "
            "correlated neighbours, which the UNet never saw during training, so its noise estimates "
            "for this view are wrong. Only permutations of pixels (and negation) keep noise Gaussian."
        )
    else:
        source_pixel, source_channel = provenance
        same_pixel = bool((source_pixel == source_pixel[:1]).all())
        own_channel = bool((source_channel == torch.arange(channels)[:, None]).all())
        one_to_one = torch.equal(torch.sort(source_pixel[0]).values, torch.arange(size * size))
        if not (same_pixel and own_channel):
            problems.append(
                "view mixes channels: each output pixel must copy all channels of one input pixel, in order."
            )
        if not one_to_one:
            problems.append(
                "view repeats some pixels and drops others, so it is not a permutation: the noise it "
                "shows the UNet is not i.i.d. and inverse_view cannot be exact."
            )

    a = torch.randn(channels, size, size, generator=gen)
    six = torch.cat([x, a])
    if not torch.equal(view.view(six), torch.cat([view.view(x), view.view(a)])):
        problems.append(
            "view treats a 6-channel input differently from two 3-channel halves; stage II feeds "
            "[noisy image, upscaled image] through the same view, so it must act per pixel."
        )
    if not torch.equal(view.inverse_view(six)[:channels], view.inverse_view(x)):
        problems.append(
            "inverse_view on a 6-channel prediction (noise + variance) must map its noise channels "
            "like a 3-channel noise."
        )

    batch = torch.stack([x, a])
    if not (
        torch.equal(view.view(batch), torch.stack([view.view(x), view.view(a)]))
        and torch.equal(
            view.inverse_view(batch), torch.stack([view.inverse_view(x), view.inverse_view(a)])
        )
    ):
        problems.append(
            "view or inverse_view gives a different result on a batch than on its images one by one."
        )

    return ViewCheck(name, not problems, problems)


def check_components(
    views: list[View], size: int = 64, channels: int = NOISE_CHANNELS
) -> ViewCheck:
    """Check that ``views`` are components of a factorization, usable with the ``"sum"`` reduction.

    Each must leave the UNet's input unchanged (``view`` is the identity) and their
    ``inverse_view`` must add up to the whole, on 3-channel noise and on IF's 6-channel
    predictions, so that the summed estimate is a noise estimate again.
    """
    name = " + ".join(type(view).__name__ for view in views)
    x = torch.randn(2, 2 * channels, size, size, generator=torch.Generator().manual_seed(0))
    problems = [
        f"{type(view).__name__}.view must return the image unchanged: the UNet sees x_t itself"
        for view in views
        if not torch.equal(view.view(x), x)
    ]
    for tensor in (x[:, :channels], x):
        total = sum(view.inverse_view(tensor) for view in views)
        if total.shape != tensor.shape or not torch.allclose(total, tensor, atol=1e-5):
            problems.append(
                f"the components of a {tensor.shape[1]}-channel tensor do not add up to it: "
                "each prompt must set its own part of the noise estimate, and the parts the whole."
            )
    verdict = (
        "are usable for hybrid images (reduction 'sum'): the UNet sees x_t unchanged and the "
        "components add up to the whole noise estimate."
    )
    return ViewCheck(name, not problems, problems, verdict)
