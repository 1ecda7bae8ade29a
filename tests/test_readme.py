"""Every command the READMEs show (the ``$`` lines of their console blocks) is run by a test.

Cheap commands run here, as shown, through their module's ``main`` in this process (the
same code as ``python -m``, without a second start-up of torch); where a number is
scaled down to keep CI short, the table says so. The others are mapped to the test that runs the same code path (a make
target's Python function, the command's ``main`` with tiny models), and this file checks
that the mapping is complete and that each named test exists.
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
READMES = [REPO / "README.md", REPO / "grading" / "README.md"]

# Commands run elsewhere: the start of the command -> the tests that run it.
ELSEWHERE: dict[str, list[str]] = {
    # .ci/run is `make test`; running the suite from inside itself would recurse.
    "make test": [".ci/run"],
    # About 8 minutes: its three steps are the release and autograde, and the smoke runs.
    "make demo": [
        "tests/test_grading.py::test_every_submission_gets_its_expected_scores",
        "tests/test_notebooks.py::test_part1_samples_scores_and_submission",
        "tests/test_notebooks.py::test_part2_scores_each_view",
    ],
    # 800 training steps of the toy preset take about 9 minutes: the smoke train command
    # runs the trainer, and the export test runs the second command's main.
    ".venv/bin/python -m grading.authoring.reference train --config toy": [
        "tests/test_readme.py::test_readme_train_resume_and_sample_commands",
        "tests/test_pretrained.py::test_export_keeps_the_ema_weights_in_fp16_and_refuses_another_model",
    ],
    # Training the toy IF and CLIP takes minutes: the test runs both commands' main with
    # two steps each and checks the files they write against the shipped ones.
    ".venv/bin/python -m helpers.illusions.toy_training": [
        "tests/test_illusions_toy.py::test_the_reproduce_commands_train_and_write_loadable_fp16_files",
    ],
    # The whole mutation table judged in isolation: minutes, as test_mutations runs it.
    ".venv/bin/python -m tests.mutations": [
        "tests/test_mutations.py::test_every_bug_and_cheat_fails_its_todo",
        "tests/test_mutations.py::test_every_correct_rewrite_keeps_its_points",
    ],
    "make release": ["tests/test_grading.py::test_release_hides_solutions_and_hidden_tests"],
    "make autograde": [
        "tests/test_grading.py::test_every_submission_gets_its_expected_scores",
        "tests/test_grading.py::test_grades_csv_has_one_row_per_student_from_the_gradebook",
        "tests/test_grading.py::test_collected_bad_input_costs_only_its_own_row",
    ],
    # The hostile run of grading/README.md: the same batch as tests/test_grading.py grades.
    "python -m grading.autograde.batch": [
        "tests/test_grading.py::test_every_submission_gets_its_expected_scores",
        "tests/test_grading.py::test_honest_students_keep_full_marks_in_a_hostile_batch",
    ],
    # Interrupted and resumed on a class merged as autograde merges it (no notebook runs).
    "make autograde RESUME=1": [
        "tests/test_instructor_tools.py::test_a_resumed_run_shows_the_recorded_scores",
        "tests/test_instructor_tools.py::test_ctrl_c_keeps_what_was_merged_and_names_resume",
        "tests/test_instructor_tools.py::test_feedback_is_written_for_the_submissions_graded_since",
    ],
    # The instructor's tools after an autograde, on a copy of such a class.
    "make class-report": [
        "tests/test_instructor_tools.py::test_the_class_report_counts_each_todo_and_each_mistake"
    ],
    "make similarity": [
        "tests/test_instructor_tools.py::test_similarity_ranks_the_copy_first_and_ignores_the_starter_code"
    ],
    "make regrade": [
        "tests/test_instructor_tools.py::test_regrading_one_todo_changes_that_cell_only"
    ],
    "make drop": [
        "tests/test_instructor_tools.py::test_a_dropped_student_leaves_the_grades_and_is_not_graded"
    ],
    "make rubric": [
        "tests/test_instructor_tools.py::test_the_rubric_scores_every_report_of_the_class"
    ],
    # The make targets' Python: grading.lms.collect on an LMS-style zip, grading.records.gradebook.
    "make collect": [
        "tests/test_collect.py::test_collect_places_every_notebook_by_content_and_names_each_problem",
        "tests/test_collect.py::test_make_collect_as_the_readme_prints_it",
    ],
    "make -s lms": ["tests/test_lms.py::test_lms_commands_as_the_readme_prints_them"],
    "CANVAS_TOKEN=": [
        "tests/test_collect.py::test_canvas_times_from_the_canvas_api_through_make_collect"
    ],
    ".venv/bin/python -m grading.lms.roster import": [
        "tests/test_roster.py::test_import_writes_what_stock_nbgrader_db_student_import_writes"
    ],
    "make grades": [
        "tests/test_grading.py::test_export_feedback_and_grades_after_a_manual_grade",
        "tests/test_grading.py::test_regrading_one_student_replaces_only_that_students_grades",
    ],
    # Records into the course gradebook: run on the test's copy of the course.
    "python -m grading.records.rubric --submission": [
        "tests/test_grading.py::test_the_rubric_records_a_report_from_its_scores_json",
    ],
    # The stock commands, run as printed in an activated environment (no PYTHONPATH).
    "nbgrader autograde": [
        "tests/test_stock_nbgrader.py::test_stock_autograde_feedback_and_export"
    ],
    "nbgrader validate": [
        "tests/test_stock_nbgrader.py::test_stock_validate_names_the_failing_tests"
    ],
    "nbgrader generate_feedback": [
        "tests/test_stock_nbgrader.py::test_stock_autograde_feedback_and_export",
        "tests/test_grading.py::test_export_feedback_and_grades_after_a_manual_grade",
    ],
    "nbgrader export": [
        "tests/test_grading.py::test_export_feedback_and_grades_after_a_manual_grade"
    ],
    # Formgrader is a server extension: the test starts `jupyter server` (what
    # `jupyter lab` runs it in) and drives formgrader's own API.
    "jupyter lab": [
        "tests/test_grading.py::test_formgrader_lists_every_submission_with_its_report_open"
    ],
    "OMP_NUM_THREADS=1 pytest --nbval-lax notebooks/": [
        "tests/test_notebooks.py::test_each_notebook_writes_its_figures_and_files"
    ],
    "make kaggle": [
        "tests/test_kaggle.py::test_every_released_notebook_gets_a_kernel_with_valid_metadata",
    ],
    ".venv/bin/python -m grading.distribute.kaggle": [
        "tests/test_kaggle.py::test_make_kaggle_faces_packs_a_folder_as_the_notebook_reads_it",
    ],
    "make kaggle FACES=": [
        "tests/test_kaggle.py::test_make_kaggle_faces_packs_a_folder_as_the_notebook_reads_it",
    ],
    # Downloads torch 2.10 with its CUDA libraries: the same tests, on this environment's versions.
    "make test-kaggle": [
        "tests/test_kaggle.py::test_bootstrap_installs_the_kit_offline_and_resolves_the_paths",
        "tests/test_kaggle.py::test_a_finished_bundled_notebook_runs_in_smoke_mode_from_the_kaggle_layout",
    ],
    # The scorers need the real Inception / CLIP weights: the tests inject tiny ones.
    ".venv/bin/python -m helpers score --fid": [
        "tests/test_score_cli.py::test_fid_prints_a_table_and_writes_json",
    ],
    ".venv/bin/python -m helpers score --clip": [
        "tests/test_score_cli.py::test_clip_scores_views_of_one_image",
    ],
    # Needs T5-XXL from the gated IF repository: offline, the test checks its error.
    ".venv/bin/python -m helpers embed-prompts": [
        "tests/test_illusions_models.py::test_embed_prompts_command_reports_a_missing_model",
        "tests/test_illusions_models.py::test_prompt_embeddings_from_t5_round_trip_a_file",
    ],
    # Need a Kaggle account and the network: the tests check the files they upload.
    "kaggle datasets create": ["tests/test_kaggle.py::test_wheels_dataset_metadata"],
    "kaggle kernels push": [
        "tests/test_kaggle.py::test_every_released_notebook_gets_a_kernel_with_valid_metadata",
    ],
}

# Commands run here: the start of the command -> (changes for the test, what it checks).
# `{tmp}` is the test's temporary folder.
HERE: dict[str, dict[str, str]] = {
    ".venv/bin/python -m helpers doctor": {},
    ".venv/bin/python -m helpers data toy-faces": {},
    ".venv/bin/python -m grading.records.rubric": {},
    ".venv/bin/python -m grading.authoring.solutions --check": {},
    # 20 steps instead of the preset's 150 (91 s), then 40 instead of 300 to resume.
    ".venv/bin/python -m grading.authoring.reference train --config smoke --results outputs/smoke --steps 300 --resume": {
        "outputs/smoke": "{tmp}/smoke",
        "--steps 300": "--steps 40",
    },
    ".venv/bin/python -m grading.authoring.reference train --config smoke --results outputs/smoke": {
        "outputs/smoke": "{tmp}/smoke",
        "--results {tmp}/smoke": "--results {tmp}/smoke --steps 20",
    },
    # 8 samples instead of 1000.
    ".venv/bin/python -m grading.authoring.reference sample": {
        "outputs/smoke": "{tmp}/smoke",
        "--n 1000": "--n 8",
    },
}


def console_commands(path: Path) -> list[tuple[str, list[str]]]:
    """``(command, the lines shown after it)`` for every ``$`` line of a console block."""
    blocks = re.findall(r"```console\n(.*?)```", path.read_text(), flags=re.S)
    out = []
    for block in blocks:
        for chunk in re.split(r"(?m)^\$ ", block)[1:]:
            command, *shown = chunk.rstrip("\n").split("\n")
            out.append((command.split("  #")[0].strip(), shown))
    return out


ALL = [(path.relative_to(REPO), *c) for path in READMES for c in console_commands(path)]


def _match(command: str, table: dict) -> str | None:
    # The longest prefix wins: the resume command also starts like the first train command.
    found = [key for key in table if command.startswith(key)]
    return max(found, key=len) if found else None


@pytest.mark.parametrize(("readme", "command", "shown"), ALL, ids=[c for _, c, _ in ALL])
def test_every_readme_command_is_run_by_a_test(readme, command, shown):
    here, elsewhere = _match(command, HERE), _match(command, ELSEWHERE)
    assert here or elsewhere, (
        f"{readme} shows `{command}`, which no test runs: add it to HERE or ELSEWHERE"
    )
    for node in ELSEWHERE.get(elsewhere, []):
        file, _, name = node.partition("::")
        text = (REPO / file).read_text()
        assert not name or re.search(rf"^def {name}\(", text, flags=re.M), f"no test {node}"


MODULES = {
    "helpers": "helpers.cli",
    "grading.records.rubric": "grading.records.rubric",
    "grading.authoring.reference": "grading.authoring.reference.__main__",
    "grading.authoring.solutions": "grading.authoring.solutions",
}


def _run(command: str, tmp: Path, capsys) -> tuple[int, str]:
    """Run a README command in this process (its module's ``main``): same code, no start-up."""
    for old, new in HERE[_match(command, HERE)].items():
        command = command.replace(old.format(tmp=tmp), new.format(tmp=tmp))
    python, flag, module, *argv = shlex.split(command)
    assert (python, flag) == (".venv/bin/python", "-m") and module in MODULES, command
    capsys.readouterr()
    code = importlib.import_module(MODULES[module]).main(argv)
    return code, capsys.readouterr().out


def _shown_output(shown: list[str]) -> list[str]:
    return [line for line in shown if line.strip()]


@pytest.mark.parametrize(
    ("readme", "command", "shown"),
    [
        c
        for c in ALL
        if _match(c[1], HERE) and not re.search(r"grading.authoring.reference (train|sample)", c[1])
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_quick_readme_commands_print_what_the_readme_shows(
    readme, command, shown, tmp_path, capsys
):
    code, out = _run(command, tmp_path, capsys)
    assert code == 0, out
    printed = out.strip().splitlines()
    if "doctor" in command:
        # The versions are this machine's; the verdict is what the README promises.
        assert printed[-1].startswith("environment OK: torch "), printed
    else:
        assert printed == _shown_output(shown), f"{readme}: `{command}` prints {printed}"


@pytest.mark.slow
def test_readme_train_resume_and_sample_commands(tmp_path, capsys):
    commands = [
        c
        for _, c, _ in ALL
        if _match(c, HERE) and re.search(r"grading.authoring.reference (train|sample)", c)
    ]
    assert len(commands) == 3, commands
    outputs = []
    for command in commands:
        code, out = _run(command, tmp_path, capsys)
        assert code == 0, f"`{command}`:\n{out}"
        outputs.append(out)
    assert (tmp_path / "smoke" / "checkpoint.pt").is_file()
    assert "resuming at step 20" in outputs[1]
    assert len(list((tmp_path / "smoke" / "samples").glob("*.png"))) == 8
