"""`make bench`: speed of the kit against the anchor libraries, measured in the same run.

Every ``tests/bench_*.py`` module exposes ``run() -> list[BenchResult]``. A result
compares our time with the anchor's on the same inputs, shapes and thread count; the
ratio is ours / anchor (below 1.0 means faster). Benchmarks are never part of
``make test``: shared machines are too noisy for timed assertions.

    python -m tests.bench               # all benchmarks
    python -m tests.bench diffusion     # only tests/bench_diffusion.py
"""

from __future__ import annotations

import importlib
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class BenchResult:
    name: str
    ours_s: float
    anchor_s: float
    anchor: str
    target: str  # e.g. "ratio <= 1.0"

    @property
    def ratio(self) -> float:
        return self.ours_s / self.anchor_s


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs, after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(
    ours: Callable[[], object], anchor: Callable[[], object], repeat: int = 5
) -> tuple[float, float]:
    """Median times of two functions measured alternately, so that load drifts hit both."""
    ours(), anchor()
    a, b = [], []
    for _ in range(repeat):
        for fn, out in ((ours, a), (anchor, b)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def machine() -> str:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    return (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"{device}, torch {torch.__version__}, python {platform.python_version()}"
    )


def main(selected: list[str]) -> int:
    names = selected or sorted(
        p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py")
    )
    print(f"machine: {machine()}")
    print(f"{'benchmark':<58} {'ours':>10} {'anchor':>10} {'ratio':>7}  target / anchor")
    for name in names:
        for r in importlib.import_module(f"tests.bench_{name}").run():
            print(
                f"{r.name:<58} {r.ours_s:>9.4f}s {r.anchor_s:>9.4f}s {r.ratio:>7.3f}  {r.target} vs {r.anchor}"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
