"""Timing primitives of the benchmarks: a result row, interleaved medians, the machine."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

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
