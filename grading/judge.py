"""The isolated judge: each autograded TODO re-run where the student's code cannot reach the verdict.

nbgrader runs the hidden tests inside the student's kernel, next to the student's code and
with ``grading.reference`` imported there, so a submission can reach the reference through
``sys.modules`` or replace the comparison the tests call. The judge decides instead:

* :data:`TODOS` is the one table of what each TODO is checked on: the cases (built from
  fixed seeds), how the TODO's function is called on them (``run``) and how its outputs are
  compared with the reference's (``compare``, at the tolerances the hidden tests state).
  The hidden tests call :func:`hidden_test`, which applies the same table inside the kernel.
* :func:`judge_notebook` (:func:`judge_notebooks` for a batch) runs, for every TODO, the release's locked setup cells, the cells
  the student added before it, and that TODO's solution cell alone, in a fresh process:
  ``python -I`` on a copy of this file (no repository on ``sys.path``; ``helpers`` comes
  from the environment, ``grading`` is not importable), in a clean environment and a
  temporary working directory, with CPU, memory, file-size and wall-clock limits. Where
  Linux user namespaces are available (``unshare -rmn``) it has no network and sees empty
  directories in place of ``grading/`` (the reference), the course directory (the gradebook,
  other students) and the submissions. One interpreter imports torch once and forks a
  child per TODO, so no student code runs before the fork. The grader's process makes
  the cases, receives the outputs as data (``torch.load(weights_only=True)``) and compares
  them with the reference's outputs, which it computes itself.
* :func:`apply_judge` is the pipeline's hook: a TODO keeps its points only where the
  in-kernel tests and the judge agree; a disagreement becomes a gradebook comment and a
  note of the run's summary.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

# --- the cases: one table, used by the hidden tests (in the kernel) and by the judge -------

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
    # The diffusion is built on the reference steps, so that only the loop is judged.
    import matplotlib.pyplot as plt

    out = []
    for seed, sampling_timesteps, eta in cases:
        diffusion = ns["tiny_diffusion"](
            ns["REFERENCE_STEPS"], sampling_timesteps=sampling_timesteps, seed=seed
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
    reference_steps: bool = False
    """The run needs ``REFERENCE_STEPS`` (sent to the isolated run as source text)."""

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
        reference_steps=True,
    ),
    "1-2-2": Todo("part1", cases_1_2_2, run_1_2_2, compare_1_2_2),
    "2-1": Todo("part2", cases_2_1, run_2_1, compare_2_1),
    "2-2": Todo(
        "part2",
        cases_2_2,
        run_2_2,
        compare_tensors(0.0, 0.0, "a view"),
        ("IdentityView", "Rotate180View"),
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


def reference_namespace(todo: str, setup: dict | None = None) -> dict:
    """The names a TODO's run reads, bound to the reference solution (grader side only)."""
    import grading.reference as reference

    spec = TODOS[todo]
    ns = dict(setup or {})
    ns.update({name: getattr(reference, name) for name in spec.reference})
    if spec.reference_steps:
        ns["REFERENCE_STEPS"] = reference.REFERENCE_STEPS
    return ns


def hidden_test(todo: str, namespace: dict) -> None:
    """The hidden test of ``todo`` inside the kernel: the student's run against the reference's."""
    spec = TODOS[todo]
    cases = spec.cases()
    reference = reference_namespace(todo, namespace)
    want = spec.run(reference, cases) if spec.reference else None
    mine = dict(namespace)
    if spec.reference_steps:
        mine["REFERENCE_STEPS"] = reference["REFERENCE_STEPS"]
    why = spec.compare(cases, spec.run(mine, cases), want)
    assert why is None, why


# --- the isolated run: child side (a copy of this file under ``python -I``) ---------------

CPU_SECONDS = 30
"""CPU time of one TODO's run: the slowest, TODO 2-3, needs about 5 s."""
WALL_SECONDS = 90
"""Wall time of one TODO's run, for a machine busy with other work."""
MEMORY_BYTES = 3 << 30
"""Address space one TODO's run may add to the interpreter's (torch already maps ~1 GiB)."""
FILE_BYTES = 8 << 20
"""Largest file one TODO's run may write."""
RESULT_BYTES = 64 << 20
"""Largest result one TODO's run may send back."""

CAUSES = {
    signal.SIGKILL: "killed (SIGKILL: out of memory, a time limit, or the code itself)",
    signal.SIGSEGV: "segfault",
    signal.SIGABRT: "aborted",
    signal.SIGXCPU: "over its CPU time limit",
    signal.SIGBUS: "bus error",
}


def _hide(paths: list[str]) -> None:
    """In a private mount namespace, an empty directory in place of each path."""
    for path in paths:
        if os.path.isdir(path):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", path], check=True)


def _limit() -> None:
    here = resource.getrlimit(resource.RLIMIT_AS)[0]
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    budget = vm + MEMORY_BYTES
    if here == resource.RLIM_INFINITY or here > budget:
        resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, it does not kill


def _cell_code(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _child(folder: Path, job: dict, write_end: int) -> None:
    """One TODO: setup cells, added cells, the solution cell, then the TODO's run on its cases."""
    result: dict[str, Any] = {"outputs": None, "error": None}
    try:
        os.chdir(folder / "cwd")
        out = os.open(os.devnull, os.O_WRONLY)  # printing costs nothing and comes back as nothing
        os.dup2(out, 1)
        os.dup2(out, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), write_through=True)
        sys.stderr = sys.stdout
        _limit()
        cases = torch.load(folder / "cases.pt", weights_only=True)
        ns: dict[str, Any] = {"__name__": "__main__"}
        for kind, source in job["cells"]:
            try:
                exec(compile(_cell_code(source), f"<{kind} cell>", "exec"), ns)
            except BaseException as error:  # a cell a student added may fail: it is not graded
                if kind != "added":
                    raise RuntimeError(f"the {kind} cell raised {error!r}") from error
        if job["steps"]:
            steps: dict[str, Any] = {"__name__": "reference_steps"}
            exec(compile(job["steps"], "<steps>", "exec"), steps)
            ns["REFERENCE_STEPS"] = steps["REFERENCE_STEPS"]
        result["outputs"] = TODOS[job["todo"]].run(ns, cases)
    except BaseException as error:  # SystemExit included: the verdict is that it failed
        result = {"outputs": None, "error": "".join(traceback.format_exception_only(error)).strip()}
    buffer = io.BytesIO()
    try:
        torch.save(result, buffer)
    except Exception as error:
        buffer = io.BytesIO()
        torch.save({"outputs": None, "error": f"the outputs are not data: {error!r}"}, buffer)
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write(buffer.getvalue())
    os._exit(0)


def _collect(pid: int, read_end: int) -> tuple[bytes, str]:
    """Read one child's result until EOF, wait for it; kill its group past the wall limit."""
    import select

    deadline, chunks, size, status = time.monotonic() + WALL_SECONDS, [], 0, ""
    while True:
        left = deadline - time.monotonic()
        ready = select.select([read_end], [], [], max(left, 0))[0] if left > 0 else []
        if not ready:
            status = f"stopped after {WALL_SECONDS} s"
            break
        data = os.read(read_end, 1 << 20)
        if not data:
            break
        chunks.append(data)
        size += len(data)
        if size > RESULT_BYTES:
            status, chunks = f"result over {RESULT_BYTES >> 20} MiB", []
            break
    os.close(read_end)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _, code = os.waitpid(pid, 0)
    if not status and os.WIFSIGNALED(code) and not chunks:
        sig = os.WTERMSIG(code)
        status = CAUSES.get(sig, f"killed by signal {signal.Signals(sig).name}")
    elif not status and not chunks:
        status = f"the process exited (status {os.WEXITSTATUS(code)}) before returning its outputs"
    return b"".join(chunks), status


def serve(folder: Path, hide: list[str]) -> None:
    """The isolated interpreter: hide the paths, import torch once, fork one child per TODO."""
    results = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    if hide:
        _hide(hide)
    import matplotlib.pyplot  # noqa: F401

    import helpers  # noqa: F401  (imported before any student code, shared by the forks)

    todos = set()
    for name in json.loads((folder / "jobs.json").read_text()):
        todos.add(json.loads((folder / name / "job.json").read_text())["todo"])
    if any(TODOS[todo].assignment == "part2" for todo in todos):  # load diffusers once
        import torchvision.transforms  # noqa: F401

        import helpers.illusions.sampler  # noqa: F401
        import helpers.tiny_models  # noqa: F401

    report = {}
    for name in json.loads((folder / "jobs.json").read_text()):
        job = json.loads((folder / name / "job.json").read_text())
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            os.close(results)
            os.setsid()
            _child(folder / name, job, write_end)
        os.close(write_end)
        data, status = _collect(pid, read_end)
        report[name] = {"status": status, "data": data.hex()}
    with os.fdopen(results, "w") as out:
        json.dump(report, out)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2:])


# --- the isolated run: grader side -------------------------------------------------------

GRADING = Path(__file__).resolve().parent
REPO = GRADING.parent
HIDDEN = (GRADING, REPO / "notebooks", REPO / "tests")
"""Folders of the repository an isolated run must not see: the reference, the source
notebooks (they hold the solutions), the tests. The pipeline adds the course directory
and the submissions."""
TOTAL_SECONDS = 600


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""
    died: bool = False
    """The run's process died (a signal, or an exit before it returned its outputs)."""


def _cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        source = cell.get("source", "")
        cell["source"] = "".join(source) if isinstance(source, list) else source
    return cells


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def setup_cells(release: Path, todo: str) -> list[tuple[str, str]]:
    """The release's locked code cells before ``todo``'s solution cell, test cells excepted."""
    master = _cells(release)
    ids = [_grade_id(c) for c in master]
    return [
        ("setup", c["source"])
        for c in master[: ids.index(TODOS[todo].cell(todo))]
        if c["cell_type"] == "code"
        and c.get("metadata", {}).get("nbgrader", {}).get("locked")
        and not c["metadata"]["nbgrader"].get("grade")
    ]


def programs(notebook: Path, release: Path, assignment: str) -> dict[str, list | str]:
    """Per TODO of ``assignment``: the cells its isolated run executes, or why it cannot run.

    The release's setup cells before the TODO (imports, the notebook's helpers), the code
    cells the student added before it (tolerated if they fail), then the student's
    solution cell of that TODO alone.
    """
    mine = _cells(notebook)
    out: dict[str, list | str] = {}
    for todo, spec in TODOS.items():
        if spec.assignment != assignment:
            continue
        cell_id = spec.cell(todo)
        position = next((k for k, c in enumerate(mine) if _grade_id(c) == cell_id), None)
        if position is None or mine[position]["cell_type"] != "code":
            out[todo] = f"the solution cell {cell_id} is missing"
            continue
        added = [
            ("added", c["source"])
            for c in mine[:position]
            if c["cell_type"] == "code" and "nbgrader" not in c.get("metadata", {})
        ]
        out[todo] = [*setup_cells(release, todo), *added, ("solution", mine[position]["source"])]
    return out


def _namespaces() -> bool:
    """Whether this machine lets an unprivileged process hide folders and the network."""
    if not shutil.which("unshare"):
        return False
    done = subprocess.run(
        ["unshare", "-rmn", "mount", "-t", "tmpfs", "none", tempfile.gettempdir()],
        capture_output=True,
    )
    return done.returncode == 0


_WANTS: dict[tuple, list] = {}
_WANTS_LOCK = threading.Lock()
"""The pipeline judges submissions in threads, and the reference runs seed torch's global
generator (the tiny models' weights): one at a time, or they would draw each other's numbers."""


def _setup_namespace(cells: list) -> dict:
    """The release's setup cells run in the grader (they are the instructor's code)."""
    ns: dict[str, Any] = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for kind, source in cells:
            if kind == "setup":
                exec(compile(source, "<setup cell>", "exec"), ns)
    return ns


def _want(todo: str, cells: list, cases: list) -> list | None:
    """The reference's outputs on the cases (deterministic: computed once per process)."""
    spec = TODOS[todo]
    if not spec.reference:
        return None
    setup = tuple(source for kind, source in cells if kind == "setup")
    with _WANTS_LOCK:
        if (todo, setup) not in _WANTS:
            ns = reference_namespace(todo, _setup_namespace(cells) if spec.reference_steps else {})
            # The isolated runs use one thread (OMP_NUM_THREADS=1); so does the reference,
            # since convolutions sum in another order on more threads (1e-4 over 10 steps).
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                _WANTS[todo, setup] = spec.run(ns, cases)
            finally:
                torch.set_num_threads(threads)
        return _WANTS[todo, setup]


def judge_notebooks(
    notebooks: dict[Any, tuple[Path, Path, str]], hide: tuple[Path, ...] = ()
) -> dict[Any, dict[str, Verdict]]:
    """:func:`judge_notebook` for ``{key: (notebook, release, assignment)}`` at once.

    One isolated interpreter for all of them: torch (and for Part 2 diffusers) is imported
    once per batch, not once per submission, and every TODO still runs in its own fork.
    """
    out: dict[Any, dict[str, Verdict]] = {}
    runnable: dict[tuple, tuple[str, list]] = {}
    for key, (notebook, release, assignment) in notebooks.items():
        try:
            jobs = programs(notebook, release, assignment)
        except (OSError, ValueError, KeyError, TypeError) as error:
            out[key] = {
                todo: Verdict(False, f"the notebook could not be read ({error})")
                for todo, spec in TODOS.items()
                if spec.assignment == assignment
            }
            continue
        out[key] = {todo: Verdict(False, job) for todo, job in jobs.items() if isinstance(job, str)}
        runnable.update(
            {(key, todo): (todo, job) for todo, job in jobs.items() if not isinstance(job, str)}
        )
    for (key, todo), verdict in run_isolated(runnable, hide).items():
        out[key][todo] = verdict
    return out


def judge_notebook(
    notebook: Path, release: Path, assignment: str, hide: tuple[Path, ...] = ()
) -> dict[str, Verdict]:
    """The verdict on every autograded TODO of one submitted notebook, each run in isolation."""
    return judge_notebooks({None: (notebook, release, assignment)}, hide)[None]


def run_isolated(
    jobs: dict[str, tuple[str, list]], hide: tuple[Path, ...] = ()
) -> dict[str, Verdict]:
    """Run each job ``{key: (todo, cells)}`` in its own fork of one isolated interpreter."""
    if not jobs:
        return {}
    cases = {todo: TODOS[todo].cases() for todo, _ in jobs.values()}
    steps = (GRADING / "reference" / "diffusion_steps.py").read_text()
    with tempfile.TemporaryDirectory(prefix="judge-") as tmp:
        folder = Path(tmp)
        shutil.copy2(__file__, folder / "judge_child.py")
        names = {key: f"job{k}" for k, key in enumerate(jobs)}
        for key, (todo, cells) in jobs.items():
            (folder / names[key] / "cwd").mkdir(parents=True)
            torch.save(cases[todo], folder / names[key] / "cases.pt")
            job = {
                "todo": todo,
                "cells": cells,
                "steps": steps if TODOS[todo].reference_steps else "",
            }
            (folder / names[key] / "job.json").write_text(json.dumps(job))
        (folder / "jobs.json").write_text(json.dumps(list(names.values())))
        hidden = [str(p) for p in (*HIDDEN, *hide) if p.is_dir()]
        command = [sys.executable, "-I", str(folder / "judge_child.py"), str(folder)]
        if _namespaces():
            command = ["unshare", "-rmn", *command, *hidden]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", tmp),
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "NBGRADER_EXECUTION": "autograde",
            "COURSEKIT_MODE": "smoke",
            "COURSEKIT_RESULTS": str(folder / "results"),
        }
        try:
            done = subprocess.run(
                command, cwd=tmp, env=env, capture_output=True, timeout=TOTAL_SECONDS
            )
            report = json.loads(done.stdout or b"{}")
            failure = f"the isolated run failed: {done.stderr.decode(errors='replace')[-300:]}"
        except (subprocess.TimeoutExpired, ValueError) as error:
            report, failure = {}, f"the isolated run failed ({type(error).__name__})"
    verdicts = {}
    for key, (todo, cells) in jobs.items():
        entry = report.get(names[key])
        verdicts[key] = (
            Verdict(False, failure) if entry is None else _verdict(todo, cells, cases[todo], entry)
        )
    return verdicts


def _verdict(todo: str, cells: list, cases: list, entry: dict) -> Verdict:
    if entry["status"]:
        status = entry["status"]
        return Verdict(False, status, died=not status.startswith(("stopped after", "result over")))
    try:
        sent = torch.load(io.BytesIO(bytes.fromhex(entry["data"])), weights_only=True)
        if not isinstance(sent, dict) or set(sent) != {"outputs", "error"}:
            raise TypeError("not a result")
    except Exception as error:
        return Verdict(False, f"the outputs could not be read back as data ({error})")
    if sent["error"]:
        return Verdict(False, f"raised {sent['error']}"[:500])
    try:
        why = TODOS[todo].compare(cases, sent["outputs"], _want(todo, cells, cases))
    except Exception as error:  # outputs of the wrong kind or number
        why = f"unexpected outputs ({type(error).__name__}: {error})"
    return Verdict(why is None, why or "")


# --- the pipeline's hook -----------------------------------------------------------------


def apply_judge(work: Path, result: Any, notebook: Path, verdicts: dict[str, Verdict]) -> None:
    """Keep each TODO's points only where the in-kernel tests and the isolated judge agree.

    ``work`` is the worker's course directory (its gradebook holds the autograde), ``result``
    the pipeline's ``Result`` of this submission, ``verdicts`` the judge's on its notebook
    (:func:`judge_notebooks`). Every autograded test cell's manual score is
    set here: 0 where the judge disagrees, else cleared, so that a score the submission wrote
    into the gradebook while it ran is undone.
    """
    from nbgrader.api import Gradebook

    limit_outputs(work / "autograded" / result.student / result.assignment / notebook.name)
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook(notebook.stem, result.assignment, result.student)
        comments = {c.name: c for c in submission.comments}
        for grade in submission.grades:
            todo = grade.name.removeprefix("test_").replace("_", "-")
            if todo not in verdicts:
                continue
            verdict = verdicts[todo]
            passed = grade.auto_score is not None and grade.auto_score >= grade.max_score
            grade.manual_score = None if verdict.ok else 0.0
            # Grade.score is computed by the database: read it back only after the commit.
            result.scores[grade.name] = (grade.auto_score or 0.0) if verdict.ok else 0.0
            if passed and not verdict.ok:
                why = f"TODO {todo}: outputs differ from the reference when re-run in isolation ({verdict.reason})"
                result.notes.append(why)
                comment = comments.get(TODOS[todo].cell(todo))
                if comment is not None:
                    comment.manual_comment = (
                        f"Scored 0: the tests passed in your notebook, but this TODO's code, run on its "
                        f"own in a fresh Python, {_plain(verdict.reason)}."
                    )
            elif verdict.ok and not passed:
                result.notes.append(
                    f"TODO {todo}: the isolated run agrees with the reference, but the tests in the notebook failed"
                )
        gb.db.commit()


def _plain(reason: str) -> str:
    return (
        reason
        if reason.startswith(("raised", "killed", "segfault", "stopped"))
        else f"gives: {reason}"
    )


def neutralise_killers(notebook: Path, verdicts: dict[str, Verdict]) -> list[str]:
    """Replace each solution cell that kills its interpreter by one that raises, naming the cause.

    For a notebook whose kernel died under nbgrader (which then saves no grade at all): the
    judge runs each TODO's cell alone, so the cells whose runs die are the killers. Only
    those TODOs lose their points when the notebook is graded again (the other verdicts
    stand: no TODO's run includes another TODO's cell). Returns a note per cell.
    """
    killers = {
        TODOS[todo].cell(todo): verdict.reason for todo, verdict in verdicts.items() if verdict.died
    }
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if _grade_id(cell) in killers:
            cause = killers[_grade_id(cell)]
            cell["source"] = (
                f"raise RuntimeError({f'this cell killed the kernel during grading: {cause}'!r})"
            )
    notebook.write_text(json.dumps(nb, indent=1))
    return [
        f"{cell_id} killed the kernel ({cause}): graded again without it"
        for cell_id, cause in killers.items()
    ]


OUTPUT_BYTES = 64 << 10
"""Output kept per cell of an autograded notebook (and so of its feedback page): 64 KiB."""


def limit_outputs(path: Path, limit: int = OUTPUT_BYTES) -> None:
    """Cut every code cell's outputs to ``limit`` bytes of text, with a visible note."""
    if not path.is_file():
        return
    nb = json.loads(path.read_text())
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        kept, used, total = [], 0, 0
        for output in cell.get("outputs", []):
            size = len(json.dumps(output))
            total += size
            if used + size <= limit:
                kept.append(output)
                used += size
            elif output.get("output_type") == "stream" and used < limit:
                text = "".join(output.get("text", ""))
                kept.append({**output, "text": text[: limit - used]})
                used = limit
        if total > limit:
            note = (
                f"\n[output truncated: this cell wrote {total:,} bytes of output; "
                f"at most {limit >> 10} KiB per cell are kept]\n"
            )
            kept.append({"output_type": "stream", "name": "stderr", "text": note})
            cell["outputs"] = kept
            changed = True
    if changed:
        path.write_text(json.dumps(nb, indent=1))
