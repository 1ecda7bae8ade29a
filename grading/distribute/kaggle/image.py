"""What Kaggle's notebook image is, as found in public sources (2025-2026).

* ``kernel-metadata.json`` fields and types: Kaggle/kaggle-cli ``docs/kernels_metadata.md``
  (``id`` "user/slug", the slug being the title lowercased with dashes; ``code_file``
  relative to the metadata file; ``language``; ``kernel_type``; ``is_private``,
  ``enable_gpu``, ``enable_internet`` booleans; ``dataset_sources``,
  ``competition_sources``, ``kernel_sources``, ``model_sources`` lists; ``machine_shape``,
  "the accelerator/GPU type to use (e.g. ``NvidiaTeslaT4``…)"); ``kaggle kernels push``
  refuses a title under five characters or a missing ``code_file``. ``enable_tpu`` is not
  in that document but is a field of kagglesdk's ``ApiSaveKernelRequest``; false either
  way. Kaggle/kaggle-cli PR #916 (docs/kernels.md) adds
  ``kaggle kernels push --accelerator`` and names ``NvidiaTeslaP100`` "(aka default GPU)":
  without ``machine_shape`` a GPU kernel gets a P100, which recent Kaggle torch builds no
  longer support, hence ``"machine_shape": "NvidiaTeslaT4"``.
* ``dataset-metadata.json``: Kaggle/kaggle-cli ``docs/datasets_metadata.md`` (``title`` of 6
  to 50 characters, ``id`` "user/slug", exactly one ``licenses`` entry of which only
  ``name`` is read). Its list of license names does not include "MIT"; if
  ``kaggle datasets create`` refuses it, build with ``--license other``.
  ``kaggle datasets create --dir-mode {skip,zip,tar}``: folders are skipped by default.
* The image: Kaggle/docker-python ``installed_cpu_packages.txt`` (commit 1ebea3c) lists the
  packages of :data:`KAGGLE_IMAGE`; PR #1496 ("Python 3.12 bump", 2025) moved it to
  Python 3.12, and it is built on Colab's Ubuntu 22.04 image (glibc 2.35), hence the
  platform of the downloads (:data:`KAGGLE_PYTHON`, :data:`KAGGLE_PLATFORMS`).
"""

from __future__ import annotations

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grading.distribute.kaggle import BundleError

MACHINE_SHAPE = "NvidiaTeslaT4"
KAGGLE_PYTHON = "3.12"
# glibc 2.35 (Ubuntu 22.04) runs every older manylinux wheel, but `pip download --platform`
# matches only the tags it is given (pip 23.2 found no pyzmq, tornado or tokenizers wheel for
# manylinux_2_35 alone): the newest first, then those that wheels on PyPI carry.
KAGGLE_PLATFORMS = (
    "manylinux_2_35_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)

# What Kaggle's Python image already has, with the version its package list records
# (Kaggle/docker-python installed_cpu_packages.txt, commit 1ebea3c). A dependency of the
# kit named here is never bundled: pip finds it installed. Its version must satisfy the
# kit's requirement, or pip --no-index would try to upgrade it and fail offline; the
# build checks that. Everything else the kit needs is downloaded into the wheels folder.
KAGGLE_IMAGE = {
    "torch": "2.10.0",  # never bundled: Kaggle's build matches its CUDA
    "torchvision": "0.25.0",
    "numpy": "2.4.6",
    "scipy": "1.16.3",
    "pillow": "11.3.0",
    "matplotlib": "3.10.0",
    "tqdm": "4.67.3",
    "pyyaml": "6.0.3",
    "ipywidgets": "8.1.5",
    "accelerate": "1.13.0",
    "diffusers": "0.37.1",
    "transformers": "5.0.0",
    "opencv-python-headless": "4.13.0.92",  # beside opencv-python and opencv-contrib-python
    "sentencepiece": "0.2.1",
    "protobuf": "5.29.5",
    # What the notebooks reach through those: the hub client that downloads (or, offline,
    # refuses to download) IF and CLIP, and the kernel that runs the cells.
    "huggingface-hub": "1.10.1",
    "safetensors": "0.7.0",
    "tokenizers": "0.22.2",
    "ipython": "7.34.0",
    "ipykernel": "6.17.1",
    "jupyter-client": "7.4.9",
    "jupyter-core": "5.9.1",
    "nbclient": "0.5.13",
    "nbformat": "5.10.4",
    "traitlets": "5.15.0",
    "pyzmq": "26.2.1",
    "tornado": "6.5.1",
}
# Not in the image, so bundled: ema-pytorch (0.8.3 requires only torch>=2.0; older
# releases needed einops, which the image has anyway).


def kaggle_environment(python: str = KAGGLE_PYTHON) -> dict[str, str]:
    """Marker values of Kaggle's kernel, to tell which requirements apply there."""
    env = dict(default_environment())
    env.update(
        python_version=python,
        python_full_version=f"{python}.0",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
        os_name="posix",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        extra="",
    )
    return env


def missing_on_kaggle(
    requirements: list[Requirement], python: str = KAGGLE_PYTHON
) -> list[Requirement]:
    """The requirements Kaggle's image lacks; raise if it has one in a version that does not fit."""
    missing = []
    for requirement in requirements:
        if requirement.marker and not requirement.marker.evaluate(kaggle_environment(python)):
            continue
        name = canonicalize_name(requirement.name)
        if name not in KAGGLE_IMAGE:
            missing.append(requirement)
        elif not requirement.specifier.contains(KAGGLE_IMAGE[name], prereleases=True):
            raise BundleError(
                f"the kit requires {requirement}, but Kaggle's image has {name} "
                f"{KAGGLE_IMAGE[name]} and pip --no-index cannot upgrade it offline. Relax the "
                f"requirement in pyproject.toml, or remove {name} from KAGGLE_IMAGE in "
                "grading/distribute/kaggle/image.py to bundle its wheel."
            )
    return missing


if __name__ == "__main__":
    # `make test-kaggle` installs these pins into a stand-in of Kaggle's image.
    print("\n".join(f"{name}=={version}" for name, version in KAGGLE_IMAGE.items()))
