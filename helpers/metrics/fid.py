r"""Fréchet Inception Distance (FID, Heusel et al. 2017), pytorch-fid's convention.

Each image set is summarised by the mean :math:`\mu` and covariance :math:`\Sigma` of its
2048-d Inception pool features (:mod:`helpers.metrics.inception`); the FID is the Fréchet
(2-Wasserstein) distance between the two Gaussians:

.. math:: d^2 = \lVert \mu_1 - \mu_2 \rVert^2
              + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
              - 2 \operatorname{tr}\big(\Sigma_1 \Sigma_2\big)^{1/2}

**Convention.** Numbers are comparable with pytorch-fid 0.3.0 (and the papers that use
it): its Inception weights, images bilinearly resized to 299×299 (``align_corners=False``)
and mapped from [0, 1] to [−1, 1], 2048-d pool features, covariances with the unbiased
:math:`1/(n-1)`. Other tools give other numbers on the same images: clean-fid resizes
with PIL bicubic (antialiased) and scores higher; torchmetrics quantises its input to
uint8 first. With ``image_size`` set, each image is first resized to that square with
PIL bilinear (antialiased), which is how the reference set is brought to the size of the
generated images; the cache key records it.

**Exact and fast trace term.** :math:`\Sigma_1\Sigma_2` is not symmetric, so pytorch-fid
takes its general matrix square root (``scipy.linalg.sqrtm``, a Schur decomposition in
complex arithmetic). But only the trace is needed, and the trace of the square root is
the sum of the square roots of the eigenvalues, which :math:`\Sigma_1\Sigma_2` shares
with the symmetric positive semi-definite :math:`L^\top \Sigma_1 L` for any factor
:math:`\Sigma_2 = L L^\top` (:math:`AB` and :math:`BA` have the same eigenvalues). So the
kit factors each covariance as :math:`\Sigma = F F^\top` with :math:`F` of shape
(d, rank) by Cholesky with complete pivoting (LAPACK ``dpstrf``, which stops at the
numerical rank). With :math:`C = F_2^\top F_1`, :math:`F_1^\top \Sigma_2 F_1 = C^\top C`,
whose nonzero eigenvalues :math:`C C^\top` shares: the kit sums the square roots of the
eigenvalues (``eigvalsh``) of the smaller of the two, rank × rank, computing :math:`C`
from the triangular factor (``dtrmm``) and the Gram matrix from one triangle (``dsyrk``),
each half the work of a general product. With 1,000
generated images against a full-rank reference that is a 999 × 999 problem instead of
a 2048 × 2048 Schur decomposition in complex arithmetic.

All in float64; eigenvalues within rounding of 0 (below :math:`r\,\epsilon\,\lambda_{max}`,
including those rounding pushes below 0) are set to 0, so rank-deficient covariances
never produce complex numbers nor a bias from the square roots of rounding noise. On
random features at d = 2048 the result agrees with pytorch-fid's
``calculate_frechet_distance`` to about 1e-9 relative (full rank) and 4e-8 (500 images,
where ``sqrtm``'s own rounding dominates); ``make bench`` measures the speed.

**Streaming statistics.** :class:`RunningStats` merges batches with Chan et al.'s
pairwise update in float64, so any number of images is summarised in O(d²) memory
without the cancellation of the naive :math:`\sum x x^\top - n \mu\mu^\top`.

**Reference cache.** :func:`reference_statistics` stores a folder's statistics under
``$COURSEKIT_CACHE/fid-stats`` together with a key: the file list with sizes and
modification times, ``image_size``, the preprocessing and a fingerprint of the network's
weights. Any change recomputes them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers import places
from helpers.metrics.images import batches, list_images

__all__ = [
    "FIDResult",
    "GaussianStats",
    "PREPROCESSING",
    "RunningStats",
    "feature_statistics",
    "fid_score",
    "folder_statistics",
    "frechet_distance",
    "model_fingerprint",
    "reference_statistics",
]

# Part of the cache key: change it whenever the preprocessing changes.
PREPROCESSING = "pytorch-fid: bilinear 299 align_corners=False, [0,1]->[-1,1], pool3 2048-d; pre-resize PIL bilinear"


@dataclass(frozen=True)
class GaussianStats:
    """Mean ``mu`` (d,), covariance ``sigma`` (d, d), both float64, of ``n`` feature vectors."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    def save(self, path: str | os.PathLike, key: dict | None = None) -> None:
        """Write an ``.npz`` (``mu``, ``sigma``, ``n`` and, for the cache, ``key`` as JSON)."""
        np.savez(path, mu=self.mu, sigma=self.sigma, n=self.n, key=json.dumps(key, sort_keys=True))

    @classmethod
    def load(cls, path: str | os.PathLike) -> GaussianStats:
        return cls.load_with_key(path)[0]

    @classmethod
    def load_with_key(cls, path: str | os.PathLike) -> tuple[GaussianStats, dict | None]:
        """The statistics and the key they were saved with (``None`` when saved without)."""
        with np.load(path) as data:
            key = json.loads(str(data["key"])) if "key" in data else None
            return cls(mu=data["mu"], sigma=data["sigma"], n=int(data["n"])), key


class RunningStats:
    r"""Mean and covariance of feature batches, accumulated in float64.

    Merging a batch B (size :math:`n_B`, mean :math:`m_B`, centred scatter :math:`M_B`)
    into the running set A (Chan, Golub & LeVeque 1979):

    .. math:: \delta = m_B - m_A,\quad n = n_A + n_B,\quad m = m_A + \delta\, n_B / n,
              \quad M = M_A + M_B + \delta\delta^\top n_A n_B / n

    and :math:`\Sigma = M / (n - 1)`, as ``numpy.cov``.
    """

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.mean = np.zeros(dim)
        self.scatter = np.zeros((dim, dim))

    def update(self, features: np.ndarray | torch.Tensor) -> None:
        """Add a ``(batch, dim)`` array of features."""
        if isinstance(features, torch.Tensor):
            features = features.detach().cpu().numpy()
        x = np.asarray(features, dtype=np.float64)
        n_b = x.shape[0]
        if n_b == 0:
            return
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        delta = mean_b - self.mean
        n = self.n + n_b
        self.scatter += centred.T @ centred + np.outer(delta, delta) * (self.n * n_b / n)
        self.mean += delta * (n_b / n)
        self.n = n

    def stats(self) -> GaussianStats:
        if self.n < 2:
            raise ValueError(f"a covariance needs at least 2 images, got {self.n}")
        return GaussianStats(mu=self.mean.copy(), sigma=self.scatter / (self.n - 1), n=self.n)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """The Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); see the module docstring.

    Same arguments and result as ``pytorch_fid.fid_score.calculate_frechet_distance``,
    without its ``sqrtm``: exact for positive semi-definite covariances of any rank.
    """
    mu1, mu2 = (
        np.atleast_1d(np.asarray(mu1, np.float64)),
        np.atleast_1d(np.asarray(mu2, np.float64)),
    )
    sigma1, sigma2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    if (
        mu1.shape != mu2.shape
        or sigma1.shape != sigma2.shape
        or sigma1.shape != (mu1.size, mu1.size)
    ):
        raise ValueError(
            f"shapes do not match: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}"
        )
    diff = mu1 - mu2
    return float(
        diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * _trace_sqrt_product(sigma1, sigma2)
    )


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr (sigma1 sigma2)^{1/2}: the sum of the singular values of C = F2^T F1 (sigma = F F^T).

    (sigma1 sigma2)^{1/2} has the eigenvalues of (F1^T sigma2 F1)^{1/2} = (C^T C)^{1/2},
    whose trace is the sum of the square roots of the eigenvalues of the smaller of C^T C
    and C C^T (rank x rank). C uses the factors' triangular shape (``dtrmm``, half a
    product) and the Gram matrix only one triangle (``dsyrk``, half a product).
    """
    (l1, piv1), (l2, piv2) = _pivoted_factor(sigma1), _pivoted_factor(sigma2)
    if min(l1.shape[1], l2.shape[1]) == 0:  # a zero covariance (all images identical)
        return 0.0
    # F = P L with F[piv - 1] = L, so F2^T F1 = L2^T (F1 with rows in sigma2's pivot order).
    f1 = np.empty_like(l1)
    f1[piv1 - 1] = l1
    rows = f1[piv2 - 1]
    d, r2 = l2.shape
    if r2 == d:
        cross = scipy.linalg.blas.dtrmm(1.0, l2, rows, side=0, lower=1, trans_a=1)
    else:
        cross = l2.T @ rows
    # The Gram matrix of the shorter side: C C^T is r2 x r2, C^T C is r1 x r1.
    trans = int(cross.shape[1] < cross.shape[0])
    gram = scipy.linalg.blas.dsyrk(1.0, cross, trans=trans, lower=0)
    eigenvalues = scipy.linalg.eigvalsh(gram, lower=False, check_finite=False)
    # Eigenvalues within the solver's rounding (r * eps * largest) of 0 are zeros of a
    # rank-deficient product: their square roots (1e-8 each) would add up to a bias.
    eigenvalues[eigenvalues < len(eigenvalues) * np.finfo(np.float64).eps * eigenvalues.max()] = 0
    return float(np.sqrt(eigenvalues).sum())


def _pivoted_factor(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L (d, rank) and pivots with sigma[piv - 1][:, piv - 1] = L L^T (LAPACK ``dpstrf``).

    Cholesky with complete pivoting stops at the numerical rank (pivots below
    d * eps * max diagonal), which is what makes covariances of fewer images than
    dimensions factor exactly and cheaply.
    """
    c, piv, rank, info = scipy.linalg.lapack.dpstrf(sigma, lower=1)
    if info < 0:
        raise ValueError(
            f"LAPACK dpstrf rejected argument {-info}: is the covariance finite and symmetric?"
        )
    return np.tril(c)[:, :rank], piv


@torch.inference_mode()
def feature_statistics(
    images: Iterable[torch.Tensor],
    model: nn.Module,
    *,
    total: int | None = None,
    progress: bool = True,
    desc: str = "FID features",
) -> GaussianStats:
    """Statistics of ``model``'s features over batches of images in [0, 1].

    The model runs on the device its parameters are on; batches are moved there.
    ``total`` (number of batches) only sizes the progress bar.
    """
    device = next(model.parameters()).device
    running = None
    for batch in tqdm(images, total=total, desc=desc, disable=not progress, unit="batch"):
        features = model(batch.to(device, non_blocking=True)).double()
        if running is None:
            running = RunningStats(features.shape[1])
        running.update(features)
    if running is None:
        raise ValueError("no images were given")
    return running.stats()


def folder_statistics(
    folder: str | os.PathLike,
    model: nn.Module,
    *,
    batch_size: int = 50,
    image_size: int | None = None,
    progress: bool = True,
) -> GaussianStats:
    """Statistics of the images directly inside ``folder`` (sorted by name)."""
    return _files_statistics(list_images(folder), model, batch_size, image_size, progress)


def _files_statistics(
    files: Sequence[Path], model: nn.Module, batch_size: int, image_size: int | None, progress: bool
) -> GaussianStats:
    return feature_statistics(
        batches(files, batch_size, image_size),
        model,
        total=-(-len(files) // batch_size),
        progress=progress,
        desc=f"FID features of {files[0].parent.name}",
    )


def reference_statistics(
    folder: str | os.PathLike,
    model: nn.Module,
    *,
    batch_size: int = 50,
    image_size: int | None = None,
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> GaussianStats:
    """:func:`folder_statistics`, cached on disk (see the module docstring for the key).

    Args:
        cache: folder of the cache files; default ``$COURSEKIT_CACHE/fid-stats``.
    """
    folder = Path(folder).resolve()
    files = list_images(folder)
    key = {
        "files": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files],
        "image_size": image_size,
        "preprocessing": PREPROCESSING,
        "model": model_fingerprint(model),
    }
    cache = Path(cache) if cache is not None else places.cache_dir() / "fid-stats"
    path = cache / f"{hashlib.sha256(str(folder).encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        stats, stored_key = GaussianStats.load_with_key(path)
        if stored_key == json.loads(json.dumps(key)):  # compared as JSON: tuples become lists
            return stats
    stats = _files_statistics(files, model, batch_size, image_size, progress)
    cache.mkdir(parents=True, exist_ok=True)
    stats.save(path, key)
    return stats


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 of the model's state dict: different weights never share cached statistics."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class FIDResult:
    fid: float
    n_generated: int
    n_reference: int

    def __str__(self) -> str:
        return f"FID {self.fid:.2f} ({self.n_generated} generated vs {self.n_reference} reference images)"


def fid_score(
    generated: str | os.PathLike,
    reference: str | os.PathLike,
    *,
    model: nn.Module | None = None,
    batch_size: int = 50,
    image_size: int | None = None,
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> FIDResult:
    """FID of the images in folder ``generated`` against ``reference``.

    Args:
        reference: a folder of images (statistics cached, see :func:`reference_statistics`)
            or an ``.npz`` file written by :meth:`GaussianStats.save`.
        model: feature network; default :func:`helpers.metrics.inception.load_fid_inception`.
        image_size: resize both sets to this square first (PIL bilinear); default: as stored.
    """
    if model is None:
        from helpers.metrics.inception import load_fid_inception

        model = load_fid_inception()
    reference = Path(reference)
    if reference.suffix == ".npz":
        ref = GaussianStats.load(reference)
    else:
        ref = reference_statistics(
            reference,
            model,
            batch_size=batch_size,
            image_size=image_size,
            progress=progress,
            cache=cache,
        )
    gen = folder_statistics(
        generated, model, batch_size=batch_size, image_size=image_size, progress=progress
    )
    return FIDResult(
        fid=frechet_distance(gen.mu, gen.sigma, ref.mu, ref.sigma),
        n_generated=gen.n,
        n_reference=ref.n,
    )
