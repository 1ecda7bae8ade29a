"""Jobs that tests/test_engine.py sends to Dask workers, which import them by module path."""

from __future__ import annotations

import os
import time


def job(spec: tuple[str, int]) -> dict[str, int]:
    """``("square", n)`` squares n where it runs; ``("raise", n)`` fails; ``("die", n)``
    kills the process running it, as a segfault or the kernel's OOM killer would."""
    kind, n = spec
    if kind == "raise":
        raise ValueError(f"bad job {n}")
    if kind == "die":
        os._exit(3)
    time.sleep(0.2)  # long enough that both workers take jobs
    return {"square": n * n, "pid": os.getpid()}
