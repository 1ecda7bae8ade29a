"""Randomly initialised scorer networks built locally (no download), for the metric tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from helpers.metrics.inception import FIDInceptionV3


def random_fid_inception(seed: int = 0) -> FIDInceptionV3:
    """The FID Inception with random weights and batch-norm statistics calibrated on noise.

    PyTorch's default init with unit running variances makes the pool features vanish
    (about 1e-8) after 90 layers; one forward pass in training mode with cumulative
    averaging sets running statistics that keep the features of order 1, so that
    distances between image sets are meaningful numbers.
    """
    torch.manual_seed(seed)
    model = FIDInceptionV3()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 3, 96, 96))
    return model.eval()


def pytorch_fid_inception(ours: FIDInceptionV3):
    """pytorch-fid's own ``InceptionV3`` (block 3) holding the same weights as ``ours``."""
    import pytorch_fid.inception as pfi

    state = ours.net.state_dict()
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *args, **kwargs: state):
        return pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()


class TinyFeatures(nn.Module):
    """A 16-d feature network that runs in microseconds, counting the images it sees."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 16, 3)
        self.images_seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images_seen += x.shape[0]
        return self.conv(x).relu().mean(dim=(2, 3))


def tiny_clip(folder: Path):
    """A tiny random ``CLIPModel`` and a processor whose tokenizer knows single letters."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
    )
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
        ),
        projection_dim=16,
    )
    return CLIPModel(config).eval(), processor
