"""The memory-pressure test's own options (on `edgeload.options`) and its validated `Inputs`."""

from __future__ import annotations

from typing import Any

from edgeload import options as opt
from edgeload.options import FLOAT, Option
from edgeload.scenarios.pods.options import (
    EDGE_CONFIG,
    MEMORY_PRESSURE,
    Inputs,
    common_values,
    shared_inputs,
)

CONFIDENCE_THRESHOLD = Option(
    "--confidence-threshold",
    FLOAT,
    0.0,
    "set on every detector and sent with every query; 0 means any edge answer is returned from "
    "the edge (this test is about pods, not accuracy)",
    minimum=0,
    maximum=1,
)

OPTIONS: tuple[Option, ...] = (
    EDGE_CONFIG,
    CONFIDENCE_THRESHOLD,
    opt.SIM_PROFILE.with_default("gpu-1x"),
)


def validate_inputs(namespace: Any) -> Inputs:
    """The run's options, checked; UsageError (one line, what to fix) for the first bad one."""
    values = common_values(namespace, OPTIONS)
    return Inputs(
        **shared_inputs(MEMORY_PRESSURE, values),
        confidence_threshold=values["confidence_threshold"],
        set_detector_threshold=True,
        label_unconfident=True,
        edge_config=values["edge_config"],
    )
