"""Carry a Part 1 run across Kaggle sessions: find the newest compatible checkpoint and load it.

A Kaggle session ends (12 hours at most, or earlier when the browser disconnects from an
interactive one) and takes ``/kaggle/working`` with it, unless the notebook was saved
("Save Version"): then its output can be attached to the next session as an input, where
it appears read-only under ``/kaggle/input/<notebook-slug>/``. :func:`resume` looks in
both places, the run's own results folder and the attached inputs, and loads the
checkpoint with the most steps whose model matches the trainer's, so that the training
cell continues where the last session stopped. A checkpoint of another model (other
hyper-parameters) is skipped with a message, never loaded half-way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from helpers.places import find_in_kaggle_input
from helpers.train import CHECKPOINT_NAME, Trainer

__all__ = ["Found", "find_checkpoints", "resume"]


@dataclass(frozen=True)
class Found:
    """A checkpoint on disk, its step and whether its model matches the trainer's."""

    path: Path
    step: int
    compatible: bool


def find_checkpoints(trainer: Trainer, search: Path | None = None) -> list[Found]:
    """Checkpoints in the trainer's results folder and under ``search`` (default ``/kaggle/input``)."""
    paths = [trainer.checkpoint_path] if trainer.checkpoint_path.is_file() else []
    paths += find_in_kaggle_input(CHECKPOINT_NAME, search)
    model = trainer.accelerator.unwrap_model(trainer.model)
    found = []
    for path in dict.fromkeys(p.resolve() for p in paths):
        # mmap: only the few entries read here come off the disk, not the weights.
        state = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        compatible = (
            state["unet_config"] == model.model.config and state["diffusion_config"] == model.config
        )
        found.append(Found(path, int(state["step"]), compatible))
    return found


def resume(trainer: Trainer, search: str | os.PathLike | None = None) -> int:
    """Load the newest compatible checkpoint into ``trainer``, print what happened; the step it resumes at."""
    found = find_checkpoints(trainer, None if search is None else Path(search))
    for other in (f for f in found if not f.compatible):
        print(
            f"not resuming from {other.path} (step {other.step}): its model has other hyper-parameters"
        )
    usable = [f for f in found if f.compatible]
    if not usable:
        print("no checkpoint to resume from: training starts at step 0")
        return 0
    # The most steps wins; on a tie, this run's own results folder (listed first).
    newest = max(usable, key=lambda f: f.step)
    trainer.load(newest.path)
    left = max(trainer.config.train_num_steps - trainer.step, 0)
    print(f"resuming at step {trainer.step} from {newest.path}: {left} steps to go")
    return trainer.step
