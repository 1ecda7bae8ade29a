"""Part 2: visual anagrams with DeepFloyd IF.

Modules, in the order data flows through them::

    views    (how each prompt sees the image; check_view)
    models   (loading IF stage I / II, the token, prompt embeddings computed once)
    sampler  (the multi-view denoising loop's helpers and the stage I -> stage II driver)
    figures  (the views side by side with prompts and scores; the GIF animation)
    modes    (the notebook's models for its mode: IF, or the toy IF on a CPU)

The toy IF and toy CLIP of smoke mode: ``toy_models`` (their architectures and the shipped,
SHA-256-pinned weights) and ``toy_training`` (the commands that rebuild them).

Only ``views`` is imported here: ``models`` and ``sampler`` pull in diffusers, which takes
seconds to import, and are imported where they are used.
"""

from helpers.illusions.views import VIEWS, View, ViewCheck, check_view, get_view

__all__ = ["VIEWS", "View", "ViewCheck", "check_view", "get_view"]
