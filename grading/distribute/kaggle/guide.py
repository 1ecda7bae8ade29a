"""The markdown cell that opens every Kaggle kernel: what a student who has only Kaggle needs.

The bundle ships no README, so the kernel's own first cell says which course datasets to
attach (by name), how to get a GPU, how to carry Part 1's training across sessions and how
to run Part 2 with the internet off. The session steps and the offline steps are the one
source of that text: the README shows them verbatim (tests/test_kaggle.py checks), and
the notebooks' own cells name these sections.
"""

from __future__ import annotations

from dataclasses import dataclass

SESSIONS_HEADING = "A run longer than one session"
OFFLINE_HEADING = "Part 2 without internet"

SESSION_STEPS = """\
The training cell resumes, in full mode, from the newest checkpoint of the same model in
`/kaggle/working/part1` or in an earlier session's output attached as an input. Kaggle
keeps `/kaggle/working` only of a saved version, so:

1. Before the session ends (or when it was cut off, from the last version),
   **Save Version** → *Save & Run All (Commit)* or *Quick Save*: its output keeps
   `part1/checkpoint.pt`.
2. In the next session: **Add Input** → *Your Work* → *Notebooks* → this notebook (the
   saved version); it appears under `/kaggle/input/<notebook-slug>/part1/`.
3. Run all cells: the training cell prints
   `resuming at step 12000 from /kaggle/input/<notebook-slug>/part1/checkpoint.pt: 18000 steps to go`
   and continues the same loss curve.
"""

OFFLINE_STEPS = """\
With internet on, the generation cell downloads IF (gated: your `HF_TOKEN`) and CLIP into
the Hugging Face cache. With internet off it cannot, and it stops within seconds naming
this path. Prepare, once, where the models load (a machine or session with internet):

1. The two IF stages, saved with `save_pretrained`:
   `load_stage_1("M").save_pretrained("IF-I-M-v1.0")` and
   `load_stage_2("M").save_pretrained("IF-II-M-v1.0")` (`helpers.illusions.models`),
   and CLIP: `CLIPModel` and `CLIPProcessor` of `openai/clip-vit-base-patch32`, both saved
   into one folder.
2. The prompt embeddings of your exact prompts (and negative prompt), since T5 is part
   of what would be downloaded: `python -m helpers embed-prompts --out prompt_embeddings.pt
   "<prompt 1>" "<prompt 2>"`, or the `prompt_embeddings.pt` an online run of this
   notebook wrote into its results folder.
3. Upload them as a dataset, attach it (**Add Input** → *Datasets*), and put the folders
   in the hyper-parameter cell: `stage_1="/kaggle/input/<dataset>/IF-I-M-v1.0"`, `stage_2=…`,
   `clip=…`. The generation cell finds `prompt_embeddings.pt` anywhere under
   `/kaggle/input` (or in the results folder) and uses it when its prompts are yours; T5
   never loads.
"""


@dataclass(frozen=True)
class Attached:
    """A course dataset the kernel attaches: its ``user/slug`` and what it holds."""

    dataset: str
    holds: str


def guide_markdown(
    assignment: str, attached: list[Attached], *, trains: bool, hub_models: tuple[str, ...]
) -> str:
    """The first cell of ``assignment``'s kernel.

    ``trains``: the notebook trains for hours (the session steps apply); ``hub_models``:
    the Hugging Face models it downloads (the offline steps apply).
    """
    datasets = "\n".join(f"* `{a.dataset}`: {a.holds}" for a in attached)
    parts = [
        f"## On Kaggle: {assignment}\n\n"
        "Run the next cell first: it installs the course's `helpers` package from the "
        "course's wheels dataset and lists anything still missing, each with its fix.\n\n"
        "**GPU**: Settings → Accelerator → *GPU T4* (the session restarts: run from the "
        "top). Without one the notebook runs in smoke mode.\n\n"
        "**Course datasets**, attached to this notebook (a *Copy & Edit* keeps them; if one "
        "is missing: **Add Input** → *Datasets* → search its name):\n\n"
        f"{datasets}\n\n"
        f"**Results** go to `/kaggle/working/{assignment}`: download them from the *Output* "
        "panel with the notebook (*File* → *Download notebook*) to submit.",
    ]
    if trains:
        parts.append(f"### {SESSIONS_HEADING}\n\n{SESSION_STEPS}")
    if hub_models:
        parts.append(
            "### Internet and the Hugging Face token\n\n"
            f"This notebook loads {', '.join(f'`{m}`' for m in hub_models)}: turn on "
            "Settings → Internet (Kaggle asks for a verified phone number), accept the "
            "DeepFloyd IF licence on huggingface.co and add your read token as a secret "
            "named `HF_TOKEN` (Add-ons → Secrets).\n\n"
            f"### {OFFLINE_HEADING}\n\n{OFFLINE_STEPS}"
        )
    return "\n\n".join(parts)
