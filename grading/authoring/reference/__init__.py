"""Reference solutions of the student TODOs, used by hidden tests, the demo and instructors."""

from grading.authoring.reference.diffusion_steps import (
    REFERENCE_STEPS,
    denoise_backward,
    denoise_forward,
    schedule_init,
)
from grading.authoring.reference.illusions import denoising_loop
from grading.authoring.reference.views import IdentityView, Rotate180View
from grading.authoring.reference.visualization import plot_losses, sample_with_progress

__all__ = [
    "REFERENCE_STEPS",
    "schedule_init",
    "denoise_forward",
    "denoise_backward",
    "sample_with_progress",
    "plot_losses",
    "IdentityView",
    "Rotate180View",
    "denoising_loop",
]
