"""The rollouts-under-load test's options (on `edgeload.options`) and its validated `Inputs`.

The run is a pod scenario run (`edgeload.scenarios.pods.runner.PodRun`), so its `Inputs` are
the pod scenarios' `Inputs` with this test's own fields added. Durations are endpoint seconds
(simulated seconds on a simulator with a time scale); the request rate is per real second.

The pass rule follows the upstream `rollouts_under_inference_load.py`: queries go on for its
"victory duration" (--error-free-s, 240 s) with every retry off, any error fails the run, and
fewer than --min-rollouts (2) new deployment revisions in that time make it inconclusive. Here
the load goes on past --error-free-s while a rollout is under way or fewer than --min-rollouts
rollouts have finished, up to --timeout, and every error is counted (the upstream script
stopped at the first).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from edgeload import cloudside as cloud
from edgeload import options as opt
from edgeload.errors import UsageError
from edgeload.options import FLOAT, INT, Option
from edgeload.scenarios.pods.options import CONNECT_TIMEOUT, EDGE_CONFIG, K8S
from edgeload.scenarios.pods.options import Inputs as PodInputs

SCENARIO = "rollouts-under-load"

REQUESTS_PER_SECOND = Option(
    "--requests-per-second",
    FLOAT,
    10.0,
    "image queries per second (real seconds), all clients together, each on a fixed schedule "
    "(a late request is sent at once; its intended time is kept)",
    unit="req/s",
    above=0,
    maximum=10_000,
)
CLIENTS = Option(
    "--clients",
    INT,
    1,
    "concurrent clients sharing --requests-per-second; each waits for its answer",
    minimum=1,
    maximum=256,
)
MIN_ROLLOUTS = Option(
    "--min-rollouts",
    INT,
    2,
    "rollouts (new revisions of the detector's inference Deployments) needed; fewer by "
    "--timeout makes the run inconclusive (exit 4)",
    minimum=1,
    maximum=1000,
)
ERROR_FREE_S = Option(
    "--error-free-s",
    FLOAT,
    240.0,
    "the load lasts at least this long, and the run passes when no image query failed in it "
    "(nor after) and at least --min-rollouts rollouts finished (upstream: 240 s, 2 rollouts, "
    "any error fails); the load goes on past it while a rollout is under way or rollouts are "
    "missing, up to --timeout",
    unit="s",
    above=0,
    maximum=7 * 86400,
    metavar="SECONDS",
)
TIMEOUT = Option(
    "--timeout",
    FLOAT,
    900.0,
    "stop the load this long after it started even if fewer than --min-rollouts rollouts "
    "finished (at least --error-free-s)",
    unit="s",
    above=0,
    maximum=7 * 86400,
    metavar="SECONDS",
)
LABEL_INTERVAL = Option(
    "--label-interval",
    FLOAT,
    30.0,
    "submit --labels-per-batch labels this often (through the endpoint, which forwards them to "
    "its cloud, or to --cloud-endpoint), so that the cloud trains new models and the edge rolls "
    "them out",
    unit="s",
    minimum=0.01,
    maximum=86400,
    metavar="SECONDS",
)
LABELS_PER_BATCH = Option(
    "--labels-per-batch", INT, 3, "labels submitted each --label-interval", minimum=1, maximum=100
)
SPIKE_MS = Option(
    "--spike-ms",
    FLOAT,
    None,
    "a latency above this is a spike (default: above --spike-factor x the median latency "
    "outside rollout windows before the window, and at least 100 ms above that median)",
    unit="ms",
    above=0,
    maximum=3_600_000,
)
SPIKE_FACTOR = Option(
    "--spike-factor",
    FLOAT,
    3.0,
    "without --spike-ms: a spike is a latency above this multiple of the median before the window",
    above=1,
    maximum=1000,
)
WINDOW_MARGIN = Option(
    "--window-margin",
    FLOAT,
    5.0,
    "errors and spikes this long after a rollout window (the old pod gone) still count as the "
    "rollout's (each edge-app worker caches pod readiness ~5 s); the load also goes on this "
    "long after the last rollout needed",
    unit="s",
    minimum=0,
    maximum=3600,
    metavar="SECONDS",
)
DETECTOR_ID = dataclasses.replace(
    opt.DETECTOR_IDS, many=False, help="use this existing detector instead of edgeload's own"
)
IMAGE_SIZE = dataclasses.replace(
    opt.IMAGE_SIZES, many=False, help="image size WIDTHxHEIGHT; overrides --image-width/-height"
)

OPTIONS: tuple[Option, ...] = (
    opt.DETECTOR_MODE,
    DETECTOR_ID,
    REQUESTS_PER_SECOND,
    CLIENTS,
    opt.CLIENT,
    MIN_ROLLOUTS,
    ERROR_FREE_S,
    TIMEOUT,
    LABEL_INTERVAL,
    LABELS_PER_BATCH,
    dataclasses.replace(
        EDGE_CONFIG,
        help="apply this edge config through PUT /edge-config before the load starts, e.g. "
        "configs/edge-config-rollouts-under-load.yaml (upstream's: edge answers only, a 5 s "
        "model-updater refresh); default: the box's own config, untouched",
    ),
    dataclasses.replace(
        cloud.CLOUD_ENDPOINT,
        help="send the labels to this cloud directly, e.g. https://api.groundlight.ai (also "
        f"{cloud.CLOUD_ENDPOINT_VARIABLE}), as upstream does; needed when --edge-config makes "
        "the detector edge-only (the edge then refuses the async queries labels go through). "
        "Default: through the endpoint (with --edge-config, the embedded simulator's own cloud)",
    ),
    SPIKE_MS,
    SPIKE_FACTOR,
    WINDOW_MARGIN,
    opt.IMAGE_WIDTH,
    opt.IMAGE_HEIGHT,
    IMAGE_SIZE,
    CONNECT_TIMEOUT,
    K8S,
    opt.PROVISION_TIMEOUT,
    opt.FAIL_IF,
    opt.OUTPUT_DIR,
    opt.SIM_PROFILE.with_default("fast-rollouts"),
    opt.SIM_TIME_SCALE,
    opt.CA_BUNDLE,
)


@dataclass(frozen=True)
class Inputs(PodInputs):
    """The pod scenarios' inputs plus this test's own (the header's `inputs`)."""

    detector_id: str | None = None
    requests_per_second: float = 10.0
    clients: int = 1
    client: str = "sdk"
    min_rollouts: int = 2
    error_free_s: float = 240.0
    labels_per_batch: int = 3
    spike_ms: float | None = None
    spike_factor: float = 3.0
    window_margin_s: float = 5.0
    cloud_endpoint: str | None = None


def validate_inputs(namespace: Any) -> Inputs:
    """The run's options, checked; UsageError (one line, what to fix) for the first bad one."""
    values = opt.parse_options(namespace, OPTIONS)
    if os.environ.get("GROUNDLIGHT_ENDPOINT") and getattr(namespace, "sim_profile", None):
        raise UsageError(
            "--sim-profile applies only to the embedded simulator: unset GROUNDLIGHT_ENDPOINT "
            "or leave out --sim-profile"
        )
    k8s = values["k8s"]
    if k8s not in ("auto", "off") and not k8s.startswith(("http://", "https://")):
        raise UsageError(f"--k8s must be auto, off or an http(s):// URL, got {k8s!r}")
    if values["timeout"] < values["error_free_s"]:
        raise UsageError(
            f"--timeout ({values['timeout']:g} s) must be at least --error-free-s "
            f"({values['error_free_s']:g} s): the load lasts at least that long"
        )
    size = values["image_size"] or (values["image_width"], values["image_height"])
    return Inputs(
        **opt.run_values(values, SCENARIO),
        scenario=SCENARIO,
        num_detectors=1,
        detector_mode=values["detector_mode"],
        timeout=values["timeout"],
        connect_timeout=values["connect_timeout"],
        k8s=k8s,
        iteration_interval=0.0,
        confidence_threshold=0.0,  # an edge answer whatever its confidence (edgeload.clients)
        label_unconfident=False,
        provision_timeout=values["provision_timeout"],
        label_interval=values["label_interval"],
        duration=0.0,
        image_size=tuple(size),
        detector_id=values["detector_id"],
        requests_per_second=values["requests_per_second"],
        clients=values["clients"],
        client=values["client"],
        min_rollouts=values["min_rollouts"],
        error_free_s=values["error_free_s"],
        labels_per_batch=values["labels_per_batch"],
        spike_ms=values["spike_ms"],
        spike_factor=values["spike_factor"],
        window_margin_s=values["window_margin"],
        edge_config=values["edge_config"],
        cloud_endpoint=cloud.given_cloud_endpoint(values["cloud_endpoint"], os.environ),
    )
