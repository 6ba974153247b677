"""Command-line options the two pod scenarios share, and their checking.

Numbers are taken as strings and converted here, so that a bad value gets one line that names
the option (UsageError, exit 2), not argparse's usage dump.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from edgeload.errors import UsageError


def number(option: str, text: Any, *, integer: bool = False, minimum: float | None = None) -> Any:
    """`text` as a number for `option`, or UsageError saying what to fix."""
    try:
        value = int(text) if integer else float(text)
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number"
        raise UsageError(f"{option} must be {kind}, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"{option} must be a finite number, got {text!r}")
    if minimum is not None and value < minimum:
        raise UsageError(f"{option} must be at least {minimum:g}, got {text!r}")
    return value


def add_common_arguments(
    parser: argparse.ArgumentParser, *, timeout_default: str, sim_default: str
) -> None:
    parser.add_argument(
        "--timeout",
        default=timeout_default,
        metavar="SECONDS",
        help="give up when the goal is not reached this long after the first image query "
        "(endpoint seconds: simulated seconds on a simulator with a time scale)",
    )
    parser.add_argument(
        "--connect-timeout",
        default="1800",
        metavar="SECONDS",
        help="how long to keep retrying while the endpoint does not answer yet (e.g. while "
        "you install it)",
    )
    parser.add_argument(
        "--k8s",
        default="auto",
        metavar="auto|off|URL",
        help="pod checks through the Kubernetes API (namespace edge): auto = the simulator's "
        "API on a simulated target, else kubeconfig or in-cluster config; off = skip; URL = "
        "that API base URL without credentials (e.g. `kubectl proxy`'s http://127.0.0.1:8001)",
    )
    parser.add_argument(
        "--iteration-interval",
        default="1",
        metavar="SECONDS",
        help="shortest time between the starts of two iterations (one image query per "
        "detector each)",
    )
    parser.add_argument(
        "--output-dir",
        default="load_tests",
        help="the run folder <timestamp>-<scenario>/ is created here",
    )
    parser.add_argument(
        "--sim-profile",
        default=None,
        help="simulator profile (name in configs/profiles/ or a YAML path) when "
        f"GROUNDLIGHT_ENDPOINT is not set; {sim_default} when not given",
    )
    parser.add_argument(
        "--sim-time-scale",
        "--time-scale",
        dest="time_scale",
        default="1",
        help="simulator time scale when GROUNDLIGHT_ENDPOINT is not set (>1 runs faster; "
        "reported times stay in simulated seconds)",
    )
    parser.add_argument(
        "--ca-bundle",
        default=None,
        metavar="PATH",
        help="PEM file of the CA(s) that signed an https endpoint's certificate (e.g. the edge "
        "endpoint's self-signed certificate); or set DISABLE_TLS_VERIFY=1 to skip verification",
    )


def common_values(args: argparse.Namespace) -> dict[str, Any]:
    """Checked values of the shared options (UsageError for bad ones)."""
    if os.environ.get("GROUNDLIGHT_ENDPOINT") and args.sim_profile:
        raise UsageError(
            "--sim-profile applies only to the embedded simulator: unset GROUNDLIGHT_ENDPOINT "
            "or leave out --sim-profile"
        )
    k8s = str(args.k8s)
    if k8s not in ("auto", "off") and not k8s.startswith(("http://", "https://")):
        raise UsageError(f"--k8s must be auto, off or an http(s):// URL, got {k8s!r}")
    return {
        "timeout_s": number("--timeout", args.timeout, minimum=1),
        "connect_timeout_s": number("--connect-timeout", args.connect_timeout, minimum=1),
        "k8s": k8s,
        "iteration_interval_s": number("--iteration-interval", args.iteration_interval, minimum=0),
        "output_dir": args.output_dir,
        "time_scale": _time_scale(args.time_scale),
        "ca_bundle": _ca_bundle(getattr(args, "ca_bundle", None)),
    }


def _ca_bundle(text: Any) -> str | None:
    if text is None or not str(text).strip():
        return None
    path = str(text).strip()
    if not os.path.isfile(path):
        raise UsageError(f"--ca-bundle {path!r} is not a file: give a PEM file of CAs")
    return path


def _time_scale(text: Any) -> float:
    value = number("--sim-time-scale", text)
    if not value > 0:
        raise UsageError(f"--sim-time-scale must be positive, got {text!r}")
    return value


def mode_value(text: str, option: str = "detector mode") -> str:
    mode = str(text).upper()
    if mode not in ("BINARY", "COUNT"):
        raise UsageError(f"{option} must be BINARY or COUNT, got {text!r}")
    return mode
