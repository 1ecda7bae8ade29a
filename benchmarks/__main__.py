"""``python -m benchmarks [suite …]``: run the suites and print one table."""

from __future__ import annotations

import importlib
import sys

from benchmarks.timing import machine

# gpu last: it prints that it was skipped on a machine without CUDA.
SUITES = ("diffusion", "illusions", "metrics", "gpu")


def main(selected: list[str]) -> int:
    unknown = sorted(set(selected) - set(SUITES))
    if unknown:
        print(f"unknown suite(s) {', '.join(unknown)}: choose from {', '.join(SUITES)}")
        return 2
    print(f"machine: {machine()}")
    print(f"{'benchmark':<58} {'ours':>10} {'anchor':>10} {'ratio':>7}  target / anchor")
    for name in selected or SUITES:
        for r in importlib.import_module(f"benchmarks.{name}").run():
            print(
                f"{r.name:<58} {r.ours_s:>9.4f}s {r.anchor_s:>9.4f}s {r.ratio:>7.3f}  {r.target} vs {r.anchor}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
