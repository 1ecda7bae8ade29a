"""The release is the truth (grading/autograde/restore.py), and the student kit holds no TODO's answer
(so no TODO's points can come from the kit, and nothing is forbidden or withheld)."""

from __future__ import annotations

import json

import pytest

from grading import notebook_format as nbcells
from grading.autograde import judge
from grading.autograde.checks import TODOS, TOLERANCES
from grading.autograde.restore import restore
from grading.course import ASSIGNMENTS, SUBMITTED, source_notebook

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


def test_the_kit_holds_no_answer_to_any_todo():
    """Absence, not filtering: what a TODO asks for is nowhere in helpers/."""
    import torch

    import helpers.figures
    import helpers.illusions.views as views
    from grading.authoring.reference import REFERENCE_STEPS, Rotate180View
    from helpers.diffusion import GaussianDiffusion
    from helpers.tiny_models import stand_in_steps, stand_in_views
    from helpers.train import Trainer

    for loop in ("sample", "ddim_sample", "p_sample_loop", "p_sample"):  # TODO 1-2-1
        assert not hasattr(GaussianDiffusion, loop), loop
    assert not hasattr(helpers.figures, "plot_losses") and not hasattr(Trainer, "plot_losses")
    x = torch.randn(2, 3, 8, 8)  # square: the quarter turns apply too
    turned = Rotate180View().view(x)  # TODO 2-2
    for name, cls in views.VIEWS.items():
        try:
            view = cls()
            seen = view.view(x)
        except (
            NotImplementedError,
            TypeError,
            ValueError,
        ):  # blanks; views needing arguments or sizes
            continue
        assert not torch.equal(seen, turned), f"the kit's {name} view is a half turn"
    for view in stand_in_views():
        assert not torch.equal(view.view(x), turned), view
    for name, kwargs in (("linear", {}), ("cosine", {}), ("sigmoid", {})):  # TODO 1-1-1
        theirs = stand_in_steps().schedule_init(100, name, **kwargs)[2]
        assert not torch.allclose(theirs, REFERENCE_STEPS.schedule_init(100, name, **kwargs)[2])


def test_the_judges_sandbox_gets_no_reference_comparison_or_tolerance():
    """Only how each TODO is called enters a sandbox: grading/autograde/todo_runs.py and the fork server."""
    assert judge.CHILD_FILES == (
        "__init__.py",
        "autograde/__init__.py",
        "autograde/todo_runs.py",
        "autograde/judge_child.py",
    )
    for name in judge.CHILD_FILES:
        text = (judge.GRADING / name).read_text()
        assert "grading.authoring" not in text and "TOLERANCES" not in text, name
        assert (
            "from grading.autograde.checks" not in text
            and "import grading.autograde.checks" not in text
        ), name


def test_each_todo_text_states_how_it_is_graded():
    """Every hidden requirement is visible: the TODO's text gives the tolerance of
    grading.autograde.checks.TOLERANCES, and no text warns of kit functions that raise or names that
    score zero (there are none)."""

    def short(x: float) -> str:
        return f"{x:.0e}".replace("e-0", "e-")

    for assignment in ASSIGNMENTS:
        cells = nbcells.read_cells(source_notebook(assignment))
        assert "may not use" not in cells[0]["source"]
        ids = [nbcells.grade_id(c) for c in cells]
        for todo, spec in TODOS.items():
            if spec.assignment != assignment:
                continue
            text = cells[ids.index(spec.cell(todo)) - 1]["source"]
            assert "**Graded**" in text or todo == "2-1", todo
            assert "raise while" not in text and "scores 0" not in text, todo
            tolerance = TOLERANCES.get(todo)
            if tolerance is None:
                continue
            if tolerance.rtol == tolerance.atol == 0:
                assert "exactly" in text, todo
            else:
                want = f"rtol={short(tolerance.rtol)}, atol={short(tolerance.atol)}"
                assert want in text, (todo, want)
