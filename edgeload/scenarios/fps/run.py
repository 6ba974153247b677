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

from edgeload import runlog, verdict
from edgeload.errors import EdgeloadError
from edgeload.runsignals import RunSignals
from edgeload.scenarios.fps.options import Inputs
from edgeload.scenarios.fps.session import FpsSession


def run_fps_command(
    inputs: Inputs,
    *,
    out: TextIO | None = None,
    progress_stream: TextIO | None = None,
    target: Any = None,
    submitter_factory: Any = None,
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
        if own_target:
            target.close()


def measure_every_size(session: FpsSession, signals: RunSignals) -> int:
    """Start the session, measure each image size, end it; the exit code of its results.
    An EdgeloadError (provisioning failed) is raised again after the report, for its line."""
    status, reason = runlog.STATUS_COMPLETED, "every image size was measured"
    error: BaseException | None = None
    try:
        session.start()
        session.say(f"run folder: {session.run_dir}")
        for size in session.inputs.image_sizes:
            session.run_size(size)
    except KeyboardInterrupt:
        status, reason = runlog.STATUS_INTERRUPTED, f"{signals.name or 'SIGINT'} received"
    except Exception as exc:  # provisioning failed, the endpoint died: report what was measured
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
    if interrupted:
        print(
            f"edgeload fps: interrupted; partial results in {session.run_dir}",
            file=sys.stderr,
            flush=True,
        )
    return int(results["exit_code"])
