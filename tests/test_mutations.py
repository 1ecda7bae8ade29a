"""The isolated judge on planted bugs, correct rewrites and cheats (tests/mutations.py).

All changes are judged in one isolated interpreter (one fork per change): about a minute
of CPU on 2 cores. The full autograde of a few of them is in tests/test_grading.py.
"""

from __future__ import annotations

import json

import pytest

from grading import notebook_format as nbcells
from grading.autograde import judge
from grading.course import ASSIGNMENTS, source_notebook
from tests import mutations


@pytest.fixture(scope="module")
def judged():
    return mutations.judge_all()


def test_the_suite_covers_every_autograded_todo():
    assert len(mutations.MUTANTS) >= 25 and len(mutations.REWRITES) >= 12
    assert {m.todo for m in mutations.MUTANTS} == set(judge.TODOS)
    assert {r.todo for r in mutations.REWRITES} == set(judge.TODOS)


@pytest.mark.parametrize("kind", ["mutants", "cheats"])
def test_every_bug_and_cheat_fails_its_todo(judged, kind):
    missed = [f"{change.todo} {change.what}" for change, verdict in judged[kind] if verdict.ok]
    assert not missed, f"the judge passed: {missed}"
    assert all(verdict.reason for _, verdict in judged[kind]), "every failure names its reason"


def test_every_correct_rewrite_keeps_its_points(judged):
    failed = [f"{c.todo} {c.what}: {v.reason}" for c, v in judged["rewrites"] if not v.ok]
    assert not failed


def test_kernel_death_and_exit_are_named(judged):
    reasons = {change.what: verdict.reason for change, verdict in judged["cheats"]}
    assert reasons["kills its interpreter"].startswith("killed (SIGKILL")
    assert "SystemExit" in reasons["calls sys.exit"]
    assert "File too large" in reasons["writes a 100 MB file"]


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENTS))
def test_a_change_reaches_only_its_own_todos_run(tmp_path, assignment):
    """Each TODO's isolated run holds its own solution cell and no other: independence."""
    source = source_notebook(assignment)
    before = judge.programs(source, source, assignment)
    reference = mutations.reference_cells()[assignment]
    for change in mutations.MUTANTS:
        if judge.TODOS[change.todo].assignment != assignment:
            continue
        nb = json.loads(source.read_text())
        for cell in nb["cells"]:
            if nbcells.grade_id(cell) == judge.TODOS[change.todo].cell(change.todo):
                cell["source"] = change.cell(reference)
        path = tmp_path / source.name
        path.write_text(json.dumps(nb))
        after = judge.programs(path, source, assignment)
        assert {t for t in before if before[t] != after[t]} == {change.todo}, change.what


def test_cases_are_one_table_for_hidden_tests_and_judge():
    """Every hidden test calls the judge's table, so both check the same cases."""
    for assignment in ASSIGNMENTS:
        nb = json.loads(source_notebook(assignment).read_text())
        for cell in nb["cells"]:
            grade_id = nbcells.grade_id(cell) or ""
            todo = grade_id.removeprefix("test_").replace("_", "-")
            if grade_id.startswith("test_") and judge.TODOS[todo].reference:
                assert f'hidden_test("{todo}", globals())' in "".join(cell["source"]), grade_id
