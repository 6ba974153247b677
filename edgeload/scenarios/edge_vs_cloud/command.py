"""`edgeload edge-vs-cloud DETECTOR_ID`: a detector's recent images answered by the edge's own
model and by the cloud, side by side (the upstream compare_edge_cloud_inference.py)."""

from __future__ import annotations

import argparse
import sys

from edgeload import options as opt
from edgeload.scenarios.edge_vs_cloud.options import DETECTOR_ID, OPTIONS, validate_inputs

HELP = (
    "Edge vs cloud answers: re-run a detector's recent images through the edge's own model "
    "(never escalated) and through the cloud, and report labels, confidences, the agreement "
    "rate and the confidence gap side by side."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_arguments(parser, OPTIONS, positionals=(DETECTOR_ID,))


def run(args: argparse.Namespace) -> int:
    from edgeload.scenarios.edge_vs_cloud.run import run_command

    inputs = validate_inputs(args)  # UsageError before anything starts
    return run_command(inputs, out=sys.stdout, progress_stream=sys.stderr)
