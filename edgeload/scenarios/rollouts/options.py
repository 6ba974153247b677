"""The repeated-rollouts test's own options (on `edgeload.options`) and its validated
`Inputs`."""

from __future__ import annotations

import dataclasses
from typing import Any

from edgeload import options as opt
from edgeload.options import FLOAT, Option
from edgeload.scenarios.pods.options import (
    DEFAULT_REFRESH_RATE_S,
    ROLLOUTS,
    Inputs,
    common_values,
    shared_inputs,
)

# As in the upstream script: a very low threshold, because this test is about rollouts, not ML.
ROLLOUT_CONFIDENCE_THRESHOLD = 0.1

REFRESH_RATE_HINT = Option(
    "--refresh-rate-hint",
    FLOAT,
    None,
    "the refresh_rate you set in the endpoint's edge config (global_config), "
    f"{DEFAULT_REFRESH_RATE_S:g} s when not given; when given, the report warns if the endpoint "
    "says otherwise",
    unit="s",
    above=0,
    maximum=86400,
    metavar="SECONDS",
)
DURATION = Option(
    "--duration",
    FLOAT,
    None,
    "keep going this long after every detector got an edge answer, counting further rollouts "
    "(default: 10 refresh periods: the endpoint's refresh_rate where it says, else "
    "--refresh-rate-hint)",
    unit="s",
    minimum=0,
    maximum=7 * 86400,
    metavar="SECONDS",
)
LABEL_INTERVAL = Option(
    "--label-interval",
    FLOAT,
    3.0,
    "add a label to every detector this often, to keep training going",
    unit="s",
    minimum=0.1,
    maximum=86400,
)
# priming the detectors to 30 labels and their evaluation is provisioning: the shared option
PROVISION_TIMEOUT = dataclasses.replace(opt.PROVISION_TIMEOUT, aliases=("--prime-timeout",))

OPTIONS: tuple[Option, ...] = (
    REFRESH_RATE_HINT,
    DURATION,
    LABEL_INTERVAL,
    PROVISION_TIMEOUT,
    opt.SIM_PROFILE.with_default("fast-rollouts"),
)


def validate_inputs(namespace: Any) -> Inputs:
    """The run's options, checked; UsageError (one line, what to fix) for the first bad one."""
    values = common_values(namespace, OPTIONS)
    return Inputs(
        **shared_inputs(ROLLOUTS, values),
        confidence_threshold=ROLLOUT_CONFIDENCE_THRESHOLD,
        set_detector_threshold=False,
        label_unconfident=False,
        prime_labels=True,
        provision_timeout=values["provision_timeout"],
        label_interval=values["label_interval"],
        duration=values["duration"],
        refresh_rate_hint=values["refresh_rate_hint"],
    )
