"""The denoising network: a time-conditioned UNet (Ronneberger et al. 2015; Ho et al. 2020).

Layout, for ``dim_mults = (1, 2, 4, 8)`` and a 64 px image::

    init conv 7x7 ─► [64 px, dim]  ─► [32 px, 2 dim] ─► [16 px, 4 dim] ─► [8 px, 8 dim]
                      2 res + attn     2 res + attn      2 res + attn      2 res + attn
                                                                           │ mid: res, attn, res
    final res + 1x1 ◄─ [64 px]    ◄──  [32 px]      ◄──   [16 px]     ◄──  [8 px]
                      (each up level concatenates the matching down features)

Each residual block receives the timestep through a sinusoidal embedding and an MLP,
applied as a per-channel scale and shift (FiLM). Attention at the deepest level and in
the middle is full softmax attention through ``F.scaled_dot_product_attention`` (which
picks flash / memory-efficient kernels on GPU); higher-resolution levels use linear
attention, whose cost grows with the number of pixels rather than its square. The
architecture follows lucidrains' ``denoising-diffusion-pytorch`` ``Unet``, the network
the seed assignment was built on, so its hyper-parameters (``dim``, ``dim_mults``)
mean the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNet"]


class RMSNorm(nn.Module):
    """Normalise each pixel's channel vector to unit RMS, with a learned per-channel gain."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.gain = nn.Parameter(torch.ones(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x / max(||x||, 1e-12) as F.normalize, written out: the channel-axis reduction of
        # linalg.vector_norm is 2-7x slower on CPU and took a fifth of the UNet's time.
        inv_norm = x.square().sum(dim=1, keepdim=True).clamp_min(1e-24).rsqrt()
        return x * inv_norm * (self.gain * self.scale)


class SinusoidalTimeEmbedding(nn.Module):
    """Transformer-style embedding of the (integer) timestep into ``dim`` features."""

    def __init__(self, dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        half = dim // 2
        freqs = torch.exp(torch.arange(half) * -(math.log(theta) / (half - 1)))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t.float()[:, None] * self.freqs[None, :]
        return torch.cat((angles.sin(), angles.cos()), dim=-1)


class ConvBlock(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim_in, dim_out, 3, padding=1)
        self.norm = RMSNorm(dim_out)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, scale_shift: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        x = self.norm(self.conv(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = torch.addcmul(shift, x, scale + 1)
        return self.dropout(F.silu(x))


class ResnetBlock(nn.Module):
    """Two conv blocks with the time embedding as FiLM on the first, plus a skip path."""

    def __init__(self, dim_in: int, dim_out: int, time_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.time_mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, dim_out * 2))
        self.block1 = ConvBlock(dim_in, dim_out, dropout)
        self.block2 = ConvBlock(dim_out, dim_out)
        self.skip = nn.Conv2d(dim_in, dim_out, 1) if dim_in != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
        scale_shift = self.time_mlp(time_emb)[:, :, None, None].chunk(2, dim=1)
        h = self.block2(self.block1(x, scale_shift))
        return h + self.skip(x)


class LinearAttention(nn.Module):
    """Efficient attention (Shen et al., 2021): softmax over features, cost O(pixels)."""

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32, num_mem_kv: int = 4) -> None:
        super().__init__()
        self.heads, self.scale = heads, dim_head**-0.5
        hidden = heads * dim_head
        self.norm = RMSNorm(dim)
        # Learned "memory" keys and values let a head attend to nothing in particular.
        self.mem_kv = nn.Parameter(torch.randn(2, heads, dim_head, num_mem_kv))
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(hidden, dim, 1), RMSNorm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = (
            t.reshape(b, self.heads, -1, h * w) for t in self.to_qkv(self.norm(x)).chunk(3, dim=1)
        )
        mem_k, mem_v = (m.expand(b, -1, -1, -1) for m in self.mem_kv)
        k, v = torch.cat((mem_k, k), dim=-1), torch.cat((mem_v, v), dim=-1)
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        context = k @ v.transpose(-1, -2)  # (b, heads, d, e)
        out = context.transpose(-1, -2) @ q  # (b, heads, e, n)
        return self.to_out(out.reshape(b, -1, h, w))


class Attention(nn.Module):
    """Multi-head softmax attention over all pixels, through scaled_dot_product_attention."""

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32, num_mem_kv: int = 4) -> None:
        super().__init__()
        self.heads = heads
        hidden = heads * dim_head
        self.norm = RMSNorm(dim)
        self.mem_kv = nn.Parameter(torch.randn(2, heads, num_mem_kv, dim_head))
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = (
            t.reshape(b, self.heads, -1, h * w).transpose(-1, -2)
            for t in self.to_qkv(self.norm(x)).chunk(3, dim=1)
        )
        mem_k, mem_v = (m.expand(b, -1, -1, -1) for m in self.mem_kv)
        k, v = torch.cat((mem_k, k), dim=-2), torch.cat((mem_v, v), dim=-2)
        out = F.scaled_dot_product_attention(q, k, v)  # (b, heads, n, d)
        return self.to_out(out.transpose(-1, -2).reshape(b, -1, h, w))


class Downsample(nn.Module):
    """Halve the resolution without losing information: 2x2 pixels -> channels, then 1x1 conv."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(dim_in * 4, dim_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.pixel_unshuffle(x, 2))


class Upsample(nn.Sequential):
    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(dim_in, dim_out, 3, padding=1)
        )


class UNet(nn.Module):
    """Time-conditioned UNet predicting noise (or x_0 / v) of the same shape as its input.

    Args:
        dim: channels of the first level ("channels" in the seed's hyper-parameters).
        dim_mults: channel multiplier of each level; ``len(dim_mults)`` levels, each but
            the last halving the resolution, so image sides must divide ``2 ** (levels - 1)``.
        channels: image channels (3 for RGB).
        out_dim: output channels (default ``channels``).
        self_condition: accept the previous x_0 estimate as extra input channels.
        full_attn: per level, full softmax attention (True) or linear attention (False);
            default: full attention only at the deepest level.
        attn_heads, attn_dim_head: attention heads and channels per head.
        dropout: dropout inside the residual blocks.
    """

    def __init__(
        self,
        dim: int = 64,
        dim_mults: Sequence[int] = (1, 2, 4, 8),
        channels: int = 3,
        out_dim: int | None = None,
        self_condition: bool = False,
        full_attn: Sequence[bool] | None = None,
        attn_heads: int = 4,
        attn_dim_head: int = 32,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        levels = len(dim_mults)
        if levels < 1:
            raise ValueError("dim_mults needs at least one level")
        full_attn = tuple(full_attn) if full_attn is not None else (False,) * (levels - 1) + (True,)
        if len(full_attn) != levels:
            raise ValueError(f"full_attn needs one flag per level ({levels}), got {len(full_attn)}")

        # What a checkpoint needs to rebuild this network (helpers.train.load_diffusion).
        self.config = dict(
            dim=dim,
            dim_mults=list(dim_mults),
            channels=channels,
            out_dim=out_dim,
            self_condition=self_condition,
            full_attn=list(full_attn),
            attn_heads=attn_heads,
            attn_dim_head=attn_dim_head,
            dropout=dropout,
        )
        self.channels = channels
        self.self_condition = self_condition
        self.out_dim = out_dim or channels
        self.dim_mults = tuple(dim_mults)

        dims = [dim, *(dim * m for m in dim_mults)]
        in_out = list(zip(dims[:-1], dims[1:], strict=True))
        time_dim = dim * 4

        self.init_conv = nn.Conv2d(channels * (2 if self_condition else 1), dim, 7, padding=3)
        self.time_mlp = nn.Sequential(
            SinusoidalTimeEmbedding(dim),
            nn.Linear(dim, time_dim),
            nn.GELU(),
            nn.Linear(time_dim, time_dim),
        )

        def attention(d: int, full: bool) -> nn.Module:
            cls = Attention if full else LinearAttention
            return cls(d, heads=attn_heads, dim_head=attn_dim_head)

        self.downs = nn.ModuleList()
        for i, ((d_in, d_out), full) in enumerate(zip(in_out, full_attn, strict=True)):
            last = i == levels - 1
            self.downs.append(
                nn.ModuleList(
                    [
                        ResnetBlock(d_in, d_in, time_dim, dropout),
                        ResnetBlock(d_in, d_in, time_dim, dropout),
                        attention(d_in, full),
                        nn.Conv2d(d_in, d_out, 3, padding=1) if last else Downsample(d_in, d_out),
                    ]
                )
            )

        mid = dims[-1]
        self.mid_block1 = ResnetBlock(mid, mid, time_dim, dropout)
        self.mid_attn = Attention(mid, heads=attn_heads, dim_head=attn_dim_head)
        self.mid_block2 = ResnetBlock(mid, mid, time_dim, dropout)

        self.ups = nn.ModuleList()
        for i, ((d_in, d_out), full) in enumerate(
            zip(reversed(in_out), reversed(full_attn), strict=True)
        ):
            last = i == levels - 1
            self.ups.append(
                nn.ModuleList(
                    [
                        ResnetBlock(d_out + d_in, d_out, time_dim, dropout),
                        ResnetBlock(d_out + d_in, d_out, time_dim, dropout),
                        attention(d_out, full),
                        nn.Conv2d(d_out, d_in, 3, padding=1) if last else Upsample(d_out, d_in),
                    ]
                )
            )

        self.final_block = ResnetBlock(dim * 2, dim, time_dim, dropout)
        self.final_conv = nn.Conv2d(dim, self.out_dim, 1)

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.downs) - 1)

    def forward(
        self, x: torch.Tensor, time: torch.Tensor, x_self_cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        factor = self.downsample_factor
        if any(side % factor for side in x.shape[-2:]):
            raise ValueError(
                f"image size {tuple(x.shape[-2:])} is not divisible by {factor} = 2^(levels - 1) "
                f"for dim_mults={self.dim_mults}: choose an image size that is a multiple of "
                f"{factor}, or use fewer levels"
            )
        if self.self_condition:
            x = torch.cat((torch.zeros_like(x) if x_self_cond is None else x_self_cond, x), dim=1)

        x = self.init_conv(x)
        first = x
        t = self.time_mlp(time)

        skips = []
        for block1, block2, attn, down in self.downs:
            x = block1(x, t)
            skips.append(x)
            x = block2(x, t)
            x = attn(x) + x
            skips.append(x)
            x = down(x)

        x = self.mid_block1(x, t)
        x = self.mid_attn(x) + x
        x = self.mid_block2(x, t)

        for block1, block2, attn, up in self.ups:
            x = block1(torch.cat((x, skips.pop()), dim=1), t)
            x = block2(torch.cat((x, skips.pop()), dim=1), t)
            x = attn(x) + x
            x = up(x)

        x = self.final_block(torch.cat((x, first), dim=1), t)
        return self.final_conv(x)
