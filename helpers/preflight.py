"""Check a full run before spending GPU hours on it: one message that names every fix.

A Part 1 run on Kaggle takes hours; it must not fail at its end because the FID weights
were never attached, nor start on toy faces because the faces dataset was not. The
notebooks call :func:`preflight_part1` / :func:`preflight_part2` right after their
configuration. Each check prints one line (``ok``, ``warning`` or ``FIX``); when any
check fails, :class:`PreflightError` lists every fix at once, before anything is trained.

Part 1 checks a CUDA GPU, the precision ``"auto"`` picks and why
(:mod:`helpers.precision`), the faces (the real ones: full mode never falls back to the
toy faces), the FID weights and the anime-face cascade (hash-checked by
:func:`helpers.weights.fetch`), the free disk of the results folder, and the projected
training time, timed over a few dozen steps of the configured model. That time is
compared with one Kaggle session and the weekly GPU quota (:data:`SESSION_HOURS`,
:data:`WEEKLY_GPU_HOURS`) and sets the checkpoint interval so that a session that ends
early loses at most :data:`MAX_LOST_MINUTES` of training.

Part 2 checks a CUDA GPU with enough memory for the IF memory plan, the machine's memory
for T5, and access to the gated models: a Hugging Face token or attached model folders.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from helpers.config import TrainConfig
from helpers.data import find_images, resolve_data_dir
from helpers.places import data_root, kaggle_input_dir
from helpers.precision import choose_precision
from helpers.todos import DiffusionSteps
from helpers.weights import ANIMEFACE_CASCADE, FID_INCEPTION, MissingWeightsError, fetch

__all__ = [
    "MAX_LOST_MINUTES",
    "PreflightError",
    "Report",
    "SESSION_HOURS",
    "WEEKLY_GPU_HOURS",
    "measure_step_seconds",
    "preflight_part1",
    "preflight_part2",
]

# Kaggle's limits for a GPU notebook (kaggle.com/docs/notebooks, 2026): a session runs at
# most 12 hours; GPU time is a weekly quota of 30 hours (it varies; the settings page shows it).
SESSION_HOURS = 12.0
WEEKLY_GPU_HOURS = 30.0
MAX_LOST_MINUTES = 15.0
# Steps timed: the first few (CUDA kernel selection, data workers starting) are not counted.
WARMUP_STEPS, TIMED_STEPS = 5, 30
# A checkpoint holds the model, its EMA and Adam's two moments (4 float32 copies); the atomic
# write needs room for two checkpoints at once; samples and grids take the rest.
CHECKPOINT_COPIES, OTHER_OUTPUT_BYTES = 4 * 2, 300 * 1024**2
# Part 2's memory plan (helpers.illusions.models): fp16 T5-XXL on the GPU takes about 10 GB,
# then the IF stages with CPU offload; a Kaggle T4 reports 14.7 GiB. T5 is loaded through
# the machine's memory first: about 10 GB in fp16.
PART2_GPU_GIB, PART2_RAM_GIB = 14.0, 12.0
ACCELERATOR_HELP = (
    "On Kaggle: Settings > Accelerator > GPU T4 x1 (the session restarts; run from the top). "
    "Without a GPU, run the smoke mode instead: set COURSEKIT_MODE=smoke"
)


class PreflightError(RuntimeError):
    """A full run would fail or fall short; the message lists every fix."""


@dataclass
class Report:
    """Lines of the checks, the fixes they ask for, and what the timing measured."""

    lines: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    step_seconds: float | None = None

    def ok(self, what: str, text: str) -> None:
        self.lines.append(f"ok       {what}: {text}")

    def warn(self, what: str, text: str) -> None:
        self.lines.append(f"warning  {what}: {text}")

    def fail(self, what: str, text: str, fix: str) -> None:
        self.lines.append(f"FIX      {what}: {text}")
        self.fixes.append(f"{what}: {fix}")

    def finish(self) -> Report:
        print("\n".join(self.lines))
        if self.fixes:
            numbered = "\n".join(f"  {i}. {fix}" for i, fix in enumerate(self.fixes, 1))
            raise PreflightError(
                f"the full run cannot start; fix {'this' if len(self.fixes) == 1 else 'these'} "
                f"and run this cell again:\n{numbered}"
            )
        return self


def preflight_part1(
    config: TrainConfig,
    steps: DiffusionSteps,
    mode: str,
    *,
    session_hours: float = SESSION_HOURS,
    weekly_gpu_hours: float = WEEKLY_GPU_HOURS,
    measure: Callable[[TrainConfig, DiffusionSteps], float] | None = None,
) -> Report | None:
    """Check a full Part 1 run (module docstring); in smoke mode only say that nothing is checked.

    Sets ``config.checkpoint_every`` when the measured speed needs checkpoints more often
    than ``config`` asks. ``measure`` times a training step (default
    :func:`measure_step_seconds`).

    Raises:
        PreflightError: listing every fix, when any check fails.
    """
    if mode != "full":
        print(
            f"{mode} mode: no preflight (it checks the full run's GPU, faces, weights, disk and time)"
        )
        return None
    report = Report()
    gpu = _check_gpu(report)
    precision = choose_precision(config.mixed_precision)
    report.ok("precision", f"{precision.mode}: {precision.reason}")
    _check_faces(report, config)
    for asset in (FID_INCEPTION, ANIMEFACE_CASCADE):
        _check_asset(report, asset)
    _check_disk(report, config, steps)
    if gpu:
        seconds = (measure or measure_step_seconds)(config, steps)
        report.step_seconds = seconds
        _check_time(report, config, seconds, session_hours, weekly_gpu_hours)
    else:
        report.warn("time", "not measured without a GPU")
    return report.finish()


def measure_step_seconds(config: TrainConfig, steps: DiffusionSteps) -> float:
    """Seconds per training step of ``config``'s model and data on this machine.

    Trains :data:`WARMUP_STEPS` untimed and :data:`TIMED_STEPS` timed steps in a temporary
    results folder; the real run is untouched (the next trainer gets a fresh accelerator).
    The timed part includes one start of the data loader, so the projection errs long.
    """
    from helpers.train import build_trainer

    with tempfile.TemporaryDirectory(prefix="preflight-") as tmp:
        trial = dataclasses.replace(
            config,
            results_folder=tmp,
            train_num_steps=WARMUP_STEPS,
            save_and_sample_every=10**9,
            checkpoint_every=10**9,
        )
        trainer = build_trainer(trial, steps, progress=False)
        trainer.train()
        _synchronize()
        start = time.perf_counter()
        trainer.config.train_num_steps = WARMUP_STEPS + TIMED_STEPS
        trainer.train()
        _synchronize()
        return (time.perf_counter() - start) / TIMED_STEPS


def preflight_part2(
    mode: str, stage_1: str = "M", stage_2: str = "M", *, token: str | None = None
) -> Report | None:
    """Check a full Part 2 run: GPU and its memory, the machine's memory, access to the IF models."""
    if mode != "full":
        print(f"{mode} mode: no preflight (it checks the full run's GPU, memory and model access)")
        return None
    from helpers.illusions.models import STAGE_I, STAGE_II, TOKEN_HELP, get_hf_token, resolve_model

    report = Report()
    if _check_gpu(report):
        total = torch.cuda.get_device_properties(0).total_memory / 1024**3
        if total >= PART2_GPU_GIB:
            report.ok("GPU memory", f"{total:.1f} GiB (IF's memory plan needs {PART2_GPU_GIB:g})")
        else:
            report.fail(
                "GPU memory",
                f"{total:.1f} GiB, under the {PART2_GPU_GIB:g} GiB that T5 and IF stage I need",
                f"choose a GPU with at least {PART2_GPU_GIB:g} GiB (Kaggle: GPU T4 x1)",
            )
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    if ram >= PART2_RAM_GIB:
        report.ok("memory", f"{ram:.1f} GiB (T5 is loaded through it: about 10 GB)")
    else:
        report.fail(
            "memory",
            f"{ram:.1f} GiB, under the {PART2_RAM_GIB:g} GiB T5-XXL needs to load",
            "use a machine with more memory, or attach precomputed prompt embeddings",
        )
    models = [resolve_model(stage_1, STAGE_I), resolve_model(stage_2, STAGE_II)]
    local = [m for m in models if Path(m).is_dir()]
    hub = [m for m in models if m not in local]
    for folder in local:
        if (Path(folder) / "model_index.json").is_file():
            report.ok("model", f"{folder} (attached folder)")
        else:
            report.fail(
                "model", f"{folder} has no model_index.json", "attach a saved diffusers pipeline"
            )
    if hub:
        if token or get_hf_token():
            report.ok(
                "Hugging Face token", f"found, for {', '.join(hub)} (gated: accept each licence)"
            )
        else:
            report.fail("Hugging Face token", f"none, and {', '.join(hub)} are gated", TOKEN_HELP)
    return report.finish()


def _check_gpu(report: Report) -> bool:
    if not torch.cuda.is_available():
        report.fail(
            "GPU",
            "no CUDA GPU: full mode trains for hours and cannot run on a CPU",
            ACCELERATOR_HELP,
        )
        return False
    props = torch.cuda.get_device_properties(0)
    report.ok("GPU", f"{props.name}, {props.total_memory / 1024**3:.1f} GiB")
    return True


def _check_faces(report: Report, config: TrainConfig) -> None:
    faces_help = (
        "attach the course's faces dataset (Add Input > Datasets; it mounts at "
        f"{kaggle_input_dir() / 'diffusion' / 'faces' / 'faces'}), or set data_path to a folder of faces"
    )
    if config.data_path == "toy-faces":
        report.fail("faces", "data_path is 'toy-faces'", faces_help)
        return
    try:
        folder = resolve_data_dir(config.data_path)
    except FileNotFoundError as error:
        report.fail("faces", str(error), faces_help)
        return
    if folder == data_root() / "toy-faces":
        report.fail("faces", f"only the toy faces were found ({folder})", faces_help)
        return
    count = len(find_images(folder))
    if count == 0:
        report.fail("faces", f"no images in {folder}", faces_help)
    else:
        report.ok("faces", f"{count:,} images in {folder}")


def _check_asset(report: Report, asset) -> None:
    try:
        path = fetch(asset)
    except (MissingWeightsError, ValueError) as error:
        report.fail(asset.name, f"missing or wrong ({asset.what})", str(error))
        return
    report.ok(asset.name, f"{path} (SHA-256 checked)")


def _check_disk(report: Report, config: TrainConfig, steps: DiffusionSteps) -> None:
    from helpers.train import build_diffusion

    parameters = sum(p.numel() for p in build_diffusion(config, steps).parameters())
    needed = parameters * 4 * CHECKPOINT_COPIES + OTHER_OUTPUT_BYTES
    folder = Path(config.results_folder)
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    text = f"{free / 1024**3:.1f} GiB free in {folder}, the run writes about {needed / 1024**3:.1f} GiB"
    if free >= needed:
        report.ok("disk", text)
    else:
        report.fail("disk", text, f"free {(needed - free) / 1024**3:.1f} GiB in {folder}")


def _check_time(
    report: Report,
    config: TrainConfig,
    seconds: float,
    session_hours: float,
    weekly_gpu_hours: float,
) -> None:
    hours = seconds * config.train_num_steps / 3600
    text = f"{seconds * 1000:.0f} ms a step, {config.train_num_steps:,} steps ≈ {hours:.1f} h"
    if hours > weekly_gpu_hours:
        report.warn(
            "time",
            f"{text}: more than the weekly GPU quota ({weekly_gpu_hours:g} h); "
            "lower train_num_steps, batch_size or channels in HYPER",
        )
    elif hours > session_hours:
        sessions = math.ceil(hours / session_hours)
        report.warn(
            "time",
            f"{text}: more than one Kaggle session ({session_hours:g} h), so {sessions} sessions: "
            "save a version before the session ends and attach its output to the next (README)",
        )
    else:
        report.ok("time", text)
    every = config.checkpoint_every or config.save_and_sample_every
    most = max(1, int(MAX_LOST_MINUTES * 60 / seconds))
    if every > most:
        config.checkpoint_every = most
    chosen = config.checkpoint_every or config.save_and_sample_every
    report.ok(
        "checkpoints",
        f"every {chosen:,} steps (≈ {chosen * seconds / 60:.1f} min of training lost at most "
        "if the session ends)",
    )


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
