"""`edgeload resources --matrix FILE`: RAM and VRAM of one detector per matrix combination."""

from __future__ import annotations

import argparse
import sys

from edgeload import options as opt
from edgeload.scenarios.resources.options import OPTIONS, validate_inputs

HELP = (
    "Per-detector resource benchmark: from a YAML matrix of mode x pipeline x n x image size, "
    "bring up one detector per combination (in batches, trained concurrently) and record its "
    "RAM and VRAM on the edge; --resume RUN_DIR measures what a run left. Where edgeload runs "
    "on the edge box itself (a real endpoint at this machine's address, never the simulator) "
    "and NVML sees its GPUs, each batch's growth of their used memory is recorded too: per "
    "combination with --batch-size 1."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_arguments(parser, OPTIONS)


def run(args: argparse.Namespace) -> int:
    from edgeload.scenarios.resources.run import run_resources_command

    inputs = validate_inputs(args)  # UsageError before anything starts
    return run_resources_command(inputs, out=sys.stdout)
