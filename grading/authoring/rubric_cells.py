"""The notebooks' rubric, written from ``grading/rubric.toml`` (``make notebooks``).

``rubric.toml`` is the one source of the announced rubric. The notebooks show it to
students in several places, each rewritten here from the TOML file:

* every graded cell's nbgrader ``points``, and the ``(N points)`` its test cell announces;
* the points column of the TODO table in each notebook's introduction (a TODO without a
  test cell is the report, scored from the results);
* the ``### Report (N points`` heading of each report cell;
* Part 1's FID and AFD tier tables and its worked example's points;
* Part 2's ``CLIP_BASELINE`` constant, and the baseline and per-view share its text states.

``python -m grading.authoring.rubric_cells`` rewrites the notebooks; ``--check`` changes nothing
and exits 1 naming each stale cell and the fix. ``make release`` runs the check first,
so a rubric edited without ``make notebooks`` never reaches students.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grading import notebook_format as nbcells
from grading.authoring.reference.prompts import PROMPTS
from grading.course import ASSIGNMENTS, REPO, TEST_PREFIX, source_notebook
from grading.records.rubric import RUBRIC_PATH, Rubric, load_rubric

FIX = "make notebooks (python -m grading.authoring.rubric_cells)"
REPORT_CELL = "md_report"


class RubricCellMissing(ValueError):
    """A notebook lacks the text a rubric edit rewrites (it was reworded by hand)."""


def _number(x: float) -> str:
    return f"{x:g}"


def _baseline(x: float) -> str:
    # Two decimals, as the cosine is printed everywhere (0.30), unless it needs more.
    return f"{x:.2f}" if round(x, 2) == x else f"{x:g}"


def _points(x: float) -> str:
    return f"{x:g} point" + ("" if x == 1 else "s")


def _tier_table(label: str, limits: list[str], points: list[float]) -> str:
    return "\n".join(
        [
            f"| {label} | " + " | ".join(limits) + " |",
            "|" + " --- |" * (len(limits) + 1),
            "| points | " + " | ".join(_number(p) for p in points) + " |",
        ]
    )


@dataclass(frozen=True)
class Spot:
    """A piece of a cell's text that states the rubric, and how to write it."""

    what: str  # named in errors
    assignments: tuple[str, ...]
    grade_id: str | None  # None: every test cell
    pattern: re.Pattern[str]
    text: Callable[[Rubric, str, str, re.Match[str]], str]  # (rubric, part, grade id, match)


def _todo_row(rubric: Rubric, part: str, grade_id: str, m: re.Match[str]) -> str:
    cell = TEST_PREFIX + m["todo"].replace("-", "_")
    points = rubric.test_cells(part).get(cell, rubric.results(part))
    return f"| {m['todo']} |{m['what']}| {_number(points)} |"


def _worked_example(rubric: Rubric, part: str, grade_id: str, m: re.Match[str]) -> str:
    fid, afd = rubric.fid_points(float(m["fid"])), rubric.afd_points(float(m["afd"]) / 100)
    return (
        f"For example FID {m['fid']} and AFD {m['afd']} % give {_number(fid)} + "
        f"{_number(afd)} = {_number(fid + afd)} of {_number(rubric.results(part))}."
    )


SPOTS = [
    Spot(
        "the points a test cell announces",
        tuple(ASSIGNMENTS),
        None,
        re.compile(r"\A(?P<first>#[^\n]*)\((?P<n>[\d.]+) points?\)$", re.M),
        lambda r, part, grade_id, m: f"{m['first']}({_points(r.cells(part)[grade_id])})",
    ),
    Spot(
        "the TODO table's points column",
        tuple(ASSIGNMENTS),
        "intro",
        re.compile(r"^\| (?P<todo>\d+(?:-\d+)+) \|(?P<what>.*)\| [\d.]+ \|$", re.M),
        _todo_row,
    ),
    Spot(
        "the report heading",
        tuple(ASSIGNMENTS),
        REPORT_CELL,
        re.compile(r"^### Report \([\d.]+ points?", re.M),
        lambda r, part, grade_id, m: f"### Report ({_points(r.results(part))}",
    ),
    Spot(
        "the FID tier table",
        ("part1",),
        REPORT_CELL,
        re.compile(r"^\| FID ≤ \|.*\n\|[- |]*\n\| points \|.*$", re.M),
        lambda r, part, grade_id, m: _tier_table(
            "FID ≤", [_number(limit) for limit, _ in r.fid_tiers], [p for _, p in r.fid_tiers]
        ),
    ),
    Spot(
        "the AFD tier table",
        ("part1",),
        REPORT_CELL,
        re.compile(r"^\| AFD ≥ \|.*\n\|[- |]*\n\| points \|.*$", re.M),
        lambda r, part, grade_id, m: _tier_table(
            "AFD ≥",
            [f"{_number(100 * limit)} %" for limit, _ in r.afd_tiers],
            [p for _, p in r.afd_tiers],
        ),
    ),
    Spot(
        "the worked example",
        ("part1",),
        REPORT_CELL,
        re.compile(
            r"For example FID (?P<fid>[\d.]+) and AFD (?P<afd>[\d.]+) % give [^.]*? of [\d.]+\."
        ),
        _worked_example,
    ),
    Spot(
        "CLIP_BASELINE",
        ("part2",),
        "config",
        re.compile(r"^CLIP_BASELINE = [\d.]+", re.M),
        lambda r, part, grade_id, m: f"CLIP_BASELINE = {_baseline(r.clip_baseline)}",
    ),
    Spot(
        "the CLIP baseline in the scoring text",
        ("part2",),
        "md_scores",
        re.compile(r"The announced baseline is \*\*[\d.]+ for every view\*\*"),
        lambda r, part, grade_id, m: (
            f"The announced baseline is **{_baseline(r.clip_baseline)} for every view**"
        ),
    ),
    Spot(
        "the points per view in the report text",
        ("part2",),
        REPORT_CELL,
        re.compile(r"\([\d.]+ points? for each view whose CLIP score reaches [\d.]+\)"),
        # Every view of the illusion is scored against its own prompt: one share per prompt.
        lambda r, part, grade_id, m: (
            f"({_points(r.results(part) / len(PROMPTS))} for each view whose CLIP score "
            f"reaches {_baseline(r.clip_baseline)})"
        ),
    ),
]


def rewrite(nb: nbformat.NotebookNode, part: str, rubric: Rubric) -> list[str]:
    """Write ``rubric`` into notebook ``nb`` of assignment ``part``; return the stale cells."""
    points = rubric.cells(part)
    stale: list[str] = []
    found = {spot.what: 0 for spot in SPOTS if part in spot.assignments}
    for cell in nb.cells:
        grade_id = nbcells.grade_id(cell)
        meta = nbcells.nbgrader(cell)
        source = cell.source
        if meta.get("grade"):
            if grade_id not in points:
                raise RubricCellMissing(
                    f"{part}: graded cell {grade_id} is not in {RUBRIC_PATH.name}: add it to "
                    f"[{part}.cells] there, or make the cell ungraded"
                )
            if meta.get("points") != points[grade_id]:
                meta["points"] = points[grade_id]
                stale.append(grade_id)
        for spot in SPOTS:
            if part not in spot.assignments:
                continue
            wanted = (
                grade_id in points and grade_id.startswith(TEST_PREFIX)
                if spot.grade_id is None
                else grade_id == spot.grade_id
            )
            if not wanted:
                continue
            source, count = spot.pattern.subn(
                lambda m, spot=spot, grade_id=grade_id: spot.text(rubric, part, grade_id, m),
                source,
            )
            found[spot.what] += count
        if source != cell.source:
            cell.source = source
            stale.append(grade_id or "(no grade id)")
    missing = [what for what, count in found.items() if count == 0]
    if missing:
        raise RubricCellMissing(
            f"{part}: cannot find {'; '.join(missing)} to write the rubric into: restore "
            "the notebook's wording, or change SPOTS in grading/authoring/rubric_cells.py with it"
        )
    return list(dict.fromkeys(stale))


def sync(path: Path, part: str, rubric: Rubric, write: bool) -> list[str]:
    """Bring notebook ``path`` up to date with ``rubric``; return the cells that were stale."""
    nb = nbformat.read(path, as_version=4)
    stale = rewrite(nb, part, rubric)
    if stale and write:
        nbformat.write(nb, path)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.authoring.rubric_cells",
        description="Write the rubric of grading/rubric.toml into the notebooks.",
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a notebook is stale"
    )
    args = parser.parse_args(argv)
    rubric = load_rubric()
    status = 0
    for part in ASSIGNMENTS:
        path = source_notebook(part)
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        try:
            stale = sync(path, part, rubric, write=not args.check)
        except RubricCellMissing as error:
            print(f"{shown}: {error}")
            status = 1
            continue
        if stale and args.check:
            print(f"{shown}: cells {', '.join(stale)} do not show grading/rubric.toml; run {FIX}")
            status = 1
        else:
            print(f"{shown}: " + (f"wrote {', '.join(stale)}" if stale else "rubric up to date"))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
