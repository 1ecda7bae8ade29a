"""The bubblewrap sandbox (grading/autograde/sandbox.py): what a process inside can and cannot reach.

Each test runs a small program inside a real sandbox and asserts on what it printed.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from grading.autograde import sandbox
from grading.course import COURSE, GRADING, REPO, Limits

PROBE = r"""
import importlib.util, json, os, socket, subprocess
out = {"grading": importlib.util.find_spec("grading") is not None}
out["repo"] = sorted(os.listdir(REPO))
out["home"] = os.path.exists(os.path.expanduser("~root/.bashrc"))
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
    out["network"] = "connected"
except OSError as error:
    out["network"] = type(error).__name__
out["umount"] = subprocess.run(["umount", REPO + "/.venv"], capture_output=True).returncode
status = open("/proc/self/status").read()
out["caps"] = status.split("CapEff:")[1].split()[0]
out["pid"] = os.getpid()
import helpers
out["helpers"] = helpers.__file__
print(json.dumps(out))
"""


def python_in_sandbox(program: str, folder, **options) -> sandbox.Finished:
    """``python -c program`` in a sandbox whose scratch is ``folder``."""
    return sandbox.run(
        [sys.executable, "-c", program], folder, {"PATH": "/usr/bin:/bin"}, **options
    )


@pytest.fixture(scope="module")
def available():
    try:
        sandbox.check()
    except sandbox.SandboxUnavailable as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(error))


def test_inside_only_the_scratch_the_venv_and_helpers_are_there(available, tmp_path):
    done = python_in_sandbox(f"REPO = {str(REPO)!r}\n" + PROBE, tmp_path)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    seen = json.loads(done.stdout)
    assert not seen["grading"], "grading (the reference, hidden tests) must not be importable"
    assert seen["repo"] == [".venv", "helpers"], "only the venv and helpers of the repository"
    assert not seen["home"], "$HOME of the grader must be invisible"
    assert seen["network"] != "connected", "no network"
    assert seen["umount"] != 0, "nothing can be unmounted"
    assert int(seen["caps"], 16) == 0, "no capabilities"
    assert seen["pid"] < 10, "its own PID namespace"
    assert seen["helpers"].startswith(str(REPO / "helpers"))


def test_writes_outside_the_scratch_fail(available, tmp_path):
    targets = [REPO / "helpers" / "planted.py", GRADING / "planted.py", COURSE / "planted"]
    program = "\n".join(
        f"try:\n    open({str(t)!r}, 'w').write('x')\n    print('wrote')\nexcept OSError:\n    pass"
        for t in targets
    )
    done = python_in_sandbox(program, tmp_path)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b"wrote" not in done.stdout
    assert not any(t.exists() for t in targets)


def test_limits_stop_a_submission_and_say_which(available, tmp_path):
    slow = python_in_sandbox("import time\nwhile True: time.sleep(1)", tmp_path, wall_seconds=3)
    assert slow.limit.startswith("wall-clock limit"), slow
    loud = python_in_sandbox(
        "import sys\nwhile True: sys.stdout.write('x' * 65536)",
        tmp_path,
        limits=Limits(output_bytes=1 << 20),
    )
    assert loud.limit.startswith("output limit"), loud
    big = python_in_sandbox(
        "open('big', 'wb').write(b'x' * (4 << 20))", tmp_path, limits=Limits(file_bytes=1 << 20)
    )
    assert big.returncode != 0 and b"File too large" in big.stderr, big


def test_the_scratch_is_a_bounded_private_copy(available, tmp_path):
    (tmp_path / "given.txt").write_text("input")
    program = (
        "import os\nprint(open('given.txt').read())\nopen('given.txt', 'w').write('changed')\n"
        "written = 0\ntry:\n    for k in range(64):\n"
        "        open(f'fill{k}', 'wb').write(b'x' * (1 << 20))\n        written += 1\n"
        "except OSError as error:\n    print(error.strerror)\nprint(written)"
    )
    done = python_in_sandbox(program, tmp_path, limits=Limits(scratch_bytes=8 << 20))
    lines = done.stdout.decode().split()
    assert lines[0] == "input", "the scratch starts as a copy of the work folder"
    assert "space" in done.stdout.decode() and int(lines[-1]) <= 8, "the scratch is bounded"
    assert (tmp_path / "given.txt").read_text() == "input", "the work folder is read-only"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["given.txt"], "nothing comes out"


def test_a_process_left_running_dies_with_the_sandbox(available, tmp_path):
    marker = f"orphan-{os.getpid()}-{tmp_path.name}"
    program = (
        "import subprocess\n"
        f"subprocess.Popen(['/bin/sh', '-c', 'sleep 60; echo {marker}'], start_new_session=True)\n"
    )
    done = python_in_sandbox(program, tmp_path)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    import subprocess
    import time

    time.sleep(1)
    alive = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert not alive.strip(), "a double-forked process outlived its sandbox"


def test_without_bwrap_the_check_names_the_fix(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt install bubblewrap"):
        sandbox.check()


def test_autograde_without_a_sandbox_stops_before_grading_and_names_the_fix(
    monkeypatch, tmp_path, capsys
):
    from grading.autograde import batch as pipeline

    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert pipeline.main(["--submitted", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "apt install bubblewrap" in error and "--no-sandbox" in error
    assert not any(tmp_path.iterdir()), "nothing was graded"


FORK_BOMB = r"""
import os, time
forked = 0
try:
    for _ in range(400):
        if os.fork() == 0:
            time.sleep(60)  # MARKER
            os._exit(0)
        forked += 1
except OSError as error:
    print(forked, error.strerror)
else:
    print(forked, "none refused")
"""


def test_a_fork_bomb_stops_at_the_process_limit_even_as_root(available, tmp_path):
    """As root RLIMIT_NPROC binds nothing: the sandbox's cgroup (pids.max) must."""
    from grading.autograde import cgroups

    marker = f"fork-bomb-{os.getpid()}-{tmp_path.name}"
    where = cgroups.hierarchy()

    def ours() -> set:  # this process's groups: other tests of this worker may hold one too
        pattern = f"{cgroups.PREFIX}{os.getpid()}-*"
        return {p for parent in where.parents for p in parent.glob(pattern)} if where else set()

    before = ours()
    done = python_in_sandbox(
        FORK_BOMB.replace("MARKER", marker), tmp_path, limits=Limits(processes=48)
    )
    forked, _, why = done.stdout.decode().partition(" ")
    assert 0 < int(forked) < 48, done
    assert "Resource temporarily unavailable" in why, done
    import subprocess

    alive = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert not alive.strip(), "the forked processes outlived the sandbox"
    left = ours() - before  # the sandbox's group is gone with it
    assert not left, left


FILL = r"""
import errno, json
written = {}
for place in ("/tmp", "/dev/shm", "/", "/dev", "/run"):
    count = 0
    try:
        for k in range(64):
            with open(f"{place}/fill{k}", "wb") as out:
                out.write(b"x" * (1 << 20))
            count += 1
        written[place] = [count, "no error"]
    except OSError as error:
        written[place] = [count, errno.errorcode[error.errno]]
print(json.dumps(written))
"""


def test_tmp_and_dev_shm_are_bounded_and_nothing_else_is_writable(available, tmp_path):
    done = python_in_sandbox(FILL, tmp_path, limits=Limits(tmp_bytes=4 << 20))
    written = json.loads(done.stdout)
    for place in ("/tmp", "/dev/shm"):
        count, error = written[place]
        assert count <= 4 and error == "ENOSPC", (place, written)
    for place in ("/", "/dev", "/run"):
        assert written[place] == [0, "EROFS"], (place, written)


def test_the_check_says_what_bounds_processes_and_cpu(available, monkeypatch):
    from grading.autograde import cgroups

    if cgroups.hierarchy() is not None:
        assert sandbox.check().startswith("processes and CPU per sandbox: cgroup v")
    monkeypatch.setattr(cgroups, "hierarchy", lambda: None)
    monkeypatch.setattr(cgroups, "unavailable", lambda: "cannot make /sys/fs/cgroup/x")
    for root, says in ((True, "does not bind (RLIMIT_NPROC ignores root)"), (False, "per user")):
        monkeypatch.setattr(sandbox.os, "geteuid", lambda root=root: 0 if root else 1000)
        line = sandbox.check()
        assert line.startswith("warning: no cgroup") and says in line, line
        assert "cannot make /sys/fs/cgroup/x" in line and "fix: " in line
