"""`make demo`: the kit's main job, end to end on a CPU with nothing downloaded.

1. releases both assignments (``nbgrader generate_assignment``, then ``validate --invert``:
   the student versions must fail their own tests);
2. runs both source notebooks, which hold the reference solution, top to bottom in smoke
   mode (Part 1: a few training steps of a tiny UNet on the toy faces, then pictures and
   scores of the kit's pretrained toy model, :mod:`helpers.pretrained`; Part 2: the kit's
   toy IF and toy CLIP, :mod:`helpers.illusions.toy_models`, whose scores of each view
   for its own prompt and the other prompt are printed), so every figure a student
   produces is written, next to the executed notebooks;
3. autogrades the example submissions in ``grading/submitted/`` and prints the grade table.

Steps 2 and 3 run side by side (the notebooks from the start, the autograde once the
release is there).

    python -m grading.demo --out outputs/demo
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grading.autograde import batch as pipeline
from grading.autograde import sandbox
from grading.course import REPO, source_notebook
from grading.distribute.release import release
from grading.nbgrader_commands import kernel_env

# What each notebook writes in smoke mode, relative to its results folder.
FIGURES = {
    "part1": [
        "loss_curve.png",
        "denoising_progress.png",
        "samples/",
        "scores.json",
        "submission_part1.zip",
    ],
    "part2": [
        "stage_1.png",
        "illusion.png",
        "views.png",
        "illusion.gif",
        "scores.json",
        "hybrid.png",
        "hybrid_views.png",
    ],
}
MEASURED = 16
"""Stage I anagrams the demo scores, as the tests do (one batched run, seed 0)."""


def smoke_env(results: Path, **overrides: str) -> dict[str, str]:
    """A kernel environment (:func:`grading.autograde.batch.kernel_env`) for a run in smoke mode.

    Not grading, so training and sampling run; everything the notebook writes goes to
    ``results``. ``overrides`` replace any variable (the browser test's matplotlib backend).
    """
    env = kernel_env()
    env.pop("NBGRADER_EXECUTION", None)
    env.update(COURSEKIT_MODE="smoke", COURSEKIT_RESULTS=str(Path(results).resolve()))
    env.update(overrides)
    return env


def run_notebook(assignment: str, out: Path, timeout: int = 900) -> Path:
    """Execute ``notebooks/<assignment>`` in smoke mode; the executed copy and figures go to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    source = source_notebook(assignment)
    env = smoke_env(out)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            f"--ExecutePreprocessor.timeout={timeout}",
            "--output-dir",
            str(out),
            str(source),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise pipeline.PipelineError(f"{source.name} failed in smoke mode:\n{done.stderr[-4000:]}")
    return out / source.name


def smoke_scores(results: Path) -> str:
    """Part 1's smoke-mode scores, samples against pure noise, as one line."""
    scores = json.loads((results / "scores.json").read_text())

    def afd(rate: float | None) -> str:
        return "skipped (no cascade)" if rate is None else f"{100 * rate:.1f} %"

    return (
        f"FID {scores['fid']:.1f} vs {scores['noise']['fid']:.1f} for pure noise "
        f"({scores['fid_network']}); AFD {afd(scores['afd'])} vs {afd(scores['noise']['afd'])}"
    )


def toy_clip_scores(results: Path) -> str:
    """Part 2's smoke-mode illusion scored by the toy CLIP: each view for its own prompt next
    to the other prompt's, and the same for pure noise, as lines; then how many of
    :data:`MEASURED` stage I anagrams (the reference views and loop) and pure-noise pictures
    read right in both views, as ``tests/test_illusions_toy.py`` measures them."""
    import torch

    from grading.authoring.reference import IdentityView, Rotate180View, denoising_loop
    from helpers.illusions.toy_models import TOY_CLIP, count_read_right, load_toy_clip, load_toy_if
    from helpers.metrics import ClipScorer

    prompts = [row["prompt"] for row in json.loads((results / "scores.json").read_text())]
    model, processor = load_toy_clip()
    scorer = ClipScorer(TOY_CLIP.path.name, model=model, processor=processor, device="cpu")
    views = [IdentityView(), Rotate180View()]
    noise = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    lines = []
    for what, image in (("illusion", results / "illusion.png"), ("pure noise", noise)):
        matrix = scorer.view_matrix(image, views, prompts)
        cells = [
            f"{type(view).__name__} {matrix[i, i]:.3f} for {prompts[i]!r} vs "
            f"{matrix[i, 1 - i]:.3f} for {prompts[1 - i]!r}"
            for i, view in enumerate(views)
        ]
        lines.append(f"  part2 toy CLIP   {what + ':':<12}{'; '.join(cells)}")
    anagrams = load_toy_if().sample(prompts, views, denoising_loop, images=MEASURED)
    noises = torch.randn(MEASURED, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    read = [count_read_right(scorer, batch, views, prompts) for batch in (anagrams, noises)]
    lines.append(
        f"  part2 toy CLIP   both views read right: {read[0]} of {MEASURED} stage I anagrams, "
        f"{read[1]} of {MEASURED} pure-noise pictures"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", default="outputs/demo", type=Path)
    parser.add_argument("--workers", type=int, default=2, help="autograding workers")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    lines = []
    # The examples are the kit's own, trusted notebooks: without bubblewrap the demo still
    # grades them (say so, before any work); `make autograde` refuses to grade without it.
    try:
        sandbox.check()
        use_sandbox = True
    except sandbox.SandboxUnavailable as error:
        print(f"note: grading the kit's own examples without a sandbox ({error})", flush=True)
        use_sandbox = False

    def stamp(what: str) -> None:
        print(f"[{time.perf_counter() - start:4.0f} s] {what}", flush=True)

    try:
        # The notebooks need nothing of the release and the autograde needs only the
        # release: all three run side by side, single-threaded each, so every core works.
        with ThreadPoolExecutor(max_workers=len(pipeline.ASSIGNMENTS) + 1) as pool:
            runs = {
                assignment: pool.submit(run_notebook, assignment, args.out / assignment)
                for assignment in pipeline.ASSIGNMENTS
            }
            for path in release().values():
                lines.append(f"  release          {path}")
            stamp("released and validated")
            grading = pool.submit(pipeline.autograde, workers=args.workers, use_sandbox=use_sandbox)
            for assignment, run in runs.items():
                executed = run.result()
                lines.append(f"  {assignment} notebook   {executed}")
                for name in FIGURES[assignment]:
                    lines.append(f"  {assignment} output     {executed.parent / name}")
                if assignment == "part1":
                    lines.append(f"  part1 scores     {smoke_scores(executed.parent)}")
                else:
                    lines.append(toy_clip_scores(executed.parent))
                stamp(f"ran {executed.name}")
            results = grading.result()
    except pipeline.PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"[{time.perf_counter() - start:4.0f} s] autograded {len(results)} submissions\n")
    print(pipeline.format_table(results))
    lines += [
        f"  grades           {pipeline.COURSE / 'grades.csv'}",
        f"  feedback         {pipeline.COURSE / 'feedback'}/<student>/<assignment>/",
    ]
    print(f"\nDemo finished in {time.perf_counter() - start:.0f} s:")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.exit(main())
