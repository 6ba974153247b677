"""The one writer of a run folder's reports, for every scenario: results JSON, the scenario's
main tables as CSV (`steps.csv`), plots and `report.html`.

`write_reports(run_dir)` reads `run_dir/load_test.log`, finds its scenario in the header, runs
that scenario's pure analysis and (re)writes `load_test_results.json`, the CSV tables (the
analysis module's `CSV_TABLES`, by default `steps`: see `edgeload.reporting.tables`), the
scenario's plots and `report.html` (`edgeload.reporting.html`: one self-contained page with the
plots embedded) next to the log. Re-running it on the same log regenerates the same reports,
so the files are replaced; a results file that came from a different log (another run's
`created_at`) is never overwritten: that is refused with a message. Every file is written to a
hidden temporary name and renamed, so a crash or a full disk never leaves half a file
(edgeload.runfolder).

Importing matplotlib costs about as much as reading a million requests, so by default the plots
are drawn by a child process (`edgeload.reporting._plotproc`) that imports matplotlib while
this process reads the log, then draws from the finished analysis.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgeload.errors import OutputError, ResultsError
from edgeload.reporting.html import REPORT_FILENAME, render_report
from edgeload.reporting.logreader import read_header, read_log
from edgeload.reporting.results import RESULTS_FILENAME, build_results
from edgeload.reporting.tables import DEFAULT_CSV_TABLES, csv_files
from edgeload.runfolder import write_atomic, write_json
from edgeload.runlog import LOG_FILENAME
from edgeload.scenarios import scenario


def write_reports(run_dir: str | Path, *, plots: bool = True, parallel: bool | None = None) -> dict:
    """Write load_test_results.json, the CSV tables, the plots and report.html for run_dir's
    log; return the results.

    Raises ResultsError for a log it cannot read, OutputError for a file it cannot write.
    parallel: draw the plots in a child process while the log is read (default: when the
    machine has more than one CPU).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ResultsError(f"{run_dir}: no such run folder")
    log_path = run_dir / LOG_FILENAME
    if not log_path.is_file():
        raise ResultsError(f"{run_dir}: no {LOG_FILENAME} in this folder")
    which = scenario(read_header(log_path).get("scenario"))
    if parallel is None:
        parallel = (os.cpu_count() or 1) > 1
    painter = _PlotProcess.start(run_dir, which.name) if plots and parallel else None
    try:
        analysis_module = which.analysis
        log = read_log(log_path, keep_requests=analysis_module.KEEP_REQUESTS)
        analysis = analysis_module.analyze(log)
        results = build_results(log, analysis)
        results_path = run_dir / RESULTS_FILENAME
        _refuse_foreign(results_path, results)
        write_json(results_path, results)
        csv_names = getattr(analysis_module, "CSV_TABLES", DEFAULT_CSV_TABLES)
        for name, text in csv_files(results["outputs"], csv_names).items():
            write_atomic(run_dir / name, text.encode())
        if painter is not None:
            drawn = painter.finish(analysis.plot_data)
        elif plots:
            drawn = save_plots(which.name, analysis.plot_data, run_dir)
        else:  # --no-plots: the report shows the plots an earlier rendering left
            drawn = sorted(p for p in run_dir.glob("*.png") if not p.name.startswith("."))
        write_report_html(run_dir, results, drawn)
    finally:
        if painter is not None:
            painter.cancel()
    return results


def write_report_html(run_dir: Path, results: dict, plot_files: list[Path]) -> Path:
    """Write run_dir/report.html (atomically): the results with the plot files embedded."""
    plots = []
    for path in plot_files:
        try:
            plots.append((path.name, path.read_bytes()))
        except OSError:
            continue  # a plot removed meanwhile: the report goes without it
    return write_atomic(run_dir / REPORT_FILENAME, render_report(results, plots).encode())


def save_plots(scenario_name: str, plot_data: Any, run_dir: Path) -> list[Path]:
    """Draw every plot of the scenario and write it into run_dir (atomically)."""
    import io

    written = []
    for name, draw in scenario(scenario_name).plots.PLOTS.items():
        buffer = io.BytesIO()
        draw(plot_data).savefig(buffer, format="png")
        written.append(write_atomic(run_dir / name, buffer.getvalue()))
    return written


def _refuse_foreign(results_path: Path, results: dict) -> None:
    try:
        existing = json.loads(results_path.read_text(encoding="utf-8"))
        theirs = existing["metadata"]["created_at"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return  # none, or not a readable results file: nothing worth keeping
    ours = results["metadata"].get("created_at")
    if theirs and ours and theirs != ours:
        raise ResultsError(
            f"{results_path} belongs to another run (created {theirs}; this log was created "
            f"{ours}): move it away first"
        )


class _PlotProcess:
    """A child process that imports matplotlib now and draws once given the plot data."""

    @classmethod
    def start(cls, run_dir: Path, scenario_name: str) -> _PlotProcess | None:
        """The child, or None (draw in this process) when no child can be started."""
        try:
            return cls(run_dir, scenario_name)
        except OSError:
            return None

    def __init__(self, run_dir: Path, scenario_name: str) -> None:
        env = dict(os.environ)
        env["MPLBACKEND"] = "Agg"
        self.done = False
        self.run_dir = run_dir
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgeload.reporting._plotproc", str(run_dir), scenario_name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )

    def finish(self, plot_data: Any) -> list[Path]:
        """Send the plot data, wait for the drawing; the files written."""
        payload = pickle.dumps(plot_data, protocol=pickle.HIGHEST_PROTOCOL)
        stdout, stderr = self.proc.communicate(payload)
        self.done = True
        if self.proc.returncode != 0:
            lines = stderr.decode(errors="replace").strip().splitlines()
            last = lines[-1] if lines else f"exit {self.proc.returncode}"
            if last.startswith("edgeload.errors.OutputError: "):
                raise OutputError(last.split(": ", 1)[1])
            raise OutputError(f"drawing the plots failed: {last}")
        names = stdout.decode(errors="replace").splitlines()
        return [self.run_dir / n for n in names if n.strip() and (self.run_dir / n).is_file()]

    def cancel(self) -> None:
        """End the child unless it finished (after an error, or Ctrl-C, in the parent)."""
        if self.done:
            return
        self.done = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
