"""One bubblewrap sandbox per submission: where student code runs, and all it can touch.

Every process that runs a student's code starts through :func:`run` (the judge's runs of
each TODO) or :func:`start` (nbgrader's kernel, :mod:`grading.autograde.kernel`), which wrap it in
``bwrap`` (Debian/Ubuntu package ``bubblewrap``, the sandbox Flatpak uses; unprivileged,
through user namespaces):

* its own user, PID, network, IPC, UTS and cgroup namespaces, no capabilities
  (``--cap-drop ALL``: nothing can be unmounted or remounted), a new session and
  ``--die-with-parent`` (no process outlives the sandbox: PID 1 of its namespace dies
  with the grader's child, and every process in it with PID 1);
* no network: only its own loopback interface;
* a read-only view of the system (``/usr``, ``/etc``, the Python installation, the
  kit's ``.venv`` and ``helpers/``) and nothing else of the machine: not ``grading/``
  (reference, sources, hidden tests), not the course directory (gradebook, other
  students, feedback), not the submissions folder, not ``$HOME``; the ``.pth`` file that
  puts the repository on the venv's path is masked by an empty file;
* three writable places, all bounded tmpfs that vanish with the sandbox: its private
  scratch (``limits.scratch_bytes`` at the path of ``work``, filled with a copy of ``work``
  when the sandbox starts), ``/tmp`` and ``/dev/shm`` (``limits.tmp_bytes`` each); the
  root and ``/dev`` (tmpfs of bwrap's own, as large as half the RAM) are read-only, and so
  is ``work`` itself: nothing a submission writes reaches the machine's disk or outlives
  it; what the grader needs back comes on stdout (bounded);
* a cgroup of its own (:mod:`grading.autograde.cgroups`): at most ``limits.processes`` processes
  and threads, and the same share of the CPU as every other sandbox, both binding for
  root too; :func:`check` says when this machine gives no cgroup;
* limits per process (:class:`grading.course.Limits`): address space, CPU seconds, file
  size, number of processes of the sandbox's user (binding only for a user that is not
  root), no core dumps; the wall clock and the bytes read back are bounded by the caller
  (:func:`run`).

``--no-sandbox`` (``python -m grading.autograde.batch --no-sandbox``) runs the same
commands without ``bwrap``: for trusted code only (the instructor's own notebooks).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grading.autograde import cgroups
from grading.course import LIMITS, REPO, Limits

FIX = (
    "install bubblewrap (Debian/Ubuntu: `sudo apt install bubblewrap`) and allow unprivileged "
    "user namespaces (`sudo sysctl -w kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 also "
    "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), or pass --no-sandbox "
    "to grade trusted notebooks only"
)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces on this machine."""


def venv_pth() -> Path:
    """The ``.pth`` file ``make setup`` writes: it puts the repository on the venv's path."""
    return Path(sysconfig.get_paths()["purelib"]) / "coursekit_repository.pth"


def readable() -> list[Path]:
    """What a sandbox may read besides the system: Python, the venv and the student package."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix), REPO / "helpers"}
    return sorted(p for p in paths if p.exists())


SANDBOX_ID = 1000
"""The user and group id inside every sandbox (the grader's own id outside)."""

INBOX = "/run/inbox"
"""Where ``work`` is visible, read-only, inside the sandbox: copied from there into the scratch."""


def bwrap_command(
    argv: list[str],
    work: Path,
    env: dict[str, str],
    extra: tuple[Path, ...] = (),
    limits: Limits = LIMITS,
) -> list[str]:
    """``argv`` inside a sandbox whose only writable places are bounded tmpfs: a scratch
    copy of ``work`` (``limits.scratch_bytes``), ``/tmp`` and ``/dev/shm``
    (``limits.tmp_bytes`` each). The root and ``/dev`` (tmpfs that bwrap makes, unbounded)
    are read-only.

    ``extra``: more folders it may read (the grader's own, never the student's).
    """
    command = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        # Not 0: a process mapping id 0 into a namespace of its own needs CAP_SETFCAP, and
        # the judge confines each TODO in namespaces of its own (grading/autograde/judge_child.py).
        "--uid",
        str(SANDBOX_ID),
        "--gid",
        str(SANDBOX_ID),
        "--ro-bind",
        "/usr",
        "/usr",
        "--ro-bind",
        "/etc",
        "/etc",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        *("--size", str(limits.tmp_bytes), "--tmpfs", "/dev/shm"),
        *("--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"),
    ]
    for link in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(link):
            command += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            command += ["--ro-bind", link, link]
    for path in (*readable(), *extra):
        command += ["--ro-bind", str(path), str(path)]
    if venv_pth().is_file():
        command += ["--ro-bind", os.devnull, str(venv_pth())]
    command += ["--ro-bind", str(work), INBOX]
    command += ["--size", str(limits.scratch_bytes), "--tmpfs", str(work)]
    # Last, once every mount point exists: nothing else is writable.
    command += ["--remount-ro", "/dev", "--remount-ro", "/"]
    command += ["--chdir", str(work), "--clearenv"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    fill = f'cp -a {INBOX}/. . && exec "$@"'
    return [*command, "--", "/bin/sh", "-c", fill, "sh", *argv]


def start(
    argv: list[str],
    work: Path,
    env: dict[str, str],
    *,
    sockets: Path,
    sandbox: bool = True,
    limits: Limits = LIMITS,
) -> tuple[subprocess.Popen, cgroups.Group | None]:
    """Start ``argv`` (a notebook's kernel) in a sandbox like :func:`run`'s, where
    ``sockets`` is writable too: the caller talks to it through unix sockets there.

    It reads nothing and writes nowhere the caller reads but ``sockets``: its stdout and
    stderr go to ``/dev/null``. The caller ends it by killing its process group (the
    process is a session leader; bwrap's ``--die-with-parent`` ends everything inside),
    then closes its cgroup (the second value, when there is one), which kills what is left.
    """
    command = argv
    if sandbox:
        command = bwrap_command(argv, work, env, (), limits)
        options = command.index("--")  # the end of bwrap's options
        command[options:options] = ["--bind", str(sockets), str(sockets)]
    where = cgroups.hierarchy()
    group = cgroups.Group(where, limits.processes) if where else None
    process = subprocess.Popen(
        command,
        cwd=work,
        env=None if sandbox else {**env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: _set_limits(limits, group),
    )
    return process, group


def environment(work: Path) -> dict[str, str]:
    """The environment of every process in a sandbox (judge and notebook): nothing of the
    grader's, one thread per process, Agg plots, caches in the scratch."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(work / ".matplotlib"),
        "JUPYTER_RUNTIME_DIR": str(work / ".jupyter-runtime"),
        "NBGRADER_EXECUTION": "autograde",
        "COURSEKIT_MODE": "smoke",
        "COURSEKIT_RESULTS": str(work / "results"),
    }


def check() -> str:
    """Raise :class:`SandboxUnavailable` naming the fix unless a sandbox starts here; return
    what bounds each sandbox's processes and CPU share (:func:`process_limits`)."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {FIX}")
    try:
        with tempfile.TemporaryDirectory(prefix="sandbox-check-") as probe:
            done = subprocess.run(
                bwrap_command(
                    [sys.executable, "-I", "-c", NESTED_PROBE], Path(probe), {}, limits=PROBE_LIMITS
                ),
                capture_output=True,
                text=True,
                timeout=30,
            )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SandboxUnavailable(f"bwrap could not start ({error}): {FIX}") from error
    if done.returncode:
        raise SandboxUnavailable(
            f"bwrap cannot create its namespaces here ({done.stderr.strip()}): {FIX}"
        )
    return process_limits()


PROBE_LIMITS = Limits(scratch_bytes=1 << 20, tmp_bytes=1 << 20)

NESTED_PROBE = (
    "import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); "
    "sys.exit(0 if libc.unshare(0x10000000 | 0x20000 | 0x20000000 | 0x08000000) == 0 else "
    "'the judge cannot give each TODO namespaces of its own inside the sandbox: unshare: ' "
    "+ os.strerror(ctypes.get_errno()) + ' (allow nested user namespaces: user.max_user_namespaces)')"
)
"""Run in the probe sandbox: what :func:`grading.autograde.judge_child.confine` needs inside one."""

CGROUP_FIX = (
    "give the grader write access to /sys/fs/cgroup (cgroup v1: its pids and cpu hierarchies; "
    "v2: the root, with the pids and cpu controllers), e.g. grade as root in a container "
    "started with a writable cgroup"
)


def process_limits(limits: Limits = LIMITS) -> str:
    """One line: what bounds a sandbox's number of processes and its share of the CPU here,
    or a warning naming what is not bound and the fix."""
    where = cgroups.hierarchy()
    if where is not None:
        return f"processes and CPU per sandbox: {where.describe()}"
    why = cgroups.unavailable()
    if os.geteuid() == 0:
        return (
            f"warning: no cgroup for the sandboxes ({why}): running as root, the process "
            f"limit ({limits.processes}) does not bind (RLIMIT_NPROC ignores root) and one "
            f"submission's processes can take the CPU from the others; fix: {CGROUP_FIX}"
        )
    return (
        f"warning: no cgroup for the sandboxes ({why}): processes are limited per user "
        f"(RLIMIT_NPROC {limits.processes}, all of this user's processes together) and one "
        f"submission's processes can take the CPU from the others; fix: {CGROUP_FIX}"
    )


def _set_limits(limits: Limits, group: cgroups.Group | None) -> None:
    """In the child before exec: inherited by bwrap and every process in the sandbox."""
    os.setsid()
    if group is not None:
        group.join()
    for kind, value in (
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(kind, (value, value))


class Stopped(RuntimeError):
    """The grader is stopping (:func:`stop_all`): no sandbox starts any more."""


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()


def stop_all() -> int:
    """Kill every running sandbox and refuse new ones: the grader was interrupted.

    The sandboxes run in sessions of their own, so the terminal's Ctrl-C never reaches
    them; without this an interrupted run waited for each to end. Returns how many it killed.
    """
    with _RUNNING_LOCK:
        _STOPPING.set()
        running = list(_RUNNING)
    for process in running:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(running)


def reopen() -> None:
    """Sandboxes may start again: a new run in a process whose last run was interrupted."""
    _STOPPING.clear()


@dataclass
class Finished:
    """What came back from one sandbox: its exit status, its bounded output, what stopped it."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    limit: str = ""
    """The limit that ended it (wall clock, output size, CPU, memory), or ``""``."""


def run(
    argv: list[str],
    work: Path,
    env: dict[str, str],
    *,
    sandbox: bool = True,
    limits: Limits = LIMITS,
    wall_seconds: float | None = None,
    extra: tuple[Path, ...] = (),
) -> Finished:
    """Run ``argv`` in a sandbox on a private scratch copy of ``work`` (its cwd).

    Without the sandbox (``sandbox=False``: trusted code only) it runs in ``work`` itself.

    The whole process group is killed when the wall clock runs out or the output passes
    ``limits.output_bytes``; with ``--die-with-parent`` that ends everything inside.
    """
    wall = wall_seconds or limits.wall_seconds
    command = bwrap_command(argv, work, env, extra, limits) if sandbox else argv
    where = cgroups.hierarchy()
    group = cgroups.Group(where, limits.processes) if where else None
    start = time.monotonic()
    with _RUNNING_LOCK:
        if _STOPPING.is_set():
            raise Stopped("the grader is stopping: no new sandbox")
        process = subprocess.Popen(
            command,
            cwd=work,
            env=None if sandbox else {**env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: _set_limits(limits, group),
        )
        _RUNNING.add(process)
    try:
        out, err, limit = _bounded(process, wall, limits.output_bytes)
        code = process.wait()
        if not limit and code and group is not None and group.hit_process_limit():
            limit = f"process limit ({limits.processes} processes and threads)"
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(process)
        if group is not None:
            group.close()
    if _STOPPING.is_set():
        raise Stopped("the grader is stopping: this sandbox was killed")
    if not limit and code < 0 and -code == signal.SIGXCPU:
        limit = f"CPU time limit ({limits.cpu_seconds} s per process)"
    return Finished(code, out, err, time.monotonic() - start, limit)


def _bounded(process: subprocess.Popen, wall: float, most: int) -> tuple[bytes, bytes, str]:
    """Read stdout and stderr up to ``most`` bytes in all until ``wall`` seconds have passed."""
    import selectors

    chunks: dict[int, list[bytes]] = {process.stdout.fileno(): [], process.stderr.fileno(): []}
    deadline, size, limit = time.monotonic() + wall, 0, ""
    with selectors.DefaultSelector() as selector:
        for stream in (process.stdout, process.stderr):
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                limit = f"wall-clock limit ({wall:.0f} s)"
                break
            for key, _ in selector.select(min(left, 1.0)):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                size += len(data)
                if size > most:
                    limit = f"output limit ({most >> 20} MiB)"
                    break
                chunks[key.fd].append(data)
            if limit:
                break
    if limit:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    out = b"".join(chunks[process.stdout.fileno()])
    err = b"".join(chunks[process.stderr.fileno()])
    process.stdout.close()
    process.stderr.close()
    return out, err, limit
