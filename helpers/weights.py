"""Files the kit needs but does not ship: network weights and the anime-face cascade.

:func:`fetch` finds an :class:`Asset` in this order and returns its path:

1. an explicit path: the ``path`` argument, else the asset's environment variable
   (``COURSEKIT_ANIMEFACE_CASCADE``, ``COURSEKIT_FID_WEIGHTS``). An explicit path is
   used as given; when it does not exist that is an error, never a silent fallback;
2. the cache directory, ``$COURSEKIT_CACHE`` (default ``~/.cache/diffusion-course-kit``);
3. ``/kaggle/input`` up to four levels deep (:func:`helpers.places.find_in_kaggle_input`),
   where Kaggle mounts the datasets and models attached to a notebook;
4. a download from the asset's canonical URL into the cache, unless
   ``COURSEKIT_OFFLINE=1``: one attempt with a short timeout and no retries, so that
   an offline machine (Kaggle with internet off, CI) fails within seconds.

Every file is checked against its SHA-256 before use. Where the publisher gives only a
prefix of the digest (torch hub file names carry the first 8 hex digits, as in
``pt_inception-2015-12-05-6726825d.pth``), the prefix is what is checked.

When nothing is found, :class:`MissingWeightsError` names the file, every folder
searched, why the download did not happen, and how to supply the file.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from helpers import places

__all__ = [
    "ANIMEFACE_CASCADE",
    "Asset",
    "FID_INCEPTION",
    "MissingWeightsError",
    "fetch",
    "sha256_of",
]

DOWNLOAD_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Asset:
    """A file fetched on demand.

    Attributes:
        name: the file name, in the cache and in the search folders.
        url: canonical download URL.
        sha256: full hex digest, or the prefix the publisher gives (at least 8 digits).
        env: environment variable that may hold an explicit path to the file.
        what: what the file is, for messages.
    """

    name: str
    url: str
    sha256: str
    env: str
    what: str


FID_INCEPTION = Asset(
    name="pt_inception-2015-12-05-6726825d.pth",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    sha256="6726825d",  # pytorch-fid publishes the torch hub prefix only
    env="COURSEKIT_FID_WEIGHTS",
    what="the FID Inception weights of pytorch-fid",
)

ANIMEFACE_CASCADE = Asset(
    name="lbpcascade_animeface.xml",
    url="https://raw.githubusercontent.com/nagadomi/lbpcascade_animeface/master/lbpcascade_animeface.xml",
    sha256="9376d30ac38db6bda2a68b88b3b76bbd7e6aa33af47f7f5c76bc88ca75f1ce30",
    env="COURSEKIT_ANIMEFACE_CASCADE",
    what="nagadomi's anime-face LBP cascade (MIT)",
)


class MissingWeightsError(FileNotFoundError):
    """A needed file is neither on disk nor downloadable; the message says how to supply it."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(
    asset: Asset, path: str | os.PathLike | None = None, *, download: bool | None = None
) -> Path:
    """Return a local, hash-checked path to ``asset`` (see the module docstring for the order).

    Args:
        asset: what to fetch, e.g. :data:`FID_INCEPTION`.
        path: explicit file; overrides the environment variable and the search.
        download: allow the download step; default: unless ``COURSEKIT_OFFLINE=1``.

    Raises:
        MissingWeightsError: nowhere to be found and not downloadable.
        ValueError: a file was found but its SHA-256 is wrong.
    """
    explicit = path or os.environ.get(asset.env)
    if explicit:
        explicit = Path(explicit).expanduser()
        if not explicit.is_file():
            source = "the path given" if path else f"${asset.env}"
            raise MissingWeightsError(
                f"{asset.name} ({asset.what}) not found at {explicit}, which {source} points to. "
                f"Fix the path, or unset {asset.env} to use the cache {places.cache_dir()}."
            )
        return _checked(asset, explicit)

    cached = places.cache_dir() / asset.name
    if cached.is_file():
        return _checked(asset, cached)
    for hit in places.find_in_kaggle_input(glob.escape(asset.name)):
        return _checked(asset, hit)

    if download is None:
        download = not places.offline()
    if not download:
        reason = "downloads are off (COURSEKIT_OFFLINE=1)"
    else:
        try:
            return _download(asset, cached)
        except OSError as exc:  # URLError, timeouts and refused connections are OSErrors
            reason = f"the download from {asset.url} failed: {exc}"
    raise MissingWeightsError(_missing_message(asset, reason))


def _missing_message(asset: Asset, reason: str) -> str:
    searched = (
        f"{places.cache_dir()}, {places.kaggle_input_dir()} "
        f"(up to {places.KAGGLE_SEARCH_DEPTH} levels deep)"
    )
    return (
        f"Missing {asset.name} ({asset.what}). Searched: {searched}; {reason}. "
        f"To provide it, download {asset.url} on a machine with internet and either put it in "
        f"{places.cache_dir()} (the folder $COURSEKIT_CACHE names), set {asset.env} to its path, or, on "
        f"Kaggle, attach a dataset that contains it (it is then found under /kaggle/input)."
    )


def _checked(asset: Asset, path: Path) -> Path:
    digest = sha256_of(path)
    if not digest.startswith(asset.sha256):
        raise ValueError(
            f"{path} is not {asset.what}: its SHA-256 is {digest}, expected {asset.sha256}"
            f"{'…' if len(asset.sha256) < 64 else ''}. Delete it and fetch {asset.url} again."
        )
    return path


def _download(asset: Asset, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Download beside the target and rename once checked, so that an interrupted or
    # corrupt download never sits in the cache under the real name.
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{asset.name}.", delete=False
    ) as tmp:
        try:
            with urllib.request.urlopen(asset.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                shutil.copyfileobj(response, tmp)
            tmp.close()
            _checked(asset, Path(tmp.name))
            os.replace(tmp.name, target)
        finally:
            Path(tmp.name).unlink(missing_ok=True)
    return target
