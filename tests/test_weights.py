"""helpers.weights: lookup order, hash checks, download, and the offline error message."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from helpers.weights import FID_INCEPTION, Asset, MissingWeightsError, fetch

PAYLOAD = b"weights of a test"
ASSET = Asset(
    name="test-weights.bin",
    url="http://127.0.0.1:9/test-weights.bin",  # the discard port: refused at once, offline or not
    sha256=hashlib.sha256(PAYLOAD).hexdigest(),
    env="COURSEKIT_TEST_WEIGHTS",
    what="a test file",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSEKIT_OFFLINE", raising=False)
    monkeypatch.delenv(ASSET.env, raising=False)
    monkeypatch.delenv(FID_INCEPTION.env, raising=False)
    monkeypatch.setenv("COURSEKIT_KAGGLE_INPUT", str(tmp_path / "kaggle" / "input"))


def test_offline_without_the_file_fails_naming_file_folders_and_fix(tmp_path):
    with pytest.raises(MissingWeightsError) as error:
        fetch(ASSET)
    message = str(error.value)
    assert "test-weights.bin" in message and "a test file" in message
    assert str(tmp_path / "cache") in message and str(tmp_path / "kaggle" / "input") in message
    assert "download from http://127.0.0.1:9/test-weights.bin failed" in message
    assert "COURSEKIT_TEST_WEIGHTS" in message and "attach a dataset" in message
    assert not (tmp_path / "cache").exists() or not any(
        (tmp_path / "cache").iterdir()
    )  # no partial file left


def test_the_fid_weights_message_names_pytorch_fids_file_when_downloads_are_off(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    with pytest.raises(
        MissingWeightsError, match=r"pt_inception-2015-12-05-6726825d\.pth.*COURSEKIT_OFFLINE=1"
    ):
        fetch(FID_INCEPTION)


def test_the_fid_inception_loader_fails_with_the_same_message(monkeypatch):
    from helpers.metrics.inception import load_fid_inception

    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match="Missing pt_inception-2015-12-05-6726825d.pth"):
        load_fid_inception()


def test_found_in_the_cache_then_in_a_nested_kaggle_input_folder(tmp_path):
    nested = tmp_path / "kaggle" / "input" / "fid-weights" / "pytorch" / "default"
    nested.mkdir(parents=True)
    (nested / ASSET.name).write_bytes(PAYLOAD)
    assert fetch(ASSET, download=False) == nested / ASSET.name
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / ASSET.name).write_bytes(PAYLOAD)
    assert fetch(ASSET, download=False) == tmp_path / "cache" / ASSET.name  # the cache comes first


def test_an_explicit_path_wins_and_a_wrong_one_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "mine.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv(ASSET.env, str(tmp_path / "mine.bin"))
    assert fetch(ASSET) == tmp_path / "mine.bin"
    monkeypatch.setenv(ASSET.env, str(tmp_path / "typo.bin"))
    with pytest.raises(MissingWeightsError, match=r"typo\.bin.*\$COURSEKIT_TEST_WEIGHTS"):
        fetch(ASSET)


def test_a_file_with_the_wrong_hash_is_refused(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / ASSET.name).write_bytes(b"truncated")
    with pytest.raises(ValueError, match="is not a test file: its SHA-256 is"):
        fetch(ASSET)


def test_a_hash_prefix_is_checked_as_a_prefix(tmp_path):
    (tmp_path / "f.bin").write_bytes(PAYLOAD)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert (
        fetch(dataclasses.replace(ASSET, sha256=digest[:8]), tmp_path / "f.bin")
        == tmp_path / "f.bin"
    )
    with pytest.raises(ValueError):
        fetch(dataclasses.replace(ASSET, sha256="0" * 8), tmp_path / "f.bin")


def test_a_download_lands_in_the_cache_after_its_hash_check(tmp_path):
    source = tmp_path / "server" / ASSET.name
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    asset = dataclasses.replace(
        ASSET, url=source.as_uri()
    )  # file:// goes through urllib like https://
    path = fetch(asset)
    assert path == tmp_path / "cache" / ASSET.name and path.read_bytes() == PAYLOAD
    with pytest.raises(ValueError, match="SHA-256"):
        fetch(dataclasses.replace(asset, name="other.bin", sha256="f" * 64))
    assert not (tmp_path / "cache" / "other.bin").exists()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        ASSET.name
    ]  # no temporary left
