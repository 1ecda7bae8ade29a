"""The Part 2 notebook's models for its mode, behind one call: :func:`illusion_models`.

* **full**: DeepFloyd IF stage I and II (:mod:`helpers.illusions.models`), prompts embedded
  by T5-XXL in a process of its own (:mod:`helpers.illusions.embeddings`), CLIP ViT-B/32;
* **smoke**: the kit's toy IF and toy CLIP (:mod:`helpers.illusions.toy_models`), trained
  on the toy world, which knows only its classes: a prompt it cannot draw is replaced by a
  pair of classes that share their layout (:data:`helpers.toy_world.ANAGRAM_PAIRS`), and
  the notebook says so.

Both give the same objects (IF pipelines, :class:`PromptEmbeddings`, a
:class:`~helpers.metrics.ClipScorer`), so the notebook's sampling, figures and scores run
the same code in either mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from helpers.illusions.models import PromptEmbeddings
from helpers.metrics import ClipScorer

__all__ = ["SMOKE_STEPS", "SMOKE_GUIDANCE", "IllusionModels", "illusion_models"]

SMOKE_STEPS = (30, 15)
"""The toy stages' denoising steps: the toy IF is cheap, and fewer steps blur its shapes."""
SMOKE_GUIDANCE = 4.0
"""The toy IF's guidance scale: above about 7 its colours wash out."""


@dataclass
class IllusionModels:
    """What the notebook samples and scores with, for one mode."""

    mode: str
    stage_1: Any
    stage_2: Any
    num_inference_steps: tuple[int, int]
    guidance_scale: float
    hyper: dict
    results: Path
    toy: Any = None  # the toy IF (smoke mode)

    def embed(self, prompts: list[str], toy_pair: tuple[str, str]) -> PromptEmbeddings:
        """The prompts' embeddings; in smoke mode, ``toy_pair``'s captions unless the toy knows ``prompts``."""
        negative = self.hyper["negative_prompt"]
        if self.mode == "full":
            from helpers.illusions.embeddings import EMBEDDINGS_NAME, prompt_embeddings

            return prompt_embeddings(
                list(prompts),
                self.results / EMBEDDINGS_NAME,
                negative_prompt=negative,
                model=self.hyper["stage_1"],
            )
        from helpers.illusions.toy_models import toy_prompts
        from helpers.toy_world import CLASSES, WORDINGS

        known = {WORDINGS[0].format(name) for name in CLASSES}
        if not set(prompts) <= known:
            drawn = toy_prompts(toy_pair)
            print(
                f"smoke mode: the toy IF draws only {', '.join(sorted(known))}; drawing {drawn} "
                f"instead of {list(prompts)}"
            )
            prompts = drawn
        return self.toy.embed(list(prompts), negative)

    def clip(self) -> ClipScorer:
        """The CLIP that scores the result: ViT-B/32 (``hyper["clip"]``), or the toy CLIP."""
        if self.mode == "full":
            return ClipScorer(self.hyper["clip"])
        from helpers.illusions.toy_models import TOY_CLIP, load_toy_clip

        model, processor = load_toy_clip()
        return ClipScorer(
            f"toy CLIP ({TOY_CLIP.path.name}, smoke mode)", model=model, processor=processor
        )


def illusion_models(mode: str, hyper: dict, results: str | Path) -> IllusionModels:
    """IF's two stages for ``mode`` (``"full"`` or ``"smoke"``) with the notebook's ``hyper``-parameters.

    Full mode loads ``hyper["stage_1"]`` and ``hyper["stage_2"]`` and samples with
    ``hyper``'s steps and guidance; smoke mode loads the shipped toy IF, with
    :data:`SMOKE_STEPS` and :data:`SMOKE_GUIDANCE`.
    """
    results = Path(results)
    if mode == "full":
        from helpers.illusions.models import load_stage_1, load_stage_2

        return IllusionModels(
            mode,
            load_stage_1(hyper["stage_1"]),
            load_stage_2(hyper["stage_2"]),
            tuple(hyper["num_inference_steps"]),
            hyper["guidance_scale"],
            hyper,
            results,
        )
    from helpers.illusions.toy_models import TOY_IF, load_toy_if

    torch.set_num_threads(1)  # toy networks: threads cost more than they save
    toy = load_toy_if()
    print(
        f"smoke mode: the toy IF ({TOY_IF.path.name}, trained on a CPU) and the toy CLIP; "
        f"{SMOKE_STEPS} steps, guidance {SMOKE_GUIDANCE}; toy CLIP scores are on their own scale "
        "(the 0.30 baseline is full mode's)"
    )
    return IllusionModels(
        mode, toy.stage_1, toy.stage_2, SMOKE_STEPS, SMOKE_GUIDANCE, hyper, results, toy
    )
