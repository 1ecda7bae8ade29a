"""The ``python -m helpers`` command line: one sub-command per job an instructor runs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _doctor(args: argparse.Namespace) -> int:
    from helpers.doctor import main

    return main()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    doctor = commands.add_parser("doctor", help="check that torch, torchvision, diffusers and transformers import")
    doctor.set_defaults(run=_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)
