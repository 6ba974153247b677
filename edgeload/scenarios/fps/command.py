"""`edgeload fps`: the single-client FPS test (the seed's single_client_fps_test.py)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from edgeload.errors import RunError, UsageError

HELP = (
    "Single-client FPS test: one client submits image queries back to back (warm-up, then "
    "timed submissions) and reports FPS and latency per image size."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgeload.scenarios.fps.run import DEFAULT_ITERATIONS, DEFAULT_WARMUP_ITERATIONS, MODES

    parser.add_argument("mode", metavar="MODE", help=f"detector mode: {' or '.join(MODES)}")
    parser.add_argument("--image-width", type=str, default="640", help="image width (pixels)")
    parser.add_argument("--image-height", type=str, default="480", help="image height (pixels)")
    parser.add_argument(
        "--image-size",
        action="append",
        default=None,
        metavar="WxH",
        help="image size; repeat for a sweep (one result row per size); overrides "
        "--image-width/--image-height",
    )
    parser.add_argument(
        "--warmup-iterations",
        type=str,
        default=str(DEFAULT_WARMUP_ITERATIONS),
        help="submissions before measuring",
    )
    parser.add_argument(
        "--iterations", type=str, default=str(DEFAULT_ITERATIONS), help="timed submissions"
    )
    parser.add_argument(
        "--client",
        default="sdk",
        help="sdk: the groundlight SDK (retries off); http: raw HTTP POST of the same request",
    )
    parser.add_argument(
        "--detector-id", default=None, help="use this existing detector instead of provisioning"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("load_tests"),
        help="the run folder <timestamp>-fps/ is created here",
    )
    parser.add_argument(
        "--config-check-interval",
        type=str,
        default="10",
        metavar="SECONDS",
        help="read the edge's pipeline config this often during the test (between submissions)",
    )
    parser.add_argument(
        "--provision-timeout",
        type=str,
        default="1800",
        metavar="SECONDS",
        help="give up waiting for training and for the edge to serve the detector after this",
    )
    parser.add_argument(
        "--ca-bundle",
        default=None,
        metavar="PATH",
        help="PEM file of the CA(s) that signed an https endpoint's certificate (e.g. the edge "
        "endpoint's self-signed certificate); or set DISABLE_TLS_VERIFY=1 to skip verification",
    )
    parser.add_argument(
        "--sim-profile",
        default="demo",
        help="simulator profile when GROUNDLIGHT_ENDPOINT is not set (configs/profiles/)",
    )
    parser.add_argument(
        "--sim-time-scale",
        "--time-scale",
        dest="time_scale",
        type=str,
        default="1",
        help="simulator time scale when GROUNDLIGHT_ENDPOINT is not set (>1 runs faster)",
    )


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from edgeload.scenarios.fps.run import options_from_args, run_fps_command

    options = options_from_args(args)  # UsageError before anything starts
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        return run_fps_command(options, out=sys.stdout, progress_stream=sys.stderr)
    except (UsageError, RunError):
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
