"""The multi-view loop against diffusers' IFPipeline, on tiny random IF components (stage I).

Both sides use the same UNet, scheduler, embeddings, seed, steps and thread count.
Targets: one identity view costs at most 1.05x the pipeline (the views, inversions and
reduction are cheap next to the UNet); two views cost less than 2x one view, because both
views go through the UNet in one batch. On a CPU a batch's cost grows almost linearly once
the UNet is compute-bound, so the second ratio is reported at two sizes: 16 px, where
per-call overhead dominates as it does for IF's UNets on a GPU, and 32 px.
"""

from __future__ import annotations

import torch

from benchmarks.timing import BenchResult, interleaved
from grading.authoring.reference import IdentityView, Rotate180View, denoising_loop
from helpers.illusions.sampler import sample_stage
from helpers.tiny_models import tiny_embeddings, tiny_stage_1

SIZES, STEPS, GUIDANCE = (16, 32), 10, 7.0


def run() -> list[BenchResult]:
    return [result for size in SIZES for result in _run(size)]


def _run(size: int) -> list[BenchResult]:
    pipe = tiny_stage_1(size)
    one, two = tiny_embeddings(prompts=1), tiny_embeddings(prompts=2)

    def ours(embeddings, views):
        return lambda: sample_stage(
            pipe,
            embeddings,
            views,
            denoising_loop,
            num_inference_steps=STEPS,
            guidance_scale=GUIDANCE,
            generator=torch.Generator().manual_seed(0),
            progress=False,
        )

    def anchor():
        return pipe(
            prompt_embeds=one.prompt_embeds,
            negative_prompt_embeds=one.negative_prompt_embeds,
            num_inference_steps=STEPS,
            guidance_scale=GUIDANCE,
            generator=torch.Generator().manual_seed(0),
            output_type="pt",
        )

    with torch.no_grad():
        identity, pipeline = interleaved(ours(one, [IdentityView()]), anchor, repeat=5)
        two_views, one_view = interleaved(
            ours(two, [IdentityView(), Rotate180View()]), ours(one, [IdentityView()]), repeat=5
        )
    setup = f"tiny IF stage I, {size}px, {STEPS} steps"
    return [
        BenchResult(
            f"loop, 1 identity view, {setup}",
            identity,
            pipeline,
            "IFPipeline (diffusers)",
            "ratio <= 1.05",
        ),
        BenchResult(
            f"loop, 2 views vs 1 view, {setup}",
            two_views,
            one_view,
            "our loop, 1 view",
            "ratio < 2.0",
        ),
    ]
