"""The trainer: exact resume, NaN handling, atomic checkpoints, sampling to files."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import Dataset

from grading.reference import REFERENCE_STEPS
from helpers.sampling import sample_to_folder
from helpers.toy_faces import write_toy_faces
from helpers.train import Trainer, TrainingDiverged, load_diffusion
from tests.conftest import tiny_diffusion


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return write_toy_faces(tmp_path_factory.mktemp("faces"), n=24, size=16, progress=False)


def _trainer(data, folder, **kwargs) -> Trainer:
    torch.manual_seed(0)
    options = dict(
        train_batch_size=4,
        train_lr=1e-3,
        train_num_steps=6,
        grad_steps=2,
        ema_update_every=1,
        save_and_sample_every=3,
        num_samples=4,
        results_folder=folder,
        seed=5,
        progress=False,
    )
    options.update(kwargs)
    return Trainer(tiny_diffusion(sampling_timesteps=5), data, **options)


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
    trainer.train_num_steps = 2
    trainer.train()
    good = (tmp_path / "checkpoint.pt").read_bytes()
    data.poisoned = True
    trainer.train_num_steps = 4
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


class _Interrupting(Dataset):
    """Random images; reading one after ``interrupt_after`` reads raises KeyboardInterrupt."""

    def __init__(self, interrupt_after: int) -> None:
        self.images = torch.rand(16, 3, 16, 16) * 2 - 1
        self.reads, self.interrupt_after = 0, interrupt_after

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        self.reads += 1
        if self.reads > self.interrupt_after:
            raise KeyboardInterrupt("the student pressed stop")
        return self.images[index[0] if isinstance(index, tuple) else index]


def test_a_new_trainer_in_another_precision_after_a_nan(tmp_path):
    data = _Poisonable()
    data.poisoned = True
    with pytest.raises(TrainingDiverged):
        _trainer(data, tmp_path / "bf16", mixed_precision="bf16").train()
    # What TrainingDiverged advises: the same kernel, mixed_precision='no'.
    data.poisoned = False
    again = _trainer(data, tmp_path / "fp32", mixed_precision="no", train_num_steps=2)
    assert again.accelerator.mixed_precision == "no"
    assert all(map(math.isfinite, again.train()))


def test_a_new_trainer_after_an_interrupted_run(faces, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _trainer(_Interrupting(interrupt_after=12), tmp_path / "a", mixed_precision="bf16").train()
    expected = _trainer(faces, tmp_path / "b", train_num_steps=3).train()
    again = _trainer(faces, tmp_path / "c", train_num_steps=3)
    assert again.accelerator.mixed_precision == "no" and again.train() == expected


def test_on_save_sees_each_sample_grid_as_it_is_written(faces, tmp_path):
    seen = []
    trainer = _trainer(faces, tmp_path)
    trainer.train(
        on_save=lambda t: seen.append(
            (t.step, len(t.losses), sorted(tmp_path.glob("sample-*.png")))
        )
    )
    assert [(step, n) for step, n, _ in seen] == [(3, 3), (6, 6)]
    assert seen[0][2] == [tmp_path / "sample-3.png"]


class _Handle:
    """Stands in for an IPython DisplayHandle: records what is shown and how."""

    def __init__(self) -> None:
        self.calls = []

    def display(self, obj) -> None:
        self.calls.append(("display", obj))

    def update(self, obj) -> None:
        self.calls.append(("update", obj))


def test_live_progress_redraws_the_curve_and_the_newest_grid_in_place(faces, tmp_path):
    from matplotlib.figure import Figure

    from helpers.figures import plot_losses
    from helpers.live import LiveProgress

    live = LiveProgress(lambda losses: plot_losses(losses, path=None))
    live.curve, live.grid = _Handle(), _Handle()
    trainer = _trainer(faces, tmp_path)
    trainer.train(on_save=live)
    assert [how for how, _ in live.curve.calls] == ["display", "update"]
    assert [how for how, _ in live.grid.calls] == ["display", "update"]
    for (_, fig), step in zip(live.curve.calls, (3, 6), strict=True):
        assert isinstance(fig, Figure) and fig.get_suptitle() == f"step {step} of 6"
        assert list(fig.axes[0].get_lines()[0].get_ydata()) == trainer.losses[:step]
    assert live.grid.calls[-1][1].data == (tmp_path / "sample-6.png").read_bytes()
