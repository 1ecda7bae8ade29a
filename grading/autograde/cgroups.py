"""A control group per sandbox: a process count and a CPU share that bind even as root.

``RLIMIT_NPROC`` counts the processes of a user and does nothing for root (CI, containers
and most grading servers grade as root), and without a group of its own a submission of
twelve busy processes gets twelve times the CPU of an honest one beside it. So every
sandbox (:func:`grading.autograde.sandbox.run`) runs in a cgroup of its own, ``coursekit-<pid>-<n>``
at the top of the machine's hierarchy:

* ``pids.max``: every process and thread of the sandbox together, whoever's uid they run
  under (a fork bomb stops at :attr:`grading.course.Limits.processes`);
* the CPU controller's default weight (``cpu.shares`` 1024 on cgroup v1, ``cpu.weight``
  100 on v2): under contention each sandbox gets the same share of the CPU as every other,
  however many processes it runs: a sandbox weighs as much as one busy process of the
  machine, so an honest one's share does not depend on what runs beside it. (Under a
  common parent the sandboxes together would weigh as one process, and each would lose
  its share to whatever else the machine runs.) Without a group, the kernel's autogroup
  scheduling gives each session a share, but a student makes sessions at will (``setsid``
  in each of twelve processes: twelve shares); inside a group, sessions count for nothing.

The sandbox's first process joins its group before it executes ``bwrap``
(:meth:`Group.join`), so everything inside is counted; inside, the sandbox has its own
cgroup namespace and no ``/sys``, so it cannot leave. When the run ends every process left
in the group is killed and the group removed (:meth:`Group.close`).

Supported: cgroup v1 with writable ``pids`` and ``cpu`` hierarchies, and cgroup v2 with
a writable root (``pids`` and ``cpu`` are enabled for its children). Elsewhere
(no permission, no controller) :func:`hierarchy` is None and :func:`unavailable` says
why; the sandbox then limits what ``setrlimit`` can, and :func:`grading.autograde.sandbox.check`
says what is not limited.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PREFIX = "coursekit-"
"""The sandboxes' groups are ``<hierarchy>/coursekit-<grader's pid>-<n>``."""
CONTROLLERS = ("pids", "cpu")

_names = itertools.count()


@dataclass(frozen=True)
class Hierarchy:
    """Where the sandboxes' groups are made: the top of each controller's hierarchy."""

    version: int
    parents: tuple[Path, ...]
    """v1: ``<root>/pids`` and ``<root>/cpu``; v2: ``<root>``."""

    def describe(self) -> str:
        where = ", ".join(str(p) for p in self.parents)
        return f"cgroup v{self.version} ({where}): pids.max and an equal CPU share per sandbox"


class CgroupError(OSError):
    """No cgroup can be made for the sandboxes here; the message says why."""


def find(root: Path = ROOT) -> Hierarchy:
    """Where groups can be made here; raise :class:`CgroupError` naming why not."""
    if (root / "cgroup.controllers").is_file():  # the unified hierarchy (v2) only
        enabled = (root / "cgroup.controllers").read_text().split()
        missing = [c for c in CONTROLLERS if c not in enabled]
        if missing:
            raise CgroupError(f"cgroup v2 at {root} has no {' or '.join(missing)} controller")
        try:
            (root / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in CONTROLLERS))
        except OSError as error:
            raise CgroupError(
                f"cannot enable pids and cpu in {root / 'cgroup.subtree_control'} "
                f"({error.strerror})"
            ) from error
        return Hierarchy(2, (root,))
    parents = []
    for controller in CONTROLLERS:
        mount = root / controller
        if not (mount / "cgroup.procs").is_file():
            raise CgroupError(f"no cgroup v1 {controller} hierarchy at {mount}")
        if not os.access(mount, os.W_OK):
            raise CgroupError(f"{mount} is not writable for this user")
        parents.append(mount)
    return Hierarchy(1, tuple(parents))


@functools.cache
def _probe() -> Hierarchy | CgroupError:
    try:
        return find()
    except CgroupError as error:
        return error


def hierarchy() -> Hierarchy | None:
    """This machine's hierarchy for the sandboxes, or None (:func:`unavailable` says why)."""
    found = _probe()
    return found if isinstance(found, Hierarchy) else None


def unavailable() -> str:
    """Why no group can be made here ("" when one can)."""
    found = _probe()
    return "" if isinstance(found, Hierarchy) else str(found)


class Group:
    """One sandbox's cgroup (in each controller's hierarchy), made on construction."""

    def __init__(self, where: Hierarchy, processes: int) -> None:
        name = f"{PREFIX}{os.getpid()}-{next(_names)}"
        self.folders = tuple(parent / name for parent in where.parents)
        for folder in self.folders:
            folder.mkdir()
        pids = next(f for f in self.folders if (f / "pids.max").exists())
        (pids / "pids.max").write_text(str(processes))
        self._events = pids / "pids.events"
        self._procs = [os.fsencode(f / "cgroup.procs") for f in self.folders]

    def join(self) -> None:
        """Move the calling process into the group: in the child, between fork and exec
        (raw system calls only, nothing that could wait on a lock of the parent's threads)."""
        for procs in self._procs:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

    def hit_process_limit(self) -> bool:
        """Whether a fork or thread was refused for ``pids.max``."""
        for line in self._events.read_text().splitlines():
            key, _, count = line.partition(" ")
            if key == "max":
                return int(count) > 0
        return False

    def close(self, patience: float = 10.0) -> None:
        """Kill every process left in the group, then remove it."""
        deadline = time.monotonic() + patience
        for folder in self.folders:
            while True:
                left = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                if not left:
                    break
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                if time.monotonic() > deadline:
                    raise CgroupError(f"processes {left} in {folder} survive SIGKILL")
                time.sleep(0.02)
            _remove(folder, deadline)


def _remove(folder: Path, deadline: float) -> None:
    """``rmdir`` of an emptied group: the kernel may still be reaping its last task."""
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
