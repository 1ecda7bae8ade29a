"""``python -m grading.authoring.reference``: train and sample Part 1 with the reference solution.

These commands run the instructor's answers to TODOs 1-1-1 to 1-1-3, so they live with
them, in the course repository; the student package ``helpers`` never imports ``grading``
(a student trains from the notebook, with the functions written there).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from grading.authoring.reference.diffusion_steps import REFERENCE_STEPS
from grading.authoring.reference.visualization import plot_losses, sample_with_progress


def add_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train a Part 1 model from a config (TOML / YAML or a preset)"
    )
    parser.add_argument(
        "--config",
        required=True,
        help="a .toml / .yaml file, or a preset: smoke, toy, test1 … test4",
    )
    parser.add_argument(
        "--results", default=None, help="results folder (overrides the config's results_folder)"
    )
    parser.add_argument("--steps", type=int, default=None, help="override train_num_steps")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the results folder's checkpoint"
    )

    def run(args: argparse.Namespace) -> int:
        from helpers.config import load_config
        from helpers.train import build_trainer

        overrides = {}
        if args.results:
            overrides["results_folder"] = args.results
        if args.steps:
            overrides["train_num_steps"] = args.steps
        trainer = build_trainer(
            load_config(args.config, **overrides), REFERENCE_STEPS, sampler=sample_with_progress
        )
        if args.resume:
            print(f"resuming at step {trainer.load()}")
        trainer.train()
        curve = trainer.results_folder / "loss_curve.png"
        plot_losses(trainer.losses).savefig(curve)
        print(f"checkpoint: {trainer.checkpoint_path}\nloss curve: {curve}")
        return 0

    parser.set_defaults(run=run)


def add_sample(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("sample", help="write n samples of a checkpoint as 1.png … n.png")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")

    def run(args: argparse.Namespace) -> int:
        import torch

        from helpers.sampling import sample_to_folder
        from helpers.train import load_diffusion

        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        diffusion = load_diffusion(args.checkpoint, REFERENCE_STEPS, device=device)
        paths = sample_to_folder(
            sample_with_progress,
            diffusion,
            args.n,
            args.out,
            batch_size=args.batch_size,
            seed=args.seed,
        )
        print(f"{len(paths)} images in {args.out}")
        return 0

    parser.set_defaults(run=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grading.authoring.reference",
        description="Train and sample Part 1 with the reference solution (instructors).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train(commands)
    add_sample(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
