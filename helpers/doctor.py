"""Check that the installation can run the kit, and say how to fix it when it cannot."""

from __future__ import annotations

import importlib
import sys

# (module, what it is for, an attribute it must have). torchvision.ops is the import
# that fails when torchvision was built for another torch than the one installed
# (PyPI's CUDA torchvision beside a CPU-only torch wheel, for instance); OpenCV 5
# imports fine but no longer has the cascade detector AFD uses.
CHECKS = [
    ("torch", "PyTorch", None),
    ("torchvision.ops", "torchvision's compiled operators (must match the installed torch)", None),
    ("diffusers", "diffusers (DeepFloyd IF, schedulers)", None),
    ("transformers", "transformers (T5, CLIP)", None),
    ("accelerate", "accelerate (trainer)", None),
    ("cv2", "OpenCV 4 (anime face detector)", "CascadeClassifier"),
]

FIX = (
    "Fix: recreate the environment with `make clean setup`, which installs torch and "
    "torchvision as one matching pair from uv.lock. If you installed packages by hand, "
    "install torch and torchvision together in one command, e.g. "
    "`pip install torch==2.13.0 torchvision==0.28.0`."
)


def check_environment() -> list[str]:
    """Return one message per failing import (empty when everything imports)."""
    problems = []
    for module, what, attribute in CHECKS:
        try:
            imported = importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure is reported
            problems.append(f"cannot import {module} ({what}): {type(exc).__name__}: {exc}")
            continue
        if attribute and not hasattr(imported, attribute):
            version = getattr(imported, "__version__", "?")
            problems.append(f"{module} {version} has no {attribute} ({what})")
    return problems


def main() -> int:
    problems = check_environment()
    if problems:
        print("The environment is broken:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(FIX, file=sys.stderr)
        return 1
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(
        f"environment OK: torch {torch.__version__}, device {device}, python {sys.version.split()[0]}"
    )
    return 0
