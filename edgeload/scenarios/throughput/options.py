"""The options of the throughput test, defined once: Locust registers them
(`edgeload.scenarios.throughput.run.add_options`), `edgeload throughput` passes them on, and
`validate_inputs` checks them (one-line UsageError) before any load starts.

Imports neither locust nor gevent, so the CLI can validate without patching itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from edgeload.errors import UsageError

DETECTOR_ID_PATTERN = re.compile(r"^det_[A-Za-z0-9]{27}$")


@dataclass(frozen=True)
class Option:
    """One option: flag, type, default, help, and whether the web UI start form shows it
    (ramp options do; provisioning options are fixed when the run starts)."""

    flag: str
    type: type
    default: Any
    help: str
    in_web_ui: bool
    choices: tuple[str, ...] | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def argparse_kwargs(self) -> dict:
        kwargs: dict[str, Any] = {"type": self.type, "default": self.default, "help": self.help}
        if self.choices:
            kwargs["choices"] = list(self.choices)
        return kwargs


OPTIONS: tuple[Option, ...] = (
    Option("--detector-mode", str, "BINARY", "detector mode: BINARY or COUNT", False),
    Option("--max-clients", int, 10, "clients to ramp up to", True),
    Option("--step-size", int, 1, "clients added per step (and the first step)", True),
    Option("--time-between-ramp", float, 30.0, "seconds each step runs", True),
    Option("--requests-per-second", float, 10.0, "request rate of each client", True),
    Option(
        "--arrival-rate",
        float,
        None,
        "open model: total requests/s at --max-clients, sent on schedule whether or not "
        "answers came back (each step: R x clients / max-clients); replaces "
        "--requests-per-second",
        True,
    ),
    Option(
        "--max-in-flight",
        int,
        None,
        "open model: requests in flight at once at --max-clients, shared evenly by the "
        "clients (default: max(1000, --max-clients)); an arrival that finds no free slot is "
        "dropped and counted as a failure",
        True,
    ),
    Option("--image-width", int, 640, "image width, px", False),
    Option("--image-height", int, 480, "image height, px", False),
    Option(
        "--client",
        str,
        "sdk",
        "sdk: the groundlight SDK; http: raw HTTP (Locust FastHttpUser)",
        True,
    ),
    Option(
        "--detector-id",
        str,
        None,
        "use these existing detector(s) (comma-separated ids) instead of edgeload's own",
        False,
    ),
    Option("--num-detectors", int, 1, "detectors to spread the clients over", False),
    Option(
        "--system-sample-interval-seconds",
        float,
        5.0,
        "seconds between CPU/GPU/RAM/VRAM samples",
        True,
    ),
    Option("--output-dir", str, "load_tests", "folder that receives the run folders", False),
    Option("--sim-profile", str, "demo", "simulator profile (without GROUNDLIGHT_ENDPOINT)", False),
    Option(
        "--sim-time-scale",
        float,
        1.0,
        "simulator speed-up (without GROUNDLIGHT_ENDPOINT)",
        False,
    ),
    Option(
        "--provision-timeout",
        float,
        1200.0,
        "seconds each provisioning wait (training, edge readiness) may take",
        False,
    ),
    Option(
        "--ca-bundle",
        str,
        None,
        "PEM file of the CA(s) that signed an https endpoint's certificate (e.g. the "
        "self-signed certificate of the edge endpoint); or set DISABLE_TLS_VERIFY=1 to skip "
        "verification",
        False,
    ),
)


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

    @property
    def open_model(self) -> bool:
        return self.arrival_rate is not None

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
        record["detector_ids"] = list(self.detector_ids)
        record["detector_id"] = ",".join(self.detector_ids) or None
        return record


def validate_inputs(options: Any) -> Inputs:
    """The run's options, checked; UsageError (one line, what to fix) for the first bad one."""

    def get(name: str, default: Any = None) -> Any:
        return getattr(options, name, default)

    mode = str(get("detector_mode", "BINARY") or "").strip().upper()
    if mode not in ("BINARY", "COUNT"):
        raise UsageError(
            f"unknown detector mode {get('detector_mode')!r}: use --detector-mode BINARY or COUNT"
        )
    max_clients = int(get("max_clients", 10))
    if max_clients < 1:
        raise UsageError(f"--max-clients must be at least 1, got {max_clients}")
    step_size = int(get("step_size", 1))
    if step_size < 1:
        raise UsageError(f"--step-size must be at least 1, got {step_size}")
    if step_size > max_clients:
        raise UsageError(
            f"--step-size {step_size} is above --max-clients {max_clients}: "
            "use a step size of at most the number of clients"
        )
    positive = {
        "--time-between-ramp": get("time_between_ramp", 30),
        "--requests-per-second": get("requests_per_second", 10),
        "--image-width": get("image_width", 640),
        "--image-height": get("image_height", 480),
        "--system-sample-interval-seconds": get("system_sample_interval_seconds", 5),
        "--sim-time-scale": get("sim_time_scale", 1.0),
        "--provision-timeout": get("provision_timeout", 1200),
    }
    for flag, value in positive.items():
        if not (isinstance(value, int | float) and value > 0 and value == value):
            raise UsageError(f"{flag} must be a positive number, got {value!r}")
    width, height = int(get("image_width", 640)), int(get("image_height", 480))
    if width > 10_000 or height > 10_000:
        raise UsageError(f"image size {width}x{height} is too large: use at most 10000 px a side")
    client = str(get("client", "sdk")).strip().lower()
    if client not in ("sdk", "http"):
        raise UsageError(f"unknown client {get('client')!r}: use --client sdk or http")
    raw_ids = str(get("detector_id") or "").strip()
    detector_ids = tuple(part.strip() for part in raw_ids.split(",") if part.strip())
    for detector_id in detector_ids:
        if not DETECTOR_ID_PATTERN.match(detector_id):
            raise UsageError(
                f"--detector-id {detector_id!r} is not a detector id (det_ and 27 letters/digits)"
            )
    num_detectors = int(get("num_detectors", 1))
    if num_detectors < 1:
        raise UsageError(f"--num-detectors must be at least 1, got {num_detectors}")
    if detector_ids:
        if num_detectors not in (1, len(detector_ids)):
            raise UsageError(
                f"--num-detectors {num_detectors} does not match the {len(detector_ids)} "
                "ids given in --detector-id"
            )
        num_detectors = len(detector_ids)
    return Inputs(
        detector_mode=mode,
        max_clients=max_clients,
        step_size=step_size,
        time_between_ramp=float(get("time_between_ramp")),
        requests_per_second=float(get("requests_per_second")),
        image_width=width,
        image_height=height,
        client=client,
        detector_ids=detector_ids,
        num_detectors=num_detectors,
        system_sample_interval_seconds=float(get("system_sample_interval_seconds")),
        output_dir=str(get("output_dir") or "load_tests"),
        sim_profile=str(get("sim_profile") or "demo"),
        sim_time_scale=float(get("sim_time_scale")),
        provision_timeout=float(get("provision_timeout")),
        ca_bundle=_ca_bundle(get("ca_bundle")),
        **_open_model(get("arrival_rate"), get("max_in_flight"), max_clients),
    )


def _optional_number(flag: str, value: Any, kind: type) -> Any:
    """None for an unset option (the web UI sends "" for it), else a number of `kind`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} must be a number, got {value!r}") from None
    if not (number > 0 and number == number and number != float("inf")):
        raise UsageError(f"{flag} must be a positive number, got {value!r}")
    return number


DEFAULT_MAX_IN_FLIGHT = 1000


def _open_model(arrival_rate: Any, max_in_flight: Any, max_clients: int) -> dict:
    """The open-model inputs: {} without --arrival-rate; the rate and the resolved limit."""
    rate = _optional_number("--arrival-rate", arrival_rate, float)
    limit = _optional_number("--max-in-flight", max_in_flight, int)
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


def client_load(options: Any) -> tuple[float, int | None]:
    """(requests/s of one client, its in-flight slots or None for the paced closed model),
    from a run's options (a worker gets them from the master)."""
    max_clients = max(1, int(getattr(options, "max_clients", 10) or 10))
    model = _open_model(
        getattr(options, "arrival_rate", None), getattr(options, "max_in_flight", None), max_clients
    )
    if not model:
        return float(options.requests_per_second), None
    return model["arrival_rate"] / max_clients, model["max_in_flight"] // max_clients


def _ca_bundle(value: Any) -> str | None:
    """The --ca-bundle path, checked to be a file (its contents are checked with the target)."""
    if value is None or not str(value).strip():
        return None
    path = str(value).strip()
    if not os.path.isfile(path):
        raise UsageError(f"--ca-bundle {path!r} is not a file: give a PEM file of CAs")
    return path
