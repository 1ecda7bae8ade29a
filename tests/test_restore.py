"""The release is the truth (grading/restore.py) and no TODO's points come from the kit
(grading/todos.py: forbidden names, withheld kit answers), without running anything."""

from __future__ import annotations

import json
import re

import pytest

from grading import cells as nbcells
from grading import judge
from grading.course import ASSIGNMENTS, SUBMITTED, source_notebook
from grading.restore import restore
from grading.todos import AROUND_THE_GUARD, TODOS, delegations

PART1 = SUBMITTED / "reference" / "part1" / "part1_anime_faces.ipynb"


@pytest.fixture
def release(released_kit):
    return released_kit / "grading" / "course" / "release" / "part1" / "part1_anime_faces.ipynb"


def by_id(nb: dict) -> dict:
    return {nbcells.grade_id(c): c for c in nb["cells"] if nbcells.grade_id(c)}


def test_locked_cells_come_back_whole_from_the_release(release, tmp_path):
    nb = json.loads(PART1.read_text())
    cells = by_id(nb)
    cells["test_1_1_3"]["source"] = 'print("all tests passed")'
    cells["test_1_1_3"]["metadata"]["tags"] = ["skip-execution"]
    cells["test_1_1_2"]["metadata"]["nbgrader"]["points"] = 400
    cells["todo_1_1_1"]["metadata"]["nbgrader"]["locked"] = True
    nb["metadata"]["kernelspec"] = {"name": "evil", "display_name": "evil", "language": "sh"}
    submitted = tmp_path / "in.ipynb"
    submitted.write_text(json.dumps(nb))
    notes = restore(submitted, release, tmp_path / "out.ipynb")
    out, master = nbcells.read_notebook(tmp_path / "out.ipynb"), nbcells.read_notebook(release)
    got, want = by_id(out), by_id(master)
    for name in ("test_1_1_3", "test_1_1_2"):
        assert got[name]["source"] == want[name]["source"]
        assert got[name]["metadata"] == want[name]["metadata"], "tags and points are the release's"
        assert got[name]["outputs"] == []
    assert got["todo_1_1_1"]["metadata"] == want["todo_1_1_1"]["metadata"]
    assert got["todo_1_1_1"]["source"] == cells["todo_1_1_1"]["source"], "the answer stays"
    assert out["metadata"] == master["metadata"], "the kernel is the release's"
    assert notes == ["edited locked cell(s) restored from the release: test_1_1_2, test_1_1_3"]


def test_cells_claiming_metadata_the_release_lacks_are_the_students(release, tmp_path):
    nb = json.loads(PART1.read_text())
    forged = {"grade": True, "grade_id": "test_bonus", "locked": True, "points": 40}
    twin = json.loads(json.dumps(by_id(nb)["test_1_1_1"]))
    twin["source"] = "print('twin')"
    nb["cells"][1:1] = [
        {
            "cell_type": "code",
            "metadata": {"nbgrader": forged},
            "source": "print(1)",
            "outputs": [],
        },
        twin,
    ]
    nb["cells"] = [c for c in nb["cells"] if nbcells.grade_id(c) != "test_1_2_2"]
    submitted = tmp_path / "in.ipynb"
    submitted.write_text(json.dumps(nb))
    notes = restore(submitted, release, tmp_path / "out.ipynb")
    out = nbcells.read_notebook(tmp_path / "out.ipynb")
    assert "test_bonus" not in by_id(out)
    # Two cells with one release id: the first is the release's, the other the student's.
    assert [nbcells.grade_id(c) for c in out["cells"]].count("test_1_1_1") == 1
    master = by_id(nbcells.read_notebook(release))["test_1_1_1"]
    assert by_id(out)["test_1_1_1"]["source"] == master["source"]
    assert sum(c["source"] == master["source"] for c in out["cells"]) == 2
    assert len({c["id"] for c in out["cells"]}) == len(out["cells"]), "cell ids stay unique"
    assert "deleted locked cell(s) restored from the release: test_1_2_2" in notes
    assert any(n.startswith("nbgrader metadata the release does not have removed") for n in notes)


def test_the_seed_and_reference_solutions_use_nothing_forbidden():
    for student in ("reference", "seed_report", "planted_bugs"):
        for assignment, name in ASSIGNMENTS.items():
            path = SUBMITTED / student / assignment / f"{name}.ipynb"
            programs = judge.programs(path, path, assignment)
            assert all(not isinstance(p, str) for p in programs.values()), (student, programs)


@pytest.mark.parametrize(
    ("todo", "source", "found"),
    [
        ("1-2-2", "from helpers.figures import plot_losses", ["figures"]),
        ("1-2-1", "x = diffusion.ddim_sample(shape, return_all_timesteps=True)", ["ddim_sample", "return_all_timesteps"]),
        ("2-2", "class Rotate180View(views.RotationView): pass", ["RotationView"]),
        ("1-1-1", "m = __import__('grad' + 'ing')", ["__import__"]),
        ("1-1-3", "importlib.reload(helpers)", ["importlib", "reload"]),
        ("1-2-2", "# figures in a comment\nsample = 'figures'\nfig = plt.figure()", []),
    ],
)  # fmt: skip
def test_forbidden_names_are_found_as_names_not_as_text(todo, source, found):
    assert delegations(todo, source) == found


def test_each_todo_text_names_what_it_may_not_use():
    """Every hidden requirement is visible: the TODO's text lists its forbidden names and the
    kit objects withheld while it is judged; the introduction lists the names no TODO may use."""
    for assignment in ASSIGNMENTS:
        cells = nbcells.read_cells(source_notebook(assignment))
        intro = cells[0]["source"]
        for name in AROUND_THE_GUARD:
            assert f"`{name}`" in intro, (assignment, name)
        for todo, spec in TODOS.items():
            if spec.assignment != assignment:
                continue
            ids = [nbcells.grade_id(c) for c in cells]
            text = cells[ids.index(spec.cell(todo)) - 1]["source"]
            for name in spec.forbidden:
                assert f"`{name}`" in text or re.search(rf"\b{name}\b", text), (todo, name)
            for dotted in spec.withheld:
                attribute = dotted.split(":")[1].split(".")[-1]
                assert attribute in text, (todo, dotted)
