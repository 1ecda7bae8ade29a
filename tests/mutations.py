"""Planted bugs, correct rewrites and cheats of the autograded TODOs, judged in isolation.

    python -m tests.mutations      # judge them all and print the caught / kept / defeated table

Each entry changes one solution cell of the source notebooks' reference solutions:
``MUTANTS`` (bugs: the judge must fail that TODO), ``REWRITES`` (other correct code: the
judge must pass it) and ``CHEATS`` (code that passes, or tries to pass, the tests inside
the kernel without being right: the judge must fail it). A run judges only the changed
TODO: every TODO's isolated run executes its own solution cell and no other
(:func:`grading.autograde.judge.programs`), so a change costs no other TODO's points; the tests
check that too.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from grading.authoring.examples import SEED_REPORT, solutions
from grading.autograde import judge
from grading.autograde.checks import TOLERANCES
from grading.course import ASSIGNMENTS, LIMITS, source_notebook
from tests.hostile_submissions import HOSTILE


@dataclass(frozen=True)
class Change:
    todo: str
    what: str
    edits: tuple[tuple[str, str], ...] = ()
    """(text of the reference solution, replacement): each must occur once."""
    source: str | None = None
    """The whole solution cell instead (a rewrite or a cheat)."""

    def cell(self, reference: dict[str, str]) -> str:
        code = (
            reference[judge.TODOS[self.todo].cell(self.todo)]
            if self.source is None
            else self.source
        )
        for old, new in self.edits:
            if code.count(old) != 1:
                raise ValueError(f"{self.what}: {old!r} must occur once in TODO {self.todo}")
            code = code.replace(old, new)
        return code


M = Change
MUTANTS = [
    M("1-1-1", "cumulative sum, not product", (("torch.cumprod(alphas", "torch.cumsum(alphas"),)),
    M("1-1-1", "float32, not float64", (("return betas, alphas, alphas_bar", "return betas.float(), alphas.float(), alphas_bar.float()"),)),
    M("1-1-1", "schedule_kwargs dropped", (("(timesteps, **schedule_kwargs)", "(timesteps)"),)),
    M("1-1-1", "alphas_bar shifted by one step", (("torch.cumprod(alphas, dim=0)", "torch.cat([torch.ones(1, dtype=alphas.dtype), torch.cumprod(alphas, dim=0)[:-1]])"),)),
    M("1-1-2", "no square roots", (("alpha_bar_t.sqrt() * x_start + (1.0 - alpha_bar_t).sqrt()", "alpha_bar_t * x_start + (1.0 - alpha_bar_t)"),)),
    M("1-1-2", "timestep off by one", (("extract(alphas_bar, t, ", "extract(alphas_bar, (t - 1).clamp(min=0), "),)),
    M("1-1-2", "variance, not std, on the noise", (("(1.0 - alpha_bar_t).sqrt() * noise", "(1.0 - alpha_bar_t) * noise"),)),
    M("1-1-2", "draws its own noise", (("* noise", "* torch.randn_like(noise)"),)),
    M("1-1-3", "eta ignored (sigma = 0)", (("sigma = (\n        eta\n", "sigma = (\n        0.0\n"),)),
    M("1-1-3", "sigma, not sigma squared, in the direction", (("- sigma**2)", "- sigma)"),)),
    M("1-1-3", "alphas_bar[t] in place of alphas_bar[t_prev]", (("pred_x_start * alpha_bar_prev.sqrt()", "pred_x_start * alpha_bar_t.sqrt()"),)),
    M("1-1-3", "t_prev off by one", (("extract(alphas_bar, t_prev, ", "extract(alphas_bar, t_prev + 1, "),)),
    M("1-1-3", "the noise z never added", ((" + sigma * noise", ""),)),
    M("1-2-1", "trajectory not mapped to [0, 1]", (("unnormalize(torch.stack(imgs, dim=1))", "torch.stack(imgs, dim=1)"),)),
    M("1-2-1", "x_0 not clipped", (("clip_x_start=True", "clip_x_start=False"),)),
    M("1-2-1", "eta argument ignored", (("diffusion.ddim_sampling_eta if eta is None else eta", "diffusion.ddim_sampling_eta"),)),
    M("1-2-1", "z from the global generator", (("noise = torch.randn(shape, generator=generator)", "noise = torch.randn(shape)"),)),
    M("1-2-1", "x_T left out of the trajectory", (("imgs = [img]", "imgs = []"),)),
    M("1-2-1", "x_T left out of the figure only", (("plot_denoising_progress(trajectory, path", "plot_denoising_progress(trajectory[:, 1:], path"),)),
    M("1-2-1", "the figure with 4 columns", (("max_columns=11)", "max_columns=4)"),)),
    M("1-2-1", "the figure without the timesteps", (("times=diffusion.trajectory_times(), ", ""),)),
    M("1-2-1", "the figure never saved", (("plot_denoising_progress(trajectory, path,", "plot_denoising_progress(trajectory, None,"),)),
    M("1-2-2", "y axis not labelled", (('ax.set_ylabel("MSE loss")', "pass"),)),
    M("1-2-2", "only a running mean plotted", (("list(losses)", "(torch.tensor(losses).cumsum(0) / torch.arange(1, len(losses) + 1)).tolist()"),)),
    M("1-2-2", "first step dropped", (("list(losses)", "list(losses)[1:]"),)),
    M("1-2-2", "no figure returned", (("return fig", "return None"),)),
    M("2-1", "the same prompt twice", (('f"{STYLE} a snowy mountain village"', 'f"{STYLE} a horse"'),)),
    M("2-1", "one string, not a list", (('PROMPTS = [f"{STYLE} a snowy mountain village", f"{STYLE} a horse"]', 'PROMPTS = f"{STYLE} a horse"'),)),
    M("2-2", "half turn is a mirror", (("torch.flip(im, dims=(-2, -1))", "torch.flip(im, dims=(-1,))"), ("torch.flip(noise, dims=(-2, -1))", "torch.flip(noise, dims=(-1,))"))),
    M("2-2", "view not inverted", (("return torch.flip(noise, dims=(-2, -1))", "return noise"),)),
    M("2-2", "channel axis flipped", (("torch.flip(im, dims=(-2, -1))", "torch.flip(im, dims=(-3, -1))"),)),
    M("2-3", "unconditional variance kept", (("noise_uncond, _ = split", "noise_uncond, variance = split"), ("noise_cond, variance = split", "noise_cond, _ = split"))),
    M("2-3", "views not inverted", (("(invert_views(views, half) for half in pred.chunk(2))", "(half.reshape(len(views), -1, *half.shape[1:]) for half in pred.chunk(2))"),)),
    M("2-3", "reduction ignored (always the mean)", (("reduce_views(noise, reduction, i)", 'reduce_views(noise, "mean", i)'), ("reduce_views(variance, reduction, i)", 'reduce_views(variance, "mean", i)'))),
    M("2-3", "guidance halves swapped", (("classifier_free_guidance(noise_uncond, noise_cond, guidance_scale)", "classifier_free_guidance(noise_cond, noise_uncond, guidance_scale)"),)),
    M("2-3", "generator not passed to the scheduler", (("pred, t, noisy_images, generator=generator, return_dict=False", "pred, t, noisy_images, return_dict=False"),)),
]  # fmt: skip

REWRITES = [
    M("1-1-1", "a Python loop for the product", source="""def schedule_init(timesteps, beta_schedule, **schedule_kwargs):
    betas = get_beta_schedule(beta_schedule)(timesteps, **schedule_kwargs)
    alphas = 1.0 - betas
    alphas_bar = torch.empty_like(alphas)
    running = torch.ones((), dtype=alphas.dtype)
    for i in range(len(alphas)):
        running = running * alphas[i]
        alphas_bar[i] = running
    return betas, alphas, alphas_bar"""),
    M("1-1-1", "exp of a cumulative sum of logs", (("torch.cumprod(alphas, dim=0)", "torch.exp(torch.cumsum(torch.log(alphas), dim=0))"),)),
    M("1-1-2", "indexing and torch.sqrt", source="""def denoise_forward(alphas_bar, x_start, t, noise):
    a = alphas_bar[t].view(-1, 1, 1, 1)
    return torch.sqrt(a) * x_start + torch.sqrt(1 - a) * noise"""),
    M("1-1-2", "in-place updates", source="""def denoise_forward(alphas_bar, x_start, t, noise):
    a = extract(alphas_bar, t, x_start.shape)
    out = x_start.clone()
    out.mul_(a.sqrt())
    out.add_(noise * (1 - a).sqrt())
    return out"""),
    M("1-1-3", "sigma squared written out, ** 0.5", source="""def denoise_backward(alphas_bar, pred_x_start, pred_noise, t, t_prev, noise, eta):
    a_t = alphas_bar[t].reshape(-1, 1, 1, 1)
    a_prev = alphas_bar[t_prev].reshape(-1, 1, 1, 1)
    var = eta**2 * (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    return a_prev**0.5 * pred_x_start + (1 - a_prev - var) ** 0.5 * pred_noise + var**0.5 * noise"""),
    M("1-1-3", "the seed report's algebra", source=SEED_REPORT["part1"]["todo_1_1_3"]),
    M("1-2-1", "per-step unnormalize, torch.no_grad", source="""@torch.no_grad()
def sample_with_progress(diffusion, batch_size, eta=None, generator=None, path="denoising_progress.png"):
    if eta is None:
        eta = diffusion.ddim_sampling_eta
    shape = (batch_size, diffusion.channels, *diffusion.image_size)
    x = torch.randn(shape, generator=generator).to(diffusion.device)
    states = [unnormalize(x)]
    for t, t_prev in diffusion.ddim_time_pairs():
        tt = torch.full((batch_size,), t, dtype=torch.long, device=diffusion.device)
        eps, x0 = diffusion.model_predictions(x, tt, None, clip_x_start=True, rederive_pred_noise=True)
        if t_prev >= 0:
            z = torch.randn(shape, generator=generator).to(diffusion.device)
            x = diffusion.steps.denoise_backward(diffusion.alphas_bar, x0, eps, tt, torch.full_like(tt, t_prev), z, eta)
        else:
            x = x0
        states.append(unnormalize(x))
    trajectory = torch.stack(states, dim=1)
    plot_denoising_progress(trajectory, path, times=diffusion.trajectory_times(), max_columns=11)
    return trajectory[:, -1], trajectory"""),
    M("1-2-1", "the seed report's loop", source=SEED_REPORT["part1"]["todo_1_2_1"]),
    M("1-2-2", "pyplot state machine plus a smoothed line", source="""def plot_losses(losses):
    fig = plt.figure()
    plt.plot(losses)
    smooth = torch.tensor(losses).cumsum(0) / torch.arange(1, len(losses) + 1)
    plt.plot(smooth.tolist(), label="running mean")
    plt.xlabel("step")
    plt.ylabel("loss")
    return fig"""),
    M("2-1", "a tuple of prompts", source='PROMPTS = ("a lithograph of a waterfall", "a lithograph of an old man")'),
    M("2-2", "torch.rot90", source="""class IdentityView(views.IdentityView):
    def view(self, im):
        return im.clone()

    def inverse_view(self, noise):
        return noise[...]


class Rotate180View(views.Rotate180View):
    def view(self, im):
        return torch.rot90(im, 2, dims=(-2, -1))

    def inverse_view(self, noise):
        return torch.rot90(noise, -2, dims=(-2, -1))"""),
    M("2-2", "torchvision's rotate (the seed report)", source=SEED_REPORT["part2"]["todo_2_2"]),
    M("2-2", "two single-axis flips", (("torch.flip(im, dims=(-2, -1))", "im.flip(-1).flip(-2)"),)),
    M("2-2", "two of the kit's quarter turns (the TODO allows it)", (("return torch.flip(im, dims=(-2, -1))", "return views.Rotate90CWView().view(views.Rotate90CWView().view(im)) if im.shape[-1] == im.shape[-2] else torch.flip(im, dims=(-2, -1))"),)),
    M("2-2", "the kit's two flips (the TODO allows it)", (("return torch.flip(noise, dims=(-2, -1))", "return views.HorizontalFlipView().view(views.VerticalFlipView().view(noise))"),)),
    M("2-3", "guidance as s * cond + (1 - s) * uncond", (("classifier_free_guidance(noise_uncond, noise_cond, guidance_scale)", "noise_cond * guidance_scale + noise_uncond * (1 - guidance_scale)"),)),
    M("2-3", "the views applied and inverted by hand", (("viewed = apply_views(views, x)", "viewed = torch.cat([v.view(x) for v in views])"), ("(invert_views(views, half) for half in pred.chunk(2))", "(torch.stack([v.inverse_view(p) for v, p in zip(views, half.chunk(len(views)))]) for half in pred.chunk(2))"))),
]  # fmt: skip


def _hostile(todo: str, what: str) -> Change:
    """A cheat of the ``cheats`` example submission (graded end to end in tests/test_grading.py)."""
    cell = judge.TODOS[todo].cell(todo)
    return Change(
        todo, what, tuple((old, new) for c, old, new in HOSTILE["part1"]["cheats"] if c == cell)
    )


CHEATS = [
    _hostile("1-1-3", "the reference through sys.modules, name split in two"),
    _hostile("1-1-1", "replaces torch.testing.assert_close, right only for T = 1000"),
    M("1-1-2", "reads the reference from the test's frame", source='''import inspect


def denoise_forward(alphas_bar, x_start, t, noise):
    for info in inspect.stack():
        ref = info.frame.f_locals.get("reference")
        if isinstance(ref, dict) and ref.get("denoise_forward") not in (None, denoise_forward):
            return ref["denoise_forward"](alphas_bar, x_start, t, noise)
    return x_start'''),
    M("1-1-2", "constant random numbers while the tests draw cases", source='''import torch

_randn, _rand = torch.randn, torch.rand
torch.randn = lambda *a, **k: torch.zeros_like(_randn(*a, **k))
torch.rand = lambda *a, **k: torch.full_like(_rand(*a, **k), 0.5)


def denoise_forward(alphas_bar, x_start, t, noise):
    a = extract(alphas_bar, t, x_start.shape)
    return a * x_start + (1 - a) * noise'''),
    _hostile("1-2-2", "writes into the gradebook above its folder"),
    M("2-2", "reads the reference solution from the repository's files", source='''from pathlib import Path

import helpers

_ref = Path(helpers.__file__).parents[1] / "grading" / "authoring" / "reference" / "views.py"
if _ref.is_file():
    exec(_ref.read_text().replace("from helpers.illusions import views", ""))
else:
    class IdentityView(views.IdentityView):
        def view(self, im):
            return im

        def inverse_view(self, noise):
            return noise

    class Rotate180View(views.Rotate180View):
        def view(self, im):
            return im

        def inverse_view(self, noise):
            return noise'''),
    M("1-2-2", "the kit's plot_losses from its source, run afresh", source="""import sys

_ns = {}
_path = sys.modules["helpers." + "fig" + "ures"].__file__
exec(compile(open(_path).read(), _path, "exec"), _ns)
plot_losses = _ns["plot_" + "losses"]"""),
    M("1-2-1", "the kit's sampler through getattr, names split", source="""def sample_with_progress(diffusion, batch_size, eta=None, generator=None, path="denoising_progress.png"):
    shape = (batch_size, diffusion.channels, *diffusion.image_size)
    run = getattr(diffusion, "ddim" + "_sample")
    trajectory = run(shape, eta=eta, generator=generator, progress=False, **{"return_all" + "_timesteps": True})
    plot_denoising_progress(trajectory, path, times=diffusion.trajectory_times(), max_columns=11)
    return trajectory[:, -1], trajectory"""),
    M("1-1-1", "the kit's stand-in schedule", source="""from helpers.tiny_models import stand_in_steps


def schedule_init(timesteps, beta_schedule, **schedule_kwargs):
    return stand_in_steps().schedule_init(timesteps, beta_schedule, **schedule_kwargs)"""),
    M("2-2", "the view library's source, run afresh, for a half turn", source="""import sys

_ns = {}
_path = sys.modules["helpers.illusions." + "views"].__file__
exec(compile(open(_path).read(), _path, "exec"), _ns)


class IdentityView(views.IdentityView):
    def view(self, im):
        return im

    def inverse_view(self, noise):
        return noise


class Rotate180View(_ns["Rotation" + "View"](2).__class__):
    pass"""),
    M("1-1-2", "replaces how the judge calls it", source="""import sys


def denoise_forward(alphas_bar, x_start, t, noise):
    return x_start


if "grading.autograde.todo_runs" in sys.modules:
    sys.modules["grading.autograde.todo_runs"].RUNS["1-1-2"] = lambda ns, cases, folder: [c[2] for c in cases]"""),
    M("1-1-3", "kills its interpreter", source="""import os

os.kill(os.getpid(), 9)"""),
    M("2-3", "calls sys.exit", source="""import sys

sys.exit(0)"""),
    M("1-2-1", "writes a 100 MB file", source="""with open("big.bin", "wb") as f:
    f.write(b"x" * (100 << 20))"""),
]  # fmt: skip


def reference_cells() -> dict[str, dict[str, str]]:
    """The reference solution cell of every TODO, per assignment."""
    return {a: solutions(source_notebook(a)) for a in ASSIGNMENTS}


def jobs(changes: list[Change]) -> dict[str, tuple[str, list]]:
    """One isolated job per change: the source notebook's setup cells and the changed cell."""
    reference = reference_cells()
    out = {}
    for k, change in enumerate(changes):
        assignment = judge.TODOS[change.todo].assignment
        setup = judge.setup_cells(source_notebook(assignment), change.todo)
        out[f"{k}: {change.what}"] = (
            change.todo,
            [*setup, ("solution", change.cell(reference[assignment]))],
        )
    return out


def judge_all() -> dict[str, list[tuple[Change, judge.Verdict]]]:
    everything = {"mutants": MUTANTS, "rewrites": REWRITES, "cheats": CHEATS}
    flat = [c for changes in everything.values() for c in changes]
    # One sandbox for every change: room for all their outputs (a submission's fit in 64 MiB).
    limits = dataclasses.replace(LIMITS, output_bytes=1 << 30)
    verdicts = [v for v, _ in judge.run_in_sandbox(jobs(flat), limits=limits).values()]
    out, k = {}, 0
    for kind, changes in everything.items():
        out[kind] = list(zip(changes, verdicts[k : k + len(changes)], strict=True))
        k += len(changes)
    return out


def errors() -> dict[str, dict[str, float]]:
    """Per TODO with a tolerance: the largest ratio (error / what its tolerance allows) of a
    correct rewrite, and the smallest of a planted bug whose outputs differ in number (a
    bug with equal numbers, such as a figure without labels, is caught by another check;
    inf: not comparable)."""
    changes = [*MUTANTS, *REWRITES]
    limits = dataclasses.replace(LIMITS, output_bytes=1 << 30)
    entries, _ = judge.run_jobs(jobs(changes), limits=limits)
    out: dict[str, dict[str, float]] = {}
    for change, entry in zip(changes, entries.values(), strict=True):
        tolerance = TOLERANCES.get(change.todo)
        got, why = judge.outputs(entry) if entry else (None, "no report")
        if tolerance is None or why:
            continue
        want = judge.reference_outputs(change.todo)
        ratio = max(
            (tolerance.ratio(m, r) for m, r in zip(_tensors(got), _tensors(want), strict=False)),
            default=math.inf,
        )
        if len(_tensors(got)) != len(_tensors(want)):
            ratio = math.inf
        kind = "bugs" if change in MUTANTS else "rewrites"
        row = out.setdefault(change.todo, {"rewrites": 0.0, "bugs": math.inf})
        if kind == "rewrites":
            row[kind] = max(row[kind], ratio)
        elif ratio > 0:
            row[kind] = min(row[kind], ratio)
    return out


def _tensors(value) -> list:
    """Every tensor in an output, in order (the figure contents of 1-2-1 included)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for key in sorted(value) for t in _tensors(value[key])]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _tensors(item)]
    return []


def table(results: dict[str, list[tuple[Change, judge.Verdict]]]) -> str:
    """Markdown: one row per change, what the judge said, and whether that is right."""
    rows = ["| set | TODO | change | judge | outcome |", "|---|---|---|---|---|"]
    want = {"mutants": ("caught", False), "rewrites": ("kept", True), "cheats": ("defeated", False)}
    for kind, pairs in results.items():
        word, ok = want[kind]
        for change, verdict in pairs:
            said = "pass" if verdict.ok else "fail: " + verdict.reason.replace("|", "/")[:90]
            rows.append(
                f"| {kind} | {change.todo} | {change.what} | {said} | {word if verdict.ok == ok else 'MISSED'} |"
            )
    return "\n".join(rows)


def main() -> int:
    start = time.perf_counter()
    if "--errors" in sys.argv:
        print("| TODO | rtol | atol | largest ratio of a rewrite | smallest ratio of a bug |")
        print("|---|---|---|---|---|")
        for todo, row in sorted(errors().items()):
            t = TOLERANCES[todo]
            print(
                f"| {todo} | {t.rtol:g} | {t.atol:g} | {row['rewrites']:.3g} | {row['bugs']:.3g} |"
            )
        return 0
    results = judge_all()
    print(table(results))
    print(
        f"\n{sum(map(len, results.values()))} changes judged in {time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
