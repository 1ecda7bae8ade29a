"""``python -m benchmarks [suite …]``: run the suites and print one table."""

from __future__ import annotations

import argparse
import importlib
import sys

from benchmarks.timing import machine

# gpu last: it prints that it was skipped on a machine without CUDA.
SUITES = ("diffusion", "illusions", "metrics", "gpu")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Speed of the kit against the anchor libraries, measured in the same run "
        "(ratio = ours / anchor; below 1.0 is faster).",
    )
    parser.add_argument(
        "suites",
        nargs="*",
        metavar="suite",
        help=f"which suites to run ({', '.join(SUITES)}); default: all of them",
    )
    selected = parser.parse_args(argv).suites or list(SUITES)
    # Checked here, not with choices=: argparse rejects an empty list against choices.
    unknown = sorted(set(selected) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}: choose from {', '.join(SUITES)}")
    print(f"machine: {machine()}")
    print(f"{'benchmark':<58} {'ours':>10} {'anchor':>10} {'ratio':>7}  target / anchor")
    for name in selected:
        for r in importlib.import_module(f"benchmarks.{name}").run():
            print(
                f"{r.name:<58} {r.ours_s:>9.4f}s {r.anchor_s:>9.4f}s {r.ratio:>7.3f}  {r.target} vs {r.anchor}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
