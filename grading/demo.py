"""`make demo`: the kit's main job, end to end on a CPU with nothing downloaded.

Generates the toy faces, trains the ``smoke`` preset with the reference solution,
samples images to files and draws the figures a student produces: a sample grid, the
denoising-progress grid and the loss curve.

    python -m grading.demo --out outputs/demo
    python -m grading.demo --grading    # then release and autograde grading/submitted/
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from grading.reference import REFERENCE_STEPS
from helpers.config import load_config
from helpers.figures import plot_denoising_progress, save_image_grid
from helpers.sampling import sample_to_folder
from helpers.train import build_trainer


def part1(out: Path, preset: str = "smoke") -> dict[str, Path]:
    config = load_config(preset, results_folder=str(out / "part1"))
    trainer = build_trainer(config, REFERENCE_STEPS)
    trainer.train()
    diffusion = trainer.ema.ema_model.eval()
    results = Path(config.results_folder)
    trajectory = diffusion.sample(
        16, return_all_timesteps=True, generator=torch.Generator().manual_seed(0), progress=False
    )
    outputs = {
        "checkpoint": trainer.checkpoint_path,
        "loss curve": results / "loss_curve.png",
        "denoising progress": results / "denoising_progress.png",
        "sample grid": save_image_grid(trajectory[:, -1], results / "samples_grid.png"),
        "samples (1.png … 32.png)": results / "samples",
    }
    trainer.plot_losses(outputs["loss curve"])
    times = diffusion.trajectory_times()
    plot_denoising_progress(trajectory, outputs["denoising progress"], times=times)
    sample_to_folder(diffusion, 32, outputs["samples (1.png … 32.png)"], batch_size=32)
    return outputs


def release_and_autograde() -> dict[str, Path]:
    """Release the assignment and autograde the shipped example submissions."""
    from grading import pipeline

    released = pipeline.release()
    results = pipeline.autograde()
    print(pipeline.format_table(results))
    return {
        "release": released,
        "grades": pipeline.COURSE / "grades.csv",
        "feedback": pipeline.COURSE / "feedback",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", default="outputs/demo", type=Path)
    parser.add_argument("--preset", default="smoke")
    parser.add_argument(
        "--grading",
        action="store_true",
        help="also release the assignment and autograde grading/submitted/ (several minutes)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    outputs = part1(args.out, args.preset)
    if args.grading:
        outputs.update(release_and_autograde())
    print(f"\nPart 1 demo ({args.preset} preset) finished in {time.perf_counter() - start:.0f} s:")
    for name, path in outputs.items():
        print(f"  {name:<26} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
