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


def add_score(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("score", help="FID, AFD and CLIP scores of generated images, as a table and JSON")
    from helpers.metrics.report import add_arguments

    add_arguments(parser)

    def run(args: argparse.Namespace) -> int:
        from helpers.metrics.report import run

        return run(args)

    parser.set_defaults(run=run)


COMMANDS = [
    add_doctor,
    add_score,
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
