"""`edgeload compare RUN_A RUN_B [--fail-on ...]`: two runs side by side, with CI gates."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeload.errors import UsageError

HELP = (
    "Compare two runs metric by metric (run folders or load_test_results.json files); "
    "exit 1 when a --fail-on gate is broken."
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


def _load(path: Path) -> dict:
    from edgeload.reporting.results import RESULTS_FILENAME, load_results

    if path.is_dir():
        results_path = path / RESULTS_FILENAME
        if not results_path.is_file():
            raise UsageError(
                f"{path}: no {RESULTS_FILENAME} in this folder; run `edgeload report {path}`"
            )
        return load_results(results_path)
    if path.is_file():
        return load_results(path)
    raise UsageError(f"{path}: no such run folder or results file")


def run(args: argparse.Namespace) -> int:
    from edgeload.reporting import ReportError
    from edgeload.reporting.compare import (
        check_gates,
        compare_results,
        format_comparison,
        parse_gates,
    )

    try:
        gates = parse_gates(args.fail_on) if args.fail_on is not None else []
        a, b = _load(args.run_a), _load(args.run_b)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    print(format_comparison(compare_results(a, b), str(args.run_a), str(args.run_b)))
    broken = check_gates(gates, a, b)
    for message in broken:
        print(f"FAILED gate {message}")
    if gates and not broken:
        print(f"all {len(gates)} gate(s) passed")
    return 1 if broken else 0
