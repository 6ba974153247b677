"""The measuring part of a run whose measuring happens in this process's main thread (fps,
edge-vs-cloud, resources, lenses), and how it ends, written once:

    start the session (run folder, log, header) -> measure -> finish (end record, report)

Ctrl-C or SIGTERM while measuring ends the log as interrupted with the signal; an exception
ends it as failed, with a one-line reason that never quotes the token. Either way the report
of what was measured is written. An EdgeloadError is raised again after the report (the CLI
prints its one line and exits with its code); any other failure gets its line here.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from edgeload import runlog, verdict
from edgeload.errors import EdgeloadError
from edgeload.runlog import LogWriter
from edgeload.runsignals import RunSignals


class Session(Protocol):
    """What a scenario's session offers this module."""

    target: Any
    run_dir: Any

    def start(self) -> Any: ...

    def say(self, text: str) -> None: ...

    def finish(self, status: str, reason: str, signal_name: str | None) -> dict | None: ...


def measure_and_report(
    session: Session,
    signals: RunSignals,
    measure: Callable[[], str | None],
    *,
    command: str,
    completed: str,
) -> tuple[int, dict | None]:
    """Start `session`, `measure()` (its return value, when not None, is the end record's
    reason instead of `completed`), finish it; (the exit code, the results or None when no
    report could be written)."""
    from edgeload.target import error_line

    status, reason = runlog.STATUS_COMPLETED, completed
    error: BaseException | None = None
    try:
        session.start()
        session.say(f"run folder: {session.run_dir}")
        reason = measure() or completed
    except KeyboardInterrupt:
        status, reason = runlog.STATUS_INTERRUPTED, f"{signals.name or 'SIGINT'} received"
    except Exception as exc:  # provisioning failed, the endpoint died: report what was measured
        status, error = runlog.STATUS_FAILED, exc
        token = getattr(session.target, "token", None)
        reason = str(exc) if isinstance(exc, EdgeloadError) else error_line(exc, token)
    signals.stopping = True
    interrupted = status == runlog.STATUS_INTERRUPTED
    results = session.finish(status, reason, (signals.name or "SIGINT") if interrupted else None)
    if isinstance(error, EdgeloadError):
        raise error
    if error is not None:
        print(f"edgeload {command}: error: {reason}", file=sys.stderr, flush=True)
    if results is None:  # interrupted before the log existed, or a write failed
        if interrupted:
            code = verdict.EXIT_SIGTERM if signals.name == "SIGTERM" else verdict.EXIT_SIGINT
        else:
            code = verdict.EXIT_OUTPUT_ERROR if error is None else verdict.EXIT_RUN_ERROR
        return code, None
    if interrupted:
        print(
            f"edgeload {command}: interrupted; partial results in {session.run_dir}",
            file=sys.stderr,
            flush=True,
        )
    return int(results["exit_code"]), results


@contextlib.contextmanager
def run_target(inputs: Any, target: Any = None, *, check_dir: bool = True) -> Iterator[Any]:
    """The run's target: `target` when given (used, not closed), else the endpoint of the
    environment or the embedded simulator (`inputs.sim_profile`, `sim_time_scale`,
    `ca_bundle`), closed at the end. The endpoint settings and, with `check_dir`, the output
    folder are checked first: before a simulator starts or a request is sent."""
    if target is not None:
        yield target
        return
    from edgeload.runfolder import check_output_dir
    from edgeload.target import resolve_target, validate_target_environment

    validate_target_environment()
    if check_dir:
        check_output_dir(inputs.output_dir)
    own = resolve_target(
        profile=inputs.sim_profile, time_scale=inputs.sim_time_scale, ca_bundle=inputs.ca_bundle
    )
    try:
        yield own
    finally:
        own.close()


def end_and_report(
    writer: LogWriter, run_dir: Path, end: dict, say: Callable[[str], None]
) -> dict | None:
    """A run's last step: its `end` record, the log closed, `write_reports`, the console
    summary and where the folder is; the results. None when an earlier write failed (the
    writer closed itself: what reached the disk stays a readable log, with no end record)."""
    from edgeload.reporting import write_reports
    from edgeload.reporting.summary import format_summary

    if writer.closed:
        return None
    try:
        writer.write(end)
    finally:
        writer.close()
    results = write_reports(run_dir)
    say(format_summary(results))
    say(f"run folder: {run_dir}")
    return results
