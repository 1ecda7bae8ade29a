r"""CLIP score: how well an image matches its prompt, as the cosine of their CLIP embeddings.

.. math:: s(I, T) = \cos(E_I, E_T) = \frac{E_I \cdot E_T}{\lVert E_I\rVert\,\lVert E_T\rVert}

with :math:`E_I`, :math:`E_T` the projected image and text embeddings of transformers'
``CLIPModel`` (default checkpoint ``openai/clip-vit-base-patch32``, the one the
``clip-score`` package uses).

**Scale.** The assignment's baseline (0.30 per view) is on the **raw cosine** scale, and
that is what :meth:`ClipScorer.score` returns. torchmetrics' ``CLIPScore`` reports
:math:`\max(100\cos, 0)` instead, with ViT-L/14 by default; :func:`torchmetrics_scale`
converts, and every printed number names its scale and checkpoint so the two are never
mixed.

**Illusions.** :meth:`ClipScorer.score_views` scores each view of one image against its
own prompt (view ``i`` of the image against prompt ``i``). A view is any callable on a
``(3, H, W)`` tensor in [0, 1], or an object with a ``view`` method (the visual-anagrams
convention).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from helpers.metrics.images import load_rgb

__all__ = ["DEFAULT_CLIP", "ClipScorer", "ClipScores", "torchmetrics_scale"]

DEFAULT_CLIP = "openai/clip-vit-base-patch32"

ImageLike = Image.Image | torch.Tensor | str | os.PathLike


def torchmetrics_scale(cosine: float) -> float:
    """The torchmetrics ``CLIPScore`` scale of a raw cosine: ``max(100 * cosine, 0)``."""
    return max(100.0 * cosine, 0.0)


@dataclass(frozen=True)
class ClipScores:
    """Raw cosines, one per (image, prompt) pair, with the checkpoint that produced them."""

    prompts: list[str]
    cosines: list[float]
    checkpoint: str

    def table(self) -> list[dict]:
        """One row per pair, both scales labelled."""
        return [
            {
                "prompt": p,
                "clip_cosine": c,
                "clip_torchmetrics_100x": torchmetrics_scale(c),
                "checkpoint": self.checkpoint,
            }
            for p, c in zip(self.prompts, self.cosines, strict=True)
        ]


class ClipScorer:
    """Scores images against prompts with a transformers CLIP.

    Args:
        checkpoint: hub name or local folder of a ``CLIPModel`` and its processor.
        model, processor: ready-made ones instead (tests pass tiny random ones).
        device: default: CUDA when available.
    """

    def __init__(
        self,
        checkpoint: str = DEFAULT_CLIP,
        *,
        model: torch.nn.Module | None = None,
        processor: Callable | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if model is None or processor is None:
            from transformers import CLIPModel, CLIPProcessor

            try:
                model = model or CLIPModel.from_pretrained(checkpoint)
                processor = processor or CLIPProcessor.from_pretrained(checkpoint)
            except OSError as exc:
                raise OSError(
                    f"cannot load the CLIP checkpoint {checkpoint!r} ({exc}). Offline, download it once "
                    "with internet (it lands in the Hugging Face cache, $HF_HOME) or pass a local folder "
                    "saved with save_pretrained; on Kaggle, attach it as a dataset and pass its path."
                ) from exc
        self.checkpoint = checkpoint
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval().to(self.device)
        self.processor = processor

    @torch.inference_mode()
    def score(self, images: Sequence[ImageLike], prompts: Sequence[str]) -> ClipScores:
        """Raw cosine of image ``i`` with prompt ``i``, for each ``i``."""
        if len(images) != len(prompts):
            raise ValueError(
                f"{len(images)} images but {len(prompts)} prompts: give one prompt per image"
            )
        inputs = self.processor(
            text=list(prompts),
            images=[_as_pil(im) for im in images],
            return_tensors="pt",
            padding=True,
            truncation=True,
        ).to(self.device)
        out = self.model(**inputs)
        # Normalised again: cheap, and the cosine must not depend on the model doing it.
        image = torch.nn.functional.normalize(out.image_embeds.float(), dim=-1)
        text = torch.nn.functional.normalize(out.text_embeds.float(), dim=-1)
        return ClipScores(list(prompts), (image * text).sum(-1).tolist(), self.checkpoint)

    def score_views(
        self, image: ImageLike, views: Sequence[Callable | object], prompts: Sequence[str]
    ) -> ClipScores:
        """Each view of ``image`` against its own prompt (see the module docstring)."""
        if len(views) != len(prompts):
            raise ValueError(
                f"{len(views)} views but {len(prompts)} prompts: give one prompt per view"
            )
        x = _as_tensor(image)
        return self.score([_apply_view(v, x) for v in views], prompts)

    @torch.inference_mode()
    def view_matrix(
        self, image: ImageLike, views: Sequence[Callable | object], prompts: Sequence[str]
    ) -> torch.Tensor:
        """Cosines of every view of ``image`` (rows) with every prompt (columns).

        The diagonal is :meth:`score_views`; an illusion's view should match its own prompt
        better than the others in its row.
        """
        x = _as_tensor(image)
        inputs = self.processor(
            text=list(prompts),
            images=[_as_pil(_apply_view(v, x)) for v in views],
            return_tensors="pt",
            padding=True,
            truncation=True,
        ).to(self.device)
        out = self.model(**inputs)
        image_embeds = torch.nn.functional.normalize(out.image_embeds.float(), dim=-1)
        text_embeds = torch.nn.functional.normalize(out.text_embeds.float(), dim=-1)
        return (image_embeds @ text_embeds.T).cpu()

    def reads_right(
        self, image: ImageLike, views: Sequence[Callable | object], prompts: Sequence[str]
    ) -> bool:
        """Whether every view of ``image`` is closer to its own prompt than to the others
        (each row of :meth:`view_matrix` peaks on its diagonal): the illusion reads right."""
        matrix = self.view_matrix(image, views, prompts)
        return bool((matrix.argmax(dim=1) == torch.arange(len(views))).all())


def _apply_view(view: Callable | object, x: torch.Tensor) -> torch.Tensor:
    return view.view(x) if hasattr(view, "view") else view(x)


def _as_tensor(image: ImageLike) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        return image
    array = np.asarray(_as_pil(image), dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1)


def _as_pil(image: ImageLike) -> Image.Image:
    """PIL RGB from a PIL image, a path, or a ``(3, H, W)`` tensor in [0, 1]."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(
                f"expected a (3, H, W) image tensor in [0, 1], got shape {tuple(image.shape)}"
            )
        array = (
            (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
        )
        return Image.fromarray(array)
    return load_rgb(image)
