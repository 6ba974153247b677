"""`edgeload fps`'s run: the target, the session over every image size, the signals and the end.

Options are checked first (`command.py`), the output folder and the endpoint settings before
a simulator starts or a request is sent. Then, like every scenario: run folder and log, each
size measured, the `end` record, `write_reports`, the console summary, and the exit code of the
results (edgeload.verdict's table). Ctrl-C or SIGTERM at any moment ends the log as
interrupted (with the signal), reports what was measured and exits 130 / 143; a failed
provisioning ends it as failed, reports, and exits 5 with one line.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from edgeload.runsignals import RunSignals
from edgeload.scenarios.fps.options import Inputs
from edgeload.scenarios.fps.session import FpsSession
from edgeload.sessionrun import measure_and_report, run_target


def run_fps_command(
    inputs: Inputs,
    *,
    out: TextIO | None = None,
    progress_stream: TextIO | None = None,
    target: Any = None,
    submitter_factory: Any = None,
) -> int:
    """The CLI's whole run; returns the exit code. A given `target` is used and not closed."""
    signals = RunSignals()
    with run_target(inputs, target) as target:
        try:
            signals.install()
            session = FpsSession(
                inputs,
                target,
                out=out if out is not None else sys.stdout,
                progress_stream=progress_stream,
                submitter_factory=submitter_factory,
            )
            session.say(target.describe())
            return measure_every_size(session, signals)
        finally:
            signals.restore()


def measure_every_size(session: FpsSession, signals: RunSignals) -> int:
    """Start the session, measure each image size, end it; the exit code of its results."""

    def measure() -> None:
        for size in session.inputs.image_sizes:
            session.run_size(size)

    code, _ = measure_and_report(
        session, signals, measure, command="fps", completed="every image size was measured"
    )
    return code
