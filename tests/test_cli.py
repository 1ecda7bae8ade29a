"""The instructor's command line and the run configurations."""

from __future__ import annotations

import pytest

from grading.authoring.reference.__main__ import main as reference_main
from helpers.cli import main
from helpers.config import TrainConfig, load_config, preset_names


def test_every_preset_loads_and_the_seed_tests_match_the_report():
    assert {"smoke", "toy", "test1", "test2", "test3", "test4"} <= set(preset_names())
    for name in preset_names():
        assert isinstance(load_config(name), TrainConfig)
    best = load_config("test4")
    assert (best.channels, best.dim_mults, best.timesteps, best.sampling_timesteps) == (
        128,
        (1, 2, 3, 4),
        10000,
        50,
    )
    assert (best.lr, best.batch_size, best.ema_decay, best.seed, best.beta_schedule) == (
        2e-4,
        32,
        0.995,
        114514,
        "cosine",
    )
    assert load_config("test2").beta_schedule == "linear"


def test_yaml_and_toml_configs_and_their_errors(tmp_path):
    (tmp_path / "run.yaml").write_text("channels: 16\ndim_mults: [1, 2]\nimage_size: 16\n")
    assert load_config(tmp_path / "run.yaml").dim_mults == (1, 2)
    (tmp_path / "typo.toml").write_text("learning_rate = 0.1\n")
    with pytest.raises(ValueError, match="unknown key.*learning_rate.*valid keys:.*lr"):
        load_config(tmp_path / "typo.toml")
    with pytest.raises(FileNotFoundError, match="no preset called 'smok'"):
        load_config("smok")
    with pytest.raises(ValueError, match="image_size 36 must be divisible by"):
        TrainConfig(image_size=36, dim_mults=(1, 2, 4, 8))


def test_data_train_and_sample_commands_end_to_end(tmp_path, capsys):
    faces = tmp_path / "faces"
    assert main(["data", "toy-faces", "--n", "12", "--size", "16", "--out", str(faces)]) == 0
    assert len(list(faces.glob("*.png"))) == 12
    config = tmp_path / "tiny.toml"
    config.write_text(
        f'data_path = "{faces}"\nimage_size = 16\nchannels = 8\ndim_mults = [1, 2]\ntimesteps = 100\n'
        "sampling_timesteps = 4\nbatch_size = 4\ntrain_num_steps = 2\nsave_and_sample_every = 2\nnum_samples = 4\n"
    )
    results = tmp_path / "run"
    assert reference_main(["train", "--config", str(config), "--results", str(results)]) == 0
    assert (results / "checkpoint.pt").is_file() and (results / "loss_curve.png").is_file()
    assert (
        reference_main(
            [
                "train",
                "--config",
                str(config),
                "--results",
                str(results),
                "--steps",
                "3",
                "--resume",
            ]
        )
        == 0
    )
    assert "resuming at step 2" in capsys.readouterr().out
    out = tmp_path / "samples"
    assert (
        reference_main(
            [
                "sample",
                "--checkpoint",
                str(results / "checkpoint.pt"),
                "--n",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["1.png", "2.png", "3.png"]
