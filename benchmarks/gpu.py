"""Part 1 on a CUDA GPU against lucidrains' denoising-diffusion-pytorch 2.3.4 (issue 14).

The seed's Test 4 configuration (preset ``test4``: UNet 128 channels, dim_mults
(1, 2, 3, 4), 64 px, batch 32, T = 10,000, cosine), random weights and random images:

- one training step (forward, backward, fused Adam) per precision, ours eager, ours with
  channels-last memory, and in bf16 ours with the UNet under ``torch.compile``, against lucidrains'
  ``Unet`` with and without its ``flash_attn``, each side under the same autocast and
  optimiser (target: ratio <= 0.7, goal 0.5);
- our trainer end to end, steps per second per precision, with the config's defaults for
  the device (issue 14's baseline on an H200: bf16 10.97, fp16 9.10, fp32 11.04 steps/s;
  target: 1.4x those);
- 1000 samples, 50 DDIM steps, batch 100: ours including writing the PNGs against
  lucidrains' sampling alone (target: ratio <= 1.0).

Without CUDA the section prints that it was skipped.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import denoising_diffusion_pytorch as ddp
import torch
from torch.utils.data import Dataset

from benchmarks.timing import BenchResult, interleaved
from grading.authoring.reference import REFERENCE_STEPS, sample_with_progress
from helpers.config import load_config
from helpers.sampling import sample_to_folder
from helpers.train import Trainer, build_diffusion

PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}
ANCHOR = "lucidrains 2.3.4"
TRAIN_REPEAT, TRAINER_STEPS, SAMPLES, SAMPLE_BATCH = 20, 200, 1000, 100


def run() -> list[BenchResult]:
    if not torch.cuda.is_available():
        print("GPU section skipped: no CUDA")
        return []
    torch.backends.cudnn.benchmark = True
    results = []
    for precision in PRECISIONS:
        results += train_steps(precision, compiled=precision == "bf16")
    results += sampling()
    for precision in PRECISIONS:
        trainer_steps_per_second(precision)
    return results


def _config(**overrides):
    return load_config("test4", **overrides)


def _autocast(precision: str) -> AbstractContextManager:
    dtype = PRECISIONS[precision]
    return torch.autocast("cuda", dtype=dtype, enabled=dtype is not None)


def _synced(fn: Callable[[], object]) -> Callable[[], None]:
    def call() -> None:
        fn()
        torch.cuda.synchronize()

    return call


def _ours(channels_last: bool = False, compiled: bool = False) -> torch.nn.Module:
    diffusion = build_diffusion(_config(), REFERENCE_STEPS).cuda()
    if channels_last:
        diffusion.to(memory_format=torch.channels_last)
    if compiled:
        diffusion.model.compile()
    return diffusion


def _theirs(flash_attn: bool) -> torch.nn.Module:
    config = _config()
    return ddp.GaussianDiffusion(
        ddp.Unet(dim=config.channels, dim_mults=config.dim_mults, flash_attn=flash_attn),
        image_size=config.image_size,
        timesteps=config.timesteps,
        sampling_timesteps=config.sampling_timesteps,
        beta_schedule=config.beta_schedule,
        objective=config.objective,
    ).cuda()


def _train_step(diffusion: torch.nn.Module, precision: str, channels_last: bool = False):
    config = _config()
    batch = torch.rand(config.batch_size, 3, config.image_size, config.image_size, device="cuda")
    if channels_last:
        batch = batch.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(diffusion.parameters(), lr=config.lr, fused=True)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")

    def step() -> None:
        with _autocast(precision):
            loss = diffusion(batch)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)

    return _synced(step)


def train_steps(precision: str, compiled: bool) -> list[BenchResult]:
    """Per-step time; compiled only when asked, since each compilation takes minutes."""
    config = _config()
    setup = f"{precision}, batch {config.batch_size}, test4"
    ours = {
        "eager": _train_step(_ours(), precision),
        "channels_last": _train_step(_ours(channels_last=True), precision, channels_last=True),
    }
    if compiled:
        ours["compiled"] = _train_step(_ours(compiled=True), precision)
        start = time.perf_counter()
        ours["compiled"]()
        print(f"  compiling the UNet's step ({precision}): {time.perf_counter() - start:.1f} s")
    rows = []
    for flash in (False, True):
        theirs = _train_step(_theirs(flash), precision)
        anchor = f"{ANCHOR}{' flash_attn' if flash else ''}"
        for label, step in ours.items():
            ours_s, theirs_s = interleaved(step, theirs, repeat=TRAIN_REPEAT)
            rows.append(
                BenchResult(
                    f"train step {setup}, {label}", ours_s, theirs_s, anchor, "ratio <= 0.7"
                )
            )
    return rows


class _RandomImages(Dataset):
    def __init__(self, n: int, size: int) -> None:
        self.images = torch.rand(n, 3, size, size) * 2 - 1

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index) -> torch.Tensor:
        return self.images[index[0] if isinstance(index, tuple) else index]


def trainer_steps_per_second(precision: str) -> None:
    """Our Trainer as a student runs it (loader, EMA, clipping), checkpoint-free in the timed part."""
    with tempfile.TemporaryDirectory() as folder:
        # One process, several precisions: each Trainer builds a fresh accelerator.
        config = _config(
            mixed_precision=precision if precision != "fp32" else "no",
            train_num_steps=20,
            save_and_sample_every=10**9,
            results_folder=folder,
        )
        trainer = Trainer(
            build_diffusion(config, REFERENCE_STEPS),
            _RandomImages(2048, config.image_size),
            config,
            progress=False,
        )
        start = time.perf_counter()
        trainer.train()  # warm-up (and compilation, when on)
        warmup_s = time.perf_counter() - start
        trainer.config.train_num_steps += TRAINER_STEPS
        start = time.perf_counter()
        trainer.train()
        elapsed = time.perf_counter() - start
        print(
            f"  trainer {precision}: {TRAINER_STEPS / elapsed:.2f} steps/s over {TRAINER_STEPS} steps "
            f"(compiled {trainer.compiled}, channels_last {trainer.channels_last}; "
            f"first 20 steps {warmup_s:.1f} s; includes one checkpoint write)"
        )


def sampling() -> list[BenchResult]:
    config = _config()
    precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    ours = _ours().eval()
    rows = []
    with tempfile.TemporaryDirectory() as folder:

        def ours_with_files() -> None:
            with _autocast(precision):
                sample_to_folder(
                    sample_with_progress,
                    ours,
                    SAMPLES,
                    folder,
                    batch_size=SAMPLE_BATCH,
                    progress=False,
                )

        for flash in (False, True):
            theirs = _theirs(flash).eval()

            def theirs_only(theirs=theirs) -> None:
                with _autocast(precision), torch.inference_mode():
                    for _ in range(SAMPLES // SAMPLE_BATCH):
                        theirs.sample(batch_size=SAMPLE_BATCH)

            ours_s, theirs_s = interleaved(_synced(ours_with_files), _synced(theirs_only), repeat=2)
            anchor = f"{ANCHOR}{' flash_attn' if flash else ''}, no files"
            rows.append(
                BenchResult(
                    f"{SAMPLES} samples {config.sampling_timesteps} DDIM steps, {precision}, PNGs",
                    ours_s,
                    theirs_s,
                    anchor,
                    "ratio <= 1.0",
                )
            )
    return rows
