"""`edgeload compare RUN_A RUN_B [--fail-on ...]`: two runs side by side, with CI gates."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeload.verdict import EXIT_FAIL, EXIT_PASS

HELP = (
    "Compare two runs of the same scenario metric by metric (run folders or "
    "load_test_results.json files); exit 1 when a --fail-on gate is broken."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", metavar="RUN_A", type=Path, help="baseline run folder or results")
    parser.add_argument("run_b", metavar="RUN_B", type=Path, help="new run folder or results")
    parser.add_argument(
        "--fail-on",
        metavar="GATES",
        default=None,
        help="comma-separated bounds on B's change from A, e.g. "
        "'max_steady_rps:-5%%,latency_p95_ms:+10%%' (a sign gives the failing direction; "
        "no sign: the metric's worse direction; no %%: an amount in the metric's unit)",
    )


def run(args: argparse.Namespace) -> int:
    from edgeload.reporting import load_results
    from edgeload.reporting.compare import (
        check_gates,
        compare_results,
        format_comparison,
        parse_gates,
    )

    a, b = load_results(args.run_a), load_results(args.run_b)
    comparison = compare_results(a, b)
    gates = parse_gates(args.fail_on, a["scenario"]) if args.fail_on is not None else []
    print(format_comparison(comparison, str(args.run_a), str(args.run_b)))
    broken = check_gates(gates, a, b)
    for message in broken:
        print(f"FAILED gate {message}")
    if gates and not broken:
        print(f"all {len(gates)} gate(s) passed")
    return EXIT_FAIL if broken else EXIT_PASS
