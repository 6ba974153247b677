"""`edgeload history DIR...`: many runs as one table (CSV, Parquet), regressions between
comparable runs, the headline figures over time.

pandas is imported only here, inside `run` (edgeload.reporting.history), so no other command
pays for it at start-up.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgeload.errors import ResultsError, UsageError
from edgeload.options import FLOAT, TEXT, Option, parse_options
from edgeload.options import add_arguments as add_options

HELP = (
    "Read many run folders (or folders of run folders) into one table, one row per run "
    "(scenario, date, target, endpoint images, inputs, headline figures, verdict); print it, "
    "write history.csv and history.parquet, plot each headline figure over time per group of "
    "comparable runs with regressions marked."
)

TOLERANCE = Option(
    "--tolerance",
    FLOAT,
    10.0,
    "a change from the previous comparable run is a regression when it is worse than this "
    "(percent of the previous value; '10' or '10%')",
    unit="%",
    minimum=0,
    maximum=1e6,
    metavar="PCT",
)
METRICS = Option(
    "--metrics",
    TEXT,
    None,
    "the headline figures to check and plot, comma-separated (default: every one with a "
    "better direction)",
    many=True,
    metavar="NAMES",
)
OUTPUT_DIR = Option(
    "--output-dir",
    TEXT,
    ".",
    "folder that receives history.csv, history.parquet and the plots",
    metavar="DIR",
)
OPTIONS = (TOLERANCE, METRICS, OUTPUT_DIR)
EXIT_OK, EXIT_REGRESSED, EXIT_NO_RUNS = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dirs",
        metavar="DIR",
        nargs="+",
        type=Path,
        help="a run folder, or a folder of run folders (e.g. load_tests/)",
    )
    add_options(parser, OPTIONS)
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when the newest run regressed against its previous comparable run",
    )
    parser.add_argument("--no-plots", action="store_true", help="write only the table")


def run(args: argparse.Namespace) -> int:
    if isinstance(args.tolerance, str):
        args.tolerance = args.tolerance.strip().removesuffix("%")
    values = parse_options(args, OPTIONS)

    from edgeload.reporting import history as h
    from edgeload.runfolder import check_output_dir

    run_dirs, warnings = h.find_run_dirs(args.dirs)
    runs, unreadable = h.read_runs(run_dirs)
    skipped = [*warnings, *unreadable]
    if not runs:  # one line, with the reasons
        reasons = "; ".join(skipped[:3]) + (
            f"; {len(skipped) - 3} more" if len(skipped) > 3 else ""
        )
        raise ResultsError(
            "no readable run in " + ", ".join(str(d) for d in args.dirs)
            + (f" ({reasons})" if reasons else "")
            + ": a run folder holds load_test_results.json (`edgeload report RUN_DIR` writes it)"
        )  # fmt: skip
    for line in skipped:
        print(f"warning: {line}", file=sys.stderr)
    wanted = values["metrics"]
    if wanted:
        known = {c for c in _figures(runs)}
        unknown = [m for m in wanted if m not in known]
        if unknown:
            raise UsageError(
                f"--metrics {','.join(unknown)}: no run has such a headline figure (they have "
                f"{', '.join(sorted(known)) or 'none'})"
            )
    history = h.build_history(runs, tolerance_pct=values["tolerance"], metrics=wanted)
    print(h.format_history(history))
    output_dir = check_output_dir(values["output_dir"])
    written = h.write_table(history, output_dir)
    if not args.no_plots:
        written += h.plot_history(history, output_dir)
    print("wrote " + ", ".join(str(p) for p in written))
    newest = history.newest_regressed()
    if newest and args.fail_on_regression:
        print(
            f"FAILED: the newest run ({history.table.iloc[-1]['run_dir']}) regressed in "
            + ", ".join(r.metric for r in newest)
        )
        return EXIT_REGRESSED
    return EXIT_OK


def _figures(runs) -> set[str]:
    names: set[str] = set()
    for run in runs:
        summary = run.results["outputs"].get("summary")
        names |= set(summary) if isinstance(summary, dict) else set()
    return names
