"""The ``python -m helpers`` command line: one sub-command per job an instructor runs.

Each command is a function that adds its sub-parser; the sub-parser's ``run`` default
is called with the parsed arguments and returns the exit status. Heavy imports happen
inside ``run`` so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_doctor(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "doctor", help="check that torch, torchvision, diffusers and transformers import"
    )

    def run(args: argparse.Namespace) -> int:
        from helpers.doctor import main

        return main()

    parser.set_defaults(run=run)


def _reference_steps():
    """The instructor's solution of the Part 1 TODOs, which the train and sample commands run."""
    try:
        from grading.reference import REFERENCE_STEPS
    except ImportError as exc:
        raise SystemExit(
            "this command runs the reference solution in grading/reference, which only the course "
            f"repository has ({exc}): run it from the repository root"
        ) from None
    return REFERENCE_STEPS


def add_data(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("data", help="generate the offline toy-faces dataset")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    toy = kinds.add_parser("toy-faces", help="procedural cartoon faces, deterministic for a seed")
    toy.add_argument("--n", type=int, default=2000, help="number of images (default 2000)")
    toy.add_argument("--size", type=int, default=64, help="side in pixels (default 64)")
    toy.add_argument("--seed", type=int, default=0)
    toy.add_argument("--out", default=None, help="folder (default data/toy-faces)")

    def run(args: argparse.Namespace) -> int:
        from helpers.toy_faces import DEFAULT_TOY_FACES_DIR, write_toy_faces

        out = write_toy_faces(
            args.out or DEFAULT_TOY_FACES_DIR, n=args.n, size=args.size, seed=args.seed
        )
        print(f"{args.n} toy faces of {args.size} px in {_shown(out)}")
        return 0

    toy.set_defaults(run=run)


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
        trainer = build_trainer(load_config(args.config, **overrides), _reference_steps())
        if args.resume:
            print(f"resuming at step {trainer.load()}")
        trainer.train()
        trainer.plot_losses()
        print(
            f"checkpoint: {trainer.checkpoint_path}\nloss curve: {trainer.results_folder / 'loss_curve.png'}"
        )
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
        diffusion = load_diffusion(args.checkpoint, _reference_steps(), device=device)
        paths = sample_to_folder(
            diffusion, args.n, args.out, batch_size=args.batch_size, seed=args.seed
        )
        print(f"{len(paths)} images in {args.out}")
        return 0

    parser.set_defaults(run=run)


def add_embed_prompts(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "embed-prompts",
        help="embed Part 2 prompts with IF's T5 once and save them (T5 is freed when the process ends)",
    )
    parser.add_argument("prompts", nargs="+", help="one prompt per view, in the views' order")
    parser.add_argument("--out", required=True, help="file to write, e.g. embeds.pt")
    parser.add_argument("--negative-prompt", default="")
    parser.add_argument(
        "--model",
        default="M",
        help="IF stage I repository holding T5: M, L, XL, a hub id or a folder",
    )
    parser.add_argument(
        "--8bit",
        dest="load_in_8bit",
        action="store_true",
        help="load T5 in 8-bit (needs bitsandbytes)",
    )

    def run(args: argparse.Namespace) -> int:
        from helpers.illusions.models import MissingModelError, compute_prompt_embeddings

        try:
            embeddings = compute_prompt_embeddings(
                args.prompts,
                negative_prompt=args.negative_prompt,
                model=args.model,
                load_in_8bit=args.load_in_8bit,
                path=args.out,
            )
        except MissingModelError as error:
            print(error)
            return 2
        print(
            f"saved {tuple(embeddings.prompt_embeds.shape)} embeddings of {len(args.prompts)} prompts to {args.out}"
        )
        return 0

    parser.set_defaults(run=run)


def add_score(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "score", help="FID, AFD and CLIP scores of generated images, as a table and JSON"
    )
    from helpers.metrics.report import add_arguments

    add_arguments(parser)

    def run(args: argparse.Namespace) -> int:
        from helpers.metrics.report import run

        return run(args)

    parser.set_defaults(run=run)


def _shown(path) -> str:
    """A path relative to the working directory when it lies below it (shorter to read)."""
    from pathlib import Path

    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


COMMANDS = [
    add_doctor,
    add_data,
    add_train,
    add_sample,
    add_embed_prompts,
    add_score,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers", description="Course kit for diffusion models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)
