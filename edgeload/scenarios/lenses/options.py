"""The lens sweep's options (on `edgeload.options`) and its validated `Inputs`.

`edgeload lenses CONFIG.yaml`: the config file (positional, or --lens-config) holds the lenses
and the sweep (`config.py`); the options here are what a run adds: the per-run times
(overriding the config's global ones), the client the cameras submit with (`--client`, as
the other load commands), the target and the output folder. `validate_inputs`
reads and checks the config too, so a bad one is a one-line UsageError before anything starts.

Imports neither locust nor gevent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from edgeload import options as opt
from edgeload.errors import UsageError
from edgeload.options import FILE, FLOAT, Option
from edgeload.scenarios.lenses.config import MAX_SECONDS, SweepConfig, load_config, parse_config

LENS_CONFIG = Option(
    "--lens-config",
    FILE,
    None,
    "YAML file of the lenses and the sweep (see configs/lenses-example.yaml)",
    positional="CONFIG",
    metavar="FILE",
    file_hint="give the lens config YAML (e.g. configs/lenses-example.yaml)",
)
DURATION = Option(
    "--duration",
    FLOAT,
    None,
    "measured seconds of each run (default: the config's global.duration_seconds)",
    unit="s",
    above=0,
    maximum=MAX_SECONDS,
    metavar="SECONDS",
)
WARMUP = Option(
    "--warmup",
    FLOAT,
    None,
    "seconds of load before each run's measured window (default: the config's "
    "global.warmup_seconds)",
    unit="s",
    minimum=0,
    maximum=MAX_SECONDS,
    metavar="SECONDS",
)
FAIL_IF = replace(
    opt.FAIL_IF,
    help="gates on this sweep's figures, comma-separated METRIC<OP>NUMBER clauses; the run "
    "fails (exit 1) when one holds, e.g. 'frame_error_rate>0.01,knee_run<2'",
)

OPTIONS: tuple[Option, ...] = (
    LENS_CONFIG,
    DURATION,
    WARMUP,
    FAIL_IF,
    opt.CLIENT,
    opt.OUTPUT_DIR,
    opt.SIM_PROFILE,
    opt.SIM_TIME_SCALE,
    opt.PROVISION_TIMEOUT,
    opt.CA_BUNDLE,
)


@dataclass(frozen=True)
class Inputs:
    """The validated options of a lens sweep (the log header's `inputs`)."""

    config: SweepConfig
    output_dir: str
    sim_profile: str
    sim_time_scale: float
    provision_timeout: float
    client: str = opt.CLIENT.default  # the other load commands' default
    ca_bundle: str | None = None
    fail_if: str | None = None

    def as_record(self) -> dict[str, Any]:
        c = self.config
        return {
            "lens_config": c.path,
            "runs": c.runs,
            "duration_s": c.duration_s,
            "warmup_s": c.warmup_s,
            "lenses": [lens.as_record() for lens in c.lenses],
            "client": self.client,
            "output_dir": self.output_dir,
            "sim_profile": self.sim_profile,
            "sim_time_scale": self.sim_time_scale,
            "provision_timeout": self.provision_timeout,
            "ca_bundle": self.ca_bundle,
            "fail_if": self.fail_if,
        }


def validate_inputs(namespace: Any) -> Inputs:
    """The run's options and its config, checked; UsageError (one line) for the first bad one."""
    values = opt.parse_options(namespace, OPTIONS)
    path = values["lens_config"]
    if path is None:
        raise UsageError("give the lens config: edgeload lenses CONFIG.yaml")
    config = parse_config(
        load_config(path), path, duration_s=values["duration"], warmup_s=values["warmup"]
    )
    return Inputs(
        **opt.run_values(values, "lenses"),
        config=config,
        provision_timeout=values["provision_timeout"],
        client=values["client"],
    )
