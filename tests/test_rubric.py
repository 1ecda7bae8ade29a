"""The grading rubric: tiers, their boundaries, the course's worked example, and bad inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grading.records.rubric import load_rubric, main, points_part1, points_part2

REPO = Path(__file__).resolve().parents[1]


def test_the_course_example_gets_18_of_20():
    assert points_part1(72.38, 0.9430) == 18


@pytest.mark.parametrize(
    ("fid", "afd", "points"),
    [
        (126.69, 0.722, 4 + 4),
        (88.94, 0.919, 8 + 9),
        (82.81, 0.934, 8 + 9),
    ],  # the seed report's other runs
)
def test_the_seed_reports_other_runs(fid, afd, points):
    assert points_part1(fid, afd) == points


@pytest.mark.parametrize(
    ("fid", "points"),
    [
        (0.0, 10),
        (50.0, 10),
        (50.01, 9.5),
        (60.0, 9.5),
        (75.0, 9),
        (75.001, 8),
        (130.0, 4),
        (200.0, 2),
        (200.1, 0),
    ],
)
def test_fid_tier_boundaries_are_inclusive(fid, points):
    assert points_part1(fid, 0.0) == points


@pytest.mark.parametrize(
    ("afd", "points"),
    [
        (1.0, 10),
        (0.95, 10),
        (950 / 1000, 10),
        (949 / 1000, 9),
        (0.90, 9),
        (0.75, 6),
        (0.4, 2),
        (0.399, 0),
        (0.0, 0),
    ],
)
def test_afd_tier_boundaries_are_inclusive(afd, points):
    assert points_part1(1000.0, afd) == points


def test_part2_gives_each_view_at_the_baseline_an_equal_share():
    assert points_part2([0.3487, 0.3574]) == 10  # the seed report
    assert points_part2([0.30, 0.2999]) == 5
    assert points_part2([0.31, 0.29, 0.35, 0.1]) == 5
    assert points_part2([0.2682, 0.2848]) == 0


def test_scores_on_the_wrong_scale_are_refused():
    with pytest.raises(ValueError, match="94.30 % is 0.943"):
        points_part1(72.38, 94.30)
    with pytest.raises(ValueError, match="100x scale"):
        points_part2([34.87, 35.74])
    with pytest.raises(ValueError, match="finite"):
        points_part1(float("nan"), 0.9)


_GOOD = (
    "[part1]\ntotal = 28\nresults = 18\n[part1.cells]\ntest_a = 10\n"
    "[[part1.fid]]\nmax = 50.0\npoints = 10\n[[part1.afd]]\nmin = 0.9\npoints = 8\n"
    "[part2]\ntotal = 10\nresults = 10\nclip_baseline = 0.3\n[part2.cells]\n"
)


def test_a_rubric_file_whose_points_do_not_add_up_is_refused(tmp_path):
    path = tmp_path / "rubric.toml"
    path.write_text(_GOOD)
    assert load_rubric(path).part1_total == 28
    path.write_text(
        _GOOD.replace("results = 18", "results = 20").replace("total = 28", "total = 30")
    )
    with pytest.raises(ValueError, match="give 18 points, but part1.results is 20"):
        load_rubric(path)
    path.write_text(_GOOD.replace("test_a = 10", "test_a = 9"))
    with pytest.raises(ValueError, match="part1.cells add up to 9"):
        load_rubric(path)


def test_the_shipped_rubric_totals_40_and_20():
    rubric = load_rubric()
    assert (rubric.part1_total, rubric.part1_results) == (40, 20)
    assert (rubric.part2_total, rubric.part2_results, rubric.clip_baseline) == (20, 10, 0.30)


@pytest.mark.parametrize("part", ["part1", "part2"])
def test_the_notebooks_carry_the_rubric_points(part):
    """Every graded cell's nbgrader points equal the rubric's, and nothing else is graded."""
    notebook = next((REPO / "notebooks").glob(f"{part}_*.ipynb"))
    graded = {}
    for cell in json.loads(notebook.read_text())["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade"):
            graded[meta["grade_id"]] = meta["points"]
            first = "".join(cell["source"]).splitlines()[0]
            announced = re.search(r"\(([\d.]+) points?\)$", first)
            if cell["cell_type"] == "code":
                assert announced and float(announced[1]) == meta["points"], (
                    f"{meta['grade_id']}: its first line must announce its {meta['points']:g} points: {first!r}"
                )
    assert graded == load_rubric().cells(part)


def test_the_part1_notebook_announces_the_rubric_tiers():
    """The tier tables in Part 1's report cell are the rubric's, so students see what is graded."""
    rubric = load_rubric()
    notebook = json.loads((REPO / "notebooks" / "part1_anime_faces.ipynb").read_text())
    text = next(
        "".join(c["source"])
        for c in notebook["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "md_report"
    )

    def row(prefix: str) -> list[str]:
        line = next(line for line in text.splitlines() if line.startswith(prefix))
        return [cell.strip() for cell in line.strip("|").split("|")[1:]]

    points = [
        [float(x) for x in line.strip("|").split("|")[1:]]
        for line in text.splitlines()
        if line.startswith("| points")
    ]
    assert row("| FID") == [f"{limit:g}" for limit, _ in rubric.fid_tiers]
    assert points[0] == [p for _, p in rubric.fid_tiers]
    assert row("| AFD") == [f"{100 * limit:g} %" for limit, _ in rubric.afd_tiers]
    assert points[1] == [p for _, p in rubric.afd_tiers]


def test_the_command_line_scores_a_report(capsys):
    assert main(["--fid", "72.38", "--afd", "0.943"]) == 0
    assert capsys.readouterr().out == "Part 1 results: 18 / 20\n"
    assert main(["--clip", "0.3487", "0.2999"]) == 0
    assert capsys.readouterr().out == "Part 2 results: 5 / 10\n"
    with pytest.raises(SystemExit):
        main(["--fid", "72.38", "--afd", "94.3"])
    assert "94.30 % is 0.943" in capsys.readouterr().err
