"""`edgeload fps MODE`: the single-client FPS test (the upstream single_client_fps_test.py)."""

from __future__ import annotations

import argparse
import sys

from edgeload import options as opt
from edgeload.scenarios.fps.options import OPTIONS, validate_inputs

HELP = (
    "Single-client FPS test: one client submits image queries back to back (warm-up, then "
    "timed submissions) and reports FPS and latency per image size."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_arguments(parser, OPTIONS, positionals=(opt.DETECTOR_MODE,))


def run(args: argparse.Namespace) -> int:
    from edgeload.scenarios.fps.run import run_fps_command

    inputs = validate_inputs(args)  # UsageError before anything starts
    return run_fps_command(inputs, out=sys.stdout, progress_stream=sys.stderr)
