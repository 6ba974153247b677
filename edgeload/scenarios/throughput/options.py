"""The throughput test's options (on `edgeload.options`) and its validated `Inputs`.

Locust registers them (`register_locust_options`, ramp options also in the web UI form),
`edgeload throughput` declares and forwards them, and `validate_inputs` checks them (one-line
UsageError) before any load starts, the same way in both.

Imports neither locust nor gevent, so the CLI can validate without patching itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from edgeload import options as opt
from edgeload.errors import UsageError
from edgeload.options import FLOAT, INT, TEXT, Option
from edgeload.scenarios.throughput.analysis import DEFAULT_ENDPOINT_DOWN_S
from edgeload.scenarios.throughput.steps import DEFAULT_SETTLE_S, parse_slo

MAX_CLIENTS = Option(
    "--max-clients", INT, 10, "clients to ramp up to", minimum=1, maximum=100_000, web_ui=True
)
STEP_SIZE = Option(
    "--step-size",
    INT,
    1,
    "clients added per step (and the first step)",
    minimum=1,
    maximum=100_000,
    web_ui=True,
)
TIME_BETWEEN_RAMP = Option(
    "--time-between-ramp", FLOAT, 30.0, "seconds each step runs", unit="s", above=0,
    maximum=7 * 86400, web_ui=True,
)  # fmt: skip
REQUESTS_PER_SECOND = Option(
    "--requests-per-second", FLOAT, 10.0, "request rate of each client", unit="requests/s",
    above=0, maximum=100_000, web_ui=True,
)  # fmt: skip
ARRIVAL_RATE = Option(
    "--arrival-rate",
    FLOAT,
    None,
    "open model: total requests/s at --max-clients, sent on schedule whether or not answers "
    "came back (each step: R x clients / max-clients); replaces --requests-per-second",
    unit="requests/s",
    above=0,
    maximum=1_000_000,
    web_ui=True,
)
MAX_IN_FLIGHT = Option(
    "--max-in-flight",
    INT,
    None,
    "open model: requests in flight at once at --max-clients, shared evenly by the clients "
    "(default: max(1000, --max-clients)); an arrival that finds no free slot is dropped and "
    "counted as a failure",
    minimum=1,
    maximum=10_000_000,
    web_ui=True,
)
SAMPLE_INTERVAL = Option(
    "--system-sample-interval-seconds",
    FLOAT,
    5.0,
    "seconds between CPU/GPU/RAM/VRAM samples",
    unit="s",
    minimum=0.1,
    maximum=3600,
    web_ui=True,
)

LATENCY_SLO = Option(
    "--latency-slo",
    TEXT,
    None,
    "latency objective of a step, PERCENTILE:LIMITms (e.g. p95:150ms, corrected_p99:300ms): "
    "a step is steady only within it; the results give the highest rate within it",
    metavar="PCT:MS",
    web_ui=True,
)
STEP_SETTLE = Option(
    "--step-settle-seconds",
    FLOAT,
    DEFAULT_SETTLE_S,
    "seconds after a step's clients all run before it is measured (at most a quarter of the step)",
    unit="s",
    minimum=0,
    maximum=3600,
    web_ui=True,
)
ENDPOINT_DOWN = Option(
    "--endpoint-down-seconds",
    FLOAT,
    DEFAULT_ENDPOINT_DOWN_S,
    "the endpoint counts as down after this long with every request unanswered (connection "
    "errors, timeouts): said at once, and the run is impaired (exit 3)",
    unit="s",
    minimum=1,
    maximum=3600,
)

OPTIONS: tuple[Option, ...] = (
    opt.DETECTOR_MODE,
    opt.MAX_COUNT,
    opt.NUM_CLASSES,
    opt.MAX_NUM_BBOXES,
    opt.EDGE_PIPELINE_CONFIG,
    MAX_CLIENTS,
    STEP_SIZE,
    TIME_BETWEEN_RAMP,
    REQUESTS_PER_SECOND,
    ARRIVAL_RATE,
    MAX_IN_FLIGHT,
    opt.IMAGE_WIDTH,
    opt.IMAGE_HEIGHT,
    opt.IMAGE_SIZES,
    replace(opt.CLIENT, web_ui=True),  # the client may change per test in the web UI
    opt.DETECTOR_IDS,
    opt.NUM_DETECTORS,
    SAMPLE_INTERVAL,
    LATENCY_SLO,
    opt.FAIL_IF,
    STEP_SETTLE,
    ENDPOINT_DOWN,
    opt.OUTPUT_DIR,
    opt.SIM_PROFILE,
    opt.SIM_TIME_SCALE,
    opt.PROVISION_TIMEOUT,
    opt.CA_BUNDLE,
)

DEFAULT_MAX_IN_FLIGHT = 1000


@dataclass(frozen=True)
class Inputs:
    """The validated options of a run (the header's `inputs`)."""

    detector_mode: str
    max_clients: int
    step_size: int
    time_between_ramp: float
    requests_per_second: float
    image_width: int
    image_height: int
    client: str
    detector_ids: tuple[str, ...]
    num_detectors: int
    system_sample_interval_seconds: float
    output_dir: str
    sim_profile: str
    sim_time_scale: float
    provision_timeout: float
    ca_bundle: str | None = None
    arrival_rate: float | None = None  # open model: total requests/s at max_clients
    max_in_flight: int | None = None  # open model: in-flight limit at max_clients
    latency_slo: str | None = None
    fail_if: str | None = None
    step_settle_seconds: float = DEFAULT_SETTLE_S
    endpoint_down_seconds: float = DEFAULT_ENDPOINT_DOWN_S
    exit_code_on_error: int = 1  # Locust's: failed requests fail the run unless it is 0
    # COUNT / MULTI_CLASS / BOUNDING_BOX size as given (None: the mode's default, or a given
    # detector's own), and the edge pipeline config asked for; recorded only when set
    num_classes: int | None = None
    max_num_bboxes: int | None = None
    edge_pipeline_config: str | None = None
    max_count: int | None = None

    @property
    def mode_size(self) -> int | None:
        """The size given for the detectors' mode (--max-count / --num-classes /
        --max-num-bboxes; only the mode's own flag is accepted)."""
        given = (self.max_count, self.num_classes, self.max_num_bboxes)
        return next((n for n in given if n is not None), None)

    def client_rate(self) -> float:
        """Requests/s of one client (user): paced, or its share of the arrival rate."""
        if self.arrival_rate is not None:
            return self.arrival_rate / self.max_clients
        return self.requests_per_second

    def expected_rps(self, clients: int) -> float:
        """Requests/s a step of `clients` clients should reach."""
        return clients * self.client_rate()

    def as_record(self) -> dict:
        record = dict(self.__dict__)
        for key in ("num_classes", "max_num_bboxes", "max_count", "edge_pipeline_config"):
            if record[key] is None:  # BINARY and COUNT runs record what they always did
                del record[key]
        record["detector_ids"] = list(self.detector_ids)
        record["detector_id"] = ",".join(self.detector_ids) or None
        return record


def validate_inputs(namespace: Any) -> Inputs:
    """The run's options, checked; UsageError (one line, what to fix) for the first bad one."""
    values = opt.parse_options(namespace, OPTIONS)
    max_clients, step_size = values["max_clients"], values["step_size"]
    if step_size > max_clients:
        raise UsageError(
            f"--step-size {step_size} is above --max-clients {max_clients}: "
            "use a step size of at most the number of clients"
        )
    sizes = opt.image_sizes(values)
    if len(sizes) != 1:
        raise UsageError("the throughput test runs one image size: give one --image-size")
    detector_ids = tuple(values["detector_id"] or ())
    num_detectors = values["num_detectors"]
    if detector_ids:
        if num_detectors not in (1, len(detector_ids)):
            raise UsageError(
                f"--num-detectors {num_detectors} does not match the {len(detector_ids)} "
                "ids given in --detector-id"
            )
        num_detectors = len(detector_ids)
    model = _open_model(values["arrival_rate"], values["max_in_flight"], max_clients)
    if model and values["requests_per_second"] != REQUESTS_PER_SECOND.default:
        raise UsageError(
            "--arrival-rate (the open model) replaces --requests-per-second: give one of them"
        )
    if not model and values["requests_per_second"] * max_clients > 10_000_000:
        raise UsageError(
            "--requests-per-second x --max-clients is above 10,000,000 requests/s: "
            "no load generator sends that; lower one of them"
        )
    (width, height) = sizes[0]
    opt.mode_size(values)  # UsageError for a size the mode does not take
    edge_pipeline_config = opt.edge_pipeline_config(values)
    slo = parse_slo(values["latency_slo"])
    return Inputs(
        **opt.run_values(values, "throughput"),
        detector_mode=values["detector_mode"],
        max_clients=max_clients,
        step_size=step_size,
        time_between_ramp=values["time_between_ramp"],
        requests_per_second=values["requests_per_second"],
        image_width=width,
        image_height=height,
        client=values["client"],
        detector_ids=detector_ids,
        num_detectors=num_detectors,
        system_sample_interval_seconds=values["system_sample_interval_seconds"],
        provision_timeout=values["provision_timeout"],
        latency_slo=slo.text if slo else None,
        step_settle_seconds=values["step_settle_seconds"],
        endpoint_down_seconds=values["endpoint_down_seconds"],
        exit_code_on_error=_exit_code_on_error(namespace),
        num_classes=values["num_classes"],
        max_num_bboxes=values["max_num_bboxes"],
        max_count=values["max_count"],
        edge_pipeline_config=edge_pipeline_config,
        **model,
    )


def _exit_code_on_error(namespace: Any) -> int:
    """Locust's --exit-code-on-error (1 unless the user set it; not known outside Locust)."""
    value = getattr(namespace, "exit_code_on_error", 1)
    return value if isinstance(value, int) else 1


def _open_model(rate: float | None, limit: int | None, max_clients: int) -> dict:
    """The open-model inputs: {} without --arrival-rate; the rate and the resolved limit."""
    if rate is None:
        if limit is not None:
            raise UsageError("--max-in-flight applies to the open model: give --arrival-rate too")
        return {}
    if limit is None:
        limit = max(DEFAULT_MAX_IN_FLIGHT, max_clients)
    if limit < max_clients:
        raise UsageError(
            f"--max-in-flight {limit} is below --max-clients {max_clients}: every client needs "
            "at least one in-flight slot"
        )
    return {"arrival_rate": rate, "max_in_flight": limit}


def client_load(inputs: dict) -> tuple[float, int | None]:
    """(requests/s of one client, its in-flight slots or None for the paced closed model),
    from a run's validated inputs (`Inputs.as_record()`: workers get it from the master)."""
    max_clients = inputs["max_clients"]
    if inputs.get("arrival_rate") is None:
        return float(inputs["requests_per_second"]), None
    return inputs["arrival_rate"] / max_clients, inputs["max_in_flight"] // max_clients


def register_locust_options(parser: Any, **_: Any) -> None:
    """Our options on Locust's parser (`events.init_command_line_parser`)."""
    opt.add_locust_arguments(parser, OPTIONS, "edgeload throughput test")
