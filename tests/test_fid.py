"""FID: closed forms, agreement with pytorch-fid / clean-fid / torchmetrics, streaming stats, pipeline, cache."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.metrics import pytorch_fid_inception
from helpers.metrics.fid import (
    GaussianStats,
    RunningStats,
    fid_score,
    folder_statistics,
    frechet_distance,
    reference_statistics,
)
from helpers.metrics.images import list_images
from helpers.tiny_models import random_fid_inception
from tests.metrics_models import TinyFeatures


def _stats(
    rng: np.random.Generator, n: int, d: int, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    # Correlated, non-centred features, like Inception's.
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.1 + shift + rng.random(d)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + np.eye(d) * 0.1


# --- closed forms -----------------------------------------------------------------------


def test_equal_covariances_give_the_squared_mean_distance():
    rng = np.random.default_rng(0)
    sigma, mu1, mu2 = _spd(rng, 50), rng.standard_normal(50), rng.standard_normal(50)
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(
        np.sum((mu1 - mu2) ** 2), rel=1e-9
    )


@pytest.mark.parametrize("d", [1, 7, 128])
def test_four_identity_against_identity_gives_the_dimension(d):
    # tr(4I) + tr(I) - 2 tr(sqrt(4I)) = 4d + d - 4d = d
    mu = np.full(d, 0.3)
    assert frechet_distance(mu, 4 * np.eye(d), mu, np.eye(d)) == pytest.approx(d, rel=1e-12)


@pytest.mark.parametrize("n", [20, 500])  # rank-deficient (n < d) and full rank
def test_a_set_against_itself_is_zero(n):
    mu, sigma = _stats(np.random.default_rng(1), n, 64)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9 * np.trace(sigma)


def test_the_distance_is_symmetric():
    rng = np.random.default_rng(2)
    (mu1, s1), (mu2, s2) = _stats(rng, 30, 64), _stats(rng, 300, 64, shift=0.5)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        frechet_distance(mu2, s2, mu1, s1), rel=1e-10
    )


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="shapes do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# --- agreement with the anchors ---------------------------------------------------------

# (n1, n2): both full rank (Cholesky route), one rank-deficient (Cholesky of the other),
# both rank-deficient (symmetric square-root route).
SAMPLE_SIZES = [(600, 500), (40, 600), (40, 50)]


@pytest.mark.parametrize(("n1", "n2"), SAMPLE_SIZES)
def test_agrees_with_pytorch_fid(n1, n2):
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(3)
    (mu1, s1), (mu2, s2) = _stats(rng, n1, 256), _stats(rng, n2, 256, shift=0.2)
    expected = calculate_frechet_distance(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_agrees_with_pytorch_fid_at_2048_dimensions():
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(4)
    (mu1, s1), (mu2, s2) = _stats(rng, 2500, 2048), _stats(rng, 3000, 2048, shift=0.1)
    expected = calculate_frechet_distance(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("n1", "n2"), SAMPLE_SIZES)
def test_agrees_with_clean_fid_and_torchmetrics(n1, n2):
    from cleanfid.fid import frechet_distance as clean_fid_distance
    from torchmetrics.image.fid import _compute_fid

    rng = np.random.default_rng(5)
    (mu1, s1), (mu2, s2) = _stats(rng, n1, 128), _stats(rng, n2, 128, shift=0.3)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(clean_fid_distance(mu1, s1, mu2, s2), rel=1e-6)
    t = [torch.from_numpy(a) for a in (mu1, s1, mu2, s2)]
    assert ours == pytest.approx(_compute_fid(*t).item(), rel=1e-6)


# --- streaming statistics ---------------------------------------------------------------


def test_streaming_statistics_equal_numpy_cov_over_uneven_batches():
    rng = np.random.default_rng(6)
    x = (
        rng.standard_normal((203, 32)) * 3 + 1000
    )  # a large mean: the naive sum of squares would cancel
    running = RunningStats(32)
    for start, stop in [(0, 1), (1, 50), (50, 51), (51, 203)]:
        running.update(torch.from_numpy(x[start:stop]).float() if start == 1 else x[start:stop])
    stats = running.stats()
    x[1:50] = x[1:50].astype(np.float32)  # that batch went in as float32
    np.testing.assert_allclose(stats.mu, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.sigma, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    assert stats.n == 203 and stats.sigma.dtype == np.float64


def test_statistics_need_two_images():
    running = RunningStats(4)
    running.update(np.ones((1, 4)))
    with pytest.raises(ValueError, match="at least 2 images"):
        running.stats()


def test_statistics_round_trip_through_npz(tmp_path):
    mu, sigma = _stats(np.random.default_rng(7), 10, 8)
    GaussianStats(mu, sigma, 10).save(tmp_path / "ref.npz")
    loaded = GaussianStats.load(tmp_path / "ref.npz")
    np.testing.assert_array_equal(loaded.sigma, sigma)
    assert loaded.n == 10


# --- the network and the pipeline -------------------------------------------------------


def _write_images(folder, n, seed, size=32):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            folder / f"{i:03d}.png"
        )
    return folder


@pytest.fixture(scope="module")
def inception_pair():
    ours = random_fid_inception()
    return ours, pytorch_fid_inception(ours)


def test_inception_computes_pytorch_fids_features(inception_pair):
    ours, anchor = inception_pair
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        expected = anchor(x)[0].flatten(1)
        plain = ours(x)
        optimized = copy.deepcopy(ours).optimize_for_inference()(x)
    assert expected.shape == (2, 2048) and expected.std() > 1e-3  # features are not degenerate
    torch.testing.assert_close(plain, expected, rtol=1e-5, atol=1e-6)
    # Folded batch norms and channels-last change only the rounding.
    torch.testing.assert_close(
        optimized, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item()
    )


def test_fid_pipeline_end_to_end_matches_pytorch_fid(inception_pair, tmp_path):
    """Folders -> features -> statistics -> FID, against pytorch-fid's own pipeline on the same weights."""
    from pytorch_fid.fid_score import calculate_activation_statistics

    ours, anchor = inception_pair
    fast = copy.deepcopy(ours).optimize_for_inference()  # what load_fid_inception returns
    generated, reference = (
        _write_images(tmp_path / "gen", 3, seed=1),
        _write_images(tmp_path / "ref", 4, seed=2),
    )
    result = fid_score(
        generated, reference, model=fast, batch_size=2, progress=False, cache=tmp_path / "cache"
    )

    expected = {}
    for name, folder in (("gen", generated), ("ref", reference)):
        files = [str(f) for f in list_images(folder)]
        expected[name] = calculate_activation_statistics(files, anchor, batch_size=4, num_workers=0)
    cached = reference_statistics(
        reference, fast, progress=False, cache=tmp_path / "cache"
    )  # no recomputation
    np.testing.assert_allclose(cached.mu, expected["ref"][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        cached.sigma, expected["ref"][1], rtol=1e-3, atol=1e-5 * np.abs(cached.sigma).max()
    )
    assert result.fid == pytest.approx(
        frechet_distance(*expected["gen"], *expected["ref"]), rel=1e-3
    )
    assert result.fid > 0 and (result.n_generated, result.n_reference) == (3, 4)


# --- the reference cache ----------------------------------------------------------------


def _cached(folder, model, cache, **kwargs):
    before = model.images_seen
    stats = reference_statistics(folder, model, batch_size=4, progress=False, cache=cache, **kwargs)
    return stats, model.images_seen > before  # (statistics, recomputed?)


def test_reference_statistics_are_cached_and_recomputed_when_anything_changes(tmp_path):
    folder, cache, model = (
        _write_images(tmp_path / "ref", 5, seed=3),
        tmp_path / "cache",
        TinyFeatures(),
    )
    first, recomputed = _cached(folder, model, cache)
    assert recomputed
    again, recomputed = _cached(folder, model, cache)
    assert not recomputed and np.array_equal(again.sigma, first.sigma)

    Image.new("RGB", (32, 32), (255, 0, 0)).save(folder / "001.png")  # one image edited
    edited, recomputed = _cached(folder, model, cache)
    assert recomputed and not np.array_equal(edited.mu, first.mu)

    _write_images(tmp_path / "extra", 1, seed=4).joinpath("000.png").rename(
        folder / "999.png"
    )  # one added
    added, recomputed = _cached(folder, model, cache)
    assert recomputed and added.n == 6

    _, recomputed = _cached(folder, model, cache, image_size=16)  # preprocessing changed
    assert recomputed
    _, recomputed = _cached(folder, TinyFeatures(seed=1), cache, image_size=16)  # other weights
    assert recomputed
    assert len(list(cache.iterdir())) == 1  # one file per dataset, overwritten


def test_a_precomputed_npz_reference_is_used_as_is(tmp_path):
    model = TinyFeatures()
    generated = _write_images(tmp_path / "gen", 4, seed=5)
    folder_statistics(generated, model, progress=False).save(tmp_path / "ref.npz")
    model.images_seen = 0
    assert fid_score(
        generated, tmp_path / "ref.npz", model=model, progress=False
    ).fid == pytest.approx(0, abs=1e-9)
    assert model.images_seen == 4  # only the generated set went through the network


# --- user errors ------------------------------------------------------------------------


def test_user_errors_name_the_cause_and_the_fix(tmp_path):
    model = TinyFeatures()
    with pytest.raises(FileNotFoundError, match="is not a folder of images"):
        folder_statistics(tmp_path / "missing", model)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"holds no image.*notes\.txt"):
        folder_statistics(tmp_path / "empty", model)
    folder = _write_images(tmp_path / "corrupt", 2, seed=6)
    (folder / "002.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read .*002\.png.*re-save"):
        folder_statistics(folder, model, progress=False)
    mixed = _write_images(tmp_path / "mixed", 1, seed=7, size=32)
    Image.new("RGB", (16, 16)).save(mixed / "small.png")
    with pytest.raises(ValueError, match="pass image_size"):
        folder_statistics(mixed, model, progress=False)
    assert folder_statistics(mixed, model, image_size=16, progress=False).n == 2


def test_identical_images_give_zero_covariance_and_a_finite_distance():
    mu = np.full(8, 0.5)
    assert frechet_distance(mu, np.zeros((8, 8)), mu + 1, np.eye(8)) == pytest.approx(8 + 8)
