"""The trainer of Part 1: Adam, EMA, mixed precision, checkpoints that survive anything.

A step takes ``grad_steps`` batches (gradient accumulation), clips the gradient norm,
updates Adam and the exponential moving average (EMA) of the weights, which is what
samples are drawn from. ``self.losses`` keeps one loss per step for the loss curve.

Reproducible and resumable: the batch order and flips depend only on
``(seed, batch position)`` (:class:`helpers.data.ResumableBatchSampler`), and a
checkpoint holds the model, EMA, optimiser, gradient scaler, step, loss history and
random state, so training resumed from a checkpoint produces the same losses as
training that never stopped. Checkpoints are written to a temporary file and renamed,
so a crash mid-write leaves the previous one intact. A NaN or infinite loss stops
training with the step number and keeps the last good checkpoint.

Built on ``accelerate``: ``accelerate launch -m grading.reference train --config …`` trains on
several GPUs without code changes (each process takes its slice of every batch).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import set_seed
from ema_pytorch import EMA
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from helpers.config import TrainConfig
from helpers.data import ImageFolderDataset, ResumableBatchSampler, resolve_data_dir
from helpers.diffusion import GaussianDiffusion
from helpers.figures import plot_losses, save_image_grid
from helpers.precision import choose_precision, fresh_accelerator
from helpers.todos import DiffusionSteps
from helpers.unet import UNet

__all__ = [
    "Trainer",
    "TrainingDiverged",
    "build_diffusion",
    "build_trainer",
    "load_diffusion",
    "CHECKPOINT_NAME",
]

CHECKPOINT_NAME = "checkpoint.pt"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class Trainer:
    """Train a :class:`GaussianDiffusion` on a folder of images (or any dataset of tensors in [-1, 1]).

    Args mirror the seed assignment's hyper-parameters: ``train_batch_size``,
    ``train_lr``, ``train_num_steps``, ``grad_steps`` (gradient accumulation),
    ``ema_decay``; ``save_and_sample_every`` writes a grid of ``num_samples`` EMA
    samples, ``checkpoint_every`` (default: the same) writes the checkpoint.
    """

    def __init__(
        self,
        diffusion: GaussianDiffusion,
        data: str | os.PathLike | Dataset,
        *,
        train_batch_size: int = 16,
        train_lr: float = 1e-4,
        train_num_steps: int = 10000,
        grad_steps: int = 1,
        ema_decay: float = 0.995,
        ema_update_every: int = 10,
        max_grad_norm: float = 1.0,
        mixed_precision: str = "auto",
        results_folder: str | os.PathLike = "outputs/run",
        save_and_sample_every: int = 1000,
        checkpoint_every: int | None = None,
        num_samples: int = 25,
        seed: int = 114514,
        augment_horizontal_flip: bool = True,
        num_workers: int | None = None,
        config: TrainConfig | None = None,
        progress: bool = True,
    ) -> None:
        self.precision = choose_precision(mixed_precision)
        self.accelerator = fresh_accelerator(self.precision.mode)
        set_seed(seed)
        self.seed = seed
        self.config = config
        self.batch_size, self.grad_steps = train_batch_size, grad_steps
        self.train_num_steps, self.max_grad_norm = train_num_steps, max_grad_norm
        self.save_and_sample_every = save_and_sample_every
        self.checkpoint_every = checkpoint_every or save_and_sample_every
        self.num_samples, self.progress = num_samples, progress
        self.results_folder = Path(results_folder)
        self.results_folder.mkdir(parents=True, exist_ok=True)

        self.dataset = (
            data
            if isinstance(data, Dataset)
            else ImageFolderDataset(
                data, diffusion.image_size[0], augment_horizontal_flip=augment_horizontal_flip
            )
        )
        self.flip = augment_horizontal_flip
        # Workers pay off only when a GPU waits for data; on a CPU they compete with it.
        self.num_workers = (
            num_workers
            if num_workers is not None
            else (min(4, os.cpu_count() or 1) if torch.cuda.is_available() else 0)
        )

        self.ema = EMA(diffusion, beta=ema_decay, update_every=ema_update_every).to(
            self.accelerator.device
        )
        opt = torch.optim.Adam(diffusion.parameters(), lr=train_lr, betas=(0.9, 0.99))
        self.model, self.opt = self.accelerator.prepare(diffusion, opt)
        self.step = 0
        self.losses: list[float] = []

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def checkpoint_path(self) -> Path:
        return self.results_folder / CHECKPOINT_NAME

    def _batches(self):
        sampler = ResumableBatchSampler(
            len(self.dataset),
            self.batch_size,
            self.seed,
            start_batch=self.step * self.grad_steps,
            flip=self.flip,
            rank=self.accelerator.process_index,
            world_size=self.accelerator.num_processes,
        )
        # Its own generator: a DataLoader otherwise draws its workers' seed from the global
        # random state, which would shift the noise stream of a resumed run.
        loader = DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed + self.step),
        )
        for batch in loader:
            yield batch.to(self.device, non_blocking=True)

    def train(self, on_save: Callable[[Trainer], None] | None = None) -> list[float]:
        """Train until ``train_num_steps``; returns the per-step losses (also in ``self.losses``).

        ``on_save(trainer)`` runs after each sample grid is written (live progress in a notebook).
        """
        batches = self._batches()
        main = self.accelerator.is_main_process
        with tqdm(
            initial=self.step,
            total=self.train_num_steps,
            desc="training",
            disable=not (main and self.progress),
        ) as bar:
            while self.step < self.train_num_steps:
                loss_sum = 0.0
                for _ in range(self.grad_steps):
                    with self.accelerator.autocast():
                        loss = self.model(next(batches)) / self.grad_steps
                    loss_sum += loss.item()
                    self.accelerator.backward(loss)
                if not math.isfinite(loss_sum):
                    kept = (
                        f"the last good checkpoint is {self.checkpoint_path}"
                        if self.checkpoint_path.exists()
                        else "no checkpoint was written yet"
                    )
                    raise TrainingDiverged(
                        f"the loss became {loss_sum} at step {self.step + 1}; {kept}. "
                        "Lower the learning rate, keep gradient clipping on, or use fp32 (mixed_precision='no')."
                    )
                self.accelerator.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
                self.opt.step()
                self.opt.zero_grad(set_to_none=True)
                self.step += 1
                self.losses.append(loss_sum)
                self.ema.update()
                bar.set_postfix(loss=f"{loss_sum:.4f}")
                bar.update(1)

                if main and self.step % self.save_and_sample_every == 0:
                    self.save_samples(self.results_folder / f"sample-{self.step}.png")
                    if on_save is not None:
                        on_save(self)
                if self.step % self.checkpoint_every == 0 or self.step == self.train_num_steps:
                    self.save()
        return self.losses

    @torch.inference_mode()
    def save_samples(self, path: Path) -> Path:
        """A grid of EMA samples; the same noise at every milestone, so grids compare."""
        generator = torch.Generator().manual_seed(self.seed)
        images = self.ema.ema_model.sample(self.num_samples, generator=generator, progress=False)
        return save_image_grid(images, path)

    def plot_losses(self, path: str | os.PathLike | None = None, log_scale: bool = False):
        """The loss curve (raw per-step losses and a smoothed line)."""
        return plot_losses(
            self.losses, path or self.results_folder / "loss_curve.png", log_scale=log_scale
        )

    # --- checkpoints -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        model = self.accelerator.unwrap_model(self.model)
        scaler = self.accelerator.scaler
        return {
            "step": self.step,
            "losses": list(self.losses),
            "model": model.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": {
                "cpu": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
            "unet_config": model.model.config,
            "diffusion_config": model.config,
            "train_config": self.config.to_dict() if self.config else None,
        }

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the checkpoint atomically: a temporary file in the same folder, then rename."""
        path = Path(path or self.checkpoint_path)
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            atomic_torch_save(self.state_dict(), path)
        return path

    def load(self, path: str | os.PathLike | None = None) -> int:
        """Resume from a checkpoint (default: this run's); returns the step it resumes at."""
        path = Path(path or self.checkpoint_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no checkpoint at {path}: train first, or pass the checkpoint file"
            )
        state = torch.load(path, map_location=self.device, weights_only=False)
        self.accelerator.unwrap_model(self.model).load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        if self.accelerator.scaler is not None and state["scaler"] is not None:
            self.accelerator.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["cpu"])
        if torch.cuda.is_available() and state["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.step, self.losses = state["step"], list(state["losses"])
        return self.step


def atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def build_diffusion(config: TrainConfig, steps: DiffusionSteps) -> GaussianDiffusion:
    """The UNet and diffusion that a :class:`TrainConfig` describes."""
    unet = UNet(
        dim=config.channels,
        dim_mults=config.dim_mults,
        self_condition=config.self_condition,
        dropout=config.dropout,
    )
    return GaussianDiffusion(
        unet,
        image_size=config.image_size,
        steps=steps,
        timesteps=config.timesteps,
        sampling_timesteps=config.sampling_timesteps,
        beta_schedule=config.beta_schedule,
        objective=config.objective,
        ddim_sampling_eta=config.ddim_sampling_eta,
    )


def build_trainer(config: TrainConfig, steps: DiffusionSteps, progress: bool = True) -> Trainer:
    """Model, data and trainer for a config; ``data_path = "toy-faces"`` generates them first."""
    if config.data_path == "toy-faces":
        from helpers.toy_faces import write_toy_faces

        data = write_toy_faces(size=max(64, config.image_size), progress=progress)
    else:
        data = resolve_data_dir(config.data_path)
    return Trainer(
        build_diffusion(config, steps),
        data,
        train_batch_size=config.batch_size,
        train_lr=config.lr,
        train_num_steps=config.train_num_steps,
        grad_steps=config.grad_steps,
        ema_decay=config.ema_decay,
        ema_update_every=config.ema_update_every,
        max_grad_norm=config.max_grad_norm,
        mixed_precision=config.mixed_precision,
        results_folder=config.results_folder,
        save_and_sample_every=config.save_and_sample_every,
        checkpoint_every=config.checkpoint_every,
        num_samples=config.num_samples,
        seed=config.seed,
        augment_horizontal_flip=config.augment_horizontal_flip,
        config=config,
        progress=progress,
    )


def load_diffusion(
    path: str | os.PathLike,
    steps: DiffusionSteps,
    use_ema: bool = True,
    device: str | torch.device = "cpu",
) -> GaussianDiffusion:
    """Rebuild the diffusion stored in a checkpoint, with the EMA weights by default."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location=device, weights_only=False)
    unet = UNet(**state["unet_config"])
    diffusion = GaussianDiffusion(unet, steps=steps, **state["diffusion_config"])
    if use_ema:
        prefix = "ema_model."
        weights = {
            k.removeprefix(prefix): v for k, v in state["ema"].items() if k.startswith(prefix)
        }
    else:
        weights = state["model"]
    diffusion.load_state_dict(weights)
    return diffusion.to(device).eval()
