"""The edge-vs-cloud comparison's options (on `edgeload.options`) and its validated `Inputs`.

The detector is positional as upstream (`compare_edge_cloud_inference.py DETECTOR_ID`) or
`--detector-id`; without one, edgeload's own detector of `--detector-mode` and `--image-size`
is provisioned and seeded with `--sample` fresh images. Checked before anything starts (one
line, exit 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from edgeload import cloudside as cloud
from edgeload import options as opt
from edgeload.options import DETECTOR_ID as DETECTOR_ID_KIND
from edgeload.options import FLOAT, INT, SIZE, Option

SCENARIO = "edge-vs-cloud"
DEFAULT_SAMPLE = 50  # upstream's --max-iqs default

DETECTOR_ID = Option(
    "--detector-id",
    DETECTOR_ID_KIND,
    None,
    "the detector whose recent images are compared (default: edgeload's own detector of "
    "--detector-mode, provisioned and seeded with --sample fresh images)",
    positional="DETECTOR_ID",
)
SAMPLE = Option(
    "--sample",
    INT,
    DEFAULT_SAMPLE,
    "how many of the detector's most recent image queries to answer again on both sides",
    minimum=1,
    maximum=1000,
    aliases=("--max-iqs",),
    metavar="N",
)
IMAGE_SIZE = Option(
    "--image-size",
    SIZE,
    (640, 480),
    "WIDTHxHEIGHT of the images edgeload's own detector is seeded with (no DETECTOR_ID only)",
    metavar="WxH",
)
CLOUD_ENDPOINT = replace(
    cloud.CLOUD_ENDPOINT,
    help="where the cloud answers come from, e.g. https://api.groundlight.ai (also "
    f"{cloud.CLOUD_ENDPOINT_VARIABLE}); default: the cloud behind the edge (the edge forwards "
    "async queries and nginx sends other calls to its cloud)",
)
ANSWER_TIMEOUT = Option(
    "--answer-timeout",
    FLOAT,
    30.0,
    "how long to wait for the cloud's answer to one image",
    unit="s",
    above=0,
    maximum=3600,
)
MIN_AGREEMENT = Option(
    "--min-agreement",
    FLOAT,
    None,
    "fail the run (exit 1) when fewer than this share of the compared images get the same "
    "answer from the edge and the cloud, e.g. 0.9",
    minimum=0,
    maximum=1,
    metavar="RATIO",
)
FAIL_IF = replace(
    opt.FAIL_IF,
    help="gates on this run's figures, comma-separated METRIC<OP>NUMBER clauses; the run fails "
    "(exit 1) when one holds, e.g. 'agreement_rate<0.9,mean_abs_confidence_gap>0.2'",
)
# the default simulator's trained edge model reads some images wrongly, so answers can differ
SIM_PROFILE = opt.SIM_PROFILE.with_default("edge-vs-cloud")

OPTIONS: tuple[Option, ...] = (
    DETECTOR_ID,
    SAMPLE,
    opt.DETECTOR_MODE,
    opt.MAX_COUNT,
    opt.NUM_CLASSES,
    opt.MAX_NUM_BBOXES,
    IMAGE_SIZE,
    CLOUD_ENDPOINT,
    ANSWER_TIMEOUT,
    MIN_AGREEMENT,
    FAIL_IF,
    opt.OUTPUT_DIR,
    SIM_PROFILE,
    opt.SIM_TIME_SCALE,
    opt.PROVISION_TIMEOUT,
    opt.CA_BUNDLE,
)


@dataclass(frozen=True)
class Inputs:
    """The validated options of an edge-vs-cloud run (the log header's `inputs`)."""

    detector_id: str | None
    sample: int
    detector_mode: str
    image_size: tuple[int, int]
    cloud_endpoint: str | None
    answer_timeout: float
    min_agreement: float | None
    output_dir: str
    sim_profile: str
    sim_time_scale: float
    provision_timeout: float
    ca_bundle: str | None = None
    fail_if: str | None = None
    mode_size: int | None = None

    def as_record(self) -> dict[str, Any]:
        record = dict(self.__dict__)
        record["image_size"] = "{}x{}".format(*self.image_size)
        return record


def validate_inputs(namespace: Any, environ: Any = None) -> Inputs:
    """The run's options, checked; UsageError (one line, what to fix) for the first bad one."""
    values = opt.parse_options(namespace, OPTIONS)
    env = os.environ if environ is None else environ
    return Inputs(
        **opt.run_values(values, SCENARIO),
        mode_size=opt.mode_size(values),
        detector_id=values["detector_id"],
        sample=values["sample"],
        detector_mode=values["detector_mode"],
        image_size=values["image_size"],
        cloud_endpoint=cloud.given_cloud_endpoint(values["cloud_endpoint"], env),
        answer_timeout=values["answer_timeout"],
        min_agreement=values["min_agreement"],
        provision_timeout=values["provision_timeout"],
    )
