"""``python -m benchmarks.autograde``: what grading a batch costs, and what the sandbox adds.

    python -m benchmarks.autograde --students 6 --workers 2      # 12 notebooks, both parts

Grades ``--students`` copies of the shipped ``reference`` and ``seed_report`` submissions
(both parts) into a fresh release in a temporary course, once in bubblewrap sandboxes and
once with ``--no-sandbox``. Every copy's solution cells get a comment of their own, so that
no two submissions are the same code (the judge judges the same cells once per process,
which would make identical copies free). Prints the seconds per notebook of each run, the
sandbox's share, and what 600 notebooks (300 students, two parts) would take on this
machine's cores at that rate.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from grading import cells as nbcells
from grading import pipeline
from grading.course import ASSIGNMENTS, LIMITS, SUBMITTED

SOURCES = ("reference", "seed_report")


def write_copies(out: Path, students: int) -> int:
    """``students`` submissions of both parts, each with solution cells of its own."""
    count = 0
    for k in range(students):
        source = SOURCES[k % len(SOURCES)]
        for assignment, name in ASSIGNMENTS.items():
            nb = json.loads((SUBMITTED / source / assignment / f"{name}.ipynb").read_text())
            for cell in nb["cells"]:
                if nbcells.nbgrader(cell).get("solution") and cell["cell_type"] == "code":
                    cell["source"] = nbcells.source(cell) + f"\n# student {k}\n"
            folder = out / f"student{k:03d}" / assignment
            folder.mkdir(parents=True)
            (folder / f"{name}.ipynb").write_text(json.dumps(nb))
            count += 1
    return count


def grade(students: int, workers: int, use_sandbox: bool) -> tuple[float, int, float]:
    """Seconds for the batch, notebooks graded, points earned (all should be full)."""
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp:
        course = Path(tmp) / "course"
        pipeline.release(course)
        submitted = Path(tmp) / "submitted"
        notebooks = write_copies(submitted, students)
        start = time.perf_counter()
        results = pipeline.autograde(
            submitted,
            course=course,
            workers=workers,
            use_sandbox=use_sandbox,
            limits=LIMITS,
        )
        seconds = time.perf_counter() - start
        return seconds, notebooks, sum(r.total for r in results) / sum(r.max_total for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.autograde", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    print(f"{args.students} students x 2 parts, {args.workers} workers, {os.cpu_count()} cores")
    per = {}
    for use_sandbox in (True, False):
        seconds, notebooks, share = grade(args.students, args.workers, use_sandbox)
        label = "sandboxed" if use_sandbox else "--no-sandbox"
        per[use_sandbox] = seconds / notebooks
        print(
            f"{label:<13} {seconds:7.1f} s for {notebooks} notebooks: {per[use_sandbox]:5.1f} s per "
            f"notebook ({per[use_sandbox] * args.workers:5.1f} s of a worker), {share:.0%} of the points",
            flush=True,
        )
    added = per[True] - per[False]
    print(f"the sandbox adds {added:.1f} s per notebook ({added / per[False]:+.0%})")
    total = 600 * per[True]
    print(
        f"600 notebooks at this rate: {total / 60:.0f} min on these {os.cpu_count()} cores; "
        f"{total * (os.cpu_count() or 2) / 3600:.1f} core-hours, so about "
        f"{total * (os.cpu_count() or 2) / 60 / 16:.0f} min on 16 cores"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
