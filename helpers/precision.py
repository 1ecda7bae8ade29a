"""Which floating-point precision a run trains in, and an accelerator built for it.

``"auto"`` picks by the GPU's compute capability, not by
``torch.cuda.is_bf16_supported()``: that function answers True on GPUs below compute
capability 8.0 (Kaggle's T4 is 7.5) because bf16 tensors *can be created* there, by
emulation, without bf16 tensor cores. So:

* compute capability >= 8.0 (A100, L4, H100 …): ``bf16``, whose range needs no loss scaling;
* a CUDA GPU below 8.0 (T4, V100, P100): ``fp16`` with a gradient scaler (accelerate adds one);
* no CUDA GPU: ``no`` (fp32): CPUs gain nothing from half precision in this model.

accelerate keeps its state in a process-wide singleton (``AcceleratorState``): a second
``Accelerator`` with another precision in the same kernel raises "AcceleratorState has
already been initialized and cannot be changed". :func:`fresh_accelerator` resets it,
so that a student can build a new trainer after a NaN or an interrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState

__all__ = ["BF16_MIN_CAPABILITY", "Precision", "choose_precision", "fresh_accelerator"]

BF16_MIN_CAPABILITY = (8, 0)  # Ampere: the first GPUs with bf16 tensor cores
CHOICES = ("auto", "no", "fp16", "bf16")


@dataclass(frozen=True)
class Precision:
    """accelerate's ``mixed_precision`` value and why it was chosen."""

    mode: str
    reason: str

    def __str__(self) -> str:
        return f"precision {self.mode}: {self.reason}"


def cuda_capability() -> tuple[int, int] | None:
    """Compute capability of the current CUDA GPU, None without one."""
    if not torch.cuda.is_available():
        return None
    return tuple(torch.cuda.get_device_capability())


def choose_precision(choice: str = "auto") -> Precision:
    """Resolve ``choice`` ("auto", "no", "fp16", "bf16") for this machine (module docstring)."""
    if choice not in CHOICES:
        raise ValueError(f"mixed_precision must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice != "auto":
        return Precision(choice, "set in the configuration")
    capability = cuda_capability()
    if capability is None:
        return Precision("no", "no CUDA GPU, so fp32")
    name = f"{torch.cuda.get_device_name()} (compute capability {capability[0]}.{capability[1]})"
    if capability >= BF16_MIN_CAPABILITY:
        return Precision("bf16", f"{name} has bf16 tensor cores")
    return Precision(
        "fp16",
        f"{name} has no bf16 tensor cores (bf16 would be emulated), so fp16 with a gradient scaler",
    )


def fresh_accelerator(mixed_precision: str) -> Accelerator:
    """An ``Accelerator`` for ``mixed_precision``, whatever accelerators this process built before.

    Only the per-run state is reset; ``PartialState`` (the processes of
    ``accelerate launch``) is kept, so multi-GPU runs are unaffected.
    """
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    return Accelerator(mixed_precision=mixed_precision)
