"""`edgeload rollouts-under-load`: do model rollouts land without one failed image query while
clients query the detector at a fixed rate? (the upstream rollouts_under_inference_load.py)"""

from __future__ import annotations

import argparse

from edgeload import options as opt

HELP = (
    "Rollouts under inference load: clients query one detector at a fixed rate (every retry "
    "off) while labels keep the cloud training new models, which the edge rolls out; counts "
    "rollouts (new Deployment revisions) and reports every error and latency spike inside each "
    "rollout window. Passes when at least --min-rollouts rollouts finished and no query failed "
    "in a load of at least --error-free-s."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgeload.scenarios.rollouts_under_load.options import OPTIONS

    opt.add_arguments(parser, OPTIONS)


def run(args: argparse.Namespace) -> int:
    from edgeload.scenarios.pods.runner import run_scenario
    from edgeload.scenarios.rollouts_under_load.options import validate_inputs
    from edgeload.scenarios.rollouts_under_load.run import LoadRun

    return run_scenario(validate_inputs(args), run_class=LoadRun)
