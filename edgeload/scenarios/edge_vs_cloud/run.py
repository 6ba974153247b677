"""`edgeload edge-vs-cloud`'s run: the target, the session, the signals and the end.

Options are checked first (`command.py`), the output folder and the endpoint settings before a
simulator starts or a request is sent. Then, like every scenario: run folder and log, the
comparisons, the `end` record, `write_reports`, the console summary, and the exit code of the
results (edgeload.verdict's table). Ctrl-C or SIGTERM at any moment ends the log as interrupted
(with the signal), reports the images compared so far and exits 130 / 143; a failed run (the
detector unknown, provisioning failed) ends it as failed, reports, and exits with its one line.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from edgeload.runsignals import RunSignals
from edgeload.scenarios.edge_vs_cloud.options import Inputs
from edgeload.scenarios.edge_vs_cloud.session import Session
from edgeload.sessionrun import measure_and_report, run_target


def run_command(
    inputs: Inputs,
    *,
    out: TextIO | None = None,
    progress_stream: TextIO | None = None,
    target: Any = None,
) -> int:
    """The CLI's whole run; returns the exit code. A given `target` is used and not closed."""
    signals = RunSignals()
    with run_target(inputs, target) as target:
        try:
            signals.install()
            session = Session(
                inputs, target, out=out if out is not None else sys.stdout,
                progress_stream=progress_stream,
            )  # fmt: skip
            session.say(target.describe())
            return compare(session, signals)
        finally:
            signals.restore()


def compare(session: Session, signals: RunSignals) -> int:
    """Start the session, compare, end it; the exit code of its results."""
    code, _ = measure_and_report(
        session,
        signals,
        session.run,
        command="edge-vs-cloud",
        completed="every listed image was answered on both sides",
    )
    return code
