"""Reference solutions of the student TODOs, used by hidden tests, the demo and instructors."""

from grading.reference.diffusion_steps import (
    REFERENCE_STEPS,
    denoise_backward,
    denoise_forward,
    schedule_init,
)
from grading.reference.illusions import denoising_loop
from grading.reference.views import IdentityView, Rotate180View

__all__ = ["REFERENCE_STEPS", "schedule_init", "denoise_forward", "denoise_backward"]
__all__ += ["IdentityView", "Rotate180View", "denoising_loop"]
