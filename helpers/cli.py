"""The ``python -m helpers`` command line: one sub-command per job that needs no reference solution.

Training and sampling Part 1 run your code of the TODOs: do them in the notebook (its
training and sampling cells). Nothing here imports ``grading``, which students do not
have; in the course repository, instructors train and sample with the instructor's
answers by ``python -m grading.authoring.reference train / sample``.

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


def add_data(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("data", help="generate the offline toy-faces dataset")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    toy = kinds.add_parser("toy-faces", help="procedural cartoon faces, deterministic for a seed")
    toy.add_argument("--n", type=int, default=2000, help="number of images (default 2000)")
    toy.add_argument("--size", type=int, default=64, help="side in pixels (default 64)")
    toy.add_argument("--seed", type=int, default=0)
    toy.add_argument("--out", default=None, help="folder (default data/toy-faces)")

    def run(args: argparse.Namespace) -> int:
        from helpers.toy_faces import write_toy_faces

        out = write_toy_faces(args.out, n=args.n, size=args.size, seed=args.seed)
        print(f"{args.n} toy faces of {args.size} px in {_shown(out)}")
        return 0

    toy.set_defaults(run=run)


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
