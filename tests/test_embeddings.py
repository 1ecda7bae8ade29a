"""Part 2's prompt embeddings: attached ones are used as they are, new ones come from their own process."""

from __future__ import annotations

import subprocess

import pytest
import torch

from helpers.illusions.embeddings import EMBEDDINGS_NAME, prompt_embeddings
from helpers.illusions.models import PromptEmbeddings

PROMPTS = ["an oil painting of a snowy mountain village", "an oil painting of a horse"]


def saved(prompts: list[str], path, seed: int = 0) -> PromptEmbeddings:
    generator = torch.Generator().manual_seed(seed)
    shape = (len(prompts), 77, 8)
    embeddings = PromptEmbeddings(
        list(prompts),
        "",
        torch.randn(shape, generator=generator),
        torch.randn(shape, generator=generator),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    embeddings.save(path)
    return embeddings


def test_embeddings_attached_for_the_same_prompts_are_used_without_t5(
    tmp_path, monkeypatch, capsys
):
    kaggle_input = tmp_path / "input"
    monkeypatch.setenv("COURSEKIT_KAGGLE_INPUT", str(kaggle_input))
    saved(
        ["other prompts", "entirely"],
        kaggle_input / "cs180-embeddings" / "a" / EMBEDDINGS_NAME,
        seed=1,
    )
    attached = saved(PROMPTS, kaggle_input / "cs180-embeddings" / "b" / EMBEDDINGS_NAME)

    def no_t5(*args, **kwargs):
        raise AssertionError("T5 must not run when matching embeddings are attached")

    monkeypatch.setattr(subprocess, "run", no_t5)
    got = prompt_embeddings(PROMPTS, tmp_path / "results" / EMBEDDINGS_NAME)
    assert torch.equal(got.prompt_embeds, attached.prompt_embeds)
    assert "cs180-embeddings/b/prompt_embeddings.pt (computed before" in capsys.readouterr().out


def test_new_embeddings_come_from_the_embed_prompts_process_whose_error_is_shown(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("COURSEKIT_KAGGLE_INPUT", str(tmp_path / "input"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # so the command fails at once: no IF here
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    target = tmp_path / "results" / EMBEDDINGS_NAME
    saved(["stale prompts", "of an earlier run"], target)
    with pytest.raises(
        RuntimeError,
        match=r"(?s)helpers embed-prompts, exit status 2.*Cannot load DeepFloyd/IF-I-M-v1.0",
    ):
        prompt_embeddings(PROMPTS, target)
