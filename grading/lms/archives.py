"""What a download is allowed to be before it is unpacked: sizes, counts, ratios, no links.

An LMS download is made of what students uploaded; a zip bomb or a symbolic link in it
must cost one line of the collection's summary, never the grader's disk or a file of
the grader's.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ArchiveLimits:
    """What one zip may unpack to. A class's download of 300 Part 1 submissions (a
    notebook, 1000 PNG faces of about 8 KB, scores) is about 3 GB in 300 000 files, at a
    ratio near 1 (PNGs and the notebooks' base64 images do not compress); a zip bomb of
    2.6 MB unpacked to 2.6 GB (ratio 1000)."""

    total_bytes: int = 16 << 30
    members: int = 1_000_000
    ratio: float = 100.0
    """Uncompressed / compressed, of any member over :attr:`ratio_from_bytes`."""
    ratio_from_bytes: int = 1 << 20
    """Smaller members may compress better (a short text file): they cannot fill a disk."""


ARCHIVE_LIMITS = ArchiveLimits()


LINK_REFUSED = "is a symbolic link: refused (a download holds files, never links)"


def unpack(entry: Path, scratch: Path) -> tuple[Path | None, list[str]]:
    """A student's entry as a folder: itself, or its zip extracted into ``scratch`` after
    :func:`_archive_problem` found nothing wrong with it; with a line per member left out
    (symbolic links). None and why when nothing could be unpacked."""
    if entry.is_dir():
        return entry, []
    if entry.suffix.lower() != ".zip":
        return None, [f"{entry.name} is a lone file, not a student's folder or zip: skipped"]
    refused = []
    try:
        with zipfile.ZipFile(entry) as archive:
            members = archive.infolist()
            why = _archive_problem(entry, members, scratch)
            if why:
                return None, [why]
            target = scratch / entry.stem
            for member in members:
                member.filename = _utf8_name(member)
                if _is_link(member):
                    refused.append(f"{entry.name}: {member.filename} {LINK_REFUSED}")
                else:
                    archive.extract(member, target)
        return target, refused
    except (zipfile.BadZipFile, OSError) as error:
        return None, [f"{entry.name} is not a readable zip file ({error}): nothing collected"]


def _archive_problem(entry: Path, members: list[zipfile.ZipInfo], scratch: Path) -> str:
    """Why ``entry`` must not be unpacked, from its directory alone; "" if it may.

    The sizes are the zip's own: :mod:`zipfile` never writes more than a member declares
    (and fails on a member whose data does not match it)."""
    limits = ARCHIVE_LIMITS
    total = sum(m.file_size for m in members)
    refused = f"{entry.name} is refused before unpacking"
    if len(members) > limits.members:
        return f"{refused}: {len(members):,} files, more than {limits.members:,}"
    if total > limits.total_bytes:
        return f"{refused}: it unpacks to {total / 2**30:.1f} GiB, more than {limits.total_bytes / 2**30:g} GiB"
    for member in members:
        if member.file_size > limits.ratio_from_bytes and member.file_size > limits.ratio * max(
            member.compress_size, 1
        ):
            return (
                f"{refused}: {_utf8_name(member)} unpacks {member.compress_size:,} bytes into "
                f"{member.file_size:,} (more than {limits.ratio:g} times): a zip bomb, not a submission"
            )
    scratch.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(scratch).free
    if total > free:
        return (
            f"{refused}: it unpacks to {total / 2**30:.1f} GiB and {scratch} has "
            f"{free / 2**30:.1f} GiB free: set TMPDIR to a larger disk"
        )
    return ""


def _is_link(member: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(member.external_attr >> 16)


def without_links(folder: Path, scratch: Path) -> tuple[Path, list[str]]:
    """A folder download copied into ``scratch`` without its symbolic links (a link may
    point anywhere on this machine: the instructor's solutions, another student's folder),
    and a line for each link left out."""
    copy = scratch / folder.name
    shutil.copytree(folder, copy, symlinks=True)
    refused = []
    for parent, dirs, files in os.walk(copy):
        for name in [*dirs, *files]:
            path = Path(parent) / name
            if path.is_symlink():
                refused.append(f"{path.relative_to(copy)} {LINK_REFUSED}")
                path.unlink()
    return copy, sorted(refused)


def _utf8_name(member: zipfile.ZipInfo) -> str:
    """The member's name: zip tools that skip the UTF-8 flag still write UTF-8 names."""
    if member.flag_bits & 0x800:
        return member.filename
    try:
        return member.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return member.filename
