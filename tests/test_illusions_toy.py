"""The shipped toy IF and toy CLIP on a CPU, and the checks that keep them honest.

Measured on the shipped files (stage I, 32 px, :data:`SMOKE_STEPS` and
:data:`SMOKE_GUIDANCE`, the reference views and loop; 8 images of one batched run, seed 0),
as "every view closer to its own prompt than to the other prompt":

* the face / house anagram: 2 of 8; tree / boat: 2 of 8;
* pure noise: 2 of 8; the loop without ``inverse_view`` (planted bug): 1 of 8;
* the model alone, 4 images per class: toy-CLIP top-1 13 of 16 (chance: 4).

Over 32 images (seeds 0 to 3, 8 each) the counts are face / house 13, tree / boat 21;
pure noise 11 and 8; the planted bug 2 and 7: seed 0's 8 are a small, noisy sample, and
with two views to read a random picture passes a quarter of the time.

The shipped stage I (3600 steps of batch 32) draws every class cleanly, and to the eye its
anagrams work: upright two eyes over a red smile, turned over a red roof over two windows;
a green crown on a trunk that turns into a hull under a mast. The toy CLIP is the harder
judge: for seed 0 it reads one view of each pair right every time (the turned face /
house as a house, the upright tree / boat as a tree) and the other 2 of 8 times. So the
illusion test stays a strict expected failure, which turns into a failure once a better
model or judge passes it (then drop the mark). The runs are seeded, so any other change
of these numbers means the models, the views or the loop changed.
"""

from __future__ import annotations

import shutil

import pytest
import torch

import grading.authoring.reference.illusions as reference_loop
from grading.authoring.reference import IdentityView, Rotate180View, denoising_loop
from helpers.illusions.modes import SMOKE_GUIDANCE, SMOKE_STEPS
from helpers.illusions.sampler import sample_stage
from helpers.illusions.toy_models import TOY_CLIP, TOY_IF, load_toy_clip, load_toy_if, toy_prompts
from helpers.metrics import ClipScorer
from helpers.toy_world import ANAGRAM_PAIRS, CLASSES, caption

IMAGES = 8


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # toy networks: threads cost more than they save
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy():
    return load_toy_if()


@pytest.fixture(scope="module")
def scorer():
    model, processor = load_toy_clip()
    return ClipScorer("toy CLIP", model=model, processor=processor, device="cpu")


def stage_1(toy, prompts, views, loop=denoising_loop, images=IMAGES, seed=0):
    return sample_stage(
        toy.stage_1,
        toy.embed(prompts),
        views,
        loop,
        num_inference_steps=SMOKE_STEPS[0],
        guidance_scale=SMOKE_GUIDANCE,
        generator=torch.Generator().manual_seed(seed),
        num_images=images,
        progress=False,
    )


def both_views_read_right(scorer, images, views, prompts) -> int:
    """How many images have every view closer to its own prompt than to the others."""
    right = 0
    for image in images:
        matrix = scorer.view_matrix((image.clamp(-1, 1) + 1) / 2, views, prompts)
        right += bool((matrix.argmax(dim=1) == torch.arange(len(views))).all())
    return right


@pytest.fixture(scope="module")
def anagram_views():
    return [IdentityView(), Rotate180View()]


@pytest.mark.xfail(
    strict=True,
    reason="the toy CLIP reads 2 of 8 toy anagrams right in both views (module docstring)",
)
@pytest.mark.parametrize("pair", ANAGRAM_PAIRS, ids="/".join)
def test_the_toy_illusion_reads_right_in_both_views(toy, scorer, anagram_views, pair):
    prompts = toy_prompts(pair)
    images = stage_1(toy, prompts, anagram_views)
    assert both_views_read_right(scorer, images, anagram_views, prompts) >= 6


def test_pure_noise_does_not_read_as_the_illusion(scorer, anagram_views):
    noise = torch.randn(IMAGES, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    prompts = toy_prompts(ANAGRAM_PAIRS[0])
    assert both_views_read_right(scorer, noise, anagram_views, prompts) <= 2


def test_a_loop_that_forgets_inverse_view_makes_no_illusion(
    toy, scorer, anagram_views, monkeypatch
):
    # The planted bug: each view's estimate is averaged as the UNet made it, in its own frame.
    monkeypatch.setattr(
        reference_loop, "invert_views", lambda views, preds: torch.stack(preds.chunk(len(views)))
    )
    prompts = toy_prompts(ANAGRAM_PAIRS[0])
    images = stage_1(toy, prompts, anagram_views)
    assert both_views_read_right(scorer, images, anagram_views, prompts) <= 2


def test_the_toy_model_alone_draws_each_class(toy, scorer):
    prompts = [caption(label) for label in range(len(CLASSES))]
    identity = [IdentityView()]
    right = 0
    for label, prompt in enumerate(prompts):
        images = stage_1(toy, [prompt], identity, images=4, seed=label)
        for image in images:
            cosines = scorer.view_matrix((image.clamp(-1, 1) + 1) / 2, identity, prompts)[0]
            right += int(cosines.argmax()) == label
    assert right >= 11, f"{right} of 16 samples classified as their prompt (chance: 4)"


@pytest.mark.parametrize("shipped", [TOY_IF, TOY_CLIP], ids=["toy_if", "toy_clip"])
def test_a_missing_file_names_the_command_that_rebuilds_it(shipped, tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"missing.*{shipped.reproduce}"):
        shipped.checked(tmp_path / shipped.path.name)


@pytest.mark.parametrize("shipped", [TOY_IF, TOY_CLIP], ids=["toy_if", "toy_clip"])
def test_a_corrupted_file_is_refused_by_its_sha256(shipped, tmp_path):
    copy = tmp_path / shipped.path.name
    shutil.copy(shipped.path, copy)
    with open(copy, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ValueError, match=rf"SHA-256.*{shipped.reproduce}"):
        shipped.checked(copy)
    assert shipped.checked() == shipped.path  # the shipped file itself passes


def test_the_shipped_files_are_small_and_in_the_package():
    sizes = {shipped.path.name: shipped.path.stat().st_size for shipped in (TOY_IF, TOY_CLIP)}
    assert sum(sizes.values()) < 5e6, sizes
    assert all(
        s.path.parent.name == "checkpoints" and s.path.parent.parent.name == "helpers"
        for s in (TOY_IF, TOY_CLIP)
    )


def test_the_reproduce_commands_train_and_write_loadable_fp16_files(tmp_path, capsys):
    # The README's commands with two steps each (the real runs take minutes): the same
    # main, the same file layout as the shipped files.
    from helpers.illusions import toy_training

    for shipped, argv in (
        (TOY_IF, ["if", "--steps", "2", "2"]),
        (TOY_CLIP, ["clip", "--steps", "2"]),
    ):
        assert shipped.reproduce.split()[3:] == argv[:1]
        out = tmp_path / shipped.path.name
        assert toy_training.main([*argv, "--out", str(out)]) == 0
        assert f"{out}: " in capsys.readouterr().out
        rebuilt = torch.load(out, weights_only=True)
        original = torch.load(shipped.path, weights_only=True)
        assert rebuilt.keys() == original.keys()
        for part in original:
            assert rebuilt[part].keys() == original[part].keys()
            assert all(rebuilt[part][k].dtype == v.dtype for k, v in original[part].items())


def test_the_hybrid_loss_is_zero_at_the_true_noise_and_posterior_variance():
    from diffusers import DDPMScheduler

    from helpers.illusions.toy_training import hybrid_loss
    from helpers.tiny_models import IF_SCHEDULER

    alphas_cumprod = DDPMScheduler(**IF_SCHEDULER).alphas_cumprod
    gen = torch.Generator().manual_seed(0)
    x0, noise = (
        torch.rand(4, 3, 8, 8, generator=gen) * 2 - 1,
        torch.randn(4, 3, 8, 8, generator=gen),
    )
    t = torch.tensor([1, 10, 500, 999])
    ab = alphas_cumprod[t].view(-1, 1, 1, 1)
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    # v = -1 is learned_range's lower end: the true posterior variance.
    exact = torch.cat([noise, -torch.ones_like(noise)], dim=1).requires_grad_(True)
    loss = hybrid_loss(exact, noise, x0, xt, t, alphas_cumprod)
    assert loss.item() < 1e-4
    wider = torch.cat([noise, torch.ones_like(noise)], dim=1)
    assert hybrid_loss(wider, noise, x0, xt, t, alphas_cumprod) > loss + 1e-3
    # The variational term trains only the variance half: the noise half's gradient is the MSE's.
    off = torch.cat([noise + 0.1, -torch.ones_like(noise)], dim=1).requires_grad_(True)
    hybrid_loss(off, noise, x0, xt, t, alphas_cumprod).backward()
    torch.testing.assert_close(off.grad[:, :3], torch.full_like(noise, 0.2 / noise.numel()))
