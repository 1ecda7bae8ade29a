"""``python -m benchmarks.autograde``: what grading a batch costs, and what the sandbox adds.

    python -m benchmarks.autograde --students 6 --workers 2      # 12 notebooks, both parts
    python -m benchmarks.autograde --students 30 --hostile --sandboxed-only   # 60 + the hostile ones

Grades ``--students`` copies of the shipped ``reference`` and ``seed_report`` submissions
(both parts) into a fresh release in a temporary course, once in bubblewrap sandboxes and
once with ``--no-sandbox``. Every copy's solution cells get a comment of their own, in each
of the two runs, so that no two notebooks graded are the same code (the judge judges the
same cells once per process, which would make identical copies, or a second pass, free). Prints the seconds per notebook of each run, the
sandbox's share, and what 600 notebooks (300 students, two parts) would take on this
machine's cores at that rate. ``--hostile`` adds the hostile submissions of
``tests/hostile_submissions.py`` to the batch and checks that every honest copy
still gets full marks.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from grading import notebook_format as nbcells
from grading.autograde import batch as pipeline
from grading.course import ASSIGNMENTS, LIMITS, SUBMITTED
from grading.distribute.release import release
from tests import hostile_submissions

SOURCES = ("reference", "seed_report")


def write_copies(out: Path, students: int, run: str) -> int:
    """``students`` submissions of both parts, each with solution cells of its own in ``run``."""
    count = 0
    for k in range(students):
        source = SOURCES[k % len(SOURCES)]
        for assignment, name in ASSIGNMENTS.items():
            nb = json.loads((SUBMITTED / source / assignment / f"{name}.ipynb").read_text())
            for cell in nb["cells"]:
                if nbcells.nbgrader(cell).get("solution") and cell["cell_type"] == "code":
                    cell["source"] = nbcells.source(cell) + f"\n# student {k}, {run}\n"
            folder = out / f"student{k:03d}" / assignment
            folder.mkdir(parents=True)
            (folder / f"{name}.ipynb").write_text(json.dumps(nb))
            count += 1
    return count


def grade(
    students: int, workers: int, use_sandbox: bool, hostile: bool = False
) -> tuple[float, int, float]:
    """Seconds for the batch, notebooks graded, the share of points the honest copies got."""
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp:
        course = Path(tmp) / "course"
        released = release(course)
        submitted = Path(tmp) / "submitted"
        notebooks = write_copies(submitted, students, "sandboxed" if use_sandbox else "trusted")
        if hostile:
            attacks = hostile_submissions.write_all(Path(tmp) / "hostile", released)
            for path in attacks:
                name = path.parent.parent.name
                if name in hostile_submissions.HOSTILE[path.parent.name]:
                    target = submitted / f"hostile-{name}" / path.parent.name
                    target.mkdir(parents=True)
                    path.rename(target / path.name)
                    notebooks += 1
        start = time.perf_counter()
        results = pipeline.autograde(
            submitted,
            course=course,
            workers=workers,
            use_sandbox=use_sandbox,
            limits=LIMITS,
        )
        seconds = time.perf_counter() - start
        honest = [r for r in results if r.student.startswith("student")]
        return seconds, notebooks, sum(r.total for r in honest) / sum(r.max_total for r in honest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.autograde", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--hostile", action="store_true", help="add the hostile submissions")
    parser.add_argument("--sandboxed-only", action="store_true", help="skip the --no-sandbox run")
    args = parser.parse_args(argv)
    print(f"{args.students} students x 2 parts, {args.workers} workers, {os.cpu_count()} cores")
    per = {}
    for use_sandbox in (True,) if args.sandboxed_only else (True, False):
        seconds, notebooks, share = grade(args.students, args.workers, use_sandbox, args.hostile)
        label = "sandboxed" if use_sandbox else "--no-sandbox"
        per[use_sandbox] = seconds / notebooks
        print(
            f"{label:<13} {seconds:7.1f} s for {notebooks} notebooks: {per[use_sandbox]:5.1f} s per "
            f"notebook ({per[use_sandbox] * args.workers:5.1f} s of a worker); honest copies got "
            f"{share:.0%} of their points",
            flush=True,
        )
    if False in per:
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
