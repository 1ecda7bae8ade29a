"""The precision rule ("auto" by compute capability) and rebuilding accelerators in one process."""

from __future__ import annotations

import pytest
import torch

from helpers.precision import choose_precision, fresh_accelerator


def fake_gpu(monkeypatch, capability: tuple[int, int], name: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: name)
    # What torch answers on a T4: True, through emulation. The rule must not believe it.
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)


def test_a_t4_trains_in_fp16_although_torch_says_bf16_is_supported(monkeypatch):
    fake_gpu(monkeypatch, (7, 5), "Tesla T4")
    chosen = choose_precision("auto")
    assert chosen.mode == "fp16"
    assert "Tesla T4 (compute capability 7.5)" in chosen.reason and "scaler" in chosen.reason


@pytest.mark.parametrize(
    "capability, mode",
    [((6, 0), "fp16"), ((7, 0), "fp16"), ((8, 0), "bf16"), ((8, 9), "bf16"), ((9, 0), "bf16")],
)
def test_bf16_from_compute_capability_8_0(monkeypatch, capability, mode):
    fake_gpu(monkeypatch, capability, "some GPU")
    assert choose_precision("auto").mode == mode


def test_fp32_on_cpu_and_explicit_choices_pass_through(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_precision("auto").mode == "no"
    assert "no CUDA GPU" in str(choose_precision("auto"))
    for mode in ("no", "fp16", "bf16"):
        assert choose_precision(mode).mode == mode


def test_an_unknown_precision_names_the_valid_ones():
    with pytest.raises(ValueError, match="auto, no, fp16, bf16.*'fp32'"):
        choose_precision("fp32")


def test_accelerators_of_different_precisions_follow_each_other():
    # accelerate alone raises "AcceleratorState has already been initialized" here.
    for mode in ("bf16", "no", "bf16"):
        assert fresh_accelerator(mode).mixed_precision == mode
