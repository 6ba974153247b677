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

from edgeload import runlog, verdict
from edgeload.errors import EdgeloadError
from edgeload.runsignals import RunSignals
from edgeload.scenarios.resources.options import Inputs
from edgeload.scenarios.resources.session import ResourcesSession


def run_resources_command(inputs: Inputs, *, out: TextIO | None = None, target: Any = None) -> int:
    """The CLI's whole run; returns the exit code. A given `target` is used and not closed."""
    from edgeload.runfolder import check_output_dir
    from edgeload.target import resolve_target, validate_target_environment

    own_target = target is None
    out = out if out is not None else sys.stdout
    if own_target:
        validate_target_environment()
        if not inputs.resume:
            check_output_dir(inputs.output_dir)  # before a simulator or a request
        target = resolve_target(
            profile=inputs.sim_profile,
            time_scale=inputs.sim_time_scale,
            ca_bundle=inputs.ca_bundle,
        )
    signals = RunSignals()
    try:
        signals.install()
        session = ResourcesSession(inputs, target, out=out)
        session.say(target.describe())
        return measure_every_batch(session, signals)
    finally:
        signals.restore()
        if own_target:
            target.close()


def measure_every_batch(session: ResourcesSession, signals: RunSignals) -> int:
    """Start the session, run its batches, end it; the exit code of its results. An
    EdgeloadError that ended the run is raised again after the report, for its one line."""
    status, reason = runlog.STATUS_COMPLETED, "every combination was measured"
    error: BaseException | None = None
    try:
        session.start()
        session.say(f"run folder: {session.run_dir}")
        reason = run_batches(session)
    except KeyboardInterrupt:
        status, reason = runlog.STATUS_INTERRUPTED, f"{signals.name or 'SIGINT'} received"
    except Exception as exc:  # the endpoint died, a write failed: report what was measured
        status, error = runlog.STATUS_FAILED, exc
        reason = str(exc) if isinstance(exc, EdgeloadError) else f"{type(exc).__name__}: {exc}"
    signals.stopping = True
    interrupted = status == runlog.STATUS_INTERRUPTED
    results = session.finish(status, reason, (signals.name or "SIGINT") if interrupted else None)
    if error is not None:
        raise error
    if results is None:  # interrupted before the log existed, or a write failed
        if interrupted:
            return verdict.EXIT_SIGTERM if signals.name == "SIGTERM" else verdict.EXIT_SIGINT
        return verdict.EXIT_OUTPUT_ERROR
    if interrupted or results["outputs"]["summary"].get("combinations_missing"):
        print(
            f"edgeload resources: not every combination was measured; continue with "
            f"`edgeload resources --resume {session.run_dir}`",
            file=sys.stderr,
            flush=True,
        )
    return int(results["exit_code"])


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
