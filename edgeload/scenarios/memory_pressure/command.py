"""`edgeload memory-pressure`: how long until every detector's inference pod is online, and
whether memory held (the seed's Memory Pressure Test)."""

from __future__ import annotations

import argparse

HELP = (
    "Memory pressure test: waits for the endpoint to answer (install it while this runs), then "
    "queries NUM_DETECTORS detectors until each answers from the edge within one iteration; "
    "reports how long all inference pods took to come online, pod restarts/OOM kills/Pending, "
    "and RAM/VRAM per GPU."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgeload.scenarios.pods.options import add_common_arguments

    parser.add_argument("num_detectors", metavar="NUM_DETECTORS", help="detectors (pods) to load")
    parser.add_argument("mode", metavar="BINARY|COUNT", help="detector mode")
    parser.add_argument(
        "--edge-config",
        default=None,
        metavar="PATH",
        help="apply this edge config (e.g. configs/edge-config-edge-answers-with-escalation.yaml)"
        " through PUT /edge-config before the first query; `edgeload_all_detectors: NAME` in it "
        "assigns that inference config to every detector of the run",
    )
    parser.add_argument(
        "--confidence-threshold",
        default="0.0",
        help="set on every detector and sent with every query; 0 means any edge answer is "
        "returned from the edge (this test is about pods, not accuracy)",
    )
    add_common_arguments(parser, timeout_default="1800", sim_default="gpu-1x")


def run(args: argparse.Namespace) -> int:
    from edgeload.scenarios.pods.options import common_values, mode_value, number
    from edgeload.scenarios.pods.runner import (
        MEMORY_PRESSURE,
        STOP_ALL_EDGE_IN_ONE_ITERATION,
        ScenarioOptions,
        run_scenario,
    )

    common = common_values(args)
    num = number("NUM_DETECTORS", args.num_detectors, integer=True, minimum=1)
    mode = mode_value(args.mode, "BINARY|COUNT")
    threshold = number("--confidence-threshold", args.confidence_threshold, minimum=0)
    inputs = {
        "num_detectors": num,
        "mode": mode,
        "edge_config": args.edge_config,
        "confidence_threshold": threshold,
        **common,
        "sim_profile": args.sim_profile,
    }
    opts = ScenarioOptions(
        scenario=MEMORY_PRESSURE,
        num_detectors=num,
        mode=mode,
        stop_rule=STOP_ALL_EDGE_IN_ONE_ITERATION,
        confidence_threshold=threshold,
        set_detector_threshold=True,
        label_unconfident=True,
        edge_config=args.edge_config,
        sim_profile=args.sim_profile or "gpu-1x",
        inputs=inputs,
        **common,
    )
    return run_scenario(opts)
