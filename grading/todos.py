"""The autograded TODOs: what each is checked on, how it is run and how it is compared.

:data:`TODOS` is the one table: per TODO, the cases (built from fixed seeds), how the
TODO's code is called on them (``run``), how its outputs are compared with the
reference's (``compare``, at the tolerances the TODO's text states) and which kit names
it may not call (``forbidden``). :mod:`grading.judge` runs ``run`` in a sandbox on the
student's cell and ``compare`` outside it; :func:`hidden_test` applies the same table in a
trusted kernel (stock ``nbgrader autograde``). This module is copied into the judge's
sandbox: it imports nothing of ``grading`` at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

SCHEDULES = [
    ("linear", {}),
    ("cosine", {}),
    ("cosine", {"s": 0.02}),
    ("sigmoid", {}),
    ("sigmoid", {"start": -2.0, "end": 4.0, "tau": 0.7}),
]


def _alphas_bar(name: str, timesteps: int) -> torch.Tensor:
    from helpers.schedules import get_beta_schedule

    return torch.cumprod(1 - get_beta_schedule(name)(timesteps), dim=0).float()


def cases_1_1_1() -> list[tuple]:
    return [(name, kwargs, T) for name, kwargs in SCHEDULES for T in (25, 257, 1000, 4000)]


def run_1_1_1(ns: dict, cases: list[tuple]) -> list:
    return [list(ns["schedule_init"](T, name, **kwargs)) for name, kwargs, T in cases]


def cases_1_1_2() -> list[tuple]:
    out = []
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        for name, T in (("linear", 1000), ("cosine", 4000), ("sigmoid", 50)):
            alphas_bar = _alphas_bar(name, T)
            for shape in ((1, 1, 4, 4), (3, 3, 16, 16), (5, 3, 8, 12)):
                x_start = torch.rand(shape, generator=gen) * 2 - 1
                noise = torch.randn(shape, generator=gen)
                t = torch.randint(0, T, (shape[0],), generator=gen)
                label = f"seed {seed}, {name} T={T}, shape {shape}"
                out.append((label, alphas_bar, x_start, t, noise))
    return out


def run_1_1_2(ns: dict, cases: list[tuple]) -> list:
    return [ns["denoise_forward"](*args) for _, *args in cases]


def cases_1_1_3() -> list[tuple]:
    out = []
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        for name, T in (("linear", 1000), ("cosine", 1000), ("sigmoid", 200)):
            alphas_bar = _alphas_bar(name, T)
            for shape in ((2, 3, 8, 8), (5, 1, 4, 6)):
                t = torch.randint(1, T, (shape[0],), generator=gen)
                t_prev = (torch.rand(shape[0], generator=gen) * t).long()
                x0, eps, z = (torch.randn(shape, generator=gen) for _ in range(3))
                for eta in (0.0, 0.3, 1.0):
                    label = f"seed {seed}, {name}, shape {shape}, eta={eta}"
                    out.append((label, alphas_bar, x0, eps, t, t_prev, z, eta))
    return out


def run_1_1_3(ns: dict, cases: list[tuple]) -> list:
    return [ns["denoise_backward"](*args) for _, *args in cases]


def cases_1_2_1() -> list[tuple]:
    # (seed, S, eta): S = 10 divides T = 100, S = 7 does not; eta 0, 1 and between. Each
    # case samples the tiny model twice in the kernel (the student's loop, the reference's).
    return [(1, 10, 0.0), (2, 10, 1.0), (3, 7, 0.5)]


def run_1_2_1(ns: dict, cases: list[tuple]) -> list:
    # Stand-in steps (helpers.tiny_models.stand_in_steps), as in the visible tests: only the
    # loop is judged, and no step of TODO 1-1-x (the student's or the reference's) is needed.
    import matplotlib.pyplot as plt

    from helpers.tiny_models import stand_in_steps, tiny_diffusion

    out = []
    for seed, sampling_timesteps, eta in cases:
        diffusion = tiny_diffusion(
            stand_in_steps(), sampling_timesteps=sampling_timesteps, seed=seed
        )
        gen = torch.Generator().manual_seed(seed)
        _, trajectory = ns["sample_with_progress"](diffusion, 2, eta=eta, generator=gen, path=None)
        out.append(trajectory)
        plt.close("all")
    return out


def cases_1_2_2() -> list[tuple]:
    return [
        (n, torch.rand(n, generator=torch.Generator().manual_seed(seed)).double().tolist())
        for seed, n in ((0, 1), (1, 7), (2, 1000), (3, 50))
    ]


def run_1_2_2(ns: dict, cases: list[tuple]) -> list:
    """What the checks read from each figure: is it a Figure, each line's y-values, the labels."""
    import matplotlib.figure
    import matplotlib.pyplot as plt
    import numpy as np

    out = []
    for _, losses in cases:
        fig = ns["plot_losses"](list(losses))
        is_figure = isinstance(fig, matplotlib.figure.Figure)
        lines, labels = [], []
        for ax in fig.axes if is_figure else []:
            for line in ax.get_lines():
                with contextlib.suppress(TypeError, ValueError):
                    lines.append(torch.from_numpy(np.asarray(line.get_ydata(), dtype=np.float64)))
            if ax.get_lines():
                labels.append([str(ax.get_xlabel()), str(ax.get_ylabel())])
        out.append({"figure": is_figure, "lines": lines, "labels": labels})
        plt.close("all")
    return out


def cases_2_1() -> list[tuple]:
    return [()]


def run_2_1(ns: dict, cases: list[tuple]) -> list:
    prompts = ns["PROMPTS"]
    ok = isinstance(prompts, list | tuple) and all(isinstance(p, str) for p in prompts)
    return [[str(p) for p in prompts] if ok else None]


def cases_2_2() -> list[tuple]:
    # Views get images (C, H, W) or batches (B, C, H, W): 3 or 4 dimensions, as the TODO states.
    gen = torch.Generator().manual_seed(1)
    shapes = ((3, 16, 16), (4, 3, 64, 64), (1, 6, 256, 256), (2, 3, 5, 7))
    return [(f"shape {shape}", torch.randn(shape, generator=gen)) for shape in shapes]


def run_2_2(ns: dict, cases: list[tuple]) -> list:
    views = [ns["IdentityView"](), ns["Rotate180View"]()]
    return [[[v.view(x), v.inverse_view(x)] for v in views] for _, x in cases]


def cases_2_3() -> list[tuple]:
    # Two views (identity + half turn), guidance 1, 4 and 10, both reductions, both stages.
    return [
        (seed, scale, reduction, stage)
        for seed, scale, reduction in ((1, 4.0, "mean"), (2, 10.0, "alternate"), (3, 1.0, "mean"))
        for stage in (1, 2)
    ]


def run_2_3(ns: dict, cases: list[tuple]) -> list:
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


# --- comparisons (grader side; also raised as the hidden tests' messages) -----------------


def _close(got: Any, want: torch.Tensor, rtol: float, atol: float, what: str) -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"{what}: expected a tensor, got {type(got).__name__}"
    try:
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol)
    except AssertionError as error:
        return f"{what}: {str(error).splitlines()[0]}"
    return None


def _leaves(value: Any) -> list:
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def compare_tensors(rtol: float, atol: float, noun: str) -> Callable:
    """Every tensor of every case's output within ``rtol`` / ``atol`` of the reference's."""

    def compare(cases: list[tuple], got: list, want: list) -> str | None:
        for case, mine, ref in zip(cases, got, want, strict=True):
            label = case[0] if isinstance(case[0], str) else f"case {case}"
            mine, ref = _leaves(mine), _leaves(ref)
            if len(mine) != len(ref):
                return f"{label}: {noun} has {len(mine)} parts, expected {len(ref)}"
            for m, r in zip(mine, ref, strict=True):
                if why := _close(m, r, rtol, atol, f"{label}: {noun} differs from the reference"):
                    return why
        return None

    return compare


def compare_1_1_1(cases: list[tuple], got: list, want: list) -> str | None:
    for (name, kwargs, T), mine, ref in zip(cases, got, want, strict=True):
        if len(mine) != 3:
            return f"{name} {kwargs}, T={T}: return three tensors (betas, alphas, alphas_bar)"
        for what, m, r in zip(("betas", "alphas", "alphas_bar"), mine, ref, strict=True):
            if why := _close(m, r, 1e-12, 1e-12, f"{name} {kwargs}, T={T}: {what}"):
                return why
    return None


def compare_1_2_2(cases: list[tuple], got: list, want: list) -> str | None:
    for (n, losses), seen in zip(cases, got, strict=True):
        if not seen["figure"]:
            return "plot_losses must return a matplotlib Figure"
        expected = torch.tensor(losses, dtype=torch.float64)
        if not any(
            line.shape == expected.shape and torch.equal(line, expected) for line in seen["lines"]
        ):
            return f"{n} losses: no line's y-values are exactly the losses"
        if not seen["labels"] or not all(seen["labels"][0]):
            return "label both axes (ax.set_xlabel, ax.set_ylabel)"
    return None


def compare_2_1(cases: list[tuple], got: list, want: list) -> str | None:
    prompts = got[0]
    if prompts is None or len(prompts) != 2:
        return "PROMPTS must be a list of two prompts (strings)"
    for k, prompt in enumerate(prompts):
        if not prompt.strip():
            return f"PROMPTS[{k}] must be a non-empty string"
        if len(prompt.split()) > 60:
            return f"PROMPTS[{k}] has {len(prompt.split())} words: keep it under 60 words"
    if prompts[0].strip().lower() == prompts[1].strip().lower():
        return "the two prompts must differ"
    return None


@dataclass(frozen=True)
class Todo:
    """One autograded TODO: its notebook cells, its cases, how it is run and compared."""

    assignment: str
    cases: Callable[[], list[tuple]]
    run: Callable[[dict, list[tuple]], list]
    compare: Callable[[list[tuple], list, list], str | None]
    reference: tuple[str, ...] = ()
    """Names of ``grading.reference`` the reference run uses (none: judged on properties)."""
    forbidden: tuple[str, ...] = ()
    """Names a solution may not use (the TODO's text lists them): the kit's answers to this
    TODO and the ways around :attr:`withheld`. A cell that uses one scores 0 for the TODO."""
    withheld: tuple[str, ...] = ()
    """Kit objects (``module:attribute``) that compute this TODO's answer: each raises while
    the TODO is judged, so that its points cannot be earned by delegating to the kit."""

    def cell(self, name: str) -> str:
        return "todo_" + name.replace("-", "_")


TODOS: dict[str, Todo] = {
    "1-1-1": Todo("part1", cases_1_1_1, run_1_1_1, compare_1_1_1, ("schedule_init",)),
    "1-1-2": Todo(
        "part1", cases_1_1_2, run_1_1_2, compare_tensors(1e-6, 1e-6, "x_t"), ("denoise_forward",)
    ),
    "1-1-3": Todo(
        "part1",
        cases_1_1_3,
        run_1_1_3,
        compare_tensors(1e-5, 1e-5, "x_prev"),
        ("denoise_backward",),
    ),
    "1-2-1": Todo(
        "part1",
        cases_1_2_1,
        run_1_2_1,
        compare_tensors(0.0, 1e-5, "the trajectory"),
        ("sample_with_progress",),
        forbidden=("ddim_sample", "p_sample_loop", "return_all_timesteps"),
        withheld=tuple(
            f"helpers.diffusion:GaussianDiffusion.{name}"
            for name in ("sample", "ddim_sample", "p_sample_loop")
        ),
    ),
    "1-2-2": Todo(
        "part1",
        cases_1_2_2,
        run_1_2_2,
        compare_1_2_2,
        forbidden=("figures",),
        withheld=(
            "helpers.figures:plot_losses",
            "helpers.train:plot_losses",
            "helpers.train:Trainer.plot_losses",
        ),
    ),
    "2-1": Todo("part2", cases_2_1, run_2_1, compare_2_1),
    "2-2": Todo(
        "part2",
        cases_2_2,
        run_2_2,
        compare_tensors(0.0, 0.0, "a view"),
        ("IdentityView", "Rotate180View"),
        forbidden=("RotationView", "Rotate90CWView", "Rotate90CCWView"),
        withheld=tuple(
            f"helpers.illusions.views:{view}.{method}"
            for view in ("IdentityView", "RotationView", "Rotate180View")
            for method in ("view", "inverse_view")
        ),
    ),
    "2-3": Todo(
        "part2",
        cases_2_3,
        run_2_3,
        compare_tensors(0.0, 1e-5, "the images"),
        ("denoising_loop",),
    ),
}
"""Every autograded TODO, keyed as the notebooks number them."""


def reference_namespace(todo: str) -> dict:
    """The names a TODO's run reads, bound to the reference solution (grader side only)."""
    import grading.reference as reference

    return {name: getattr(reference, name) for name in TODOS[todo].reference}


def hidden_test(todo: str, namespace: dict) -> None:
    """The hidden test of ``todo`` in a trusted kernel (stock ``nbgrader autograde``): the
    student's run against the reference's. ``make autograde`` decides outside the kernel."""
    spec = TODOS[todo]
    cases = spec.cases()
    want = spec.run(reference_namespace(todo), cases) if spec.reference else None
    why = spec.compare(cases, spec.run(namespace, cases), want)
    assert why is None, why


AROUND_THE_GUARD = ("importlib", "__import__", "reload", "exec_module", "__code__")
"""Names that would reload a kit module or reach a function's code: with them a cell could
undo :attr:`Todo.withheld`. Forbidden in every autograded solution."""


def delegations(todo: str, source: str) -> list[str]:
    """The kit names of :attr:`Todo.forbidden` that ``source`` (a solution cell) uses."""
    import io
    import tokenize

    forbidden = set(TODOS[todo].forbidden) | set(AROUND_THE_GUARD)
    try:
        tokens = tokenize.generate_tokens(io.StringIO(source).readline)
        names = {tok.string for tok in tokens if tok.type == tokenize.NAME}
    except (tokenize.TokenError, IndentationError, SyntaxError):
        names = set(source.replace(".", " ").replace("(", " ").split())
    return sorted(forbidden & names)
