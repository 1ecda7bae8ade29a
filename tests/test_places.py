"""Places and modes are read from the environment at each call, never fixed at import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from helpers import places

REPO = Path(__file__).resolve().parents[1]


def test_every_place_follows_its_variable_after_import(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSEKIT_KAGGLE_INPUT", str(tmp_path / "input"))
    monkeypatch.setenv("COURSEKIT_RESULTS", str(tmp_path / "results"))
    assert places.cache_dir() == tmp_path / "cache"
    assert places.kaggle_input_dir() == tmp_path / "input"
    assert places.results_dir("part1") == tmp_path / "results"
    monkeypatch.delenv("COURSEKIT_RESULTS")
    assert places.results_dir("part2") == Path("outputs/part2")
    # A checkout keeps its data in the repository, whatever the cache.
    assert places.data_root() == REPO / "data"


def test_modes_and_their_errors(monkeypatch):
    monkeypatch.setenv("COURSEKIT_MODE", "smoke")
    assert places.mode() == "smoke"
    monkeypatch.setenv("COURSEKIT_MODE", "fast")
    with pytest.raises(ValueError, match="COURSEKIT_MODE must be 'full' or 'smoke', not 'fast'"):
        places.mode()
    monkeypatch.delenv("COURSEKIT_MODE")
    import torch

    assert places.mode() == ("full" if torch.cuda.is_available() else "smoke")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not places.grading()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert places.grading()
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    assert places.offline()
    monkeypatch.setenv("COURSEKIT_OFFLINE", "0")
    assert not places.offline()


def test_notebook_setup_prints_one_line_and_makes_the_results_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_MODE", "smoke")
    monkeypatch.setenv("COURSEKIT_RESULTS", str(tmp_path / "out"))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert places.notebook_setup("part1") == ("smoke", False, tmp_path / "out")
    assert (tmp_path / "out").is_dir()
    assert (
        capsys.readouterr().out == f"mode: smoke, grading: False, results in {tmp_path / 'out'}\n"
    )


def test_installed_data_root_is_the_cache(tmp_path, monkeypatch):
    # Outside a checkout (the Kaggle wheel) there is no repository data/ to use.
    monkeypatch.setattr(places, "_CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    assert places.data_root() == tmp_path / "cache" / "data"


def _imported_modules(path: Path) -> set[str]:
    """Every module an import statement in ``path`` names, function-local ones included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_data_and_weights_no_longer_import_each_other():
    assert "helpers.weights" not in _imported_modules(REPO / "helpers" / "data.py")
    assert not {"helpers.data", "helpers.toy_faces"} & _imported_modules(
        REPO / "helpers" / "weights.py"
    )


def test_the_kaggle_input_search_goes_four_folders_down_the_shallowest_first(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_KAGGLE_INPUT", str(tmp_path))
    depths = {
        0: tmp_path,
        1: tmp_path / "b-dataset",
        2: tmp_path / "a-notebook" / "part1",
        4: tmp_path / "model" / "pytorch" / "default" / "1",
        5: tmp_path / "too" / "deep" / "for" / "the" / "search",
    }
    for folder in depths.values():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "checkpoint.pt").write_bytes(b"")
    (tmp_path / "a-dataset").mkdir()
    (tmp_path / "a-dataset" / "checkpoint.pt").write_bytes(b"")
    assert places.KAGGLE_SEARCH_DEPTH == 4
    assert places.find_in_kaggle_input("checkpoint.pt") == [
        tmp_path / "checkpoint.pt",
        tmp_path / "a-dataset" / "checkpoint.pt",  # sorted within a depth
        tmp_path / "b-dataset" / "checkpoint.pt",
        depths[2] / "checkpoint.pt",
        depths[4] / "checkpoint.pt",
    ]
    # A pattern, and another root than $COURSEKIT_KAGGLE_INPUT.
    assert places.find_in_kaggle_input("*.pt", depths[2]) == [depths[2] / "checkpoint.pt"]
    assert places.find_in_kaggle_input("checkpoint.pt", tmp_path / "missing") == []


def test_every_kaggle_input_search_is_the_one_in_places():
    # weights, resume, prompt embeddings and the Kaggle bootstrap (which carries its source).
    for module in ("helpers/weights.py", "helpers/resume.py", "helpers/illusions/embeddings.py",
                   "grading/distribute/kaggle/bootstrap.py"):  # fmt: skip
        text = (REPO / module).read_text()
        assert "find_in_kaggle_input" in text, module
        assert not re.search(r"SEARCH_DEPTH = \d", text) and "glob.glob" not in text, module
