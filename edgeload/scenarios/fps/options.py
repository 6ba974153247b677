"""The FPS test's options (on `edgeload.options`) and its validated `Inputs`.

`edgeload fps` declares them on argparse (the mode also positional, as the upstream
`single_client_fps_test.py` takes it) and `locustfiles/fps.py` on Locust's parser
(`register_locust_options`); `validate_inputs` checks them the same way in both, with a
one-line UsageError before anything starts. `--image-size` may be repeated (or given a
comma-separated list): one measurement per size.

Imports neither locust nor gevent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from edgeload import options as opt
from edgeload.errors import UsageError
from edgeload.options import FLOAT, INT, Option

DEFAULT_WARMUP_ITERATIONS = 300
DEFAULT_ITERATIONS = 1000

WARMUP_ITERATIONS = Option(
    "--warmup-iterations",
    INT,
    DEFAULT_WARMUP_ITERATIONS,
    "submissions before measuring (not measured)",
    minimum=0,
    maximum=10_000_000,
)
ITERATIONS = Option(
    "--iterations", INT, DEFAULT_ITERATIONS, "timed submissions", minimum=1, maximum=10_000_000
)
CONFIG_CHECK_INTERVAL = Option(
    "--config-check-interval",
    FLOAT,
    10.0,
    "read the edge's pipeline config this often during the test (between submissions)",
    unit="s",
    above=0,
    maximum=86400,
    metavar="SECONDS",
)
# the shared --image-size, said as a sweep: one measurement per size
IMAGE_SIZES = replace(
    opt.IMAGE_SIZES,
    help="image size WIDTHxHEIGHT; repeat (or comma-separate) for a sweep, one measurement per "
    "size; overrides --image-width/--image-height",
)

DETECTOR_ID = replace(
    opt.DETECTOR_IDS, help="use this existing detector (one image size) instead of edgeload's own"
)
FAIL_IF = replace(
    opt.FAIL_IF,
    help="gates on this run's figures (over every measured submission), comma-separated "
    "METRIC<OP>NUMBER clauses; the run fails (exit 1) when one holds, e.g. "
    "'average_fps<30,latency_ms_p95>150'",
)

OPTIONS: tuple[Option, ...] = (
    opt.DETECTOR_MODE,
    opt.MAX_COUNT,
    opt.NUM_CLASSES,
    opt.MAX_NUM_BBOXES,
    opt.EDGE_PIPELINE_CONFIG,
    opt.IMAGE_WIDTH,
    opt.IMAGE_HEIGHT,
    IMAGE_SIZES,
    WARMUP_ITERATIONS,
    ITERATIONS,
    opt.CLIENT,
    DETECTOR_ID,
    CONFIG_CHECK_INTERVAL,
    FAIL_IF,
    opt.OUTPUT_DIR,
    opt.SIM_PROFILE,
    opt.SIM_TIME_SCALE,
    opt.PROVISION_TIMEOUT,
    opt.CA_BUNDLE,
)


@dataclass(frozen=True)
class Inputs:
    """The validated options of an FPS run (the log header's `inputs`)."""

    detector_mode: str
    image_sizes: tuple[tuple[int, int], ...]
    warmup_iterations: int
    iterations: int
    client: str
    detector_id: str | None
    config_check_interval: float
    output_dir: str
    sim_profile: str
    sim_time_scale: float
    provision_timeout: float
    ca_bundle: str | None = None
    fail_if: str | None = None
    # MULTI_CLASS / BOUNDING_BOX: the detector's size n; the edge pipeline config asked for
    mode_size: int | None = None
    edge_pipeline_config: str | None = None

    def as_record(self) -> dict[str, Any]:
        record = dict(self.__dict__)
        for key in ("mode_size", "edge_pipeline_config"):
            if record[key] is None:  # BINARY and COUNT runs record what they always did
                del record[key]
        record["image_sizes"] = [f"{w}x{h}" for w, h in self.image_sizes]
        return record


def validate_inputs(namespace: Any) -> Inputs:
    """The run's options, checked; UsageError (one line, what to fix) for the first bad one."""

    values = opt.parse_options(namespace, OPTIONS)
    sizes = tuple(opt.image_sizes(values))
    ids = values["detector_id"] or []
    if len(ids) > 1:
        raise UsageError("the FPS test measures one detector at a time: give one --detector-id")
    if ids and len(sizes) > 1:
        raise UsageError(
            "--detector-id names one detector, which has one image size: give a single "
            "--image-size with it"
        )
    return Inputs(
        **opt.run_values(values, "fps"),
        mode_size=opt.mode_size(values),  # UsageError for a size the mode does not take
        edge_pipeline_config=opt.edge_pipeline_config(values),
        detector_mode=values["detector_mode"],
        image_sizes=sizes,
        warmup_iterations=values["warmup_iterations"],
        iterations=values["iterations"],
        client=values["client"],
        detector_id=ids[0] if ids else None,
        config_check_interval=values["config_check_interval"],
        provision_timeout=values["provision_timeout"],
    )


def register_locust_options(parser: Any, **_: Any) -> None:
    """Our options on Locust's parser (`events.init_command_line_parser`)."""
    opt.add_locust_arguments(parser, OPTIONS, "edgeload single-client FPS test")
