"""``python -m benchmarks.sandbox_cpu``: does a CPU hog in one sandbox slow another sandbox?

    python -m benchmarks.sandbox_cpu [--hog-processes 12] [--repeats 3]

Times an honest sandbox (one process, a fixed amount of arithmetic) alone and beside a
hostile sandbox whose ``--hog-processes`` processes spin, each in a session of its own
(:data:`HOG`), as two autograde workers would
run them: first with each sandbox in a cgroup of its own (:mod:`grading.autograde.cgroups`), then
without cgroups (what ``RLIMIT_*`` alone gives). Prints the honest sandbox's wall time in
each case (the median of ``--repeats``) and its ratio to the time alone. Timing varies with
whatever else the machine runs: a benchmark, never a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from grading.autograde import cgroups, sandbox

HONEST = "total = 0\nfor k in range({n}):\n    total += k * k\nprint(total)"
HOG = (
    "import os\nfor _ in range({processes} - 1):\n    if os.fork() == 0:\n        os.setsid()\n"
    "        break\nwhile True:\n    pass"
)
"""Each process in a session of its own: where the kernel's autogroup scheduling is on
(``/proc/sys/kernel/sched_autogroup_enabled``), a session is a scheduling group, so plain
forks share one share of the CPU and only new sessions multiply it."""
ENV = {"PATH": "/usr/bin:/bin"}


def honest_seconds(n: int, work: Path) -> float:
    done = sandbox.run([sys.executable, "-c", HONEST.format(n=n)], work, ENV)
    assert done.returncode == 0, done.stderr.decode()[-500:]
    return done.seconds


def beside_a_hog(n: int, processes: int, work: Path) -> float:
    """The honest sandbox's time while a hog sandbox runs on the same machine."""
    hog_dir = work / "hog"
    hog_dir.mkdir(exist_ok=True)
    stop = threading.Event()

    def hog() -> None:
        while not stop.is_set():  # the wall-clock limit ends it; it spins until then
            sandbox.run([sys.executable, "-c", HOG.format(processes=processes)], hog_dir, ENV,
                        wall_seconds=5)  # fmt: skip

    thread = threading.Thread(target=hog)
    thread.start()
    time.sleep(1.0)  # the hog is running
    try:
        return honest_seconds(n, work)
    finally:
        stop.set()
        thread.join()


def measure(n: int, processes: int, repeats: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="sandbox-cpu-") as name:
        work = Path(name)
        return {
            "alone": statistics.median(honest_seconds(n, work) for _ in range(repeats)),
            "beside": statistics.median(beside_a_hog(n, processes, work) for _ in range(repeats)),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sandbox_cpu", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--hog-processes", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=int, default=20_000_000, help="loop steps of the honest run")
    args = parser.parse_args(argv)
    sandbox.check()
    where = cgroups.hierarchy()
    if where is None:
        print(f"no cgroup here ({cgroups.unavailable()}): nothing to compare", file=sys.stderr)
        return 1
    print(f"honest sandbox: {args.work} loop steps; hog: {args.hog_processes} spinning processes")
    print(f"{'sandboxes':<24} {'alone':>8} {'beside hog':>11} {'ratio':>6}")
    for label, hierarchy in (("cgroup each", where), ("no cgroup (rlimits)", None)):
        cgroups.hierarchy = lambda hierarchy=hierarchy: hierarchy  # the sandbox reads it per run
        times = measure(args.work, args.hog_processes, args.repeats)
        print(
            f"{label:<24} {times['alone']:>7.1f}s {times['beside']:>10.1f}s "
            f"{times['beside'] / times['alone']:>6.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
