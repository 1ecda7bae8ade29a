"""``python -m grading.distribute.kaggle``: build the Kaggle bundle and print how to upload it (``make kaggle``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import grading.distribute.kaggle
from grading.distribute.kaggle import (
    DEFAULT_FACES_SLUG,
    DEFAULT_USERNAME,
    DEFAULT_WEIGHTS_SLUG,
    DEFAULT_WHEELS_SLUG,
    RELEASE,
    REPO,
    BundleError,
    released_notebooks,
)
from grading.distribute.kaggle.image import KAGGLE_PYTHON, missing_on_kaggle

if TYPE_CHECKING:
    from grading.distribute.kaggle.bundle import Bundle


def _size(path: Path) -> str:
    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*"))
    return f"{size / 1024:.0f} KB" if size < 1024**2 else f"{size / 1024**2:.1f} MB"


def describe(bundle: Bundle) -> str:
    """What was written, and the commands that upload it."""
    from grading.distribute.kaggle.wheels import kit_requirements

    root = bundle.root
    lines = [f"Kaggle bundle in {root}:"]
    for notebook in bundle.notebooks:
        meta = json.loads((notebook.parent / "kernel-metadata.json").read_text())
        lines.append(
            f"  {notebook.relative_to(root)}  guide and bootstrap cells + release ({_size(notebook)})"
        )
        lines.append(
            f"  {(notebook.parent / 'kernel-metadata.json').relative_to(root)}  {meta['id']}, "
            f"{meta['machine_shape']}, internet {'on' if meta['enable_internet'] else 'off'}, "
            f"datasets {', '.join(meta['dataset_sources'])}"
        )
    lines.append(
        f"  {bundle.kit_wheel.relative_to(root)}  {_size(bundle.kit_wheel)}, helpers/ only"
    )
    for wheel in bundle.dependency_wheels:
        lines.append(f"  {wheel.relative_to(root)}  {_size(wheel)}, not in Kaggle's image")
    if not bundle.dependency_wheels:
        lines.append(
            "  (no dependency wheels: --no-deps-download; offline, Kaggle would lack "
            + ", ".join(str(r.name) for r in missing_on_kaggle(kit_requirements()))
            + ")"
        )
    wheels_meta = json.loads((bundle.wheels / "dataset-metadata.json").read_text())
    lines.append(
        f"  {bundle.wheels.relative_to(root)}/dataset-metadata.json  {wheels_meta['id']}; "
        f"wheels folder {_size(bundle.wheels)}"
    )
    uploads = [
        f"  kaggle datasets create -p {bundle.wheels}    # later: kaggle datasets version -p {bundle.wheels} -m 'new kit'"
    ]
    if bundle.weights is not None:
        files = sorted(p for p in bundle.weights.iterdir() if p.name != "dataset-metadata.json")
        lines.append(
            f"  {bundle.weights.relative_to(root)}/  "
            + ", ".join(f"{p.name} ({_size(p)})" for p in files)
            + ", hash-checked"
        )
        uploads.append(f"  kaggle datasets create -p {bundle.weights}")
    else:
        lines.append(
            f"  (no weights dataset: --no-weights. The kernels name <username>/{DEFAULT_WEIGHTS_SLUG}: "
            "build and upload it where the files can be fetched, or students turn Internet on "
            "for the scores to download them)"
        )
    if bundle.faces is not None:
        lines.append(
            f"  {bundle.faces.relative_to(root)}/faces/faces/  {bundle.faces_count:,} images "
            f"({_size(bundle.faces)})"
        )
        uploads.append(f"  kaggle datasets create -p {bundle.faces} --dir-mode zip")
    lines += [
        "Upload (kaggle CLI, logged in as the username above):",
        *uploads,
        *(f"  kaggle kernels push -p {nb.parent}" for nb in bundle.notebooks),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.distribute.kaggle",
        description=grading.distribute.kaggle.__doc__.splitlines()[0],
    )
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "kaggle")
    parser.add_argument("--release", type=Path, default=RELEASE, help="the nbgrader release folder")
    parser.add_argument(
        "--username", default=DEFAULT_USERNAME, help="Kaggle user owning the kernels and datasets"
    )
    parser.add_argument(
        "--wheels-slug", default=DEFAULT_WHEELS_SLUG, help="slug of the wheels dataset"
    )
    parser.add_argument(
        "--faces-dataset",
        help=f"user/slug of the anime-faces dataset (default: <username>/{DEFAULT_FACES_SLUG})",
    )
    parser.add_argument(
        "--kit-url",
        default="",
        help="pip requirement the bootstrap installs when no wheels dataset is attached and it is online",
    )
    parser.add_argument("--license", default="MIT", help="license name of the wheels dataset")
    parser.add_argument(
        "--kaggle-python", default=KAGGLE_PYTHON, help="Python version of Kaggle's image"
    )
    parser.add_argument(
        "--faces",
        type=Path,
        help="a folder of face images to pack into the faces dataset (make kaggle FACES=DIR)",
    )
    parser.add_argument(
        "--no-weights",
        action="store_true",
        help="skip the weights dataset (FID weights, cascade) when they cannot be fetched here",
    )
    parser.add_argument(
        "--no-deps-download",
        action="store_true",
        help="skip downloading the dependency wheels from PyPI (offline builds, tests)",
    )
    args = parser.parse_args(argv)
    try:
        released_notebooks(args.release)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # Checked before these imports: they load torch, seconds that a missing release need not wait.
    from grading.distribute.kaggle.bundle import build_bundle
    from grading.distribute.kaggle.datasets import WEIGHTS

    try:
        bundle = build_bundle(
            args.out,
            release=args.release,
            username=args.username,
            wheels_slug=args.wheels_slug,
            faces_dataset=args.faces_dataset,
            faces=args.faces,
            weights=None if args.no_weights else WEIGHTS,
            kit_url=args.kit_url,
            license_name=args.license,
            download_deps=not args.no_deps_download,
            python=args.kaggle_python,
        )
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(describe(bundle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
