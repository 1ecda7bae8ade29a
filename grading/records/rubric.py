"""The announced rubric, ``grading/rubric.toml``: points per test cell and for the results.

Each part has autograded test cells (``cells``: their nbgrader points) and a report cell
``report_scores`` (``results`` points) that the instructor scores from the numbers the
student reports:

* Part 1 (anime faces): :func:`points_part1` adds the points of the first FID tier with
  ``fid <= max`` and of the first AFD tier with ``afd >= min``; a score past the last
  tier earns 0.
* Part 2 (illusions): :func:`points_part2` gives each view whose CLIP score (raw cosine,
  see :mod:`helpers.metrics.clip_score`) reaches the baseline an equal share.

Instructors change the numbers in the TOML file, and score a report with::

    python -m grading.records.rubric --fid 72.38 --afd 0.943
    python -m grading.records.rubric --clip 0.3487 0.3574
    python -m grading.records.rubric --submission part1 STUDENT   # its scores.json, into the gradebook
    python -m grading.records.rubric --class part1                # every graded part1 submission's

``--submission`` reads the ``scores.json`` the notebook wrote into the student's submission
(``grading/submitted/<student>/<assignment>/``, as it is or inside the submission zip),
says which file it read, and records the points as the manual grade of the report cell
in the course gradebook, where the instructor can override them in formgrader: the
numbers a student hands in are a proposal to check against the images, not a grade.
``--class`` does that for every submission of the assignments named (both without a name)
that the gradebook holds, one line per student, and names those it could not score.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grading.course import ASSIGNMENTS, COURSE, GRADING, SUBMITTED
from grading.notebook_format import RESULTS_CELL
from grading.records.cell_grades import read_cell_grades
from grading.records.gradebook import record_manual_grade
from grading.records.grades import write_grades

__all__ = [
    "RUBRIC_PATH",
    "Rubric",
    "load_rubric",
    "points_part1",
    "points_part2",
    "read_scores",
    "points_from_scores",
    "main",
]

RUBRIC_PATH = GRADING / "rubric.toml"


@dataclass(frozen=True)
class Rubric:
    fid_tiers: list[tuple[float, float]]  # (max FID, points), tightest first
    afd_tiers: list[tuple[float, float]]  # (min AFD fraction, points), highest first
    part1_cells: dict[str, float]  # test cell grade_id -> points
    part1_results: float
    part1_total: float
    clip_baseline: float
    part2_cells: dict[str, float]
    part2_results: float
    part2_total: float

    def test_cells(self, part: str) -> dict[str, float]:
        """Points of the autograded test cells of ``part`` ("part1" or "part2")."""
        return dict({"part1": self.part1_cells, "part2": self.part2_cells}[part])

    def results(self, part: str) -> float:
        """Points of the report cell of ``part``, scored from the reported results."""
        return {"part1": self.part1_results, "part2": self.part2_results}[part]

    def cells(self, part: str) -> dict[str, float]:
        """Points of every graded cell of ``part``, the report cell included."""
        return {**self.test_cells(part), RESULTS_CELL: self.results(part)}

    def fid_points(self, fid: float) -> float:
        """Points of the first FID tier that ``fid`` reaches (``fid <= max``), else 0."""
        return next((p for limit, p in self.fid_tiers if fid <= limit), 0)

    def afd_points(self, afd: float) -> float:
        """Points of the first AFD tier that ``afd`` (a fraction) reaches, else 0."""
        return next((p for limit, p in self.afd_tiers if afd >= limit), 0)


def load_rubric(path: str | os.PathLike = RUBRIC_PATH) -> Rubric:
    config = tomllib.loads(Path(path).read_text())
    p1, p2 = config["part1"], config["part2"]
    for name, part in (("part1", p1), ("part2", p2)):
        code = sum(part["cells"].values())
        if code + part["results"] != part["total"]:
            raise ValueError(
                f"{path}: {name}.cells add up to {code} and {name}.results is {part['results']}, "
                f"but {name}.total is {part['total']}"
            )
    fid = sorted((t["max"], t["points"]) for t in p1["fid"])
    afd = sorted(((t["min"], t["points"]) for t in p1["afd"]), reverse=True)
    best = max(p for _, p in fid) + max(p for _, p in afd)
    if best != p1["results"]:
        raise ValueError(
            f"{path}: the best FID and AFD tiers give {best} points, but part1.results is {p1['results']}"
        )
    return Rubric(
        fid_tiers=fid,
        afd_tiers=afd,
        part1_cells=dict(p1["cells"]),
        part1_results=p1["results"],
        part1_total=p1["total"],
        clip_baseline=p2["clip_baseline"],
        part2_cells=dict(p2["cells"]),
        part2_results=p2["results"],
        part2_total=p2["total"],
    )


def points_part1(fid: float, afd: float, rubric: Rubric | None = None) -> float:
    """Part 1 results points for an FID and an AFD rate given as a fraction (0.943, not 94.3)."""
    rubric = rubric or load_rubric()
    if not math.isfinite(fid) or fid < 0:
        raise ValueError(f"FID must be a finite number >= 0, got {fid}")
    if not 0 <= afd <= 1:
        raise ValueError(f"AFD must be a fraction in [0, 1], got {afd} (94.30 % is 0.943)")
    return rubric.fid_points(fid) + rubric.afd_points(afd)


def points_part2(clip_scores: Sequence[float], rubric: Rubric | None = None) -> float:
    """Part 2 results points: an equal share for each view with CLIP >= the baseline."""
    rubric = rubric or load_rubric()
    if not clip_scores:
        raise ValueError("no CLIP scores: give one per view")
    if any(not -1 <= s <= 1 for s in clip_scores):
        raise ValueError(
            f"CLIP scores must be raw cosines in [-1, 1], got {list(clip_scores)} (torchmetrics' 100x scale?)"
        )
    passed = sum(s >= rubric.clip_baseline for s in clip_scores)
    return rubric.part2_results * passed / len(clip_scores)


def read_scores(folder: Path) -> tuple[dict | list, str]:
    """The ``scores.json`` of a submission folder, and a description of where it was found.

    The file itself, or the one inside a zip of the folder (``submission_part1.zip``).
    """
    path = next(iter(sorted(folder.rglob("scores.json"))), None)
    if path is not None:
        return json.loads(path.read_text()), str(path)
    for archive in sorted(folder.rglob("*.zip")):
        try:
            with zipfile.ZipFile(archive) as z:
                name = next((n for n in z.namelist() if Path(n).name == "scores.json"), None)
                if name:
                    return json.loads(z.read(name)), f"{archive} ({name})"
        except zipfile.BadZipFile:
            continue
    raise FileNotFoundError(
        f"no scores.json in {folder} (nor in a zip there): the notebook writes it next to "
        "its results; ask the student for it, or score the report with --fid/--afd or --clip"
    )


def points_from_scores(
    assignment: str, scores: dict | list, rubric: Rubric | None = None
) -> tuple[float, str]:
    """Points of the report of ``assignment`` from its ``scores.json``, and the numbers used."""
    rubric = rubric or load_rubric()
    try:
        if assignment == "part1":
            if scores.get("afd") is None:
                raise ValueError("scores.json has no AFD rate (written in smoke mode?)")
            fid, afd = float(scores["fid"]), float(scores["afd"])
            return points_part1(fid, afd, rubric), f"FID {fid:g}, AFD {100 * afd:.2f} %"
        if assignment == "part2":
            cosines = [float(row["clip_cosine"]) for row in scores]
            return points_part2(cosines, rubric), "CLIP " + ", ".join(f"{c:.4f}" for c in cosines)
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"scores.json is not what the {assignment} notebook writes: {error!r}"
        ) from error
    raise ValueError(f"unknown assignment {assignment!r} (part1 or part2)")


def score_submission(
    assignment: str, student: str, submitted: Path, course: Path, rubric: Rubric
) -> tuple[float, str, str]:
    """Score a submission's report from its ``scores.json`` and record it in the gradebook;
    the points, the numbers they came from and the file read."""

    scores, source = read_scores(submitted / student / assignment)
    points, numbers = points_from_scores(assignment, scores, rubric)
    comment = (
        f"Rubric points from your scores.json ({numbers}): {points:g} / "
        f"{rubric.results(assignment):g}, subject to the instructor's check against your images."
    )
    record_manual_grade(course, assignment, student, points, comment)
    return points, numbers, source


def record_submission(assignment: str, student: str, submitted: Path, course: Path) -> list[str]:
    """:func:`score_submission` of one student; the lines to print."""

    rubric = load_rubric()
    points, numbers, source = score_submission(assignment, student, submitted, course, rubric)
    return [
        f"read {source}: {numbers}",
        f"{assignment.replace('part', 'Part ')} results: {points:g} / {rubric.results(assignment):g}",
        f"recorded as the manual grade of {RESULTS_CELL} ({student}, {assignment}) in "
        f"{course / 'gradebook.db'}: override it in formgrader",
    ]


def record_class(assignment: str, submitted: Path, course: Path) -> tuple[list[str], int]:
    """:func:`score_submission` of every ``assignment`` submission in the gradebook; the
    lines to print and how many could not be scored."""
    from grading.records.gradebook import RESULTS_CELL

    rubric = load_rubric()
    most = rubric.results(assignment)
    lines, recorded, without, failed = [], 0, [], 0
    for grades in read_cell_grades(course, assignment):
        student = grades.student
        try:
            points, numbers, _ = score_submission(assignment, student, submitted, course, rubric)
        except FileNotFoundError:
            without.append(student)
            continue
        except (OSError, ValueError, LookupError) as error:
            failed += 1
            lines.append(f"{student}: not scored: {error}")
            continue
        recorded += 1
        lines.append(f"{student}: {numbers}: {points:g} / {most:g}")
    if without:
        lines.append(
            f"no scores.json (nor in a zip) from {len(without)}: {', '.join(without)}: the "
            "notebook writes it beside its results; ask them for it"
        )
    lines.append(
        f"{assignment}: {recorded} of {recorded + len(without) + failed} reports recorded as the "
        f"manual grade of {RESULTS_CELL} in {course / 'gradebook.db'} (override any in "
        "formgrader); grade the others in formgrader or with --fid/--afd, --clip"
    )
    return lines, len(without) + failed


def main(argv: list[str] | None = None) -> int:

    parser = argparse.ArgumentParser(
        prog="python -m grading.records.rubric",
        description="Points of a report cell by the rubric.",
    )
    parser.add_argument("--fid", type=float, help="Part 1: the reported FID")
    parser.add_argument("--afd", type=float, help="Part 1: the AFD rate as a fraction (0.943)")
    parser.add_argument("--clip", type=float, nargs="+", help="Part 2: the CLIP score per view")
    parser.add_argument(
        "--submission",
        nargs=2,
        metavar=("ASSIGNMENT", "STUDENT"),
        help="score the scores.json of this submission and record it in the gradebook",
    )
    parser.add_argument(
        "--class",
        dest="whole_class",
        nargs="*",
        choices=sorted(ASSIGNMENTS),
        help="--submission for every graded submission of these assignments (default: both)",
    )
    parser.add_argument("--submitted", type=Path, default=SUBMITTED)
    parser.add_argument("--course", type=Path, default=COURSE)
    args = parser.parse_args(argv)
    rubric = load_rubric()
    if args.whole_class is not None:
        failed = 0
        for assignment in args.whole_class or list(ASSIGNMENTS):
            lines, missing = record_class(assignment, args.submitted, args.course)
            print("\n".join(lines))
            failed += missing

        print(f"grades: {write_grades(args.course)}")
        return 1 if failed else 0
    if args.submission:
        try:
            lines = record_submission(*args.submission, args.submitted, args.course)
        except (OSError, ValueError, LookupError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print("\n".join(lines))
        return 0
    if (args.fid is None) != (args.afd is None) or (args.fid is None and args.clip is None):
        parser.error("give --fid and --afd (Part 1), --clip (Part 2), or --submission")
    try:
        if args.fid is not None:
            points = points_part1(args.fid, args.afd, rubric)
            print(f"Part 1 results: {points:g} / {rubric.part1_results:g}")
        if args.clip is not None:
            points = points_part2(args.clip, rubric)
            print(f"Part 2 results: {points:g} / {rubric.part2_results:g}")
    except ValueError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
