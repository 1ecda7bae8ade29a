"""Course kit for teaching diffusion models.

Data flows through the package in this order::

    data (images) -> unet + diffusion (model) -> train (trainer) -> sampling (images)
                  -> metrics (FID, AFD, CLIP scores)

``helpers.todos`` holds the blanks of the student TODOs; their reference solutions
live in ``grading/authoring/reference`` (instructor-only).
"""

from helpers.diffusion import GaussianDiffusion
from helpers.schedules import (
    cosine_beta_schedule,
    get_beta_schedule,
    linear_beta_schedule,
    sigmoid_beta_schedule,
)
from helpers.todos import STUDENT_STEPS, DiffusionSteps, extract
from helpers.unet import UNet

__version__ = "0.1.0"

__all__ = [
    "GaussianDiffusion",
    "UNet",
    "DiffusionSteps",
    "STUDENT_STEPS",
    "extract",
    "get_beta_schedule",
    "linear_beta_schedule",
    "cosine_beta_schedule",
    "sigmoid_beta_schedule",
]
