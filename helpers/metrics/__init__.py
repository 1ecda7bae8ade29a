"""Scorers of the assignment: FID and AFD for Part 1 (anime faces), CLIP score for Part 2 (illusions).

- :mod:`helpers.metrics.fid`: Fréchet Inception Distance, pytorch-fid's convention;
  :mod:`helpers.metrics.inception` is its network.
- :mod:`helpers.metrics.afd`: anime face detection rate, with a pluggable detector.
- :mod:`helpers.metrics.clip_score`: raw-cosine CLIP score, per view for illusions.
- :mod:`helpers.metrics.report`: the ``python -m helpers score`` command.

Weights and the face cascade are found or fetched by :mod:`helpers.weights`.
"""

from helpers.metrics.afd import AFDResult, CascadeDetector, FaceDetector, afd_score
from helpers.metrics.clip_score import ClipScorer, ClipScores
from helpers.metrics.fid import FIDResult, GaussianStats, fid_score, frechet_distance

__all__ = [
    "AFDResult",
    "CascadeDetector",
    "ClipScorer",
    "ClipScores",
    "FIDResult",
    "FaceDetector",
    "GaussianStats",
    "afd_score",
    "fid_score",
    "frechet_distance",
]
