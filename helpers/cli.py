"""The ``python -m helpers`` command line: one sub-command per job an instructor runs.

Each command is a function that adds its sub-parser; the sub-parser's ``run`` default
is called with the parsed arguments and returns the exit status. Heavy imports happen
inside ``run`` so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_doctor(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("doctor", help="check that torch, torchvision, diffusers and transformers import")

    def run(args: argparse.Namespace) -> int:
        from helpers.doctor import main

        return main()

    parser.set_defaults(run=run)


def add_embed_prompts(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "embed-prompts",
        help="embed Part 2 prompts with IF's T5 once and save them (T5 is freed when the process ends)",
    )
    parser.add_argument("prompts", nargs="+", help="one prompt per view, in the views' order")
    parser.add_argument("--out", required=True, help="file to write, e.g. embeds.pt")
    parser.add_argument("--negative-prompt", default="")
    parser.add_argument("--model", default="M", help="IF stage I repository holding T5: M, L, XL, a hub id or a folder")
    parser.add_argument("--8bit", dest="load_in_8bit", action="store_true", help="load T5 in 8-bit (needs bitsandbytes)")

    def run(args: argparse.Namespace) -> int:
        from helpers.illusions.models import MissingModelError, compute_prompt_embeddings

        try:
            embeddings = compute_prompt_embeddings(
                args.prompts, negative_prompt=args.negative_prompt, model=args.model,
                load_in_8bit=args.load_in_8bit, path=args.out,
            )
        except MissingModelError as error:
            print(error)
            return 2
        print(f"saved {tuple(embeddings.prompt_embeds.shape)} embeddings of {len(args.prompts)} prompts to {args.out}")
        return 0

    parser.set_defaults(run=run)


COMMANDS = [
    add_doctor,
    add_embed_prompts,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description="Course kit for diffusion models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)
