"""The preflight checks of a full run, on a CPU: a bad setup, a good one (a faked T4), and the timing."""

from __future__ import annotations

import dataclasses
import os
import types

import pytest
import torch

from grading.authoring.reference import REFERENCE_STEPS
from helpers import preflight
from helpers.config import TrainConfig, load_config
from helpers.toy_faces import write_toy_faces
from helpers.weights import FID_INCEPTION, sha256_of

CASCADE = os.environ.get("COURSEKIT_ANIMEFACE_CASCADE")


@pytest.fixture
def kaggle(tmp_path, monkeypatch):
    """An empty /kaggle/input and cache, offline, no token: what a fresh Kaggle session has."""
    for name in (
        "COURSEKIT_FID_WEIGHTS",
        "COURSEKIT_ANIMEFACE_CASCADE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSEKIT_KAGGLE_INPUT", str(tmp_path / "input"))
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    (tmp_path / "input").mkdir()
    return tmp_path / "input"


def fake_t4(monkeypatch) -> None:
    props = types.SimpleNamespace(name="Tesla T4", total_memory=15_828_320_256)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda *a: props)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (7, 5))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")


def hyper(tmp_path, **overrides) -> TrainConfig:
    # The notebook's HYPER (the seed's best run), trained on the course's faces.
    values = dict(seed=114514, image_size=64, batch_size=32, train_num_steps=30000, lr=2e-4,
                  ema_decay=0.995, channels=128, dim_mults=(1, 2, 3, 4), timesteps=10000,
                  sampling_timesteps=50, beta_schedule="cosine", results_folder=str(tmp_path / "results"))  # fmt: skip
    return TrainConfig(**(values | overrides))


def test_a_bad_setup_stops_at_once_naming_every_fix(kaggle, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(preflight.PreflightError) as raised:
        preflight.preflight_part1(hyper(tmp_path), REFERENCE_STEPS, "full")
    message = str(raised.value)
    print(capsys.readouterr().out + message)  # shown with pytest -s: the report's example
    assert "fix these and run this cell again" in message
    fixes = [line.split(". ", 1)[1] for line in message.splitlines()[1:]]
    assert [fix.split(":")[0] for fix in fixes] == [
        "GPU",
        "faces",
        FID_INCEPTION.name,
        "lbpcascade_animeface.xml",
    ]
    assert "Settings > Accelerator > GPU T4" in fixes[0] and "COURSEKIT_MODE=smoke" in fixes[0]
    assert "attach the course's faces dataset" in fixes[1]
    assert "attach a dataset that contains it" in fixes[2]


def test_full_mode_refuses_the_toy_faces(kaggle, tmp_path, capsys, monkeypatch):
    fake_t4(monkeypatch)
    config = hyper(tmp_path, data_path="toy-faces")
    with pytest.raises(preflight.PreflightError, match="faces: attach the course's faces dataset"):
        preflight.preflight_part1(config, REFERENCE_STEPS, "full", measure=lambda c, s: 0.5)


@pytest.fixture
def good_kaggle(kaggle, tmp_path, monkeypatch):
    """The faces and the weights dataset attached (stand-in FID weights, the real cascade)."""
    if not CASCADE:
        pytest.skip("COURSEKIT_ANIMEFACE_CASCADE is not set: export it to the cascade file")
    write_toy_faces(kaggle / "diffusion" / "faces" / "faces", n=12, size=16, progress=False)
    weights = kaggle / "diffusion-course-weights"
    weights.mkdir()
    standin = weights / FID_INCEPTION.name
    standin.write_bytes(b"stand-in Inception weights")
    (weights / "lbpcascade_animeface.xml").write_bytes(open(CASCADE, "rb").read())
    monkeypatch.setattr(
        preflight, "FID_INCEPTION", dataclasses.replace(FID_INCEPTION, sha256=sha256_of(standin))
    )
    fake_t4(monkeypatch)
    return kaggle


def test_a_good_setup_reports_each_check_and_the_checkpoint_interval(good_kaggle, tmp_path, capsys):
    config = hyper(tmp_path)
    report = preflight.preflight_part1(config, REFERENCE_STEPS, "full", measure=lambda c, s: 0.42)
    out = capsys.readouterr().out
    print(out)
    assert not report.fixes and report.step_seconds == 0.42
    lines = dict(line.split(": ", 1)[0].split(maxsplit=1)[::-1] for line in out.splitlines())
    assert lines == {
        "GPU": "ok", "precision": "ok", "faces": "ok", FID_INCEPTION.name: "ok",
        "lbpcascade_animeface.xml": "ok", "disk": "ok", "time": "ok", "checkpoints": "ok",
    }  # fmt: skip
    assert "precision: fp16: Tesla T4 (compute capability 7.5) has no bf16 tensor cores" in out
    assert f"faces: 12 images in {good_kaggle / 'diffusion' / 'faces' / 'faces'}" in out
    assert "420 ms a step, 30,000 steps ≈ 3.5 h" in out
    # 15 minutes at 0.42 s a step is 2142 steps: the configured 1000 already fits.
    assert config.checkpoint_every is None and "every 1,000 steps (≈ 7.0 min" in out


@pytest.mark.parametrize(
    "seconds, warning, every",
    [
        (2.0, "more than one Kaggle session (12 h), so 2 sessions", 450),
        (4.0, "more than the weekly GPU quota (30 h)", 225),
    ],
)
def test_long_runs_are_warned_about_and_checkpoint_more_often(
    good_kaggle, tmp_path, capsys, seconds, warning, every
):
    config = hyper(tmp_path)
    preflight.preflight_part1(config, REFERENCE_STEPS, "full", measure=lambda c, s: seconds)
    out = capsys.readouterr().out
    assert f"warning  time: {seconds * 1000:.0f} ms a step" in out and warning in out
    assert config.checkpoint_every == every and every * seconds <= preflight.MAX_LOST_MINUTES * 60


def test_smoke_mode_checks_nothing(capsys):
    assert preflight.preflight_part1(load_config("smoke"), REFERENCE_STEPS, "smoke") is None
    assert "smoke mode: no preflight" in capsys.readouterr().out


def test_the_step_time_is_measured_by_training_the_configured_model(tmp_path):
    faces = write_toy_faces(tmp_path / "faces", n=8, size=16, progress=False)
    config = TrainConfig(data_path=str(faces), image_size=16, channels=8, dim_mults=(1, 2), batch_size=2,
                         timesteps=100, sampling_timesteps=5, results_folder=str(tmp_path / "results"))  # fmt: skip
    seconds = preflight.measure_step_seconds(config, REFERENCE_STEPS)
    assert 0 < seconds < 5
    assert not (tmp_path / "results").exists(), (
        "the trial must not write into the real results folder"
    )


def test_part2_without_gpu_or_token_names_both_fixes(kaggle, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(
        "helpers.illusions.models.get_hf_token", lambda: None
    )  # no Kaggle secret either
    with pytest.raises(preflight.PreflightError) as raised:
        preflight.preflight_part2("full")
    message = str(raised.value)
    assert "GPU: On Kaggle: Settings > Accelerator" in message
    assert "Hugging Face token: supply a Hugging Face read token" in message


def test_part2_with_a_t4_and_attached_model_folders_passes(kaggle, tmp_path, monkeypatch, capsys):
    fake_t4(monkeypatch)
    monkeypatch.setattr("helpers.illusions.models.get_hf_token", lambda: None)
    folders = []
    for stage in ("if-stage-1", "if-stage-2"):
        folder = kaggle / stage
        folder.mkdir()
        (folder / "model_index.json").write_text("{}")
        folders.append(str(folder))
    report = preflight.preflight_part2("full", *folders)
    out = capsys.readouterr().out
    assert not report.fixes
    assert "GPU memory: 14.7 GiB" in out and f"model: {folders[0]} (attached folder)" in out
