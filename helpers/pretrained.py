"""The pretrained toy model the kit ships: the ``toy`` preset, trained, so a CPU draws faces.

Smoke mode trains a tiny UNet for seconds, which only checks that training runs. Its
pictures come from this checkpoint instead, sampled with the student's own
:class:`~helpers.todos.DiffusionSteps`: a correct DDIM step turns noise into toy faces,
a wrong one shows that it is wrong.

The file holds the EMA weights after 800 of the preset's 1200 steps (already clearly
toy faces), in fp16: 3.1 MB. The architecture is the ``toy`` preset's
(``helpers/presets/toy.toml``), so the file holds nothing else. It travels in the wheel
(``package-data``), so Kaggle and a clone have it offline. To reproduce it (about 9
minutes on 2 free CPU cores; other hardware gives other bits, so the SHA-256 below pins
the shipped file, not the recipe), in the course repository (instructors only: it trains
with the instructor's answers)::

    python -m grading.authoring.reference train --config toy --steps 800 --results outputs/toy && python -m helpers.pretrained outputs/toy/checkpoint.pt

The second command writes :data:`TOY_CHECKPOINT` and prints the SHA-256 to record in
:data:`TOY_SHA256`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from helpers.config import load_config
from helpers.diffusion import GaussianDiffusion
from helpers.todos import DiffusionSteps
from helpers.weights import sha256_of

__all__ = ["TOY_CHECKPOINT", "TOY_PRESET", "TOY_SHA256", "export_toy_model", "load_toy_model"]

TOY_PRESET = "toy"
TOY_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "toy.pt"
TOY_SHA256 = "396a94ad3ca5aa2f450e660a8224eba585f9338b3c903e201f9d298f02b1a842"
# The config keys that define the network and the diffusion, hence the checkpoint's meaning.
MODEL_KEYS = (
    "image_size",
    "channels",
    "dim_mults",
    "self_condition",
    "dropout",
    "timesteps",
    "sampling_timesteps",
    "beta_schedule",
    "objective",
    "ddim_sampling_eta",
)
# The maintainers' recipe, run in the course repository (it trains with the reference).
REPRODUCE = (
    "python -m grading.authoring.reference train --config toy --steps 800 --results outputs/toy && "
    "python -m helpers.pretrained outputs/toy/checkpoint.pt"
)


def load_toy_model(
    steps: DiffusionSteps, device: str | torch.device = "cpu", path: str | os.PathLike | None = None
) -> GaussianDiffusion:
    """The ``toy`` preset's diffusion with the shipped EMA weights, sampling with ``steps``.

    ``steps`` are the three functions the diffusion calls (the student's, in the
    notebook); ``path`` defaults to the shipped :data:`TOY_CHECKPOINT`, whose SHA-256
    is checked first.

    Raises:
        FileNotFoundError: the checkpoint is missing (a kit installed without its data).
        ValueError: the file is not the shipped checkpoint.
    """
    from helpers.train import build_diffusion

    path = Path(path or TOY_CHECKPOINT)
    if not path.is_file():
        raise FileNotFoundError(
            f"the pretrained toy model {path} is missing: reinstall the kit (the wheel ships it) "
            f"or rebuild it with `{REPRODUCE}`"
        )
    digest = sha256_of(path)
    if digest != TOY_SHA256:
        raise ValueError(
            f"{path} is not the shipped toy model: its SHA-256 is {digest}, expected {TOY_SHA256}. "
            f"Restore it from the kit (git checkout or reinstall); after rebuilding it with "
            f"`{REPRODUCE}`, record the new digest in helpers/pretrained.py."
        )
    diffusion = build_diffusion(load_config(TOY_PRESET), steps)
    weights = torch.load(path, map_location="cpu", weights_only=True)
    diffusion.load_state_dict({name: value.float() for name, value in weights.items()})
    return diffusion.to(device).eval()


def export_toy_model(
    checkpoint: str | os.PathLike, out: str | os.PathLike = TOY_CHECKPOINT
) -> Path:
    """Write the EMA weights of a trainer ``checkpoint`` to ``out`` in fp16; returns ``out``."""
    from helpers.train import atomic_torch_save

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    preset = load_config(TOY_PRESET).to_dict()
    trained = state.get("train_config") or {}
    differ = [key for key in MODEL_KEYS if trained.get(key) != preset[key]]
    if differ:
        raise ValueError(
            f"{checkpoint} was not trained with the {TOY_PRESET!r} preset's model: "
            f"{', '.join(f'{key}={trained.get(key)!r} (preset {preset[key]!r})' for key in differ)}. "
            f"Train it in the course repository with "
            f"`python -m grading.authoring.reference train --config {TOY_PRESET}`."
        )
    prefix = "ema_model."
    weights = {
        name.removeprefix(prefix): value.half() if value.is_floating_point() else value
        for name, value in state["ema"].items()
        if name.startswith(prefix)
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(weights, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.pretrained",
        description="Export a `toy` run's EMA weights (fp16) as the kit's pretrained toy model.",
    )
    parser.add_argument(
        "checkpoint",
        help="checkpoint.pt of `python -m grading.authoring.reference train --config toy`, run in the "
        "course repository",
    )
    parser.add_argument("--out", default=str(TOY_CHECKPOINT))
    args = parser.parse_args(argv)
    out = export_toy_model(args.checkpoint, args.out)
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB, SHA-256 {sha256_of(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
