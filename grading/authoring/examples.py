"""Example submissions, built from the releases and the source notebooks' solutions.

    python -m grading.authoring.examples    # rewrite grading/submitted/ (the shipped four)

Shipped in ``grading/submitted/<student>/<assignment>/``, for both assignments:

* ``reference``: every TODO holds the source notebook's solution: full marks.
* ``untouched``: the release as a student receives it: zero for every TODO.
* ``planted_bugs``: the reference with two bugs per part, which score those TODOs zero
  (their feedback shows the failing test's message): in Part 1, TODO 1-1-2 (no square
  roots) and TODO 1-2-1 (the trajectory is not mapped to [0, 1]); in Part 2, TODO 2-2
  (the half turn is a left-right mirror) and TODO 2-3 (the unconditional variance is kept).

* ``seed_report``: the code of the seed report (``../shared/seed/``), adapted only to the
  kit's names and signatures (functions of the TODO's arguments instead of methods, the
  kit's ``extract`` for per-image timesteps, the kit's progress figure and ``path``, a
  returned figure instead of ``plt.show()``): its Part 1 TODOs, its prompts and its
  TODO 2-2 (``torchvision``'s ``rotate(im, 180)``); its TODO 2-3 is incomplete in the
  report, so the reference's stands in. Full marks.

"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable
from pathlib import Path

import nbformat

from grading import notebook_format as nbcells
from grading.course import ASSIGNMENTS, SUBMITTED, released_notebook, source_notebook

# (solution cell, text in the reference solution, replacement): each must match once.
Edit = tuple[str, str, str]

EXAMPLES: dict[str, dict[str, list[Edit] | None]] = {
    "part1": {
        "reference": [],
        "seed_report": [],
        "untouched": None,
        "planted_bugs": [
            (
                "todo_1_1_2",
                "alpha_bar_t.sqrt() * x_start + (1.0 - alpha_bar_t).sqrt() * noise",
                "alpha_bar_t * x_start + (1.0 - alpha_bar_t) * noise",
            ),
            (
                "todo_1_2_1",
                "trajectory = unnormalize(torch.stack(imgs, dim=1))",
                "trajectory = torch.stack(imgs, dim=1)",
            ),
        ],
    },
    "part2": {
        "reference": [],
        "seed_report": [],
        "untouched": None,
        "planted_bugs": [
            (
                "todo_2_2",
                "return torch.flip(im, dims=(-2, -1))",
                "return torch.flip(im, dims=(-1,))",
            ),
            (
                "todo_2_2",
                "return torch.flip(noise, dims=(-2, -1))",
                "return torch.flip(noise, dims=(-1,))",
            ),
            (
                "todo_2_3",
                "noise_uncond, _ = split_noise_variance(uncond, channels)",
                "noise_uncond, variance = split_noise_variance(uncond, channels)",
            ),
            (
                "todo_2_3",
                "noise_cond, variance = split_noise_variance(cond, channels)",
                "noise_cond, _ = split_noise_variance(cond, channels)",
            ),
        ],
    },
}

SEED_REPORT: dict[str, dict[str, str]] = {
    "part1": {
        "todo_1_1_1": """def schedule_init(timesteps, beta_schedule, **schedule_kwargs):
    beta_schedule_fn = get_beta_schedule(beta_schedule)
    betas = beta_schedule_fn(timesteps, **schedule_kwargs)
    alphas = 1.0 - betas
    alphas_bar = torch.cumprod(alphas, dim=0)
    return betas, alphas, alphas_bar""",
        "todo_1_1_2": """def denoise_forward(alphas_bar, x_start, t, noise):
    alphas_bar_t = extract(alphas_bar, t, x_start.shape)
    mean = torch.sqrt(alphas_bar_t) * x_start
    std = torch.sqrt(1.0 - alphas_bar_t)
    return mean + std * noise""",
        "todo_1_1_3": """def denoise_backward(alphas_bar, pred_x_start, pred_noise, t, t_prev, noise, eta):
    alpha_bar_t = extract(alphas_bar, t, pred_x_start.shape)
    alpha_bar_t_prev = extract(alphas_bar, t_prev, pred_x_start.shape)
    var = (eta**2) * (1.0 - alpha_bar_t_prev)/(1.0 - alpha_bar_t) * (1.0 - alpha_bar_t/alpha_bar_t_prev)
    mean = torch.sqrt(alpha_bar_t_prev)*pred_x_start + torch.sqrt(1.0-alpha_bar_t_prev-var) * pred_noise
    return mean + torch.sqrt(var)*noise""",
        "todo_1_2_1": """@torch.inference_mode()
def sample_with_progress(diffusion, batch_size, eta=None, generator=None, path="denoising_progress.png"):
    eta = diffusion.ddim_sampling_eta if eta is None else eta
    batch, device = batch_size, diffusion.device
    shape = (batch, diffusion.channels, *diffusion.image_size)
    img = torch.randn(shape, generator=generator).to(device)
    imgs = [img]
    for time, time_prev in diffusion.ddim_time_pairs():
        time_cond = torch.full((batch,), time, device = device, dtype = torch.long)
        pred_noise, x_start, *_ = diffusion.model_predictions(img, time_cond, None, clip_x_start = True, rederive_pred_noise = True)
        if time_prev < 0:
            img = x_start
        else:
            noise = torch.randn(shape, generator=generator).to(device)
            prev_cond = torch.full((batch,), time_prev, device = device, dtype = torch.long)
            img = diffusion.steps.denoise_backward(diffusion.alphas_bar, x_start, pred_noise, time_cond, prev_cond, noise, eta)
        imgs.append(img)
    ret = unnormalize(torch.stack(imgs, dim = 1))
    plot_denoising_progress(ret, path, times=diffusion.trajectory_times(), max_columns=11)
    return ret[:, -1], ret""",
        "todo_1_2_2": """def plot_losses(losses):
    fig = plt.figure()
    plt.plot(losses, label='Loss')
    plt.xlabel('Iteration')
    plt.ylabel('Loss')
    plt.legend()
    plt.grid(True)
    return fig""",
    },
    "part2": {
        "todo_2_1": """PROMPTS = [
    "A cyberpunk-style alien spaceship hovers above a rural Earth farm. In the foreground, aliens "
    "exit the ship and capture a horse and a cow for food. The background shows a glowing city "
    "skyline with neon lights and flying drones.",
    "In a futuristic city, people drive flying cars above the roads. The sky is filled with bright "
    "aerial highways, while the ground level is lined with glowing skyscrapers and digital "
    "billboards. The scene is viewed from a rooftop at sunset.",
]""",
        "todo_2_2": """import torchvision.transforms as T


class IdentityView(views.IdentityView):
    def view(self, im):
        return im

    def inverse_view(self, noise):
        return noise


class Rotate180View(views.Rotate180View):
    def view(self, im):
        return T.functional.rotate(im, 180)

    def inverse_view(self, noise):
        return T.functional.rotate(noise, 180)""",
    },
}
"""The seed report's own code per solution cell (the rest of ``seed_report`` is the reference)."""


REPORTS = {
    "part1": "FID: 72.38, AFD: 94.30 % (example submission {name!r})",
    "part2": "Prompts: an oil painting of a snowy mountain village / of a horse; "
    "CLIP: 0.3487, 0.3574 (example submission {name!r})",
}


def solutions(source: Path) -> dict[str, str]:
    """The source notebook's solution cells without the BEGIN / END SOLUTION lines."""
    nb = nbformat.read(source, as_version=4)
    out = {}
    for cell in nb.cells:
        meta = nbcells.nbgrader(cell)
        if meta.get("solution") and cell.cell_type == "code":
            lines = [
                line
                for line in cell.source.splitlines()
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
            ]
            out[meta["grade_id"]] = "\n".join(lines)
    return out


def build(
    assignment: str, release: Path, edits: list[Edit] | None, name: str
) -> nbformat.NotebookNode:
    """The release with its solution cells filled in (``edits`` None: left untouched)."""
    nb = nbformat.read(release, as_version=4)
    if edits is None:
        return nb
    code = solutions(source_notebook(assignment))
    if name == "seed_report":
        code.update(SEED_REPORT[assignment])
    for cell_id, old, new in edits:
        if code[cell_id].count(old) != 1:
            raise ValueError(f"{name}: {old!r} must occur once in the solution of {cell_id}")
        code[cell_id] = code[cell_id].replace(old, new)
    for cell in nb.cells:
        grade_id = nbcells.grade_id(cell)
        if grade_id in code:
            cell.source = code[grade_id]
        elif grade_id == nbcells.RESULTS_CELL:
            cell.source = REPORTS[assignment].format(name=name)
    return nb


def write_submissions(
    out: Path,
    releases: dict[str, Path] | None = None,
    extra: dict[str, dict[str, list[Edit] | None]] | None = None,
    build: Callable[[str, Path, list[Edit] | None, str], nbformat.NotebookNode] = build,
) -> list[Path]:
    """Write ``out/<student>/<assignment>/<notebook>.ipynb`` for each example, and for each
    of ``extra`` (more submissions per assignment, made by ``build``)."""
    releases = releases or {a: released_notebook(a) for a in ASSIGNMENTS}
    paths = []
    for assignment, release in releases.items():
        if not release.is_file():
            raise FileNotFoundError(f"no release at {release}: run `make release` first")
        chosen = {**EXAMPLES[assignment], **(extra or {}).get(assignment, {})}
        for name, edits in chosen.items():
            path = out / name / assignment / release.name
            path.parent.mkdir(parents=True, exist_ok=True)
            nb = build(assignment, release, copy.deepcopy(edits), name)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.authoring.examples", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=SUBMITTED)
    args = parser.parse_args(argv)
    for path in write_submissions(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
