"""The one writer of a run folder's reports: `load_test_results.json` and the PNG plots.

`write_reports(run_dir)` reads `run_dir/load_test.log`, analyses it and (re)writes the results
and plots next to it. Re-running it on the same log regenerates the same reports, so the files
are replaced; a results file that came from a different log (another run's `created_at`) is
never overwritten: that is refused with a message. Every file is written to a temporary name
and renamed, so a crash never leaves half a file.

Importing matplotlib costs about as much as reading a million requests, so by default the plots
are drawn by a child process (`reporting._plotproc`) that imports matplotlib while this process
reads the log, then draws from the finished analysis.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from edgeload.reporting.errors import ReportError
from edgeload.reporting.logreader import read_log
from edgeload.reporting.results import RESULTS_FILENAME, build_results, dumps
from edgeload.runlog import LOG_FILENAME
from edgeload.scenarios.throughput.analysis import Analysis, analyze


def write_reports(run_dir: str | Path, *, plots: bool = True, parallel: bool | None = None) -> dict:
    """Write load_test_results.json (and the plots) for run_dir's log; return the results.

    parallel: draw the plots in a child process while the log is read (default: when the
    machine has more than one CPU).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run folder")
    log_path = run_dir / LOG_FILENAME
    if not log_path.is_file():
        raise ReportError(f"{run_dir}: no {LOG_FILENAME} in this folder")
    if parallel is None:
        parallel = (os.cpu_count() or 1) > 1
    painter = _PlotProcess.start(run_dir) if plots and parallel else None
    try:
        analysis = analyze(read_log(log_path))
        results = build_results(analysis)
        results_path = run_dir / RESULTS_FILENAME
        _refuse_foreign(results_path, results)
        _write_atomic(results_path, dumps(results).encode())
        if painter is not None:
            painter.finish(analysis)
        elif plots:
            save_plots(analysis, run_dir)
    finally:
        if painter is not None:
            painter.cancel()
    return results


def save_plots(analysis: Analysis, run_dir: Path) -> list[Path]:
    """Draw every plot and write it into run_dir (atomically); return the paths."""
    from edgeload.reporting.plots import PLOTS  # matplotlib: only when plots are drawn

    written = []
    for name, draw in PLOTS.items():
        figure = draw(analysis)
        path = run_dir / name
        tmp = path.with_name(f".{name}.tmp")
        figure.savefig(tmp, format="png")
        os.replace(tmp, path)
        written.append(path)
    return written


def _refuse_foreign(results_path: Path, results: dict) -> None:
    try:
        existing = json.loads(results_path.read_text(encoding="utf-8"))
        theirs = existing["metadata"]["created_at"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # none, or not a readable results file: nothing worth keeping
    ours = results["metadata"].get("created_at")
    if theirs and ours and theirs != ours:
        raise ReportError(
            f"{results_path} belongs to another run (created {theirs}; this log was created "
            f"{ours}): move it away first"
        )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class _PlotProcess:
    """A child process that imports matplotlib now and draws once given the analysis."""

    @classmethod
    def start(cls, run_dir: Path) -> _PlotProcess | None:
        """The child, or None (draw in this process) when no child can be started."""
        try:
            return cls(run_dir)
        except OSError:
            return None

    def __init__(self, run_dir: Path) -> None:
        env = dict(os.environ)
        env["MPLBACKEND"] = "Agg"
        self.done = False
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgeload.reporting._plotproc", str(run_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )

    def finish(self, analysis: Analysis) -> None:
        payload = pickle.dumps(analysis, protocol=pickle.HIGHEST_PROTOCOL)
        _, stderr = self.proc.communicate(payload)
        self.done = True
        if self.proc.returncode != 0:
            lines = stderr.decode(errors="replace").strip().splitlines()
            raise ReportError(
                "drawing the plots failed: "
                + (lines[-1] if lines else f"exit {self.proc.returncode}")
            )

    def cancel(self) -> None:
        """End the child unless it finished (after an error, or Ctrl-C, in the parent)."""
        if self.done:
            return
        self.done = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
