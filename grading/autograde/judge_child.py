"""The judge's side inside the sandbox: one submission's TODOs, each confined on its own.

:mod:`grading.autograde.judge` copies this file and :mod:`grading.autograde.todo_runs` (how each TODO is
called on its cases: no reference, no comparison, no tolerance) into the submission's
scratch and starts :func:`serve` there inside the bubblewrap sandbox. One interpreter
imports torch, matplotlib and ``helpers`` once, reads every job (cells and cases) into
memory, then per job forks a child that confines itself before any student code runs
(:func:`confine`): its own user, mount, PID and IPC namespaces; an empty ``/proc`` (no
other process to read, trace or open the pipes of), empty private tmpfs folders for its
work (its ``TMPDIR`` too) and ``/dev/shm`` (no other job's files; ``/tmp`` is the
sandbox's, bounded), every capability dropped and no new privileges. The child is PID 1 of its namespace: when it ends, everything it started
ends too, and it cannot name, signal or reach this interpreter or another job. It runs
the release's setup cells, the student's cells and the TODO's call on its cases
(:data:`grading.autograde.todo_runs.RUNS`), and writes the outputs, ``torch.save``'d, to its own pipe.

Input (written by the grader): ``jobs.json`` (the job names and limits), ``<job>/job.json``
(the TODO and its cells), ``<job>/cases.pt``. Output: one JSON line per job on stdout as it
finishes, ``{"job": name, "status": how it ended, "ended": true if it ended on its own,
"data": the bytes its pipe gave, hex}``. Nothing is decided here.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import resource
import select
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from grading.autograde.todo_runs import RUNS

CAUSES = {
    signal.SIGKILL: "killed (SIGKILL: out of memory, a time limit, or the code itself)",
    signal.SIGSEGV: "segfault",
    signal.SIGABRT: "aborted",
    signal.SIGXCPU: "over its CPU time limit",
    signal.SIGXFSZ: "wrote a file over the size limit",
    signal.SIGBUS: "bus error",
}

_CLONE_NEWNS, _CLONE_NEWIPC = 0x00020000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWPID = 0x10000000, 0x20000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 2, 4, 8, 0x4000, 0x40000
_PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_DROP, _PR_SET_DUMPABLE = 38, 24, 4
_LIBC = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount_tmpfs(target: str, size: int, mode: str = "700") -> None:
    options = f"size={size},mode={mode}".encode()
    flags = _MS_NOSUID | _MS_NODEV
    _check(_LIBC.mount(b"none", target.encode(), b"tmpfs", flags, options), f"tmpfs on {target}")


def _drop_capabilities() -> None:
    """No capability left in any set, none to regain (the new user namespace gave them all)."""
    for cap in range(64):
        _LIBC.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last capability: ignored

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    header, data = Header(0x20080522, 0), (Data * 2)()
    _check(_LIBC.capset(ctypes.byref(header), ctypes.byref(data)), "capset")
    _check(_LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _watch(pid: int) -> None:
    """Wait for ``pid``, exit with its status; on SIGTERM kill it first.

    Run twice per job: outside the job's namespaces (SIGTERM from :func:`_stop`, past a
    limit, kills PID 1 and with it the namespace) and as PID 1 inside (it ends the
    namespace when the job's process ends). The job's code can signal neither: the first
    is outside its namespace, and PID 1 ignores what its namespace sends it.
    """
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    _, status = os.waitpid(pid, 0)
    os._exit(
        os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    )


def confine(work: Path, scratch_bytes: int, tmp_bytes: int) -> None:
    """Go on as PID 2 of fresh namespaces: no ``/proc``, own tmpfs folders (its work folder,
    which is also its ``TMPDIR``, and ``/dev/shm``), no capabilities.

    This process forks twice: the caller goes on in the grandchild, PID 2 of a new PID
    namespace; the two processes above it only wait (:func:`_watch`).
    """
    uid, gid = os.getuid(), os.getgid()
    _check(_LIBC.unshare(_CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWIPC), "unshare")
    # The same ids inside, so that files can be created (an unmapped id cannot own any).
    # Mapping id 0 of the outer namespace would need CAP_SETFCAP: the sandbox's user is not 0.
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    pid = os.fork()  # the first child after unshare(CLONE_NEWPID) is PID 1 of the new namespace
    if pid:
        _watch(pid)
    _check(_LIBC.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "private mounts")
    _mount_tmpfs("/proc", 4096, "555")
    _mount_tmpfs("/dev/shm", tmp_bytes, "1777")
    # Not over /tmp: the kit and the venv may live under it (a checkout in /tmp), bound
    # into the sandbox there. The job's temporary files go to its own folder instead.
    _mount_tmpfs(str(work), scratch_bytes)
    os.environ["TMPDIR"] = str(work)
    tempfile.tempdir = None
    _drop_capabilities()
    os.chdir(work)
    pid = os.fork()  # the job's code runs as PID 2, which can be killed like any process
    if pid:
        _watch(pid)


def _cell_code(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


NOT_CONFINED = 111
"""Exit status of a job whose confinement failed: the sandbox's fault, not the code's."""


def _child(work: Path, job: dict, cases: list, write_end: int, plan: dict) -> None:
    """One TODO, confined: setup cells, added cells, the solution cell, then its run."""
    if plan["confine"]:
        try:
            confine(work, plan["scratch_bytes"], plan["tmp_bytes"])
        except OSError as error:
            os.write(2, f"cannot confine the run: {error}\n".encode())
            os._exit(NOT_CONFINED)
    result: dict[str, Any] = {"outputs": None, "error": None}
    try:
        out = os.open(os.devnull, os.O_WRONLY)  # printing costs nothing and comes back as nothing
        os.dup2(out, 1)
        os.dup2(out, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), write_through=True)
        sys.stderr = sys.stdout
        resource.setrlimit(resource.RLIMIT_CPU, (plan["cpu_seconds"], plan["cpu_seconds"]))
        ns: dict[str, Any] = {"__name__": "__main__"}
        for kind, source in job["cells"]:
            try:
                exec(compile(_cell_code(source), f"<{kind} cell>", "exec"), ns)
            except BaseException as error:  # a cell a student added may fail: it is not graded
                if kind != "added":
                    raise RuntimeError(f"the {kind} cell raised {error!r}") from error
        result["outputs"] = RUNS[job["todo"]](ns, cases, work)
    except BaseException as error:  # SystemExit included: the verdict is that it failed
        result = {"outputs": None, "error": "".join(traceback.format_exception_only(error)).strip()}
    buffer = io.BytesIO()
    try:
        torch.save(result, buffer)
    except Exception as error:
        buffer = io.BytesIO()
        torch.save({"outputs": None, "error": f"the outputs are not data: {error!r}"}, buffer)
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write(buffer.getvalue())
    os._exit(0)


def _collect(pid: int, read_end: int, wall_seconds: int, most: int) -> tuple[bytes, str, bool]:
    """Read one child's result until EOF; wait for it. Past the wall limit, kill it.

    Returns the bytes, how the run ended (``""``: normally) and whether it ended on its own.
    """
    deadline, chunks, size, status = time.monotonic() + wall_seconds, [], 0, ""
    while True:
        left = deadline - time.monotonic()
        ready = select.select([read_end], [], [], max(left, 0))[0] if left > 0 else []
        if not ready:
            status = f"stopped after {wall_seconds} s (the time limit of one TODO)"
            break
        data = os.read(read_end, 1 << 20)
        if not data:
            break
        chunks.append(data)
        size += len(data)
        if size > most:
            status, chunks = f"result over {most >> 20} MiB", []
            break
    os.close(read_end)
    code = _stop(pid) if status else os.waitpid(pid, 0)[1]
    if not status and not chunks:
        if os.WIFSIGNALED(code) or os.waitstatus_to_exitcode(code) > 128:
            sig = (
                os.WTERMSIG(code) if os.WIFSIGNALED(code) else os.waitstatus_to_exitcode(code) - 128
            )
            status = CAUSES.get(sig, f"killed by signal {signal.Signals(sig).name}")
        elif os.waitstatus_to_exitcode(code) == NOT_CONFINED:
            status = "the sandbox could not confine this TODO's run (the grader's fault)"
        else:
            status = f"the process exited (status {os.waitstatus_to_exitcode(code)}) before returning its outputs"
    # A run stopped from outside (wall clock, output size) did not end on its own: its
    # verdict says nothing about the code alone, so the grader does not keep it.
    outside = ("stopped after", "result over", "the sandbox could not")
    return b"".join(chunks), status, not status.startswith(outside)


def _stop(pid: int) -> int:
    """End a job past its limits: SIGTERM to its watcher, which kills PID 1 of the job's
    namespace and so everything in it; SIGKILL if the watcher has not ended within 5 s."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            return code
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def serve(folder: Path) -> None:
    """Import what every TODO needs once, then fork one confined child per job."""
    results = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    _LIBC.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # belt and braces: nothing may open our /proc
    plan = json.loads((folder / "jobs.json").read_text())
    import matplotlib.pyplot  # noqa: F401

    import helpers  # noqa: F401  (imported before any student code, shared by the forks)

    torch.backends.cpu.get_cpu_capability()  # reads /proc/cpuinfo now: the children have none
    jobs = {name: json.loads((folder / name / "job.json").read_text()) for name in plan["jobs"]}
    cases = {name: torch.load(folder / name / "cases.pt", weights_only=True) for name in jobs}
    if any(job["todo"].startswith("2-") for job in jobs.values()):
        import torchvision.transforms  # noqa: F401

        # helpers.tiny_models imports diffusers inside its functions; a fork that imported
        # it would spend 2-4 s per job on what the next fork imports again.
        from diffusers import IFPipeline, IFSuperResolutionPipeline  # noqa: F401

        import helpers.illusions.sampler  # noqa: F401
        import helpers.tiny_models  # noqa: F401

    report = os.fdopen(results, "w")
    work = Path.cwd()
    for name, job in jobs.items():
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            report.close()
            _child(work, job, cases[name], write_end, plan)
        os.close(write_end)
        data, status, ended = _collect(pid, read_end, plan["wall_seconds"], plan["result_bytes"])
        line = {"job": name, "status": status, "ended": ended, "data": data.hex()}
        report.write(json.dumps(line) + "\n")
        report.flush()
    report.close()


if __name__ == "__main__":
    serve(Path.cwd())
