"""CLIP score with a tiny random CLIP built from a config, against a direct cosine computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.metrics.clip_score import ClipScorer, torchmetrics_scale
from helpers.tiny_models import tiny_clip


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    model, processor = tiny_clip(tmp_path_factory.mktemp("clip"))
    return ClipScorer("tiny-random-clip", model=model, processor=processor, device="cpu")


def _direct_cosine(scorer: ClipScorer, image: Image.Image, prompt: str) -> float:
    """cos(E_I, E_T) from the towers and projections, without CLIPModel.forward."""
    m, p = scorer.model, scorer.processor
    pixels = p.image_processor(images=[image], return_tensors="pt")["pixel_values"]
    tokens = p.tokenizer([prompt], return_tensors="pt")
    with torch.no_grad():
        e_image = m.visual_projection(m.vision_model(pixel_values=pixels).pooler_output)[0]
        e_text = m.text_projection(m.text_model(**tokens).pooler_output)[0]
    return torch.nn.functional.cosine_similarity(e_image, e_text, dim=0).item()


def test_scores_are_the_raw_cosines_of_the_embeddings(scorer):
    rng = np.random.default_rng(1)
    images = [Image.fromarray(rng.integers(0, 256, (s, s, 3), dtype=np.uint8)) for s in (40, 48)]
    prompts = ["a cat", "a red house on a hill"]
    scores = scorer.score(images, prompts)
    expected = [_direct_cosine(scorer, im, pr) for im, pr in zip(images, prompts, strict=True)]
    assert scores.cosines == pytest.approx(expected, abs=1e-6)
    assert all(-1 <= c <= 1 for c in scores.cosines) and scores.cosines[0] != scores.cosines[1]


def test_the_torchmetrics_scale_is_labelled_and_never_the_default(scorer):
    scores = scorer.score([torch.rand(3, 32, 32)], ["a dog"])
    (row,) = scores.table()
    assert row["clip_cosine"] == scores.cosines[0]
    assert row["clip_torchmetrics_100x"] == pytest.approx(max(100 * scores.cosines[0], 0))
    assert row["checkpoint"] == "tiny-random-clip"
    assert torchmetrics_scale(-0.2) == 0 and torchmetrics_scale(0.3487) == pytest.approx(34.87)


def test_score_views_scores_each_view_against_its_own_prompt(scorer):
    torch.manual_seed(2)
    image = torch.rand(3, 32, 32)

    class Rotate180:  # the visual-anagrams convention: an object with .view
        def view(self, x):
            return x.rot90(2, (1, 2))

    prompts = ["an old man", "a snowy village"]
    views = scorer.score_views(image, [lambda x: x, Rotate180()], prompts)
    direct = scorer.score([image, image.rot90(2, (1, 2))], prompts)
    assert views.cosines == pytest.approx(direct.cosines, abs=1e-6)
    swapped = scorer.score([image, image.rot90(2, (1, 2))], prompts[::-1])
    assert views.cosines != pytest.approx(swapped.cosines, abs=1e-4)  # pairing matters


def test_mismatched_counts_are_refused(scorer):
    with pytest.raises(ValueError, match="one prompt per image"):
        scorer.score([torch.rand(3, 8, 8)], ["a", "b"])
    with pytest.raises(ValueError, match="one prompt per view"):
        scorer.score_views(torch.rand(3, 8, 8), [lambda x: x], ["a", "b"])
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        scorer.score([torch.rand(8, 8)], ["a"])


def test_an_unavailable_checkpoint_fails_with_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="cannot load the CLIP checkpoint .*save_pretrained"):
        ClipScorer(str(tmp_path / "no-such-clip"))
