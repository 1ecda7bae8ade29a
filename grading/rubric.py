"""Points for measured scores, from the tiers in ``grading/rubric.toml``.

Part 1 (anime faces): :func:`points_part1` adds the points of the first FID tier with
``fid <= max`` and of the first AFD tier with ``afd >= min``; a score past the last tier
earns 0. Part 2 (illusions): :func:`points_part2` gives each view whose CLIP score (raw
cosine, see :mod:`helpers.metrics.clip_score`) reaches the baseline an equal share.

The autograder calls these functions; instructors change the numbers in the TOML file.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RUBRIC_PATH", "Rubric", "load_rubric", "points_part1", "points_part2"]

RUBRIC_PATH = Path(__file__).with_name("rubric.toml")


@dataclass(frozen=True)
class Rubric:
    fid_tiers: list[tuple[float, float]]  # (max FID, points), tightest first
    afd_tiers: list[tuple[float, float]]  # (min AFD fraction, points), highest first
    part1_total: float
    clip_baseline: float
    part2_total: float


def load_rubric(path: str | os.PathLike = RUBRIC_PATH) -> Rubric:
    config = tomllib.loads(Path(path).read_text())
    p1, p2 = config["part1"], config["part2"]
    fid = sorted((t["max"], t["points"]) for t in p1["fid"])
    afd = sorted(((t["min"], t["points"]) for t in p1["afd"]), reverse=True)
    best = max(p for _, p in fid) + max(p for _, p in afd)
    if best != p1["total"]:
        raise ValueError(
            f"{path}: the best FID and AFD tiers give {best} points, but part1.total is {p1['total']}"
        )
    return Rubric(fid, afd, p1["total"], p2["clip_baseline"], p2["total"])


def points_part1(fid: float, afd: float, rubric: Rubric | None = None) -> float:
    """Part 1 points for an FID and an AFD rate given as a fraction (0.943, not 94.3)."""
    rubric = rubric or load_rubric()
    if not math.isfinite(fid) or fid < 0:
        raise ValueError(f"FID must be a finite number >= 0, got {fid}")
    if not 0 <= afd <= 1:
        raise ValueError(f"AFD must be a fraction in [0, 1], got {afd} (94.30 % is 0.943)")
    fid_points = next((p for limit, p in rubric.fid_tiers if fid <= limit), 0)
    afd_points = next((p for limit, p in rubric.afd_tiers if afd >= limit), 0)
    return fid_points + afd_points


def points_part2(clip_scores: Sequence[float], rubric: Rubric | None = None) -> float:
    """Part 2 points: an equal share of the total for each view with CLIP >= the baseline."""
    rubric = rubric or load_rubric()
    if not clip_scores:
        raise ValueError("no CLIP scores: give one per view")
    if any(not -1 <= s <= 1 for s in clip_scores):
        raise ValueError(
            f"CLIP scores must be raw cosines in [-1, 1], got {list(clip_scores)} (torchmetrics' 100x scale?)"
        )
    passed = sum(s >= rubric.clip_baseline for s in clip_scores)
    return rubric.part2_total * passed / len(clip_scores)
