"""The options both pod scenarios take (on `edgeload.options`) and their validated `Inputs`.

Each pod scenario's folder lists its own options next to these (`memory_pressure/options.py`,
`rollouts/options.py`) and turns the parsed values into one frozen `Inputs`. Durations are
endpoint seconds: simulated seconds on a simulator with a time scale.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from edgeload import options as opt
from edgeload.errors import UsageError
from edgeload.options import FLOAT, TEXT, Option

MEMORY_PRESSURE = "memory-pressure"
ROLLOUTS = "rollouts"

MAX_DETECTORS = 200
DEFAULT_REFRESH_RATE_S = 20.0  # the edge endpoint's default refresh_rate

NUM_DETECTORS = dataclasses.replace(  # required: NUM_DETECTORS or --num-detectors
    opt.NUM_DETECTORS,
    default=None,
    help="detectors (each with its inference pods) to load",
    maximum=MAX_DETECTORS,
)
TIMEOUT = Option(
    "--timeout",
    FLOAT,
    1800.0,
    "give up when the goal is not reached this long after the first image query (endpoint "
    "seconds: simulated seconds on a simulator with a time scale)",
    unit="s",
    above=0,
    maximum=7 * 86400,
)
EDGE_CONFIG = Option(  # text: edgeconfig.load_edge_config says what is wrong with the file
    "--edge-config",
    TEXT,
    None,
    "apply this edge config (e.g. configs/edge-config-edge-answers-with-escalation.yaml) through "
    "PUT /edge-config before the first query; `edgeload_all_detectors: NAME` in it assigns that "
    "inference config to every detector of the run",
    metavar="PATH",
)
CONNECT_TIMEOUT = Option(
    "--connect-timeout",
    FLOAT,
    1800.0,
    "how long to keep retrying while the endpoint does not answer yet (e.g. while you install it)",
    unit="s",
    minimum=1,
    maximum=7 * 86400,
)
K8S = Option(
    "--k8s",
    TEXT,
    "auto",
    "pod checks through the Kubernetes API (namespace edge): auto = the simulator's API on a "
    "simulated target, else kubeconfig or in-cluster config; off = skip; URL = that API base "
    "URL without credentials (e.g. `kubectl proxy`'s http://127.0.0.1:8001)",
    metavar="auto|off|URL",
)
ITERATION_INTERVAL = Option(
    "--iteration-interval",
    FLOAT,
    1.0,
    "shortest time between the starts of two iterations (one image query per detector each)",
    unit="s",
    minimum=0,
    maximum=3600,
)

# Shared by both pod commands, after each scenario's own options.
COMMON_OPTIONS: tuple[Option, ...] = (
    TIMEOUT,
    CONNECT_TIMEOUT,
    K8S,
    ITERATION_INTERVAL,
    opt.FAIL_IF,
    opt.OUTPUT_DIR,
    opt.SIM_TIME_SCALE,
    opt.CA_BUNDLE,
)
POSITIONALS: tuple[Option, ...] = (NUM_DETECTORS, opt.DETECTOR_MODE)


@dataclass(frozen=True)
class Inputs:
    """Everything a pod scenario run needs, validated (the header's `inputs`)."""

    scenario: str
    num_detectors: int
    detector_mode: str
    timeout: float  # from the first image query until the goal
    connect_timeout: float
    k8s: str
    iteration_interval: float
    output_dir: str
    sim_profile: str
    sim_time_scale: float
    ca_bundle: str | None = None
    fail_if: str | None = None
    confidence_threshold: float | None = None  # sent with every image query
    set_detector_threshold: bool = False  # also set it on the detectors (memory pressure)
    label_unconfident: bool = True  # label unconfident cloud answers (memory pressure)
    edge_config: str | None = None
    prime_labels: bool = False  # rollouts: train to >= 30 labels, wait for evaluation
    provision_timeout: float = 1200.0
    label_interval: float | None = None  # rollouts: label every detector this often
    duration: float | None = 0.0  # rollouts: after every detector got edge; None: 10 refreshes
    refresh_rate_hint: float | None = None  # given by the user (None: not given)
    request_timeout: float = 30.0
    sample_interval: float = 5.0
    metrics_interval: float = 10.0
    image_size: tuple[int, int] = (640, 480)

    def as_record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["image_size"] = list(self.image_size)
        return record


def common_values(namespace: Any, scenario_options: tuple[Option, ...]) -> dict[str, Any]:
    """Every option's typed value (positionals, the scenario's, the shared ones), checked;
    UsageError (one line) for the first bad one."""
    if _is_unset(getattr(namespace, "num_detectors", None)) and _is_unset(
        getattr(namespace, "_positional_num_detectors", None)
    ):
        raise UsageError("give NUM_DETECTORS (or --num-detectors): how many detectors to load")
    values = opt.parse_options(namespace, (*POSITIONALS, *scenario_options, *COMMON_OPTIONS))
    k8s = values["k8s"]
    if k8s not in ("auto", "off") and not k8s.startswith(("http://", "https://")):
        raise UsageError(f"--k8s must be auto, off or an http(s):// URL, got {k8s!r}")
    if os.environ.get("GROUNDLIGHT_ENDPOINT") and getattr(namespace, "sim_profile", None):
        raise UsageError(
            "--sim-profile applies only to the embedded simulator: unset GROUNDLIGHT_ENDPOINT "
            "or leave out --sim-profile"
        )
    return values


def _is_unset(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def shared_inputs(scenario: str, values: dict[str, Any]) -> dict[str, Any]:
    """The `Inputs` fields every pod scenario fills the same way from its parsed values."""
    return {
        **opt.run_values(values, scenario),
        "scenario": scenario,
        "num_detectors": values["num_detectors"],
        "detector_mode": values["detector_mode"],
        "timeout": values["timeout"],
        "connect_timeout": values["connect_timeout"],
        "k8s": values["k8s"],
        "iteration_interval": values["iteration_interval"],
    }


def add_arguments(parser: Any, scenario_options: tuple[Option, ...]) -> None:
    """The command's options on argparse, with the upstream scripts' positional forms."""
    opt.add_arguments(
        parser, (*POSITIONALS, *scenario_options, *COMMON_OPTIONS), positionals=POSITIONALS
    )
