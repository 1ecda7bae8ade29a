"""The bootstrap cell of every Kaggle kernel: real code here, emitted into the notebook.

:func:`bootstrap_source` writes the source of :func:`_coursekit_setup` (read with
``inspect``, so ruff and the tests see the same code the cell runs) and a call with the
assignment's inputs into a plain code cell. The function therefore imports everything it
uses inside its body and uses nothing else of this module.

On Kaggle (``/kaggle/input`` exists or ``KAGGLE_KERNEL_RUN_TYPE`` is set) it installs the
kit with ``pip install --no-index --find-links <dir> diffusion-course-kit``, ``<dir>``
being wherever the attached wheels dataset holds ``diffusion_course_kit-*.whl`` (found by
file name with :func:`helpers.places.find_in_kaggle_input`, whose source the cell carries
before the function's: the kit is not installed yet), falling back to
``--no-deps`` for the bundled wheels when pip finds the image's own requirements
inconsistent; without that dataset it installs from ``kit_url`` when the network works,
else stops with a message naming the dataset to attach. It then sets ``COURSEKIT_RESULTS``
to ``/kaggle/working/<assignment>`` and, on a working GPU, ``COURSEKIT_MODE=full`` (each
only if not already set), says which mode the notebook will run in, points
``COURSEKIT_FID_WEIGHTS`` / ``COURSEKIT_ANIMEFACE_CASCADE`` at attached copies of those
files, and lists what is still missing, naming the course's dataset that holds it: the
faces, the weights, internet and ``HF_TOKEN`` for the Hugging Face models. Anywhere else it
prints that it is not on Kaggle and does nothing. ``COURSEKIT_KAGGLE_INPUT`` and
``COURSEKIT_KAGGLE_WORKING`` replace ``/kaggle/input`` and ``/kaggle/working``, so that a
temporary folder can imitate Kaggle (``tests/kaggle_fakes.py``). The cell avoids the words
that the autograder's reference scan flags in an added cell (see
``grading.autograde.batch.REFERENCE_USE``): a submission downloaded from Kaggle keeps it.
"""

from __future__ import annotations

import inspect

from helpers.places import KAGGLE_SEARCH_DEPTH, find_in_kaggle_input

HEADER = (
    "# Course kit setup: run this cell first. On Kaggle it installs the course's `helpers`\n"
    "# package from the attached wheels dataset, keeps results in /kaggle/working and lists\n"
    "# what is missing; anywhere else it does nothing. Added by the course's `make kaggle`.\n"
)


def _coursekit_setup(
    assignment: str,
    wheels_dataset: str,
    faces_dataset: str | None,
    weights: tuple[str, ...],
    weights_dataset: str,
    hub_models: tuple[str, ...],
    smoke: str,
    kit_url: str,
) -> None:
    import glob
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    kaggle_input = Path(os.environ.get("COURSEKIT_KAGGLE_INPUT", "/kaggle/input"))
    working = Path(os.environ.get("COURSEKIT_KAGGLE_WORKING", "/kaggle/working"))
    if not (kaggle_input.is_dir() or "KAGGLE_KERNEL_RUN_TYPE" in os.environ):
        print(f"Not on Kaggle ({kaggle_input} does not exist): nothing to set up, cell skipped.")
        return

    def online():
        try:
            socket.create_connection(("pypi.org", 443), timeout=3).close()
            return True
        except OSError:
            return False

    def pip_install(*args):
        command = [sys.executable, "-m", "pip", "install", *args]
        done = subprocess.run(command, capture_output=True, text=True)
        return done.returncode, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"

    def conflict(log):
        reasons = [line.strip() for line in log.splitlines() if " depends on " in line]
        return "; ".join(reasons) or log.strip().splitlines()[-1]

    kits = find_in_kaggle_input("diffusion_course_kit-*.whl", kaggle_input)
    if kits:
        folder = kits[-1].parent
        failed, log = pip_install("--no-index", "--find-links", str(folder), "diffusion-course-kit")
        lines = [f"course kit: {kits[-1].name} from {folder}"]
        if failed:
            # pip also re-checks the requirements of what the image has installed, and an
            # image whose own pins disagree (a GPU torch and its nvidia-* packages) fails
            # that though nothing is missing: install the bundled wheels alone.
            wheels = [str(wheel) for wheel in sorted(folder.glob("*.whl"))]
            failed, fallback = pip_install("--no-index", "--no-deps", *wheels)
            if failed:
                raise RuntimeError(
                    f"Installing the course kit failed.\n{log[-3000:]}\n{fallback[-3000:]}"
                )
            lines.append(
                "  (installed without dependency resolution: pip found the image's own "
                f"requirements inconsistent: {conflict(log)})"
            )
    elif kit_url and online():
        failed, log = pip_install(kit_url)
        if failed:
            raise RuntimeError(f"Installing the course kit failed.\n{log[-3000:]}")
        lines = [f"course kit: {kit_url}, dependencies from PyPI"]
    else:
        raise RuntimeError(
            f"The course kit is not installed: no diffusion_course_kit-*.whl under {kaggle_input}. "
            f"Attach the dataset {wheels_dataset} (Add Input > Datasets) and run this cell again"
            + (
                f", or turn Internet on (Settings > Internet) to install {kit_url}."
                if kit_url
                else "."
            )
        )
    sys.path_importer_cache.clear()  # so that the import sees what pip just wrote
    try:
        import helpers.train  # imports every dependency of Part 1's training
    except ImportError as error:
        raise RuntimeError(
            f"The course kit is installed but {error.name} is missing from this image, so the "
            "wheels dataset must bundle it: tell the instructor (the course's `make kaggle`)."
        ) from error

    import torch

    import helpers.data
    import helpers.weights

    lines.append(f"helpers: {Path(helpers.__file__).parent}")
    results = Path(os.environ.setdefault("COURSEKIT_RESULTS", str(working / assignment)))
    results.mkdir(parents=True, exist_ok=True)
    lines.append(f"results: {results} (COURSEKIT_RESULTS)")
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
        try:
            torch.ones(1, device="cuda").add_(1)
        except RuntimeError as error:
            raise RuntimeError(
                f"The GPU {gpu} does not run this torch ({error}). "
                "Choose Settings > Accelerator > GPU T4 and restart the session."
            ) from None
        os.environ.setdefault("COURSEKIT_MODE", "full")
        lines.append(f"GPU: {gpu}, mode {os.environ['COURSEKIT_MODE']} (COURSEKIT_MODE)")
    elif os.environ.get("COURSEKIT_MODE") == "full":
        lines.append(
            "GPU: none, but COURSEKIT_MODE=full asks for the full run, which needs one: choose "
            "Settings > Accelerator > GPU T4, or unset COURSEKIT_MODE for the smoke mode."
        )
    else:
        lines.append(
            f"GPU: none, so the notebook runs in smoke mode ({smoke}). "
            "For the real run choose Settings > Accelerator > GPU T4."
        )

    for name in weights:
        asset = getattr(helpers.weights, name)
        copies = find_in_kaggle_input(glob.escape(asset.name), kaggle_input)
        if asset.env not in os.environ and copies:
            os.environ[asset.env] = str(copies[0])
        if asset.env in os.environ:
            lines.append(f"{asset.name}: {os.environ[asset.env]} ({asset.env})")
        else:
            lines.append(
                f"{asset.name}: missing. The scores need {asset.what}: attach the course's "
                f"dataset {weights_dataset} (Add Input > Datasets), or turn Internet on "
                "(Settings > Internet) to download it."
            )

    if faces_dataset:
        try:
            faces = helpers.data.resolve_data_dir(kaggle_input=kaggle_input)
        except FileNotFoundError:
            faces = None
        if faces is not None and kaggle_input in faces.parents:
            lines.append(f"faces: {faces}")
        else:
            lines.append(
                f"faces: missing. Attach the dataset {faces_dataset} (Add Input > Datasets) "
                "for the full run."
            )

    if hub_models:
        internet = "on" if online() else "OFF: turn it on in Settings > Internet"
        lines.append(
            f"Hugging Face models, downloaded when loaded: {', '.join(hub_models)}; internet {internet}. "
            "DeepFloyd IF is gated: accept its licence on huggingface.co and add a secret "
            "named HF_TOKEN (Add-ons > Secrets)."
        )
    print("\n".join(lines))


def bootstrap_source(
    assignment: str,
    *,
    wheels_dataset: str,
    faces_dataset: str | None = None,
    weights: tuple[str, ...] = (),
    weights_dataset: str = "",
    hub_models: tuple[str, ...] = (),
    smoke: str = "",
    kit_url: str = "",
) -> str:
    """The code of the bootstrap cell of ``assignment``'s notebook (see the module docstring).

    Args:
        wheels_dataset: "user/slug" of the wheels dataset, named when it is not attached.
        faces_dataset: "user/slug" of the faces dataset, or None when the notebook does
            not train on the faces.
        weights: :mod:`helpers.weights` asset names to look for under ``/kaggle/input``.
        weights_dataset: "user/slug" of the course's dataset holding them, named when
            they are missing (also in a bundle built without it: the course may upload
            it from elsewhere).
        hub_models: Hugging Face models the notebook downloads (needs internet).
        smoke: what the notebook's smoke mode runs, said when there is no GPU.
        kit_url: a pip requirement (URL of the kit's wheel, ``git+https://…``) installed
            when no wheels dataset is attached and the network works; empty: none.
    """
    # The search runs before the kit is installed: the cell carries its source and what
    # that source uses, and deletes every name it made, so that no later cell relies on one.
    search = (
        "import glob\nfrom pathlib import Path\n\n"
        f"KAGGLE_SEARCH_DEPTH = {KAGGLE_SEARCH_DEPTH}\n\n\n"
        + inspect.getsource(find_in_kaggle_input)
    )
    call = (
        f"_coursekit_setup(\n"
        f"    assignment={assignment!r},\n"
        f"    wheels_dataset={wheels_dataset!r},\n"
        f"    faces_dataset={faces_dataset!r},\n"
        f"    weights={tuple(weights)!r},\n"
        f"    weights_dataset={weights_dataset!r},\n"
        f"    hub_models={tuple(hub_models)!r},\n"
        f"    smoke={smoke!r},\n"
        f"    kit_url={kit_url!r},\n"
        f")\n"
        f"del _coursekit_setup, {find_in_kaggle_input.__name__}, KAGGLE_SEARCH_DEPTH, glob, Path\n"
    )
    return "\n\n".join([HEADER + search, inspect.getsource(_coursekit_setup), call])
