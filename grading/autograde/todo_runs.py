"""How each autograded TODO is called on its cases: the student's code, run on inputs made outside.

This module is all of ``grading`` that enters the judge's sandbox (with
:mod:`grading.autograde.judge_child`): per TODO, :data:`RUNS` calls the names the TODO defines on
the cases (built by the grader, :mod:`grading.autograde.checks`) and returns the raw outputs as data
(tensors, lists, strings). Nothing here compares, knows a tolerance or holds a reference
output: whatever comes back is the student's claim about their own outputs, and the
grader decides outside. The grader runs the same calls on the reference solution, in its
own process, to get the outputs it compares with.

It imports only torch, matplotlib and ``helpers`` (the student package).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch


def run_1_1_1(ns: dict, cases: list[tuple], folder: Path) -> list:
    return [list(ns["schedule_init"](T, name, **kwargs)) for name, kwargs, T in cases]


def run_1_1_2(ns: dict, cases: list[tuple], folder: Path) -> list:
    return [ns["denoise_forward"](*args) for _, *args in cases]


def run_1_1_3(ns: dict, cases: list[tuple], folder: Path) -> list:
    return [ns["denoise_backward"](*args) for _, *args in cases]


def figure_data() -> list[list[dict]]:
    """What every open matplotlib figure shows (:func:`helpers.figures.figure_contents`)."""
    import matplotlib.pyplot as plt

    from helpers.figures import figure_contents

    return [figure_contents(plt.figure(number)) for number in plt.get_fignums()]


def run_1_2_1(ns: dict, cases: list[tuple], folder: Path) -> list:
    """Per case: the trajectory, the figures left open (the progress figure) and the saved file.

    The tiny model runs on stand-in steps (:func:`helpers.tiny_models.stand_in_steps`, as
    in the visible test): only the loop is judged, none of TODO 1-1-x's steps is needed.
    """
    import matplotlib.pyplot as plt

    from helpers.tiny_models import stand_in_steps, tiny_diffusion

    out = []
    for k, (seed, sampling_timesteps, eta) in enumerate(cases):
        plt.close("all")
        diffusion = tiny_diffusion(
            stand_in_steps(), sampling_timesteps=sampling_timesteps, seed=seed
        )
        path = folder / f"progress-{k}.png"
        gen = torch.Generator().manual_seed(seed)
        _, trajectory = ns["sample_with_progress"](diffusion, 2, eta=eta, generator=gen, path=path)
        saved = path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        out.append({"trajectory": trajectory, "figures": figure_data(), "saved": saved})
        plt.close("all")
    return out


def run_1_2_2(ns: dict, cases: list[tuple], folder: Path) -> list:
    """Per case: is the result a Figure, and what its axes show."""
    import matplotlib.figure
    import matplotlib.pyplot as plt

    out = []
    for _, losses in cases:
        plt.close("all")
        fig = ns["plot_losses"](list(losses))
        is_figure = isinstance(fig, matplotlib.figure.Figure)
        if is_figure:  # only the returned figure counts, not others left open
            for number in plt.get_fignums():
                if plt.figure(number) is not fig:
                    plt.close(number)
        out.append({"figure": is_figure, "axes": figure_data()[0] if is_figure else []})
        plt.close("all")
    return out


def run_2_1(ns: dict, cases: list[tuple], folder: Path) -> list:
    prompts = ns["PROMPTS"]
    ok = isinstance(prompts, list | tuple) and all(isinstance(p, str) for p in prompts)
    return [[str(p) for p in prompts] if ok else None]


def run_2_2(ns: dict, cases: list[tuple], folder: Path) -> list:
    views = [ns["IdentityView"](), ns["Rotate180View"]()]
    return [[[v.view(x), v.inverse_view(x)] for v in views] for _, x in cases]


def run_2_3(ns: dict, cases: list[tuple], folder: Path) -> list:
    """Both IF stages of the tiny models (random weights) with the kit's stand-in views."""
    from helpers.illusions.sampler import sample_stage
    from helpers.tiny_models import stand_in_views, tiny_embeddings, tiny_stage_1, tiny_stage_2

    torch.set_num_threads(1)
    stages = {1: tiny_stage_1(16), 2: tiny_stage_2(32)}
    two = tiny_embeddings(2)
    low = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(7)) * 2 - 1
    out = []
    for seed, scale, reduction, stage in cases:
        extra = {} if stage == 1 else {"image": low, "noise_level": 100}
        out.append(
            sample_stage(
                stages[stage],
                two,
                stand_in_views(),
                ns["denoising_loop"],
                generator=torch.Generator().manual_seed(seed),
                num_inference_steps=3,
                guidance_scale=scale,
                reduction=reduction,
                progress=False,
                num_images=2,
                **extra,
            )
        )
    return out


RUNS: dict[str, Callable[[dict, list[tuple], Path], list]] = {
    "1-1-1": run_1_1_1,
    "1-1-2": run_1_1_2,
    "1-1-3": run_1_1_3,
    "1-2-1": run_1_2_1,
    "1-2-2": run_1_2_2,
    "2-1": run_2_1,
    "2-2": run_2_2,
    "2-3": run_2_3,
}
"""Per TODO: ``run(namespace, cases, folder) -> outputs``; ``folder`` is writable."""
