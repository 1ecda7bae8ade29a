"""The image-folder dataset, path resolution, the resumable sampler and the toy faces."""

from __future__ import annotations

import warnings

import pytest
import torch
from PIL import Image

from helpers.data import ImageFolderDataset, ResumableBatchSampler, resolve_data_dir
from helpers.toy_faces import draw_face, write_toy_faces


def _write(folder, name, mode="RGB", size=(40, 30), colour=(200, 10, 10)):
    folder.mkdir(parents=True, exist_ok=True)
    image = Image.new(mode, size, colour if mode in ("RGB", "RGBA") else 128)
    image.save(folder / name)
    return folder / name


def test_dataset_reads_every_format_recursively_as_rgb_in_minus_one_one(tmp_path):
    _write(tmp_path, "a.png")
    _write(tmp_path / "sub", "b.JPG")
    _write(tmp_path / "sub" / "deeper", "c.webp")
    _write(tmp_path, "gray.png", mode="L")
    _write(tmp_path, "alpha.png", mode="RGBA", colour=(0, 255, 0, 100))
    Image.new("P", (20, 20)).save(tmp_path / "palette.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")
    ds = ImageFolderDataset(tmp_path, image_size=16, augment_horizontal_flip=False)
    assert len(ds) == 6, "non-image files are ignored, every image format is read"
    for i in range(len(ds)):
        x = ds[i]
        assert x.shape == (3, 16, 16) and x.dtype == torch.float32
        assert x.min() >= -1 and x.max() <= 1
    red = ds[ds.paths.index(tmp_path / "a.png")]
    torch.testing.assert_close(red[0], torch.full((16, 16), 200 / 255 * 2 - 1), atol=0.02, rtol=0)


def test_resize_keeps_aspect_and_center_crops(tmp_path):
    image = Image.new("RGB", (60, 20), (0, 0, 0))
    image.paste((255, 255, 255), (20, 0, 40, 20))  # white middle third
    image.save(tmp_path / "wide.png")
    x = ImageFolderDataset(tmp_path, image_size=8, augment_horizontal_flip=False)[0]
    assert x.min() > 0.5, (
        "the center crop of a 3:1 image is its (white) middle third, not a squashed whole"
    )


def test_corrupt_and_truncated_files_are_skipped_and_counted_once(tmp_path):
    for i in range(4):
        _write(tmp_path, f"ok{i}.png")
    (tmp_path / "garbage.jpg").write_bytes(b"this is not a jpeg")
    good = (tmp_path / "ok0.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ImageFolderDataset(tmp_path, image_size=8)
    assert len(ds) == 4 and len(ds.skipped) == 2
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "skipped 2 unreadable image file(s)" in messages[0]


def test_a_file_that_breaks_at_decode_time_is_replaced_not_fatal(tmp_path):
    for i in range(3):
        _write(tmp_path, f"{i}.png")
    ds = ImageFolderDataset(tmp_path, image_size=8)
    (tmp_path / "1.png").write_bytes(b"broken after the scan")
    with pytest.warns(UserWarning, match="could not decode"):
        x = ds[(1, False)]
    assert x.shape == (3, 8, 8)
    assert tmp_path / "1.png" in ds.skipped


def test_empty_folder_and_missing_folder_are_explained(tmp_path):
    with pytest.raises(ValueError, match="no readable images"):
        ImageFolderDataset(tmp_path, image_size=8)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_data_dir(tmp_path / "nope")


def test_resolution_prefers_explicit_path_then_kaggle(tmp_path):
    kaggle = tmp_path / "kaggle_input"
    faces = kaggle / "diffusion" / "faces" / "faces"
    _write(faces, "1.png")
    assert resolve_data_dir(kaggle_input=kaggle) == faces
    explicit = tmp_path / "mine"
    explicit.mkdir()
    assert resolve_data_dir(explicit, kaggle_input=kaggle) == explicit


def test_resolution_error_lists_what_is_attached(tmp_path, monkeypatch):
    kaggle = tmp_path / "kaggle_input"
    (kaggle / "some-other-dataset").mkdir(parents=True)
    monkeypatch.setattr("helpers.places.data_root", lambda: tmp_path / "no-data")
    with pytest.raises(FileNotFoundError) as err:
        resolve_data_dir(kaggle_input=kaggle)
    message = str(err.value)
    assert "some-other-dataset/" in message, "the error lists what is under /kaggle/input"
    assert "Add Input" in message and "toy-faces" in message, "the error says how to fix it"


def test_sampler_stream_depends_only_on_seed_and_position():
    full = ResumableBatchSampler(50, 8, seed=3)
    stream = [
        b for _, b in zip(range(20), iter(full), strict=False)
    ]  # crosses epochs (6 batches each)
    resumed = ResumableBatchSampler(50, 8, seed=3, start_batch=13)
    assert [b for _, b in zip(range(7), iter(resumed), strict=False)] == stream[13:]
    first_epoch = [i for batch in stream[:6] for i, _ in batch]
    assert len(set(first_epoch)) == 48, "an epoch does not repeat an image"
    assert any(flip for batch in stream for _, flip in batch) and not all(
        flip for batch in stream for _, flip in batch
    )


def test_sampler_shards_a_global_batch_across_processes():
    ranks = [next(iter(ResumableBatchSampler(40, 4, seed=1, rank=r, world_size=2))) for r in (0, 1)]
    single = next(iter(ResumableBatchSampler(40, 8, seed=1)))
    assert ranks[0] + ranks[1] == single


def test_fewer_images_than_a_batch_is_explained():
    with pytest.raises(ValueError, match="fewer than one batch of 16"):
        ResumableBatchSampler(10, 16, seed=0)


def test_toy_faces_are_deterministic_varied_and_cached(tmp_path):
    a, b, c = draw_face(7, 32), draw_face(7, 32), draw_face(8, 32)
    assert a.tobytes() == b.tobytes(), "same seed, same face"
    assert a.tobytes() != c.tobytes()
    assert a.size == (32, 32) and a.mode == "RGB"
    out = write_toy_faces(tmp_path / "faces", n=5, size=32, progress=False)
    assert sorted(p.name for p in out.glob("*.png")) == [f"{i:05d}.png" for i in range(5)]
    stamp = (out / "00000.png").stat().st_mtime_ns
    write_toy_faces(out, n=5, size=32, progress=False)
    assert (out / "00000.png").stat().st_mtime_ns == stamp, "the same set is not redrawn"
    write_toy_faces(out, n=3, size=16, progress=False)
    assert len(list(out.glob("*.png"))) == 3 and Image.open(out / "00000.png").size == (16, 16)
