"""The autograded TODOs: what each is checked on and how its outputs are compared (grader side).

:data:`TODOS` is the one table: per TODO, the cases (built here from fixed seeds), how
its outputs are compared with the reference's (``compare``, at tolerances measured on
correct rewrites and planted bugs, ``tests/mutations.py``) and the reference names its
run reads. How the TODO's code is called on the cases is :data:`grading.autograde.todo_runs.RUNS`,
the only part of ``grading`` a sandbox gets. :mod:`grading.autograde.judge` runs the student's
cells and that call in a sandbox, and everything here outside it: the cases go in as data,
the outputs come back as data, the reference's outputs, the comparison and the verdict
never enter the sandbox. :func:`hidden_test` applies the same table in a trusted kernel
(stock ``nbgrader autograde``).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grading.autograde.todo_runs import RUNS

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


def cases_1_2_1() -> list[tuple]:
    # (seed, S, eta): S = 10 divides T = 100, S = 7 does not; eta 0, 1 and between. Each
    # case samples the tiny model twice in the kernel (the student's loop, the reference's).
    return [(1, 10, 0.0), (2, 10, 1.0), (3, 7, 0.5)]


def cases_1_2_2() -> list[tuple]:
    return [
        (n, torch.rand(n, generator=torch.Generator().manual_seed(seed)).double().tolist())
        for seed, n in ((0, 1), (1, 7), (2, 1000), (3, 50))
    ]


def cases_2_1() -> list[tuple]:
    return [()]


def cases_2_2() -> list[tuple]:
    # Views get images (C, H, W) or batches (B, C, H, W): 3 or 4 dimensions, as the TODO states.
    gen = torch.Generator().manual_seed(1)
    shapes = ((3, 16, 16), (4, 3, 64, 64), (1, 6, 256, 256), (2, 3, 5, 7))
    return [(f"shape {shape}", torch.randn(shape, generator=gen)) for shape in shapes]


def cases_2_3() -> list[tuple]:
    # Two views (identity + half turn), guidance 1, 4 and 10, both reductions, both stages.
    return [
        (seed, scale, reduction, stage)
        for seed, scale, reduction in ((1, 4.0, "mean"), (2, 10.0, "alternate"), (3, 1.0, "mean"))
        for stage in (1, 2)
    ]


# --- comparisons (grader side; also raised as the hidden tests' messages) -----------------


@dataclass(frozen=True)
class Tolerance:
    """``|got - want| <= atol + rtol * |want|`` for every element (``torch.testing``'s rule).

    Set per TODO from measurements (``python -m tests.mutations --errors``): every correct
    rewrite's largest :meth:`ratio` is at most 1 and every planted bug's exceeds 1; the
    margins are written next to each tolerance in :data:`TOLERANCES`.
    """

    rtol: float
    atol: float

    def ratio(self, got: Any, want: torch.Tensor) -> float:
        """The largest error as a multiple of what is allowed: <= 1 passes, inf is not comparable."""
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            return math.inf
        got, want = got.detach().double().cpu(), want.detach().double().cpu()
        if not torch.equal(got.isnan(), want.isnan()):
            return math.inf
        error = (got - want).nan_to_num(0.0).abs()
        if error.numel() == 0 or error.max() == 0:
            return 0.0
        allowed = self.atol + self.rtol * want.nan_to_num(0.0).abs()
        return math.inf if allowed.min() == 0 else (error / allowed).max().item()


EXACT = Tolerance(0.0, 0.0)


def _close(got: Any, want: torch.Tensor, tolerance: Tolerance, what: str) -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"{what}: expected a tensor, got {type(got).__name__}"
    try:
        torch.testing.assert_close(got, want, rtol=tolerance.rtol, atol=tolerance.atol)
    except AssertionError as error:
        return f"{what}: {str(error).splitlines()[0]}"
    return None


def _leaves(value: Any) -> list:
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def compare_tensors(todo: str, noun: str) -> Callable:
    """Every tensor of every case's output within ``TOLERANCES[todo]`` of the reference's."""

    def compare(cases: list[tuple], got: list, want: list) -> str | None:
        for case, mine, ref in zip(cases, got, want, strict=True):
            label = case[0] if isinstance(case[0], str) else f"case {case}"
            mine, ref = _leaves(mine), _leaves(ref)
            if len(mine) != len(ref):
                return f"{label}: {noun} has {len(mine)} parts, expected {len(ref)}"
            for m, r in zip(mine, ref, strict=True):
                why = _close(m, r, TOLERANCES[todo], f"{label}: {noun} differs from the reference")
                if why:
                    return why
        return None

    return compare


def compare_1_1_1(cases: list[tuple], got: list, want: list) -> str | None:
    for (name, kwargs, T), mine, ref in zip(cases, got, want, strict=True):
        if not isinstance(mine, list) or len(mine) != 3:
            return f"{name} {kwargs}, T={T}: return three tensors (betas, alphas, alphas_bar)"
        for what, m, r in zip(("betas", "alphas", "alphas_bar"), mine, ref, strict=True):
            if isinstance(m, torch.Tensor) and m.dtype != torch.float64:
                return f"{name} {kwargs}, T={T}: {what} must stay float64, got {m.dtype}"
            if why := _close(m, r, TOLERANCES["1-1-1"], f"{name} {kwargs}, T={T}: {what}"):
                return why
    return None


def _shows(axes: Any, want: list[dict]) -> bool:
    """Do ``axes`` (one figure's, as data) show what the reference figure's do?"""
    if not isinstance(axes, list) or len(axes) != len(want):
        return False
    for ax, ref in zip(axes, want, strict=True):
        if not isinstance(ax, dict) or ax.get("xticks") != ref["xticks"]:
            return False
        images = ax.get("images")
        if not isinstance(images, list) or len(images) != len(ref["images"]):
            return False
        tolerance = TOLERANCES["1-2-1"]
        if any(tolerance.ratio(m, r) > 1 for m, r in zip(images, ref["images"], strict=True)):
            return False
    return True


def compare_1_2_1(cases: list[tuple], got: list, want: list) -> str | None:
    for (seed, steps, eta), mine, ref in zip(cases, got, want, strict=True):
        label = f"seed {seed}, S={steps}, eta={eta}"
        if not isinstance(mine, dict):
            return f"{label}: return (images, trajectory)"
        what = f"{label}: the trajectory differs from the reference"
        if why := _close(mine.get("trajectory"), ref["trajectory"], TOLERANCES["1-2-1"], what):
            return why
        figures = mine.get("figures")
        if not isinstance(figures, list) or not any(_shows(f, ref["figures"][0]) for f in figures):
            return (
                f"{label}: no figure shows the denoising progress as plot_denoising_progress("
                "trajectory, path, times=diffusion.trajectory_times(), max_columns=11) draws it "
                "(x_T first, the trajectory's steps, their timesteps as column labels)"
            )
        if mine.get("saved") is not True:
            return f"{label}: the progress figure was not saved as a PNG file at path"
    return None


def _holds(line: Any, losses: torch.Tensor) -> bool:
    return (
        isinstance(line, torch.Tensor) and line.shape == losses.shape and torch.equal(line, losses)
    )


def compare_1_2_2(cases: list[tuple], got: list, want: list) -> str | None:
    for (n, losses), seen in zip(cases, got, strict=True):
        if not isinstance(seen, dict) or seen.get("figure") is not True:
            return "plot_losses must return a matplotlib Figure"
        expected = torch.tensor(losses, dtype=torch.float64)
        axes = [ax for ax in seen.get("axes", []) if isinstance(ax, dict)]
        holding = [ax for ax in axes if any(_holds(line, expected) for line in ax.get("lines", []))]
        if not holding:
            return f"{n} losses: no line's y-values are exactly the losses"
        labels = holding[0].get("labels")
        if not isinstance(labels, list) or len(labels) != 2 or not all(labels):
            return "label both axes (ax.set_xlabel, ax.set_ylabel)"
    return None


def compare_2_1(cases: list[tuple], got: list, want: list) -> str | None:
    prompts = got[0]
    if not isinstance(prompts, list) or len(prompts) != 2:
        return "PROMPTS must be a list of two prompts (strings)"
    if not all(isinstance(p, str) for p in prompts):
        return "PROMPTS must be a list of two prompts (strings)"
    for k, prompt in enumerate(prompts):
        if not prompt.strip():
            return f"PROMPTS[{k}] must be a non-empty string"
        if len(prompt.split()) > 60:
            return f"PROMPTS[{k}] has {len(prompt.split())} words: keep it under 60 words"
    if prompts[0].strip().lower() == prompts[1].strip().lower():
        return "the two prompts must differ"
    return None


TOLERANCES: dict[str, Tolerance] = {
    # Measured by `python -m tests.mutations --errors`: the largest error of a correct
    # rewrite and the smallest of a planted bug, as multiples of the tolerance (1 = it).
    "1-1-1": Tolerance(rtol=1e-12, atol=1e-12),  # rewrites <= 0.0011, bugs >= 2.0e4 (float64)
    "1-1-2": Tolerance(rtol=1e-5, atol=1e-6),  # rewrites 0 (equal bits), bugs >= 8.1e4
    "1-1-3": Tolerance(rtol=1e-4, atol=1e-4),  # rewrites <= 0.062, bugs >= 470
    "1-2-1": Tolerance(rtol=1e-4, atol=1e-5),  # rewrites 0, bugs >= 2.6e4 (figure bugs: exact)
    "2-2": EXACT,  # views move pixels, they never compute: exact, as the TODO states
    "2-3": Tolerance(rtol=1e-4, atol=1e-4),  # rewrites <= 0.097, bugs >= 8.7e3
}
"""The tolerance of every numeric comparison, by TODO (the TODO texts state them)."""


@dataclass(frozen=True)
class Todo:
    """One autograded TODO: its notebook cells, its cases and how its outputs are compared."""

    assignment: str
    cases: Callable[[], list[tuple]]
    compare: Callable[[list[tuple], list, list], str | None]
    reference: tuple[str, ...] = ()
    """Names of ``grading.authoring.reference`` the reference run uses (none: judged on properties)."""

    def cell(self, name: str) -> str:
        return "todo_" + name.replace("-", "_")


TODOS: dict[str, Todo] = {
    "1-1-1": Todo("part1", cases_1_1_1, compare_1_1_1, ("schedule_init",)),
    "1-1-2": Todo("part1", cases_1_1_2, compare_tensors("1-1-2", "x_t"), ("denoise_forward",)),
    "1-1-3": Todo("part1", cases_1_1_3, compare_tensors("1-1-3", "x_prev"), ("denoise_backward",)),
    "1-2-1": Todo("part1", cases_1_2_1, compare_1_2_1, ("sample_with_progress",)),
    "1-2-2": Todo("part1", cases_1_2_2, compare_1_2_2),
    "2-1": Todo("part2", cases_2_1, compare_2_1),
    "2-2": Todo(
        "part2", cases_2_2, compare_tensors("2-2", "a view"), ("IdentityView", "Rotate180View")
    ),
    "2-3": Todo("part2", cases_2_3, compare_tensors("2-3", "the image batch"), ("denoising_loop",)),
}
"""Every autograded TODO, keyed as the notebooks number them."""


def reference_namespace(todo: str) -> dict:
    """The names a TODO's run reads, bound to the reference solution (grader side only)."""
    import grading.authoring.reference as reference

    return {name: getattr(reference, name) for name in TODOS[todo].reference}


def run(todo: str, namespace: dict, cases: list[tuple]) -> list:
    """The TODO's run (:data:`grading.autograde.todo_runs.RUNS`) in this process, in a scratch folder.

    On one thread, as in the sandbox: convolutions sum in another order on more threads
    (1e-4 over 10 steps).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="todo-run-") as folder:
            return RUNS[todo](namespace, cases, Path(folder))
    finally:
        torch.set_num_threads(threads)


def hidden_test(todo: str, namespace: dict) -> None:
    """The hidden test of ``todo`` in a trusted kernel (stock ``nbgrader autograde``): the
    student's run against the reference's. ``make autograde`` decides outside the kernel."""
    spec = TODOS[todo]
    cases = spec.cases()
    want = run(todo, reference_namespace(todo), cases) if spec.reference else None
    why = spec.compare(cases, run(todo, namespace, cases), want)
    assert why is None, why
