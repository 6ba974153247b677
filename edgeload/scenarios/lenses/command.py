"""`edgeload lenses CONFIG.yaml`: camera and lens sweeps (the upstream app_benchmark)."""

from __future__ import annotations

import argparse
import sys

from edgeload import options as opt
from edgeload.scenarios.lenses.options import LENS_CONFIG, OPTIONS, validate_inputs

HELP = (
    "Camera and lens sweeps: lenses (chains of detector calls per frame) with their cameras, "
    "detector copies and objects per frame swept across runs; frames/s and per-stage latency "
    "per lens per run, and the knee. The knee of a paced lens is the first run where its "
    "frames/s per camera falls below 0.9 x target_fps or its p95 frame latency exceeds the "
    "frame budget 1/target_fps; of an unpaced lens, the first run whose frames/s grows by "
    "less than 5 percent over the previous run (while its cameras grow; while they do not: "
    "falls by more than 5 percent). The sweep's knee is the earliest lens knee."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_arguments(parser, OPTIONS, positionals=(LENS_CONFIG,))


def run(args: argparse.Namespace) -> int:
    # Locust patches this process with gevent as it is imported: that must come before
    # anything imports ssl (the target's checks do), or ssl recurses forever. Nothing has
    # started yet: the checks below still come before any folder, simulator or request.
    import locust  # noqa: F401

    from edgeload.scenarios.lenses.run import run_lenses_command

    inputs = validate_inputs(args)  # UsageError before anything starts
    return run_lenses_command(inputs, out=sys.stdout)
