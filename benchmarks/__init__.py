"""`make bench`: speed of the kit against the anchor libraries, measured in the same run.

Every suite module (``benchmarks/diffusion.py`` …) exposes ``run() -> list[BenchResult]``.
A result compares our time with the anchor's on the same inputs, shapes and thread
count; the ratio is ours / anchor (below 1.0 means faster). Benchmarks are never part of
``make test``: shared machines are too noisy for timed assertions.

    python -m benchmarks                # every suite
    python -m benchmarks diffusion      # only benchmarks/diffusion.py
"""
