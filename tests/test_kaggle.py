"""The Kaggle bundle (grading/distribute/kaggle): its files, and its bootstrap cell in an imitation of Kaggle.

A module fixture builds the bundle from the release the whole run shares
(``released_kit`` in tests/conftest.py) without downloading the dependency wheels and
with stand-in weights, so that these tests run offline. The slow tests install the kit from
the bundle's wheels into a fresh virtual environment that, like Kaggle's image, has the
kit's dependencies but not the kit, with a temporary folder standing in for
/kaggle/input and /kaggle/working.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement
from PIL import Image
from torch.utils.data import Dataset

from grading.authoring import examples
from grading.authoring.reference import sample_with_progress
from grading.autograde import batch as pipeline
from grading.autograde import judge
from grading.course import source_notebook
from grading.demo import FIGURES
from grading.distribute.kaggle import (
    DEFAULT_FACES_SLUG,
    DEFAULT_USERNAME,
    DEFAULT_WEIGHTS_SLUG,
    DEFAULT_WHEELS_SLUG,
    DIST_NAME,
    REPO,
    BundleError,
    bootstrap,
    datasets,
    guide,
)
from grading.distribute.kaggle.__main__ import _size
from grading.distribute.kaggle.__main__ import main as kaggle_main
from grading.distribute.kaggle.bundle import Bundle, build_bundle
from grading.distribute.kaggle.image import KAGGLE_IMAGE, missing_on_kaggle
from grading.distribute.kaggle.kernels import inputs_for, kaggle_slug
from grading.distribute.kaggle.wheels import download_dependencies, kit_requirements
from helpers import places, resume
from helpers.config import TrainConfig
from helpers.data import find_images, resolve_data_dir
from helpers.illusions import models
from helpers.illusions.models import MissingModelError
from helpers.toy_faces import write_toy_faces
from helpers.train import Trainer
from helpers.weights import FID_INCEPTION, Asset, sha256_of
from tests.conftest import tiny_diffusion
from tests.kaggle_fakes import imitate_kaggle, kaggle_like_venv
from tests.test_notebooks import run_nbval

METADATA_TYPES = {
    "id": str,
    "title": str,
    "code_file": str,
    "language": str,
    "kernel_type": str,
    "is_private": bool,
    "enable_gpu": bool,
    "enable_tpu": bool,
    "enable_internet": bool,
    "machine_shape": str,
    "dataset_sources": list,
    "competition_sources": list,
    "kernel_sources": list,
    "model_sources": list,
}


@pytest.fixture(scope="module")
def release(released_kit) -> Path:
    """``course/release`` holding the nbgrader student versions of both parts (shared: read only)."""
    return released_kit / "grading" / "course" / "release"


@pytest.fixture(scope="module")
def bundle(release, tmp_path_factory) -> Bundle:
    standins = tmp_path_factory.mktemp("standins")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSEKIT_CACHE", str(standins))  # where fetch() finds the stand-ins
        for asset in datasets.WEIGHTS:
            patch.delenv(asset.env, raising=False)
        return build_bundle(
            tmp_path_factory.mktemp("kaggle"),
            release=release,
            download_deps=False,
            weights=standin_weights(standins),
        )


def standin_weights(folder: Path) -> tuple[Asset, ...]:
    """The weights dataset's assets as small stand-in files in ``folder``, with their digests."""
    assets = []
    for asset in datasets.WEIGHTS:
        standin = folder / asset.name
        standin.write_bytes(f"stand-in for {asset.what}".encode())
        assets.append(dataclasses.replace(asset, sha256=sha256_of(standin)))
    return tuple(assets)


def bootstrap_of(notebook: Path) -> str:
    return "".join(json.loads(notebook.read_text())["cells"][1]["source"])


def guide_of(notebook: Path) -> str:
    return "".join(json.loads(notebook.read_text())["cells"][0]["source"])


def isolated_env(**extra: str) -> dict[str, str]:
    """This environment without what would leak the repository or this machine's pip setup."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONPATH" and not k.startswith(("PIP_", "COURSEKIT_", "KAGGLE_"))
    }
    # Kaggle's pip knows no local mirror: no config file, no find-links from the outside.
    env.update(PIP_CONFIG_FILE=os.devnull, OMP_NUM_THREADS="1", **extra)
    return env


def run_python(python: Path | str, code: str, cwd: Path, env: dict[str, str]):
    return subprocess.run(
        [str(python), "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


# --- the files -----------------------------------------------------------------------


def test_every_released_notebook_gets_a_kernel_with_valid_metadata(bundle, release):
    assert [nb.relative_to(bundle.root) for nb in bundle.notebooks] == [
        nb.relative_to(release) for nb in sorted(release.glob("*/*.ipynb"))
    ]
    for notebook in bundle.notebooks:
        meta = json.loads((notebook.parent / "kernel-metadata.json").read_text())
        assert set(meta) == set(METADATA_TYPES)
        for key, kind in METADATA_TYPES.items():
            assert isinstance(meta[key], kind), f"{key} must be a {kind.__name__}: {meta[key]!r}"
        user, slug = meta["id"].split("/")
        assert user == DEFAULT_USERNAME
        assert slug == kaggle_slug(meta["title"]), "Kaggle derives the slug from the title"
        assert len(meta["title"]) >= 5, "kaggle kernels push refuses shorter titles"
        assert (notebook.parent / meta["code_file"]) == notebook and notebook.is_file()
        assert meta["language"] == "python" and meta["kernel_type"] == "notebook"
        assert meta["is_private"] and meta["enable_gpu"] and not meta["enable_tpu"]
        assert meta["machine_shape"] == "NvidiaTeslaT4"
        assert all(len(s.split("/")) == 2 for s in meta["dataset_sources"])
        assert meta["competition_sources"] == meta["kernel_sources"] == meta["model_sources"] == []
    part1 = json.loads((bundle.root / "part1" / "kernel-metadata.json").read_text())
    assert part1["dataset_sources"] == [
        f"{DEFAULT_USERNAME}/{DEFAULT_WHEELS_SLUG}",
        f"{DEFAULT_USERNAME}/{DEFAULT_FACES_SLUG}",
        f"{DEFAULT_USERNAME}/{DEFAULT_WEIGHTS_SLUG}",
    ]
    part2 = json.loads((bundle.root / "part2" / "kernel-metadata.json").read_text())
    assert part2["dataset_sources"] == [f"{DEFAULT_USERNAME}/{DEFAULT_WHEELS_SLUG}"]
    assert part1["enable_internet"] is False


def test_wheels_dataset_metadata(bundle):
    meta = json.loads((bundle.wheels / "dataset-metadata.json").read_text())
    assert meta == {
        "title": meta["title"],
        "id": f"{DEFAULT_USERNAME}/{DEFAULT_WHEELS_SLUG}",
        "licenses": [{"name": "MIT"}],
    }
    assert 6 <= len(meta["title"]) <= 50


def test_bundled_notebook_is_the_release_behind_a_guide_and_a_bootstrap_cell(bundle, release):
    for notebook in bundle.notebooks:
        cells = json.loads(notebook.read_text())["cells"]
        released = json.loads((release / notebook.relative_to(bundle.root)).read_text())["cells"]
        assert cells[2:] == released
        assert [c["cell_type"] for c in cells[:2]] == ["markdown", "code"]
        assert all("nbgrader" not in c["metadata"] for c in cells[:2])
        assert len({c["id"] for c in cells}) == len(cells), "cell ids must stay unique"
        compile(bootstrap_of(notebook), str(notebook), "exec")


def test_the_guide_names_every_course_dataset_and_what_a_kaggle_only_student_needs(bundle):
    part1, part2 = (
        guide_of(bundle.root / a / f"{pipeline.ASSIGNMENTS[a]}.ipynb") for a in ("part1", "part2")
    )
    wheels = f"`{DEFAULT_USERNAME}/{DEFAULT_WHEELS_SLUG}`"
    for text in (part1, part2):
        assert wheels in text and "GPU T4" in text and "Add Input" in text
    assert f"`{DEFAULT_USERNAME}/{DEFAULT_FACES_SLUG}`" in part1
    assert f"`{DEFAULT_USERNAME}/{DEFAULT_WEIGHTS_SLUG}`" in part1
    assert "/kaggle/input/diffusion/faces/faces" in part1, "where helpers.data looks first"
    assert guide.SESSION_STEPS in part1 and "Save Version" in part1
    assert "/kaggle/working/part1" in part1
    assert guide.OFFLINE_STEPS in part2 and "HF_TOKEN" in part2
    assert guide.SESSION_STEPS not in part2 and guide.OFFLINE_STEPS not in part1
    # One source: the README shows the same steps under the same headings, and the
    # training cell names the section.
    readme = (REPO / "README.md").read_text()
    for heading, steps in (
        (guide.SESSIONS_HEADING, guide.SESSION_STEPS),
        (guide.OFFLINE_HEADING, guide.OFFLINE_STEPS),
    ):
        assert f"**{heading}.**" in readme and steps in readme, f"README lacks {heading!r}"
    # The notebooks' own text names those sections (a student may start from the release).
    for assignment, cell, heading in (
        ("part1", "md_train", guide.SESSIONS_HEADING),
        ("part2", "running", guide.OFFLINE_HEADING),
    ):
        text = "".join(
            "".join(c["source"])
            for c in json.loads(source_notebook(assignment).read_text())["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade_id") == cell
        )
        assert heading in text, f"{assignment}'s {cell} cell must name {heading!r}"


def test_no_instructor_text_anywhere_in_the_bundle(bundle):
    weights = {a.name for a in datasets.WEIGHTS}
    files = [p for p in bundle.root.rglob("*") if p.is_file() and p.name not in weights]
    assert {p.suffix for p in files} == {".ipynb", ".json", ".whl"}
    for path in files:
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                assert all(n.startswith(("helpers/", "diffusion_course_kit-")) for n in names)
                assert not [n for n in names if "grading" in n or "reference" in n]
                for name in names:
                    text = archive.read(name).decode("utf-8", errors="replace")
                    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, name
        else:
            text = path.read_text()
            for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "grading.authoring.reference"):
                assert secret not in text, f"{path} leaks {secret!r}"


def test_the_judge_runs_every_todo_of_a_kaggle_notebook(bundle, release):
    # A student's notebook downloaded from Kaggle keeps the bootstrap cell; it must not cost points.
    for notebook in bundle.notebooks:
        assignment = notebook.parent.name
        released = release / assignment / notebook.name
        programs = judge.programs(notebook, released, assignment)
        assert all(not isinstance(p, str) for p in programs.values()), programs


def test_the_bootstrap_cell_is_the_source_of_real_functions(bundle, capsys, monkeypatch, tmp_path):
    for function in (bootstrap._coursekit_setup, places.find_in_kaggle_input):
        for notebook in bundle.notebooks:
            assert inspect.getsource(function) in bootstrap_of(notebook), (
                "the cell must run the code ruff and the tests see"
            )
    # The same function, called here: outside Kaggle it does nothing.
    monkeypatch.setenv("COURSEKIT_KAGGLE_INPUT", str(tmp_path / "no-kaggle-input"))
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    bootstrap._coursekit_setup("part1", "u/wheels", None, (), "u/weights", (), "", "")
    assert "Not on Kaggle" in capsys.readouterr().out


# --- the weights and faces datasets ---------------------------------------------------------


def test_the_weights_dataset_holds_hash_checked_copies(bundle):
    meta = json.loads((bundle.weights / "dataset-metadata.json").read_text())
    assert meta["id"] == f"{DEFAULT_USERNAME}/{DEFAULT_WEIGHTS_SLUG}"
    assert 6 <= len(meta["title"]) <= 50
    files = sorted(p.name for p in bundle.weights.iterdir())
    assert files == sorted(["dataset-metadata.json", *(a.name for a in datasets.WEIGHTS)])
    for name in files[1:]:
        assert (bundle.weights / name).read_bytes().startswith(b"stand-in for ")


def test_weights_that_cannot_be_fetched_stop_the_build_naming_the_way_out(
    release, tmp_path, monkeypatch
):
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.setenv("COURSEKIT_KAGGLE_INPUT", str(tmp_path / "no-input"))
    for asset in datasets.WEIGHTS:
        monkeypatch.delenv(asset.env, raising=False)
    with pytest.raises(BundleError, match=f"needs {FID_INCEPTION.name}.*--no-weights"):
        build_bundle(tmp_path / "out", release=release, download_deps=False)


def test_make_kaggle_faces_packs_a_folder_as_the_notebook_reads_it(release, tmp_path, capsys):
    source = tmp_path / "crypko"
    for folder, count in (("a", 3), ("b", 2)):  # two folders, both with 0.jpg … : no collision
        write_toy_faces(source / folder, n=count, size=16, progress=False)
    out = tmp_path / "out"
    args = ["--release", str(release), "--out", str(out), "--no-deps-download", "--no-weights"]
    assert kaggle_main([*args, "--faces", str(source)]) == 0
    printed = capsys.readouterr().out
    assert f"kaggle datasets create -p {out / 'faces'} --dir-mode zip" in printed
    assert "faces/faces/faces/  5 images" in printed
    meta = json.loads((out / "faces" / "dataset-metadata.json").read_text())
    assert meta["id"] == f"{DEFAULT_USERNAME}/{DEFAULT_FACES_SLUG}"
    # Uploaded and attached, the dataset mounts at /kaggle/input/<slug>/: the notebook finds it.
    kaggle_input = tmp_path / "input"
    shutil.copytree(out / "faces", kaggle_input / DEFAULT_FACES_SLUG)
    found = resolve_data_dir(kaggle_input=kaggle_input)
    assert found == kaggle_input / "diffusion" / "faces" / "faces" and len(find_images(found)) == 5
    assert kaggle_main([*args, "--faces", str(tmp_path / "nothing")]) == 1
    assert "no images there" in capsys.readouterr().err


def test_a_source_notebook_is_refused(tmp_path):
    release = tmp_path / "release" / "part1"
    release.mkdir(parents=True)
    shutil.copy2(source_notebook("part1"), release)
    with pytest.raises(BundleError, match="BEGIN SOLUTION.*make release"):
        build_bundle(tmp_path / "out", release=tmp_path / "release", download_deps=False)


def test_without_a_current_release_the_command_says_how_to_make_one_before_loading_torch(
    release, tmp_path
):
    # As grading/README.md runs it; the check comes before the bundle's imports (torch).
    stale = tmp_path / "stale"
    shutil.copytree(release, stale)
    for notebook in stale.glob("*/*.ipynb"):
        os.utime(notebook, (0, 0))
    code = (
        "import sys; from grading.distribute.kaggle.__main__ import main; "
        "code = main(sys.argv[1:]); print(code, 'torch' in sys.modules)"
    )
    for folder, cause in ((tmp_path / "none", "no released notebooks"), (stale, "is older than")):
        done = subprocess.run(
            [sys.executable, "-c", code, "--release", str(folder), "--out", str(tmp_path / "out")],
            cwd=REPO, env=isolated_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.stdout.strip() == "1 False", done.stdout + done.stderr
        assert cause in done.stderr and "make release" in done.stderr


def test_a_bundle_without_weights_still_names_the_courses_weights_dataset(
    release, tmp_path, capsys
):
    out = tmp_path / "out"
    args = ["--release", str(release), "--out", str(out), "--no-deps-download", "--no-weights"]
    assert kaggle_main(args) == 0
    printed = capsys.readouterr().out
    weights_dataset = f"{DEFAULT_USERNAME}/{DEFAULT_WEIGHTS_SLUG}"
    assert f"The kernels name <username>/{DEFAULT_WEIGHTS_SLUG}" in printed
    part1 = out / "part1" / "part1_anime_faces.ipynb"
    meta = json.loads((part1.parent / "kernel-metadata.json").read_text())
    assert weights_dataset not in meta["dataset_sources"]
    assert f"`{weights_dataset}`: the FID Inception weights" in guide_of(part1)
    assert "not attached by the course" in guide_of(part1)
    assert f"weights_dataset={weights_dataset!r}" in bootstrap_of(part1)


def test_the_readme_shows_the_kit_wheels_size(bundle):
    # The wheel carries the pretrained toy model: its size moves with what helpers ships.
    line = (
        f"  {bundle.kit_wheel.relative_to(bundle.root)}  {_size(bundle.kit_wheel)}, helpers/ only"
    )
    assert line in (REPO / "grading" / "README.md").read_text(), (
        f"grading/README.md's `python -m grading.distribute.kaggle` transcript must show {line.strip()!r}"
    )


# --- the dependencies --------------------------------------------------------------------


def test_only_ema_pytorch_is_missing_from_kaggles_image():
    missing = missing_on_kaggle(kit_requirements())
    assert [str(r.name) for r in missing] == ["ema-pytorch"]


def test_a_requirement_kaggles_image_cannot_meet_is_an_error():
    with pytest.raises(BundleError, match="torch 2.10.0.*pyproject.toml"):
        missing_on_kaggle([Requirement("torch>=99")])
    # A requirement for another platform or Python does not apply to Kaggle.
    assert missing_on_kaggle([Requirement("pywin32; sys_platform == 'win32'")]) == []


@pytest.mark.slow
def test_dependency_wheels_install_offline_where_kaggle_lacks_them(bundle, tmp_path):
    if not pypi_reachable():
        pytest.skip("PyPI is not reachable: the dependency wheels cannot be downloaded")
    wheels = shutil.copytree(bundle.wheels, tmp_path / "wheels")
    downloaded = download_dependencies(wheels)
    assert [w.name for w in downloaded] == ["ema_pytorch-0.8.3-py3-none-any.whl"]
    python = kaggle_like_venv(tmp_path / "venv", hide=("ema-pytorch",))
    install = [
        python,
        "-m",
        "pip",
        "install",
        "--no-index",
        "--find-links",
        wheels,
        DIST_NAME,
    ]
    done = subprocess.run(install, env=isolated_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = run_python(
        python, "import ema_pytorch; print(ema_pytorch.__file__)", tmp_path, isolated_env()
    )
    assert shown.stdout.startswith(str(tmp_path / "venv" / "lib")), shown.stdout + shown.stderr


# --- the bootstrap cell --------------------------------------------------------------------


def test_bootstrap_does_nothing_outside_kaggle_and_leaves_no_name_behind(bundle, tmp_path):
    env = isolated_env(COURSEKIT_KAGGLE_INPUT=str(tmp_path / "no-kaggle-input"))
    check = (
        "\nimport os, sys; print(sorted(k for k in os.environ if k.startswith('COURSEKIT_')), "
        "'helpers' in sys.modules, sorted(n for n in dir() if not n.startswith('__')))"
    )
    done = run_python(sys.executable, bootstrap_of(bundle.notebooks[0]) + check, tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "Not on Kaggle" in done.stdout
    # A later cell that works on Kaggle must work at grading too: no name the cell made.
    assert done.stdout.strip().endswith("['COURSEKIT_KAGGLE_INPUT'] False ['os', 'sys']")


def test_bootstrap_without_the_wheels_dataset_names_it(bundle, tmp_path):
    (tmp_path / "input").mkdir()
    env = isolated_env(COURSEKIT_KAGGLE_INPUT=str(tmp_path / "input"))
    done = run_python(sys.executable, bootstrap_of(bundle.notebooks[0]), tmp_path, env)
    assert done.returncode != 0
    assert f"Attach the dataset {DEFAULT_USERNAME}/{DEFAULT_WHEELS_SLUG}" in done.stderr


@pytest.mark.slow
def test_bootstrap_installs_the_kit_offline_and_resolves_the_paths(bundle, tmp_path):
    faces = tmp_path / "faces-source"
    faces.mkdir()
    for i in range(3):
        Image.new("RGB", (16, 16), (80 * i, 40, 200)).save(faces / f"{i}.png")
    env = isolated_env(**imitate_kaggle(bundle, tmp_path / "kaggle", faces=faces))
    kaggle_input = Path(env["COURSEKIT_KAGGLE_INPUT"])
    weights = kaggle_input / DEFAULT_WEIGHTS_SLUG
    python = kaggle_like_venv(tmp_path / "venv")

    report = (
        "\nimport json, os, helpers, helpers.data, torch\n"
        "from pathlib import Path\n"
        "try:\n    import grading\nexcept ImportError:\n    grading = None\n"
        "print(json.dumps({'helpers': helpers.__file__, 'grading': grading is not None,\n"
        "    'cuda': torch.cuda.is_available(),\n"
        "    'env': {k: v for k, v in os.environ.items() if k.startswith('COURSEKIT_')},\n"
        "    'faces': str(helpers.data.resolve_data_dir())}))\n"
    )
    done = run_python(
        python,
        bootstrap_of(bundle.root / "part1" / "part1_anime_faces.ipynb") + report,
        tmp_path,
        env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    *printed, last = done.stdout.strip().splitlines()
    state = json.loads(last)
    assert state["helpers"].startswith(str(tmp_path / "venv" / "lib")), (
        "helpers must come from the wheel"
    )
    assert not state["grading"], "the instructor's grading package must not be importable"
    working = Path(env["COURSEKIT_KAGGLE_WORKING"])
    assert state["env"]["COURSEKIT_RESULTS"] == str(working / "part1")
    assert (working / "part1").is_dir()
    assert state["env"].get("COURSEKIT_MODE") == ("full" if state["cuda"] else None)
    assert state["env"]["COURSEKIT_ANIMEFACE_CASCADE"] == str(weights / "lbpcascade_animeface.xml")
    assert state["env"]["COURSEKIT_FID_WEIGHTS"] == str(weights / FID_INCEPTION.name)
    assert state["faces"] == str(kaggle_input / "course-faces" / "faces")
    text = "\n".join(printed)
    assert "without dependency resolution" not in text
    assert f"faces: {state['faces']}" in text
    assert "missing" not in text, "the bundle attaches everything Part 1 needs"
    if not state["cuda"]:
        assert f"smoke mode ({inputs_for('part1').smoke})" in text


@pytest.mark.slow
def test_bootstrap_installs_the_bundled_wheels_alone_when_the_images_pins_disagree(
    bundle, tmp_path
):
    # COURSEKIT_MODE=full set by the student: the cell must not call the run a smoke run.
    env = isolated_env(**imitate_kaggle(bundle, tmp_path / "kaggle"), COURSEKIT_MODE="full")
    python = kaggle_like_venv(tmp_path / "venv")
    # Like a GPU image whose torch pins a package that the image holds in another version:
    # pip's resolution fails though nothing the kit needs is missing.
    info = next((tmp_path / "venv" / "kaggle-image").glob("torch-*.dist-info"))
    original = info.resolve()
    info.unlink()
    shutil.copytree(original, info)
    metadata = (info / "METADATA").read_text()
    first = metadata.index("Requires-Dist:")
    pin = "Requires-Dist: filelock==0.0.1\n"
    (info / "METADATA").write_text(metadata[:first] + pin + metadata[first:])

    check = "\nimport helpers, torch; print(torch.cuda.is_available(), helpers.__file__)"
    part2 = bundle.root / "part2" / "part2_illusions.ipynb"
    done = run_python(python, bootstrap_of(part2) + check, tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installed without dependency resolution" in done.stdout
    assert "filelock==0.0.1" in done.stdout, "the message must name the conflict"
    cuda, where = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert where.startswith(str(tmp_path / "venv" / "lib"))
    assert "runs in smoke mode" not in done.stdout and "toy faces" not in done.stdout
    if cuda == "False":
        assert "COURSEKIT_MODE=full asks for the full run" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(pipeline.ASSIGNMENTS))
def test_a_finished_bundled_notebook_runs_in_smoke_mode_from_the_kaggle_layout(
    bundle, assignment, tmp_path
):
    """A student's finished notebook as Kaggle runs it: bootstrap, wheel, inputs, working dir.

    The bundled notebook gets the reference solutions in its TODO cells and runs under
    ``pytest --nbval-lax`` in a Kaggle-like environment (the kit only from the wheels
    dataset, no repository on the path); everything it writes must land in the imitated
    ``/kaggle/working/<assignment>``.
    """
    bundled = bundle.root / assignment / f"{pipeline.ASSIGNMENTS[assignment]}.ipynb"
    finished = tmp_path / "notebook" / bundled.name
    finished.parent.mkdir()
    finished.write_text(json.dumps(examples.build(assignment, bundled, [], "kaggle")))
    layout = imitate_kaggle(bundle, tmp_path / "kaggle")
    # Smoke mode draws its FID on random weights: only a real cascade belongs here.
    weights = Path(layout["COURSEKIT_KAGGLE_INPUT"]) / DEFAULT_WEIGHTS_SLUG
    shutil.rmtree(weights)
    if os.environ.get("COURSEKIT_ANIMEFACE_CASCADE"):  # CI: attach the shared cascade
        weights.mkdir()
        shutil.copy2(os.environ["COURSEKIT_ANIMEFACE_CASCADE"], weights)
    env = isolated_env(
        **layout,
        COURSEKIT_MODE="smoke",
        COURSEKIT_CACHE=str(tmp_path / "cache"),
        MPLBACKEND="Agg",
    )
    python = kaggle_like_venv(tmp_path / "venv")
    run_nbval(finished, env, python=python, cwd=finished.parent)
    results = Path(layout["COURSEKIT_KAGGLE_WORKING"]) / assignment
    for name in FIGURES[assignment]:
        assert (results / name).exists(), f"{assignment} did not write {name} to {results}"
    assert not (finished.parent / "outputs").exists(), "outputs must go to /kaggle/working"


# --- resuming across sessions ---------------------------------------------------------------


class _KilledAfter(Dataset):
    """``dataset`` until ``reads`` items were read, then the session ends (KeyboardInterrupt)."""

    def __init__(self, dataset: Dataset, reads: int) -> None:
        self.dataset, self.left = dataset, reads

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt("Kaggle ended the session")
        return self.dataset[index]


def test_a_run_killed_in_one_session_resumes_in_the_next_from_the_attached_output(tmp_path):
    faces = write_toy_faces(tmp_path / "faces", n=24, size=16, progress=False)
    expected = _session_trainer(faces, tmp_path / "straight").train()

    # Session 1: 4 images a batch, 2 batches a step; killed during step 5, checkpoint at 3.
    first = _session_trainer(faces, tmp_path / "session1" / "working" / "part1")
    first.dataset = _KilledAfter(first.dataset, reads=4 * 2 * 4 + 3)
    with pytest.raises(KeyboardInterrupt):
        first.train()
    # Saved as a version, its /kaggle/working is attached to session 2 as an input.
    kaggle_input = tmp_path / "session2" / "input"
    shutil.copytree(tmp_path / "session1" / "working", kaggle_input / "diffusion-course-part1")
    second = _session_trainer(faces, tmp_path / "session2" / "working" / "part1")
    assert resume.resume(second, search=kaggle_input) == 3
    assert second.train() == expected, "the resumed run must continue the same loss curve"


def test_resume_takes_the_newest_checkpoint_of_the_same_model_only(tmp_path, capsys):
    faces = write_toy_faces(tmp_path / "faces", n=24, size=16, progress=False)
    kaggle_input = tmp_path / "input"
    _session_trainer(faces, kaggle_input / "older" / "part1", train_num_steps=3).train()
    _session_trainer(faces, kaggle_input / "other-model" / "part1", timesteps=50).train()
    mine = _session_trainer(faces, tmp_path / "working" / "part1")
    assert resume.resume(mine, search=kaggle_input) == 3
    shown = capsys.readouterr().out
    assert (
        f"not resuming from {kaggle_input / 'other-model' / 'part1' / 'checkpoint.pt'} (step 6)"
        in shown
    )
    assert (
        f"resuming at step 3 from {kaggle_input / 'older' / 'part1' / 'checkpoint.pt'}: 3 steps to go"
        in shown
    )
    mine.train()
    again = _session_trainer(faces, tmp_path / "working" / "part1")
    assert resume.resume(again, search=kaggle_input) == 6, "its own newer checkpoint wins"
    fresh = _session_trainer(faces, tmp_path / "elsewhere", timesteps=20)
    assert resume.resume(fresh, search=tmp_path / "no-input") == 0
    assert "training starts at step 0" in capsys.readouterr().out


def _session_trainer(faces: Path, folder: Path, timesteps: int = 100, **kwargs) -> Trainer:
    torch.manual_seed(0)
    options = dict(
        image_size=16,
        timesteps=timesteps,
        sampling_timesteps=5,
        batch_size=4,
        train_num_steps=6,
        grad_steps=2,
        save_and_sample_every=3,
        num_samples=4,
        results_folder=str(folder),
        seed=5,
    )
    return Trainer(
        tiny_diffusion(timesteps=timesteps, sampling_timesteps=5),
        faces,
        TrainConfig(**(options | kwargs)),
        sampler=sample_with_progress,
        progress=False,
    )


# --- Part 2 with the internet off -----------------------------------------------------------


def test_part2_offline_fails_before_any_request_naming_the_offline_path(monkeypatch, tmp_path):
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    requests = []

    def hub_download(repo_id, filename, local_files_only=False, **kwargs):
        if local_files_only:
            raise LocalEntryNotFoundError("not cached")
        requests.append(repo_id)  # huggingface_hub 1.10 offline, after its retries:
        raise RuntimeError("Cannot send a request, as the client has been closed.")

    def no_network(*args, **kwargs):
        raise OSError("[Errno -2] Name or service not known")  # Kaggle, internet off

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hub_download)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for name in ("HF_HUB_OFFLINE", *models.PROXY_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(models.socket, "create_connection", no_network)
    with pytest.raises(MissingModelError) as caught:
        models.ensure_model_available("DeepFloyd/IF-I-M-v1.0", cache_dir=str(tmp_path))
    assert requests == [], "no request (and no retries) once the hub cannot be connected to"
    message = str(caught.value)
    assert "could not be reached" in message and "Settings > Internet" in message
    assert "save_pretrained" in message and "/kaggle/input/<dataset>/IF-I-M-v1.0" in message
    assert "prompt_embeddings.pt" in message

    # Connected, but the request fails as huggingface_hub 1.10 does: still the clear error.
    monkeypatch.setattr(models, "_hub_reachable", lambda timeout: True)
    with pytest.raises(MissingModelError, match="RuntimeError: Cannot send a request"):
        models.ensure_model_available("DeepFloyd/IF-I-M-v1.0", cache_dir=str(tmp_path))
    assert requests == ["DeepFloyd/IF-I-M-v1.0"]


OFFLINE_PART2 = """
import json, time
from pathlib import Path

import huggingface_hub
import torch

from helpers.illusions.embeddings import prompt_embeddings
from helpers.illusions.models import MissingModelError, load_stage_1, load_stage_2
from helpers.illusions.sampler import generate_illusion
from helpers.tiny_models import stand_in_views, tiny_embeddings, tiny_stage_1, tiny_stage_2
from reference_loop import denoising_loop

report = {"huggingface_hub": huggingface_hub.__version__}
start = time.perf_counter()
try:
    load_stage_1("M")
except MissingModelError as error:
    report.update(seconds=time.perf_counter() - start, message=str(error))

# The offline path: what a session with internet saved, attached as a dataset.
attached, results = Path(ATTACHED), Path(RESULTS)
prompts = ["an oil painting of a snowy mountain village", "an oil painting of a horse"]
tiny_stage_1(16).save_pretrained(attached / "IF-I-M-v1.0")
tiny_stage_2(32).save_pretrained(attached / "IF-II-M-v1.0")
tiny_embeddings(prompts).save(attached / "prompt_embeddings.pt")
embeddings = prompt_embeddings(prompts, results / "prompt_embeddings.pt")
stage_1 = load_stage_1(str(attached / "IF-I-M-v1.0"), dtype=torch.float32)
stage_2 = load_stage_2(str(attached / "IF-II-M-v1.0"), dtype=torch.float32)
illusion = generate_illusion(
    stage_1, stage_2, embeddings, stand_in_views(), denoising_loop, num_inference_steps=(2, 2)
)
report["image"] = list(illusion.image.shape)
print(json.dumps(report))
"""


@pytest.mark.slow
def test_part2_with_the_internet_off_fails_fast_then_runs_the_offline_path(bundle, tmp_path):
    """Part 2 on Kaggle's image with the internet off (this machine reaches no hub).

    Installed by the bootstrap, the kit must refuse IF within seconds, naming the offline
    path, and then run that path: saved pipelines and prompt embeddings attached as a
    dataset, with the reference loop standing in for the student's.
    """
    layout = imitate_kaggle(bundle, tmp_path / "kaggle")
    attached = Path(layout["COURSEKIT_KAGGLE_INPUT"]) / "my-if-offline"
    results = Path(layout["COURSEKIT_KAGGLE_WORKING"]) / "part2"
    env = isolated_env(**layout, HF_HOME=str(tmp_path / "hf-home"), MPLBACKEND="Agg")
    python = kaggle_like_venv(tmp_path / "venv")
    part2 = bundle.root / "part2" / "part2_illusions.ipynb"
    installed = run_python(python, bootstrap_of(part2), tmp_path, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    shutil.copy2(
        REPO / "grading" / "authoring" / "reference" / "illusions.py",
        tmp_path / "reference_loop.py",
    )
    script = f"ATTACHED, RESULTS = {str(attached)!r}, {str(results)!r}\n" + OFFLINE_PART2
    done = run_python(python, script, tmp_path, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=1))  # make test-kaggle shows it
    if os.environ.get("COURSEKIT_KAGGLE_IMAGE"):  # make test-kaggle: Kaggle's own hub
        assert report["huggingface_hub"] == KAGGLE_IMAGE["huggingface-hub"]
    assert report["seconds"] < 10, "within seconds, not after the hub's retries"
    assert "could not be reached" in report["message"]
    assert "prompt_embeddings.pt" in report["message"] and "save_pretrained" in report["message"]
    assert f"prompt embeddings: {attached / 'prompt_embeddings.pt'}" in done.stdout
    assert report["image"] == [1, 3, 32, 32]
