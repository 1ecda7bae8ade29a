"""AFD: the rate with a stub detector, and nagadomi's cascade on drawn faces, noise and plain colours."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.afd_images import image_set
from helpers.metrics.afd import AFDResult, CascadeDetector, FaceDetector, afd_score, detection_rate

SHARED_CASCADE = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lbpcascade_animeface.xml"
)


class BrightIsAFace:
    """Stub detector: one box when the mean brightness is above one half."""

    def detect(self, image):
        return [(0, 0, 8, 8)] if np.asarray(image).mean() > 127 else []


def test_the_rate_counts_images_with_at_least_one_face(tmp_path):
    for i, grey in enumerate([200, 10, 255, 130, 0]):
        Image.new("RGB", (16, 16), (grey,) * 3).save(tmp_path / f"{i}.png")
    result = afd_score(tmp_path, BrightIsAFace(), progress=False)
    assert (result.detected, result.total) == (3, 5)
    assert result.rate == 0.6 and str(result) == "3 / 5 = 60.00 %"


def test_the_report_format_of_the_course():
    assert str(AFDResult(943, 1000)) == "943 / 1000 = 94.30 %"


def test_any_object_with_detect_is_a_detector():
    assert isinstance(BrightIsAFace(), FaceDetector)
    with pytest.raises(ValueError, match="no images"):
        detection_rate([], BrightIsAFace())


@pytest.fixture(scope="module")
def cascade_path() -> Path:
    path = os.environ.get("COURSEKIT_ANIMEFACE_CASCADE") or SHARED_CASCADE
    if not Path(path).is_file():
        pytest.skip(
            f"the anime-face cascade is absent (no $COURSEKIT_ANIMEFACE_CASCADE, no {SHARED_CASCADE})"
        )
    return Path(path)


def test_the_cascade_finds_drawn_faces_but_not_noise_nor_plain_colours(cascade_path):
    detector = CascadeDetector(cascade_path)
    faces = detection_rate(image_set("drawn faces", 30), detector, progress=False)
    assert faces.rate >= 0.7, f"drawn faces: {faces}"  # 90 / 100 when the settings were chosen
    for kind in ("pure noise", "plain colour"):
        assert detection_rate(image_set(kind, 30), detector, progress=False).detected == 0, kind


def test_cascade_boxes_are_in_the_pixels_of_the_image_given(cascade_path):
    image = image_set("drawn faces", 1)[0]
    boxes = CascadeDetector(cascade_path).detect(image)
    assert boxes, "the first drawn face is one the cascade finds"
    for x, y, w, h in boxes:
        assert -16 <= x and -16 <= y and 16 <= w <= 96 and x + w <= 80 and y + h <= 80


def test_a_corrupt_cascade_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSEKIT_ANIMEFACE_CASCADE", raising=False)
    (tmp_path / "lbpcascade_animeface.xml").write_text("<opencv_storage/>")
    with pytest.raises(ValueError, match="SHA-256"):
        CascadeDetector(tmp_path / "lbpcascade_animeface.xml")
