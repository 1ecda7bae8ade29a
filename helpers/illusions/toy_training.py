r"""Training the toy IF and the toy CLIP of :mod:`helpers.illusions.toy_models` on a CPU.

Every batch is drawn fresh from :mod:`helpers.toy_world` (seeds never repeat), so there is
no data set to store and no overfitting. Each command writes one shipped file in fp16 and
prints its size and SHA-256 (record it in ``toy_models``)::

    python -m helpers.illusions.toy_training if     # text encoder, stage I, stage II: 33 min
    python -m helpers.illusions.toy_training clip   # the toy CLIP: 5 min

(The IF's stages run side by side, one process and one core each: 1987 s on the 2 cores of
a quiet machine, about 0.5 s a step for each stage, and the output was the shipped file
byte for byte. The CLIP's time is from two cores shared with other jobs.)

**The IF stages** learn as IF did (improved DDPM's hybrid loss): the noise half of the
output by mean squared error, the variance half by the variational bound
:math:`L_\text{vlb}` (the KL between the true posterior :math:`q(x_{t-1}|x_t, x_0)` and the
model's Gaussian, whose mean uses the *detached* noise estimate, so this term trains only
the variance). The variance is ``learned_range``: the output :math:`v \in [-1, 1]` mixes
:math:`\log\beta_t` and :math:`\log\tilde\beta_t`, as diffusers' scheduler reads it. The
caption is dropped 10 % of the time (the empty prompt's embedding) for classifier-free
guidance. Stage II sees the picture at 64 px with its 32 px version upscaled and noised to
a random level (``class_labels``), as ``IFSuperResolutionPipeline`` prepares it.

**The CLIP** learns the symmetric contrastive loss, where every caption of the same class in
the batch counts as a match (four classes: most pairs in a batch share one). To read a
picture's layout and not only its parts, it also sees pictures turned over (half as many,
fresh ones), as negatives only: a turned house is not "a house", a turned face not "a
face". Only the text-to-image half sees them (they have no caption to match). A turned
picture of a class's anagram partner (a turned face, for "a house") is the one case the
world leaves open, since the toy world draws it as that class's shape
(:mod:`helpers.toy_world`): it counts as a negative with a small weight
(:data:`PARTNER_WEIGHT`). At full weight the CLIP learns that nothing shaped like a
turned face is ever a house, keys on round heads, and reads the upright side of a face /
house anagram as a house; at zero weight it reads every face, turned over, as a house,
so that a plain sample would pass for an anagram.
"""

from __future__ import annotations

import argparse
import copy
import math
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from helpers.illusions.models import embed_prompts
from helpers.illusions.toy_models import (
    STAGE_1_SIZE,
    STAGE_2_SIZE,
    TOY_CLIP,
    TOY_IF,
    toy_clip,
    toy_stage_1,
    toy_stage_2,
    toy_text_pipe,
)
from helpers.toy_world import ANAGRAM_PAIRS, CLASSES, WORDINGS, caption, toy_world
from helpers.weights import sha256_of

__all__ = ["hybrid_loss", "train_stage", "train_if", "clip_loss", "train_clip", "PARTNER_WEIGHT"]

DROP_CAPTION = 0.1
EMA_DECAY = 0.995
LEARNING_RATE = 2e-3
STAGE_1_BATCH, STAGE_2_BATCH = 32, 16
STEPS = {"if": [3600, 4000], "clip": [1000]}
"""The shipped files' training steps (if: stage I and stage II): the commands' defaults."""
PARTNER_WEIGHT = 0.05
"""How much a turned picture of a class's anagram partner counts against the class's
caption in the CLIP's loss (module docstring)."""


def _normal_kl(
    mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor, logvar2: torch.Tensor
) -> torch.Tensor:
    return 0.5 * (
        -1
        + logvar2
        - logvar1
        + torch.exp(logvar1 - logvar2)
        + (mean1 - mean2) ** 2 * torch.exp(-logvar2)
    )


def hybrid_loss(
    pred: torch.Tensor,
    noise: torch.Tensor,
    x0: torch.Tensor,
    xt: torch.Tensor,
    t: torch.Tensor,
    alphas_cumprod: torch.Tensor,
) -> torch.Tensor:
    """MSE on the noise half of ``pred`` plus :math:`L_\\text{vlb}` (bits per dimension) on its variance half."""
    eps, v = pred.split(x0.shape[1], dim=1)
    shape = (-1, 1, 1, 1)
    ab = alphas_cumprod[t].view(shape)
    ab_prev = torch.where(t > 0, alphas_cumprod[(t - 1).clamp(min=0)], 1.0).view(shape)
    beta = 1 - ab / ab_prev
    post_logvar = torch.log(((1 - ab_prev) / (1 - ab) * beta).clamp(min=1e-20))
    coef_x0, coef_xt = (
        ab_prev.sqrt() * beta / (1 - ab),
        (1 - beta).sqrt() * (1 - ab_prev) / (1 - ab),
    )
    x0_pred = (xt - (1 - ab).sqrt() * eps.detach()) / ab.sqrt()
    frac = (v + 1) / 2
    model_logvar = frac * torch.log(beta) + (1 - frac) * post_logvar
    kl = _normal_kl(
        coef_x0 * x0 + coef_xt * xt, post_logvar, coef_x0 * x0_pred + coef_xt * xt, model_logvar
    ).mean(dim=(1, 2, 3)) / math.log(2)
    # At t = 0 the posterior is a point: its KL is not a variance target.
    vlb = torch.where(t > 0, kl, 0.0).mean()
    return F.mse_loss(eps, noise) + vlb


def _ema_update(ema: torch.nn.Module, model: torch.nn.Module) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.lerp_(p, 1 - EMA_DECAY)


def _caption_table(text_pipe: Any) -> tuple[torch.Tensor, dict[str, int]]:
    """The embeddings of every caption and, last, of the empty prompt; a caption's row."""
    captions = [caption(label, w) for label in range(len(CLASSES)) for w in range(len(WORDINGS))]
    made = embed_prompts(text_pipe, captions + [""])
    return made.prompt_embeds, {text: i for i, text in enumerate(captions + [""])}


def _fit(
    unet: torch.nn.Module, steps: int, batch: Callable[[int], tuple], lr: float, label: str
) -> torch.nn.Module:
    """Train ``unet`` on ``batch(step) -> (model input, t, embeddings, class labels, loss of the output)``."""
    ema = copy.deepcopy(unet).requires_grad_(False)
    optimiser = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=steps, pct_start=0.05)
    unet.train()
    start = time.perf_counter()
    for step in range(steps):
        model_input, t, embeds, labels, loss_of = batch(step)
        pred = unet(model_input, t, encoder_hidden_states=embeds, class_labels=labels).sample
        loss = loss_of(pred)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        _ema_update(ema, unet)
        if step % 100 == 0 or step == steps - 1:
            print(
                f"{label} step {step:5d}  loss {loss.item():.4f}  {time.perf_counter() - start:6.0f} s",
                flush=True,
            )
    return ema.eval()


def _stage_batches(
    stage: int, pipe: Any, text_pipe: Any, batch_size: int, seed: int
) -> Callable[[int], tuple]:
    """``batch(step)`` for :func:`_fit`: stage I at 32 px, or stage II at 64 px with its condition."""
    table, row = _caption_table(text_pipe)
    gen = torch.Generator().manual_seed(seed)
    alphas_cumprod = pipe.scheduler.alphas_cumprod
    size = STAGE_1_SIZE if stage == 1 else STAGE_2_SIZE

    def batch(step: int) -> tuple:
        x0, _, captions = toy_world(batch_size, size, seed=stage * 1_000_000 + step * batch_size)
        rows = torch.tensor([row[c] for c in captions])
        drop = torch.rand(batch_size, generator=gen) < DROP_CAPTION
        embeds = table[torch.where(drop, row[""], rows)]
        t = torch.randint(
            0, pipe.scheduler.config.num_train_timesteps, (batch_size,), generator=gen
        )
        noise = torch.randn(x0.shape, generator=gen)
        xt = pipe.scheduler.add_noise(x0, noise, t)
        model_input, level = xt, None
        if stage == 2:
            low = F.interpolate(x0, size=STAGE_1_SIZE, mode="area")
            upscaled = F.interpolate(low, size=size, mode="bilinear", align_corners=True)
            level = torch.randint(0, 251, (batch_size,), generator=gen)
            aug = torch.randn(upscaled.shape, generator=gen)
            model_input = torch.cat(
                [xt, pipe.image_noising_scheduler.add_noise(upscaled, aug, level)], dim=1
            )
        return (
            model_input,
            t,
            embeds,
            level,
            lambda p: hybrid_loss(p, noise, x0, xt, t, alphas_cumprod),
        )

    return batch


def train_stage(
    stage: int,
    steps: int,
    batch_size: int,
    text_encoder: dict[str, torch.Tensor],
    seed: int = 0,
    threads: int = 1,
) -> dict:
    """Train stage ``stage`` (1 or 2) of the toy IF on captions embedded by ``text_encoder``
    (a state dict: both stages must see the same embeddings); returns its EMA UNet's state dict."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed + stage)
    pipe = toy_stage_1() if stage == 1 else toy_stage_2()
    text_pipe = toy_text_pipe()
    text_pipe.text_encoder.load_state_dict(text_encoder)
    batch = _stage_batches(stage, pipe, text_pipe, batch_size, seed + stage)
    return _fit(pipe.unet, steps, batch, LEARNING_RATE, f"stage {'I' * stage}").state_dict()


def train_if(stage_1_steps: int, stage_2_steps: int, seed: int = 0) -> dict:
    """Train both stages, one process each (they are independent: stage II learns from the
    true 32 px pictures), on one text encoder; returns the fp32 state dicts
    ``{text_encoder, stage_1, stage_2}``."""
    torch.manual_seed(seed)
    text_encoder = toy_text_pipe().text_encoder.state_dict()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        stage_1 = pool.submit(train_stage, 1, stage_1_steps, STAGE_1_BATCH, text_encoder, seed)
        stage_2 = pool.submit(train_stage, 2, stage_2_steps, STAGE_2_BATCH, text_encoder, seed)
        return {
            "text_encoder": text_encoder,
            "stage_1": stage_1.result(),
            "stage_2": stage_2.result(),
        }


def _partners() -> torch.Tensor:
    """``partner[label]``: the label of the class's anagram partner (:data:`ANAGRAM_PAIRS`)."""
    partner = list(range(len(CLASSES)))
    for a, b in ANAGRAM_PAIRS:
        partner[CLASSES.index(a)], partner[CLASSES.index(b)] = CLASSES.index(b), CLASSES.index(a)
    return torch.tensor(partner)


def clip_loss(
    logits_per_text: torch.Tensor, labels: torch.Tensor, turned_labels: torch.Tensor
) -> torch.Tensor:
    """The toy CLIP's loss (module docstring). ``logits_per_text``: one row per caption (the
    caption of the upright picture ``labels[i]``), one column per picture, the upright ones
    first, then the turned ones of ``turned_labels``."""
    upright = len(labels)
    same = (labels[:, None] == labels[None, :]).float()
    to_text = F.cross_entropy(logits_per_text[:, :upright].T, same / same.sum(1, keepdim=True))
    partner = _partners()[labels][:, None] == turned_labels[None, :]
    # A weight w on a column's exp(logit) in the softmax is log(w) added to its logit.
    weighted = torch.cat(
        [
            logits_per_text[:, :upright],
            logits_per_text[:, upright:] + partner * math.log(PARTNER_WEIGHT),
        ],
        dim=1,
    )
    target = torch.cat([same, torch.zeros(upright, len(turned_labels))], dim=1)
    to_image = F.cross_entropy(weighted, target / target.sum(1, keepdim=True))
    return (to_text + to_image) / 2


def train_clip(steps: int, batch_size: int = 64, seed: int = 0) -> dict:
    """Train the toy CLIP contrastively; returns ``{"clip": state dict}`` in fp32."""
    torch.manual_seed(seed)
    model, processor = toy_clip()
    mean = torch.tensor(processor.image_processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_processor.image_std).view(1, 3, 1, 1)
    captions = [caption(label, w) for label in range(len(CLASSES)) for w in range(len(WORDINGS))]
    tokens = processor.tokenizer(captions, padding=True, return_tensors="pt")
    row = {text: i for i, text in enumerate(captions)}
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, 1e-3, total_steps=steps, pct_start=0.05
    )
    turned_size = batch_size // 2
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        images, labels, texts = toy_world(
            batch_size, STAGE_1_SIZE, seed=3_000_000 + step * batch_size
        )
        turned, turned_labels, _ = toy_world(
            turned_size, STAGE_1_SIZE, seed=9_000_000 + step * turned_size
        )
        pictures = torch.cat([images, turned.flip(-2, -1)])  # flipped both ways: a half turn
        rows = torch.tensor([row[text] for text in texts])
        out = model(
            input_ids=tokens.input_ids[rows],
            attention_mask=tokens.attention_mask[rows],
            pixel_values=((pictures + 1) / 2 - mean) / std,
        )
        loss = clip_loss(out.logits_per_text, labels, turned_labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            print(
                f"clip step {step:5d}  loss {loss.item():.4f}  {time.perf_counter() - start:6.0f} s",
                flush=True,
            )
    return {"clip": model.eval().state_dict()}


def save_half(parts: dict[str, dict[str, torch.Tensor]], out: Path) -> Path:
    """Write ``parts`` with every float tensor in fp16; returns ``out``."""
    from helpers.train import atomic_torch_save

    half = {
        name: {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        for name, state in parts.items()
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(half, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.illusions.toy_training",
        description="Train the toy IF or the toy CLIP of Part 2's smoke mode.",
    )
    parser.add_argument("model", choices=["if", "clip"])
    parser.add_argument(
        "--steps", type=int, nargs="+", help="training steps (if: stage I and stage II)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads (default 1: shared cores)"
    )
    parser.add_argument("--out", type=Path, help="default: the shipped file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.model == "if":
        parts, shipped = train_if(*(args.steps or STEPS["if"])), TOY_IF
    else:
        parts, shipped = train_clip(*(args.steps or STEPS["clip"])), TOY_CLIP
    out = save_half(parts, args.out or shipped.path)
    print(
        f"{out}: {out.stat().st_size / 1e6:.2f} MB, SHA-256 {sha256_of(out)}, "
        f"trained in {time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
