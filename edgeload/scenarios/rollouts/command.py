"""`edgeload rollouts NUM_DETECTORS`: do model rollouts land one detector at a time, without
errors? (the upstream Repeated Rollouts Test)."""

from __future__ import annotations

import argparse

HELP = (
    "Repeated rollouts test: primes NUM_DETECTORS detectors to at least 30 labels, then queries "
    "each every iteration and labels them every few seconds to keep training and model "
    "downloads going; reports when every detector has an edge answer, then runs --duration "
    "more counting rollouts, overlapping pod updates, non-edge answers and errors. Start from a "
    "fresh install of the endpoint."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgeload.scenarios.pods.options import add_arguments as add_pod_arguments
    from edgeload.scenarios.rollouts.options import OPTIONS

    add_pod_arguments(parser, OPTIONS)


def run(args: argparse.Namespace) -> int:
    from edgeload.scenarios.pods.runner import run_scenario
    from edgeload.scenarios.rollouts.options import validate_inputs

    return run_scenario(validate_inputs(args))
