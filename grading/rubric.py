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

    python -m grading.rubric --fid 72.38 --afd 0.943
    python -m grading.rubric --clip 0.3487 0.3574
"""

from __future__ import annotations

import argparse
import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RUBRIC_PATH", "Rubric", "load_rubric", "points_part1", "points_part2", "main"]

RUBRIC_PATH = Path(__file__).with_name("rubric.toml")


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

    def cells(self, part: str) -> dict[str, float]:
        """Points of every graded cell of ``part``, the report cell included."""
        results = {"part1": self.part1_results, "part2": self.part2_results}[part]
        return {**self.test_cells(part), "report_scores": results}


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
    fid_points = next((p for limit, p in rubric.fid_tiers if fid <= limit), 0)
    afd_points = next((p for limit, p in rubric.afd_tiers if afd >= limit), 0)
    return fid_points + afd_points


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.rubric", description="Points of a report cell by the rubric."
    )
    parser.add_argument("--fid", type=float, help="Part 1: the reported FID")
    parser.add_argument("--afd", type=float, help="Part 1: the AFD rate as a fraction (0.943)")
    parser.add_argument("--clip", type=float, nargs="+", help="Part 2: the CLIP score per view")
    args = parser.parse_args(argv)
    rubric = load_rubric()
    if (args.fid is None) != (args.afd is None) or (args.fid is None and args.clip is None):
        parser.error("give --fid and --afd (Part 1), or --clip (Part 2)")
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
