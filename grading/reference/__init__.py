"""Reference solutions of the student TODOs, used by hidden tests, the demo and instructors."""

from grading.reference.diffusion_steps import (
    REFERENCE_STEPS,
    denoise_backward,
    denoise_forward,
    schedule_init,
)

__all__ = ["REFERENCE_STEPS", "schedule_init", "denoise_forward", "denoise_backward"]
