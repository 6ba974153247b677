"""`edgeload report RUN_DIR`: (re)build load_test_results.json, steps.csv, the plots and
report.html from the log."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "Re-render load_test_results.json, steps.csv, the plots and report.html (one page to open "
    "and share) of a run folder from its load_test.log (also after a crash that cut the log's "
    "last line), and print a summary."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir", metavar="RUN_DIR", type=Path, help="run folder holding load_test.log"
    )
    parser.add_argument(
        "--no-plots",
        action="store_true",
        help="draw no plots (report.html shows those already in the folder)",
    )


def run(args: argparse.Namespace) -> int:
    from edgeload.reporting import write_reports
    from edgeload.reporting.summary import format_summary

    run_dir: Path = args.run_dir
    if run_dir.is_file() and run_dir.name == "load_test.log":
        run_dir = run_dir.parent
    results = write_reports(run_dir, plots=not args.no_plots)
    print(format_summary(results))
    print(f"reports written to {run_dir}; open {run_dir / 'report.html'}")
    return 0
