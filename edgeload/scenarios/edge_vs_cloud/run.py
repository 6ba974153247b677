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

from edgeload import runlog, verdict
from edgeload.errors import EdgeloadError
from edgeload.runsignals import RunSignals
from edgeload.scenarios.edge_vs_cloud.options import Inputs
from edgeload.scenarios.edge_vs_cloud.session import Session


def run_command(
    inputs: Inputs,
    *,
    out: TextIO | None = None,
    progress_stream: TextIO | None = None,
    target: Any = None,
) -> int:
    """The CLI's whole run; returns the exit code. A given `target` is used and not closed."""
    from edgeload.runfolder import check_output_dir
    from edgeload.target import resolve_target, validate_target_environment

    own_target = target is None
    if own_target:
        validate_target_environment()
        check_output_dir(inputs.output_dir)  # before a simulator or a request
        target = resolve_target(
            profile=inputs.sim_profile,
            time_scale=inputs.sim_time_scale,
            ca_bundle=inputs.ca_bundle,
        )
    signals = RunSignals()
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
        if own_target:
            target.close()


def compare(session: Session, signals: RunSignals) -> int:
    """Start the session, compare, end it; the exit code of its results. An EdgeloadError (the
    detector unknown, provisioning failed) is raised again after the report, for its line."""
    status, reason = runlog.STATUS_COMPLETED, "every listed image was answered on both sides"
    error: BaseException | None = None
    try:
        session.start()
        session.say(f"run folder: {session.run_dir}")
        session.run()
    except KeyboardInterrupt:
        status, reason = runlog.STATUS_INTERRUPTED, f"{signals.name or 'SIGINT'} received"
    except Exception as exc:  # provisioning failed, the endpoint died: report what was compared
        status, error = runlog.STATUS_FAILED, exc
        reason = str(exc) if isinstance(exc, EdgeloadError) else _failure(exc, session)
    signals.stopping = True
    interrupted = status == runlog.STATUS_INTERRUPTED
    results = session.finish(status, reason, (signals.name or "SIGINT") if interrupted else None)
    if error is not None and isinstance(error, EdgeloadError):
        raise error
    if results is None:  # interrupted before the log existed, or a write failed
        if interrupted:
            return verdict.EXIT_SIGTERM if signals.name == "SIGTERM" else verdict.EXIT_SIGINT
        return verdict.EXIT_OUTPUT_ERROR if error is None else verdict.EXIT_RUN_ERROR
    if interrupted:
        print(
            f"edgeload edge-vs-cloud: interrupted; partial results in {session.run_dir}",
            file=sys.stderr,
            flush=True,
        )
    return int(results["exit_code"])


def _failure(exc: BaseException, session: Session) -> str:
    """One line for an unexpected failure (an SDK error: the detector unknown, a refused
    token), never quoting the token."""
    from edgeload.scenarios.edge_vs_cloud.answers import error_text

    return error_text(exc, getattr(session.target, "token", None))
