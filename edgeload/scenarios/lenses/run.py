"""`edgeload lenses`'s run: checks, the target, the session over every run, signals, the end.

The config and options are checked first (`command.py`), then the images are made, the
target's settings and the output folder checked: all before a simulator starts or a request
is sent (`command.py` has imported Locust, which patched this process with gevent). Then,
like every scenario: run folder and log, detectors, each run in turn (one Locust Environment
each), the `end` record, `write_reports`, the console summary and the exit code of the
results. SIGINT or SIGTERM at any moment ends the log as interrupted (with the signal),
reports what was measured and exits 130 / 143; a failed provisioning ends it as failed,
reports, and exits 5 with one line.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from edgeload import verdict
from edgeload.runsignals import GeventRunSignals
from edgeload.scenarios.lenses.options import Inputs
from edgeload.sessionrun import measure_and_report


def run_lenses_command(inputs: Inputs, *, out: TextIO | None = None, target: Any = None) -> int:
    """The CLI's whole sweep; returns the exit code. A given `target` is used and not closed."""
    from edgeload.runfolder import check_output_dir
    from edgeload.scenarios.lenses.session import make_images
    from edgeload.target import check_target, validate_target_environment

    pools = make_images(inputs)  # UsageError when objects do not fit an image
    own_target = target is None
    if own_target:
        validate_target_environment()
        check_target(sim_profile=inputs.sim_profile, ca_bundle=inputs.ca_bundle)
        check_output_dir(inputs.output_dir)  # before a simulator or a request
    from edgeload.scenarios.lenses.session import LensSession
    from edgeload.target import resolve_target

    out = out if out is not None else sys.stdout
    signals = GeventRunSignals()
    signals.install()
    try:
        if own_target:
            target = resolve_target(
                profile=inputs.sim_profile,
                time_scale=inputs.sim_time_scale,
                ca_bundle=inputs.ca_bundle,
            )
        try:
            session = LensSession(inputs, target, pools, out=out)
            session.say(target.describe())
            return sweep(session, signals)
        finally:
            if own_target:
                target.close()
    except KeyboardInterrupt:  # before the log existed (e.g. while the simulator started)
        return verdict.EXIT_SIGTERM if signals.name == "SIGTERM" else verdict.EXIT_SIGINT
    finally:
        signals.restore()


def sweep(session: Any, signals: GeventRunSignals) -> int:
    """Start the session, provision, run every run, end it; the exit code of its results."""

    def measure() -> None:
        session.provision()
        for run in range(session.config.runs):
            session.run(run)

    code, _ = measure_and_report(
        session, signals, measure, command="lenses", completed="every run of the sweep ran"
    )
    return code
