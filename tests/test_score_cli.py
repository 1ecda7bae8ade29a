"""``python -m helpers score``: the table, the JSON, and the argument errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from helpers.cli import main
from helpers.tiny_models import tiny_clip
from tests.metrics_models import TinyFeatures


def _images(folder, n, seed):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_fid_prints_a_table_and_writes_json(tmp_path, monkeypatch, capsys):
    import helpers.metrics.inception as inception

    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(inception, "load_fid_inception", lambda weights=None: TinyFeatures())
    gen, ref = _images(tmp_path / "gen", 4, seed=0), _images(tmp_path / "ref", 5, seed=1)
    out = tmp_path / "out" / "scores.json"
    assert (
        main(
            ["score", "--fid", str(ref), "--images", str(gen), "--json", str(out), "--no-progress"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())["fid"]
    assert result["n_generated"] == 4 and result["n_reference"] == 5 and result["value"] > 0
    assert (
        "FID" in printed
        and f"{result['value']:.2f}" in printed
        and "pytorch-fid convention" in printed
    )


def test_clip_scores_views_of_one_image(tmp_path, monkeypatch, capsys):
    import transformers

    model, processor = tiny_clip(tmp_path / "clip")
    monkeypatch.setattr(transformers.CLIPModel, "from_pretrained", lambda name: model)
    monkeypatch.setattr(transformers.CLIPProcessor, "from_pretrained", lambda name: processor)
    _images(tmp_path / "illusion", 1, seed=2)
    out = tmp_path / "clip.json"
    argv = [
        "score",
        "--clip",
        str(tmp_path / "illusion" / "0.png"),
        "--views",
        "identity",
        "rotate_180",
        "--prompts",
        "an old man",
        "a village",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    rows = json.loads(out.read_text())["clip"]
    assert [r["prompt"] for r in rows] == ["an old man", "a village"]
    assert all(r["checkpoint"] == "openai/clip-vit-base-patch32" for r in rows)
    assert "CLIP (raw cosine)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["score"], "nothing to score"), (["score", "--fid", "ref"], "needs the generated images")],
)
def test_argument_errors_say_what_is_missing(argv, message):
    with pytest.raises(SystemExit, match=message):
        main(argv)


def test_missing_weights_are_reported_without_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.delenv("COURSEKIT_FID_WEIGHTS", raising=False)
    gen = _images(tmp_path / "gen", 2, seed=3)
    assert main(["score", "--fid", str(gen), "--images", str(gen)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("error: Missing pt_inception-2015-12-05-6726825d.pth")
        and "Traceback" not in err
    )
