"""`edgeload rollouts`: do model rollouts land one detector at a time, without errors?
(the seed's Repeated Rollouts Test)."""

from __future__ import annotations

import argparse

HELP = (
    "Repeated rollouts test: primes NUM_DETECTORS detectors to at least 30 labels, then queries "
    "each every iteration and labels them every few seconds to keep training and model "
    "downloads going; reports when every detector has an edge answer, then runs --duration "
    "more counting rollouts, overlapping pod updates, non-edge answers and errors. Start from a "
    "fresh install of the endpoint."
)

# As in the seed's script: a very low threshold, because this test is about rollouts, not ML.
ROLLOUT_CONFIDENCE_THRESHOLD = 0.1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgeload.scenarios.pods.options import add_common_arguments

    parser.add_argument("num_detectors", metavar="NUM_DETECTORS", help="detectors to roll out")
    parser.add_argument("--detector-mode", default="BINARY", help="BINARY or COUNT")
    parser.add_argument(
        "--refresh-rate-hint",
        default=None,
        metavar="SECONDS",
        help="the refresh_rate you set in the endpoint's edge config (global_config), default "
        "20; when given, the report warns if the endpoint says otherwise",
    )
    parser.add_argument(
        "--duration",
        default=None,
        metavar="SECONDS",
        help="keep going this long after every detector got an edge answer, counting further "
        "rollouts (default: 10 refresh periods: the endpoint's refresh_rate where it says, "
        "else --refresh-rate-hint)",
    )
    parser.add_argument(
        "--label-interval",
        default="3",
        metavar="SECONDS",
        help="add a label to every detector this often, to keep training going",
    )
    parser.add_argument(
        "--prime-timeout",
        default="600",
        metavar="SECONDS",
        help="give up when priming and evaluation take longer than this",
    )
    add_common_arguments(parser, timeout_default="1800", sim_default="fast-rollouts")


def run(args: argparse.Namespace) -> int:
    from edgeload.errors import UsageError
    from edgeload.scenarios.pods.options import common_values, mode_value, number
    from edgeload.scenarios.pods.runner import (
        ROLLOUTS,
        STOP_EVERY_DETECTOR_EDGE_THEN_DURATION,
        ScenarioOptions,
        run_scenario,
    )

    common = common_values(args)
    num = number("NUM_DETECTORS", args.num_detectors, integer=True, minimum=1)
    mode = mode_value(args.detector_mode, "--detector-mode")
    hint_given = args.refresh_rate_hint is not None
    hint = number("--refresh-rate-hint", args.refresh_rate_hint if hint_given else 20)
    if not 0 < hint <= 86400:
        raise UsageError(f"--refresh-rate-hint must be in (0, 86400] seconds, got {hint:g}")
    duration = None if args.duration is None else number("--duration", args.duration, minimum=0)
    label_interval = number("--label-interval", args.label_interval, minimum=0.1)
    prime_timeout = number("--prime-timeout", args.prime_timeout, minimum=1)
    inputs = {
        "num_detectors": num,
        "detector_mode": mode,
        "refresh_rate_hint": hint,
        "duration": duration,
        "label_interval": label_interval,
        "prime_timeout": prime_timeout,
        "confidence_threshold": ROLLOUT_CONFIDENCE_THRESHOLD,
        **common,
        "sim_profile": args.sim_profile,
    }
    opts = ScenarioOptions(
        scenario=ROLLOUTS,
        num_detectors=num,
        mode=mode,
        stop_rule=STOP_EVERY_DETECTOR_EDGE_THEN_DURATION,
        confidence_threshold=ROLLOUT_CONFIDENCE_THRESHOLD,
        set_detector_threshold=False,
        label_unconfident=False,
        prime_labels=True,
        prime_timeout_s=prime_timeout,
        label_interval_s=label_interval,
        duration_s=duration,
        refresh_rate_hint=hint,
        warn_refresh_rate=hint_given,
        sim_profile=args.sim_profile or "fast-rollouts",
        inputs=inputs,
        **common,
    )
    return run_scenario(opts)
