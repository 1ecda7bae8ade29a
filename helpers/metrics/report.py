"""``python -m helpers score``: run the scorers asked for, print a table, optionally write JSON.

    python -m helpers score --fid REF --afd DIR [--json scores.json]
    python -m helpers score --clip IMAGE --views identity rotate_180 --prompts "…" "…"
    python -m helpers score --clip VIEW1.png VIEW2.png --prompts "…" "…"

``REF`` is a folder of reference images (statistics cached) or an ``.npz`` of
statistics; ``DIR`` the folder of generated images, scored for both FID and AFD.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["SIMPLE_VIEWS", "add_arguments", "run"]

# Pixel permutations of a (3, H, W) tensor, for scoring an illusion saved as one file.
# Tensor methods only: this module is imported to build ``--help``, which must not load torch.
SIMPLE_VIEWS = {
    "identity": lambda x: x,
    "rotate_180": lambda x: x.rot90(2, (1, 2)),
    "rotate_cw": lambda x: x.rot90(-1, (1, 2)),
    "rotate_ccw": lambda x: x.rot90(1, (1, 2)),
    "flip": lambda x: x.flip(1),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    part1 = parser.add_argument_group("Part 1: FID and AFD of a folder of generated images")
    part1.add_argument(
        "--fid", metavar="REF", help="reference images folder, or an .npz of their statistics"
    )
    part1.add_argument(
        "--afd", metavar="DIR", help="generated images folder (also the one FID scores)"
    )
    part1.add_argument(
        "--images", metavar="DIR", help="generated images folder, when FID is asked without AFD"
    )
    part1.add_argument(
        "--image-size", type=int, help="resize every image to this square first (FID)"
    )
    part1.add_argument("--batch-size", type=int, default=50)
    part1.add_argument("--fid-weights", metavar="PATH", help="pt_inception-2015-12-05-6726825d.pth")
    part1.add_argument("--cascade", metavar="PATH", help="lbpcascade_animeface.xml")
    part2 = parser.add_argument_group("Part 2: CLIP score of an illusion, view by view")
    part2.add_argument(
        "--clip", metavar="IMAGE", nargs="+", help="one image per prompt, or one image with --views"
    )
    part2.add_argument("--prompts", nargs="+", metavar="PROMPT")
    part2.add_argument(
        "--views", nargs="+", choices=sorted(SIMPLE_VIEWS), help="views of the single --clip image"
    )
    part2.add_argument(
        "--clip-model", default=None, help="CLIP checkpoint (default openai/clip-vit-base-patch32)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Score, print, write; a user error (missing file or weights, bad image) prints its message, exit 1."""
    try:
        return _score(args)
    except (OSError, ValueError, ImportError) as exc:  # MissingWeightsError is an OSError
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _score(args: argparse.Namespace) -> int:
    generated = args.afd or args.images
    if not (args.fid or args.afd or args.clip):
        raise SystemExit(
            "nothing to score: give --fid REF with --afd/--images DIR, --afd DIR, or --clip"
        )
    if args.fid and not generated:
        raise SystemExit("--fid REF needs the generated images: add --afd DIR or --images DIR")
    progress = not args.no_progress
    results: dict = {}
    rows: list[tuple[str, str, str]] = []
    if args.fid:
        from helpers.metrics.fid import PREPROCESSING, fid_score
        from helpers.metrics.inception import load_fid_inception

        fid = fid_score(
            generated,
            args.fid,
            model=load_fid_inception(args.fid_weights),
            batch_size=args.batch_size,
            image_size=args.image_size,
            progress=progress,
        )
        results["fid"] = {
            "value": fid.fid,
            "n_generated": fid.n_generated,
            "n_reference": fid.n_reference,
            "image_size": args.image_size,
            "convention": PREPROCESSING,
        }
        rows.append(
            (
                "FID",
                f"{fid.fid:.2f}",
                f"{fid.n_generated} vs {fid.n_reference} images, pytorch-fid convention",
            )
        )
    if args.afd:
        from helpers.metrics.afd import CascadeDetector, afd_score

        detector = CascadeDetector(args.cascade)
        afd = afd_score(args.afd, detector, progress=progress)
        results["afd"] = {
            "detected": afd.detected,
            "total": afd.total,
            "rate": afd.rate,
            "detector": f"lbpcascade_animeface upscale={detector.upscale} pad={detector.pad} "
            f"scaleFactor={detector.scale_factor} minNeighbors={detector.min_neighbors} "
            f"minSize={detector.min_size}",
        }
        rows.append(("AFD", f"{100 * afd.rate:.2f} %", str(afd)))
    if args.clip:
        results["clip"] = _clip(args)
        for row in results["clip"]:
            rows.append(
                (
                    "CLIP (raw cosine)",
                    f"{row['clip_cosine']:.4f}",
                    f"{row['checkpoint']}: {row['prompt'][:50]}",
                )
            )
    _print_table(rows)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _clip(args: argparse.Namespace) -> list[dict]:
    from helpers.metrics.clip_score import DEFAULT_CLIP, ClipScorer

    prompts = args.prompts or []
    scorer = ClipScorer(args.clip_model or DEFAULT_CLIP)
    if args.views:
        if len(args.clip) != 1:
            raise SystemExit("--views applies to one --clip image; give one image")
        scores = scorer.score_views(args.clip[0], [SIMPLE_VIEWS[v] for v in args.views], prompts)
    else:
        scores = scorer.score(args.clip, prompts)
    return scores.table()


def _print_table(rows: list[tuple[str, str, str]]) -> None:
    widths = [max(len(r[i]) for r in rows + [("metric", "value", "detail")]) for i in range(3)]
    for row in [("metric", "value", "detail"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
