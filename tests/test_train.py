"""The trainer: exact resume, NaN handling, atomic checkpoints, sampling to files."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from grading.reference import REFERENCE_STEPS
from helpers.config import TrainConfig
from helpers.sampling import sample_to_folder
from helpers.toy_faces import write_toy_faces
from helpers.train import Trainer, TrainingDiverged, load_diffusion, resolve_mixed_precision
from tests.conftest import tiny_diffusion


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return write_toy_faces(tmp_path_factory.mktemp("faces"), n=24, size=16, progress=False)


def _trainer(data, folder, **kwargs) -> Trainer:
    torch.manual_seed(0)
    options = dict(
        batch_size=4,
        lr=1e-3,
        train_num_steps=6,
        grad_steps=2,
        ema_update_every=1,
        save_and_sample_every=3,
        num_samples=4,
        results_folder=str(folder),
        seed=5,
        image_size=16,
    )
    options.update(kwargs)
    return Trainer(
        tiny_diffusion(sampling_timesteps=5), data, TrainConfig(**options), progress=False
    )


def test_resume_reproduces_the_uninterrupted_loss_curve(faces, tmp_path):
    straight = _trainer(faces, tmp_path / "a")
    expected = straight.train()
    assert len(expected) == 6

    first = _trainer(faces, tmp_path / "b", train_num_steps=3)
    first.train()
    resumed = _trainer(faces, tmp_path / "b")
    assert resumed.load() == 3
    assert resumed.train() == expected, "resumed training must continue the same loss curve"
    for name, p in straight.model.named_parameters():
        torch.testing.assert_close(p, dict(resumed.model.named_parameters())[name], msg=name)


def test_training_writes_sample_grids_and_checkpoints(faces, tmp_path):
    trainer = _trainer(faces, tmp_path)
    trainer.train()
    assert (tmp_path / "sample-3.png").is_file() and (tmp_path / "sample-6.png").is_file()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["step"] == 6 and len(state["losses"]) == 6
    assert {
        "model",
        "ema",
        "opt",
        "scaler",
        "rng",
        "unet_config",
        "diffusion_config",
    } <= state.keys()
    assert not list(tmp_path.glob(".checkpoint.pt.tmp*")), "no temporary file is left behind"


class _Poisonable(Dataset):
    """Random images that turn into NaN once ``poisoned`` is set."""

    def __init__(self) -> None:
        self.images = torch.rand(16, 3, 16, 16) * 2 - 1
        self.poisoned = False

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        index = index[0] if isinstance(index, tuple) else index
        return (
            torch.full_like(self.images[index], float("nan"))
            if self.poisoned
            else self.images[index]
        )


def test_a_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    data = _Poisonable()
    trainer = _trainer(data, tmp_path, train_num_steps=3, save_and_sample_every=2)
    data.poisoned = False
    trainer.config.train_num_steps = 2
    trainer.train()
    good = (tmp_path / "checkpoint.pt").read_bytes()
    data.poisoned = True
    trainer.config.train_num_steps = 4
    with pytest.raises(
        TrainingDiverged,
        match=r"loss became nan at step 3.*last good checkpoint is .*checkpoint\.pt",
    ):
        trainer.train()
    assert (tmp_path / "checkpoint.pt").read_bytes() == good
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 2


def test_a_checkpoint_write_killed_midway_leaves_the_previous_one_loadable(
    faces, tmp_path, monkeypatch
):
    trainer = _trainer(faces, tmp_path, train_num_steps=3)
    trainer.train()
    real_save = torch.save

    def dies_midway(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        trainer.save()
    monkeypatch.setattr(torch, "save", real_save)
    assert _trainer(faces, tmp_path).load() == 3, "the previous checkpoint still loads"
    assert not list(tmp_path.glob(".checkpoint.pt.tmp*"))


def test_checkpoint_rebuilds_the_ema_model_and_samples_to_numbered_files(faces, tmp_path):
    trainer = _trainer(faces, tmp_path, train_num_steps=3)
    trainer.train()
    diffusion = load_diffusion(tmp_path / "checkpoint.pt", REFERENCE_STEPS)
    for name, p in trainer.ema.ema_model.named_parameters():
        torch.testing.assert_close(p, dict(diffusion.named_parameters())[name])
    paths = sample_to_folder(diffusion, 5, tmp_path / "samples", batch_size=2, progress=False)
    assert [p.name for p in paths] == ["1.png", "2.png", "3.png", "4.png", "5.png"]
    again = sample_to_folder(diffusion, 2, tmp_path / "again", batch_size=2, progress=False)
    assert again[0].read_bytes() == paths[0].read_bytes(), "the same seed gives the same images"


def test_mixed_precision_is_off_on_cpu_and_explicit_choices_pass_through():
    if not torch.cuda.is_available():
        assert resolve_mixed_precision("auto") == "no"
    assert resolve_mixed_precision("fp16") == "fp16"
