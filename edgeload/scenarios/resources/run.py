"""`edgeload resources`' run: the target, the session, the batches, the signals and the end.

Like every scenario: options checked first (`command.py`), the output folder and endpoint
settings before a simulator starts; then run folder and log, the batches, the `end` record,
`write_reports`, the console summary, and the exit code of the results. Ctrl-C or SIGTERM at
any moment ends the log as interrupted (with the signal) and reports the rows measured so far,
which `--resume` keeps.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from edgeload.runsignals import RunSignals
from edgeload.scenarios.resources.options import Inputs
from edgeload.scenarios.resources.session import ResourcesSession
from edgeload.sessionrun import measure_and_report, run_target


def run_resources_command(inputs: Inputs, *, out: TextIO | None = None, target: Any = None) -> int:
    """The CLI's whole run; returns the exit code. A given `target` is used and not closed."""
    signals = RunSignals()
    # a resume writes into its run folder, not a new one under --output-dir
    with run_target(inputs, target, check_dir=not inputs.resume) as target:
        try:
            signals.install()
            session = ResourcesSession(inputs, target, out=out if out is not None else sys.stdout)
            session.say(target.describe())
            return measure_every_batch(session, signals)
        finally:
            signals.restore()


def measure_every_batch(session: ResourcesSession, signals: RunSignals) -> int:
    """Start the session, run its batches, end it; the exit code of its results."""
    code, results = measure_and_report(
        session,
        signals,
        lambda: run_batches(session),
        command="resources",
        completed="every combination was measured",
    )
    if results is not None and (
        results["status"] == "interrupted"
        or results["outputs"]["summary"].get("combinations_missing")
    ):
        print(
            f"edgeload resources: not every combination was measured; continue with "
            f"`edgeload resources --resume {session.run_dir}`",
            file=sys.stderr,
            flush=True,
        )
    return code


def run_batches(session: ResourcesSession) -> str:
    """Every pending combination, `--batch-size` at a time (at most `--max-combinations`);
    the end record's reason."""
    inputs = session.inputs
    pending = session.pending()
    if not pending:
        return "nothing left to measure: every combination was measured before"
    limit = inputs.max_combinations
    todo = pending[:limit] if limit is not None else pending
    for start in range(0, len(todo), inputs.batch_size):
        session.run_batch(todo[start : start + inputs.batch_size])
    left = len(session.pending())
    if len(todo) < len(pending):
        return f"--max-combinations {limit} reached; {left} combination(s) left for --resume"
    return "every combination was tried" + (f"; {left} without a figure" if left else "")
