"""The grading rubric: tiers, their boundaries, the course's worked example, and bad inputs."""

from __future__ import annotations

import pytest

from grading.rubric import load_rubric, points_part1, points_part2


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


def test_a_rubric_file_whose_tiers_do_not_add_up_is_refused(tmp_path):
    path = tmp_path / "rubric.toml"
    path.write_text(
        "[part1]\ntotal = 20\n[[part1.fid]]\nmax = 50.0\npoints = 10\n[[part1.afd]]\nmin = 0.9\npoints = 8\n"
        "[part2]\ntotal = 10\nclip_baseline = 0.3\n"
    )
    with pytest.raises(ValueError, match="give 18 points, but part1.total is 20"):
        load_rubric(path)


def test_the_shipped_rubric_totals_20_and_10():
    rubric = load_rubric()
    assert (rubric.part1_total, rubric.part2_total, rubric.clip_baseline) == (20, 10, 0.30)
