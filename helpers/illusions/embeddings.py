"""Part 2's prompt embeddings without T5 in the notebook's process.

T5-XXL takes about 10 GB; loaded in the notebook's kernel, whatever it leaves behind
(a reference kept by a traceback, the CUDA caching allocator) stays next to the IF
UNets. :func:`prompt_embeddings` therefore runs ``python -m helpers embed-prompts`` in
its own process, whose memory is surely returned when it exits, and loads the file it
writes. Embeddings computed elsewhere are accepted too (as Berkeley's CS180 ships them):
a ``prompt_embeddings.pt`` for the same prompts in the results folder or attached under
``/kaggle/input`` is used as it is, and T5 never loads.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.illusions.models import PromptEmbeddings
from helpers.places import find_in_kaggle_input

__all__ = ["EMBEDDINGS_NAME", "find_embeddings", "prompt_embeddings"]

EMBEDDINGS_NAME = "prompt_embeddings.pt"


def find_embeddings(
    prompts: list[str], negative_prompt: str, places: list[Path]
) -> PromptEmbeddings | None:
    """The first saved embeddings of exactly these prompts among ``places`` (files), else None."""
    for path in places:
        if path.is_file():
            saved = PromptEmbeddings.load(path)
            if saved.prompts == list(prompts) and saved.negative_prompt == negative_prompt:
                print(f"prompt embeddings: {path} (computed before, for the same prompts)")
                return saved
    return None


def prompt_embeddings(
    prompts: list[str],
    path: str | Path,
    *,
    negative_prompt: str = "",
    model: str = "M",
    load_in_8bit: bool = False,
) -> PromptEmbeddings:
    """Embeddings of ``prompts``: saved ones if found (module docstring), else T5 in its own process.

    ``path`` is where the new embeddings are written (and the first place looked at).
    """
    path = Path(path)
    attached = find_in_kaggle_input(EMBEDDINGS_NAME)
    found = find_embeddings(prompts, negative_prompt, [path, *attached])
    if found is not None:
        return found
    command = [sys.executable, "-m", "helpers", "embed-prompts", *prompts, "--out", str(path),
               "--negative-prompt", negative_prompt, "--model", model]  # fmt: skip
    if load_in_8bit:
        command.append("--8bit")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(
            f"embedding the prompts in their own process failed (python -m helpers embed-prompts, "
            f"exit status {done.returncode}):\n{(done.stdout + done.stderr).strip()[-3000:]}"
        )
    print(done.stdout.strip())
    return PromptEmbeddings.load(path)
