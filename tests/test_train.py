"""The trainer: exact resume, NaN handling, atomic checkpoints, sampling to files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from ema_pytorch import EMA
from torch._dynamo import register_backend
from torch.utils.data import Dataset
from torchvision.utils import save_image

from grading.authoring.reference import REFERENCE_STEPS, plot_losses, sample_with_progress
from helpers.config import TrainConfig, load_config
from helpers.sampling import sample, sample_to_folder
from helpers.tiny_models import tiny_unet
from helpers.toy_faces import write_toy_faces
from helpers.train import StepCountingEMA, Trainer, TrainingDiverged, load_diffusion
from tests.conftest import tiny_diffusion

REPO = Path(__file__).resolve().parents[1]


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
        tiny_diffusion(sampling_timesteps=5),
        data,
        TrainConfig(**options),
        sampler=sample_with_progress,
        progress=False,
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
    paths = sample_to_folder(
        sample_with_progress, diffusion, 5, tmp_path / "samples", batch_size=2, progress=False
    )
    assert [p.name for p in paths] == ["1.png", "2.png", "3.png", "4.png", "5.png"]
    again = sample_to_folder(
        sample_with_progress, diffusion, 2, tmp_path / "again", batch_size=2, progress=False
    )
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

    from helpers.live import LiveProgress

    live = LiveProgress(plot_losses)
    live.curve, live.grid = _Handle(), _Handle()
    trainer = _trainer(faces, tmp_path)
    trainer.train(on_save=live)
    assert [how for how, _ in live.curve.calls] == ["display", "update"]
    assert [how for how, _ in live.grid.calls] == ["display", "update"]
    for (_, fig), step in zip(live.curve.calls, (3, 6), strict=True):
        assert isinstance(fig, Figure) and fig.get_suptitle() == f"step {step} of 6"
        assert list(fig.axes[0].get_lines()[0].get_ydata()) == trainer.losses[:step]
    assert live.grid.calls[-1][1].data == (tmp_path / "sample-6.png").read_bytes()


def test_train_config_defaults_are_the_test4_preset_they_claim_to_be():
    assert TrainConfig() == load_config("test4")


def test_ema_counting_on_the_host_follows_ema_pytorch_exactly():
    torch.manual_seed(0)
    model = tiny_unet()
    ours = StepCountingEMA(model, beta=0.9, update_every=2, update_after_step=3, use_foreach=True)
    theirs = EMA(model, beta=0.9, update_every=2, update_after_step=3)
    for _ in range(12):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        ours.update(), theirs.update()
    expected = theirs.state_dict()
    for name, value in ours.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0, msg=name)
    reloaded = StepCountingEMA(tiny_unet(), beta=0.9, update_every=2, update_after_step=3)
    reloaded.load_state_dict(theirs.state_dict())
    assert (reloaded.host_step, reloaded.host_initted) == (12, True)


def test_a_compiled_model_resumes_exactly_and_saves_the_eager_state_dict(faces, tmp_path):
    # "eager": TorchDynamo captures the UNet's graphs and runs them without generating
    # code, the compile path without minutes of C++ compilation on a CPU.
    straight = _trainer(faces, tmp_path / "a", train_num_steps=4, save_and_sample_every=2)
    expected = straight.train()
    first = _trainer(
        faces, tmp_path / "b", train_num_steps=2, save_and_sample_every=2, compile="eager"
    )
    assert first.compiled
    first.train()
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert state["model"].keys() == straight.state_dict()["model"].keys()
    assert state["ema"].keys() == straight.state_dict()["ema"].keys()
    resumed = _trainer(
        faces, tmp_path / "b", train_num_steps=4, save_and_sample_every=2, compile="eager"
    )
    assert resumed.load() == 2
    assert resumed.train() == expected


def test_a_failing_compiler_falls_back_to_eager_with_one_message_and_the_same_run(faces, tmp_path):
    @register_backend(name="coursekit_failing")
    def failing(graph, example_inputs):
        raise RuntimeError("no C++ compiler")

    expected = _trainer(faces, tmp_path / "a", train_num_steps=2).train()
    trainer = _trainer(faces, tmp_path / "b", train_num_steps=2, compile="coursekit_failing")
    with pytest.warns(UserWarning) as caught:
        losses = trainer.train()
    messages = [str(w.message) for w in caught if "torch.compile" in str(w.message)]
    assert len(messages) == 1 and "no C++ compiler" in messages[0]
    assert "compile=False" in messages[0]
    assert not trainer.compiled and losses == expected


def test_an_unknown_compile_backend_falls_back_at_construction(faces, tmp_path):
    with pytest.warns(UserWarning, match="torch.compile is unavailable.*no-such-backend"):
        trainer = _trainer(faces, tmp_path, compile="no-such-backend")
    assert not trainer.compiled


def test_losses_are_read_from_the_device_only_at_log_and_save_intervals(
    faces, tmp_path, monkeypatch
):
    trainer = _trainer(faces, tmp_path, train_num_steps=9, save_and_sample_every=6, log_every=4)
    reads, read = [], Trainer._read_losses

    def recording(self):
        if self._pending:
            reads.append((self.step, len(self._pending)))
        return read(self)

    monkeypatch.setattr(Trainer, "_read_losses", recording)
    losses = trainer.train()
    assert reads == [(4, 4), (6, 2), (8, 2), (9, 1)]
    assert len(losses) == 9 and all(isinstance(v, float) for v in losses)


def test_sampling_to_files_in_a_background_writer_writes_what_sequential_saving_did(tmp_path):
    diffusion = tiny_diffusion(sampling_timesteps=3).eval()
    paths = sample_to_folder(
        sample_with_progress, diffusion, 5, tmp_path / "threaded", batch_size=2, progress=False
    )
    generator = torch.Generator().manual_seed(0)
    expected = [
        image
        for count in (2, 2, 1)
        for image in sample(sample_with_progress, diffusion, count, generator)
    ]
    for index, (path, image) in enumerate(zip(paths, expected, strict=True)):
        save_image(image.float(), tmp_path / "direct.png")
        assert path.read_bytes() == (tmp_path / "direct.png").read_bytes(), f"image {index + 1}"


def test_the_notebooks_hyper_cell_is_the_test4_preset():
    notebook = json.loads((REPO / "notebooks" / "part1_anime_faces.ipynb").read_text())
    cell = next(
        "".join(c["source"]) for c in notebook["cells"] if "".join(c["source"]).startswith("HYPER")
    )
    namespace: dict = {}
    exec(cell, namespace)  # the cell is one literal dict(...)
    assert TrainConfig(**namespace["HYPER"]) == load_config("test4")
