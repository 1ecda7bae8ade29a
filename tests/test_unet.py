"""The UNet: same function as lucidrains' Unet on the same weights, shapes, errors."""

from __future__ import annotations

import re

import denoising_diffusion_pytorch.denoising_diffusion_pytorch as ddp
import pytest
import torch

from helpers.unet import UNet

# Our module names -> lucidrains' (only the names differ, not the computation).
RENAMES = [
    (r"\.time_mlp\.", ".mlp."),
    (r"(block[12])\.conv\.", r"\1.proj."),
    (r"\.gain$", ".g"),
    (r"\.skip\.", ".res_conv."),
    (r"^final_block\.", "final_res_block."),
    (r"^(downs\.\d+\.3)\.proj\.", r"\1.1."),
]


def _lucidrains_name(name: str) -> str:
    for pattern, replacement in RENAMES:
        name = re.sub(pattern, replacement, name)
    return name


@pytest.mark.parametrize(
    "config",
    [
        dict(dim=8, dim_mults=(1, 2), attn_heads=2, attn_dim_head=8),
        dict(dim=16, dim_mults=(1, 2, 3, 4), self_condition=True),
        dict(dim=8, dim_mults=(1, 2, 4), full_attn=(False, True, True)),
    ],
)
def test_unet_equals_lucidrains_unet_on_the_same_weights(config):
    ours = UNet(**config).eval()
    theirs = ddp.Unet(**config).eval()
    theirs_by_name = dict(theirs.named_parameters())
    ours_by_name = {_lucidrains_name(name): p for name, p in ours.named_parameters()}
    assert ours_by_name.keys() == theirs_by_name.keys(), "same modules"
    with torch.no_grad():
        for name, p in ours_by_name.items():
            p.copy_(theirs_by_name[name])
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([3, 700])
    cond = torch.randn_like(x) if config.get("self_condition") else None
    with torch.no_grad():
        torch.testing.assert_close(ours(x, t, cond), theirs(x, t, cond), atol=1e-4, rtol=1e-4)


def test_unet_keeps_the_shape_and_accepts_rectangles():
    net = UNet(dim=8, dim_mults=(1, 2, 2), attn_heads=2, attn_dim_head=8)
    out = net(torch.randn(2, 3, 16, 24), torch.tensor([1, 2]))
    assert out.shape == (2, 3, 16, 24)


def test_unet_explains_indivisible_image_size():
    net = UNet(dim=8, dim_mults=(1, 2, 4, 8))
    with pytest.raises(ValueError, match=r"\(36, 36\) is not divisible by 8 = 2\^\(levels - 1\)"):
        net(torch.randn(1, 3, 36, 36), torch.tensor([0]))


def test_unet_dropout_is_active_only_in_training():
    net = UNet(dim=8, dim_mults=(1, 2), attn_heads=2, attn_dim_head=8, dropout=0.5)
    x, t = torch.randn(1, 3, 16, 16), torch.tensor([5])
    net.eval()
    torch.testing.assert_close(net(x, t), net(x, t))
    net.train()
    assert not torch.allclose(net(x, t), net(x, t))
