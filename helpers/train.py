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

Built on ``accelerate``: a script that builds the trainer, started by ``accelerate launch``,
trains on several GPUs without code changes (each process takes its slice of every batch;
in the course repository, ``accelerate launch -m grading.authoring.reference train --config …``).
"""

from __future__ import annotations

import importlib.util
import math
import os
import warnings
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
from helpers.figures import save_image_grid
from helpers.precision import choose_precision, fresh_accelerator
from helpers.sampling import Sampler, sample
from helpers.todos import DiffusionSteps
from helpers.unet import UNet

__all__ = [
    "Trainer",
    "TrainingDiverged",
    "build_diffusion",
    "StepCountingEMA",
    "build_trainer",
    "compile_unet",
    "load_diffusion",
    "CHECKPOINT_NAME",
]

CHECKPOINT_NAME = "checkpoint.pt"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class Trainer:
    """Train a :class:`GaussianDiffusion` on a folder of images (or any dataset of tensors in [-1, 1]).

    Every setting comes from one :class:`TrainConfig` (the seed assignment's names:
    ``batch_size``, ``lr``, ``train_num_steps``, ``grad_steps``, ``ema_decay`` …);
    ``save_and_sample_every`` writes a grid of ``num_samples`` EMA samples drawn by
    ``sampler`` (the student's loop, TODO 1-2-1; without one no grid is drawn),
    ``checkpoint_every`` (default: the same) writes the checkpoint. ``progress`` only
    shows or hides the progress bar.
    """

    def __init__(
        self,
        diffusion: GaussianDiffusion,
        data: str | os.PathLike | Dataset,
        config: TrainConfig | None = None,
        *,
        sampler: Sampler | None = None,
        progress: bool = True,
    ) -> None:
        self.config = config = config or TrainConfig()
        self.sampler = sampler
        self.progress = progress
        self.precision = choose_precision(config.mixed_precision)
        self.accelerator = fresh_accelerator(self.precision.mode)
        set_seed(config.seed)
        self.results_folder = Path(config.results_folder)
        self.results_folder.mkdir(parents=True, exist_ok=True)
        self.dataset = (
            data
            if isinstance(data, Dataset)
            else ImageFolderDataset(
                data,
                diffusion.image_size[0],
                augment_horizontal_flip=config.augment_horizontal_flip,
            )
        )
        cuda = self.device.type == "cuda"
        # Workers pay off only when a GPU waits for data; on a CPU they compete with it.
        self.num_workers = (
            config.num_workers
            if config.num_workers is not None
            else (min(4, os.cpu_count() or 1) if cuda else 0)
        )
        self.channels_last = cuda if config.channels_last is None else config.channels_last
        if self.channels_last:
            diffusion.to(memory_format=torch.channels_last)

        self.ema = StepCountingEMA(
            diffusion, beta=config.ema_decay, update_every=config.ema_update_every, use_foreach=True
        ).to(self.device)
        # Fused Adam updates every parameter in one kernel, and with fp16 it checks the
        # gradient scaler's inf flag on the GPU instead of waiting for the CPU to read it.
        opt = torch.optim.Adam(
            diffusion.parameters(), lr=config.lr, betas=(0.9, 0.99), fused=cuda or None
        )
        self.model, self.opt = self.accelerator.prepare(diffusion, opt)
        # After the EMA copied the model: the EMA's network stays eager, for sampling.
        self.compiled = compile_unet(
            self.accelerator.unwrap_model(self.model).model, config.compile, self.device
        )
        self._compile_unproven = self.compiled
        self.step = 0
        self._losses: list[float] = []
        self._pending: list[torch.Tensor] = []

    @property
    def losses(self) -> list[float]:
        """One loss per step so far, read back from the device in one transfer."""
        self._read_losses()
        return self._losses

    @losses.setter
    def losses(self, values: list[float]) -> None:
        self._pending = []
        self._losses = list(values)

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def checkpoint_path(self) -> Path:
        return self.results_folder / CHECKPOINT_NAME

    @property
    def checkpoint_every(self) -> int:
        return self.config.checkpoint_every or self.config.save_and_sample_every

    def _batches(self):
        config = self.config
        sampler = ResumableBatchSampler(
            len(self.dataset),
            config.batch_size,
            config.seed,
            start_batch=self.step * config.grad_steps,
            flip=config.augment_horizontal_flip,
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
            generator=torch.Generator().manual_seed(config.seed + self.step),
        )
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        for batch in loader:
            yield batch.to(self.device, non_blocking=True).contiguous(memory_format=memory_format)

    def train(self, on_save: Callable[[Trainer], None] | None = None) -> list[float]:
        """Train until ``train_num_steps``; returns the per-step losses (also in ``self.losses``).

        ``on_save(trainer)`` runs after each sample grid is written (live progress in a notebook).
        """
        config = self.config
        batches = self._batches()
        main = self.accelerator.is_main_process
        with tqdm(
            initial=self.step,
            total=config.train_num_steps,
            desc="training",
            disable=not (main and self.progress),
        ) as bar:
            while self.step < config.train_num_steps:
                loss = self._train_step([next(batches) for _ in range(config.grad_steps)])
                self.step += 1
                self._pending.append(loss)
                self.ema.update()
                bar.update(1)

                milestone = main and self.step % config.save_and_sample_every == 0
                save = self.step % self.checkpoint_every == 0 or self.step == config.train_num_steps
                if milestone or save or self.step % config.log_every == 0:
                    # Raises on a NaN before anything is written, so the last checkpoint stays good.
                    bar.set_postfix(loss=f"{self.losses[-1]:.4f}")
                if milestone:
                    if self.sampler is not None:
                        self.save_samples(self.results_folder / f"sample-{self.step}.png")
                    if on_save is not None:
                        on_save(self)
                if save:
                    self.save()
        return self.losses

    def _train_step(self, batches: list[torch.Tensor]) -> torch.Tensor:
        """One optimiser step over ``grad_steps`` batches; returns the loss, left on the device."""
        if not self._compile_unproven:
            return self._forward_backward(batches)
        # Until a compiled step has run, a compiler failure falls back to eager mode and
        # redoes the step from the same random state, so the run is the one it would have been.
        rng = (
            torch.get_rng_state(),
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        )
        try:
            loss = self._forward_backward(batches)
        except Exception as exc:
            if not type(exc).__module__.startswith(("torch._dynamo", "torch._inductor")):
                raise
            self.opt.zero_grad(set_to_none=True)
            torch.set_rng_state(rng[0])
            if rng[1]:
                torch.cuda.set_rng_state_all(rng[1])
            uncompile(self.accelerator.unwrap_model(self.model).model)
            self.compiled = self._compile_unproven = False
            # BackendCompilerFailed's own text is a traceback; the compiler's error says why.
            cause = getattr(exc, "inner_exception", None) or exc
            first_line = (str(cause).strip().splitlines() or [""])[0]
            warnings.warn(
                f"torch.compile failed ({type(cause).__name__}: {first_line}); training continues "
                "without compiling. Set compile=False in the config to skip the attempt.",
                stacklevel=3,
            )
            return self._forward_backward(batches)
        self._compile_unproven = False
        return loss

    def _forward_backward(self, batches: list[torch.Tensor]) -> torch.Tensor:
        total = torch.zeros((), device=self.device)
        for batch in batches:
            with self.accelerator.autocast():
                loss = self.model(batch) / len(batches)
            self.accelerator.backward(loss)
            total += loss.detach()
        self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return total

    def _read_losses(self) -> None:
        """Move the losses still on the device to ``self._losses`` (one sync), stopping at a NaN."""
        if not self._pending:
            return
        values = torch.stack(self._pending).tolist()
        self._pending = []
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        if bad is None:
            self._losses.extend(values)
            return
        diverged_at = len(self._losses) + bad + 1
        self._losses.extend(values[:bad])
        kept = (
            f"the last good checkpoint is {self.checkpoint_path}"
            if self.checkpoint_path.exists()
            else "no checkpoint was written yet"
        )
        raise TrainingDiverged(
            f"the loss became {values[bad]} at step {diverged_at}; {kept}. "
            "Lower the learning rate, keep gradient clipping on, or use fp32 (mixed_precision='no')."
        )

    @torch.inference_mode()
    def save_samples(self, path: Path) -> Path:
        """A grid of EMA samples; the same noise at every milestone, so grids compare."""
        if self.sampler is None:
            raise ValueError("no sampler: build the trainer with sampler=sample_with_progress")
        generator = torch.Generator().manual_seed(self.config.seed)
        images = sample(self.sampler, self.ema.ema_model, self.config.num_samples, generator)
        return save_image_grid(images, path)

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
            "train_config": self.config.to_dict(),
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
        self.step, self.losses = state["step"], state["losses"]
        return self.step


class StepCountingEMA(EMA):
    """``ema_pytorch.EMA`` that counts its steps on the host.

    ``EMA.update`` reads its step counter and init flag from buffers on the model's device,
    which makes the CPU wait for the GPU twice per training step. This subclass follows the
    same schedule from a host-side copy of the counter and keeps the buffers up to date
    without reading them, so checkpoints keep the same keys and values.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.host_step, self.host_initted = 0, False

    def update(self) -> None:
        step = self.host_step
        self.host_step += 1
        self.step.add_(1)
        if not self.host_initted:
            self.copy_params_from_model_to_ema()
            self.initted.fill_(True)
            self.host_initted = True
            return
        if step % self.update_every:
            return
        if step <= self.update_after_step:
            self.copy_params_from_model_to_ema()
            return
        self.update_moving_average(self.ema_model, self.model, self.decay_at(self.host_step))

    def decay_at(self, step: int) -> float:
        """``EMA.get_current_decay`` for a counter value, computed the same way (float32, on the CPU)."""
        epoch = torch.tensor(step - self.update_after_step - 1).clamp(min=0.0)
        if epoch.item() <= 0:
            return 0.0
        value = 1 - (1 + epoch / self.inv_gamma) ** -self.power
        return value.clamp(min=self.min_value, max=self.beta).item()

    def load_state_dict(
        self, state_dict: dict[str, Any], strict: bool = True, assign: bool = False
    ):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.host_step, self.host_initted = int(self.step), bool(self.initted)
        return result


def compile_unet(unet: torch.nn.Module, choice: bool | str | None, device: torch.device) -> bool:
    """Compile ``unet`` in place as ``TrainConfig.compile`` asks; returns whether it did.

    ``Module.compile`` (not ``torch.compile(module)``) leaves the module and its state-dict
    keys as they are, so checkpoints of compiled and eager runs are interchangeable.
    ``None`` compiles on a CUDA device when Triton (inductor's GPU code generator) is installed.
    """
    if choice is None:
        choice = device.type == "cuda" and importlib.util.find_spec("triton") is not None
    if choice is False:
        return False
    try:
        unet.compile(backend="inductor" if choice is True else choice)
    except Exception as exc:  # an unknown backend name, a torch without a compiler …
        warnings.warn(
            f"torch.compile is unavailable ({type(exc).__name__}: {exc}); training continues "
            "without compiling. Set compile=False in the config to skip the attempt.",
            stacklevel=3,
        )
        return False
    return True


def uncompile(unet: torch.nn.Module) -> None:
    """Undo ``Module.compile`` (torch has no public call for it)."""
    unet._compiled_call_impl = None


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


def build_trainer(
    config: TrainConfig,
    steps: DiffusionSteps,
    sampler: Sampler | None = None,
    progress: bool = True,
) -> Trainer:
    """Model, data and trainer for a config; ``data_path = "toy-faces"`` generates them first.

    ``sampler`` (TODO 1-2-1's loop) draws the milestone sample grids.
    """
    if config.data_path == "toy-faces":
        from helpers.toy_faces import write_toy_faces

        data = write_toy_faces(size=max(64, config.image_size), progress=progress)
    else:
        data = resolve_data_dir(config.data_path)
    return Trainer(build_diffusion(config, steps), data, config, sampler=sampler, progress=progress)


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
