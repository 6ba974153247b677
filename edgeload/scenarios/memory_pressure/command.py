"""`edgeload memory-pressure NUM_DETECTORS MODE`: how long until every detector's inference
pod is online, and whether memory held (the upstream Memory Pressure Test)."""

from __future__ import annotations

import argparse

HELP = (
    "Memory pressure test: waits for the endpoint to answer (install it while this runs), then "
    "queries NUM_DETECTORS detectors until each answers from the edge within one iteration; "
    "reports how long all inference pods took to come online, pod restarts/OOM kills/Pending, "
    "and RAM/VRAM per GPU."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgeload.scenarios.memory_pressure.options import OPTIONS
    from edgeload.scenarios.pods.options import add_arguments as add_pod_arguments

    add_pod_arguments(parser, OPTIONS)


def run(args: argparse.Namespace) -> int:
    from edgeload.scenarios.memory_pressure.options import validate_inputs
    from edgeload.scenarios.pods.runner import run_scenario

    return run_scenario(validate_inputs(args))
