"""Load over time: pure ramp functions and thin Locust `LoadTestShape` classes."""

from edgeload.shapes.step_ramp import StepRampShape, ramp_duration, ramp_steps, step_at

__all__ = ["StepRampShape", "ramp_duration", "ramp_steps", "step_at"]
