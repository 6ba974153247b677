"""The FPS test under Locust: the one user, the shape that holds it, and the run's events.

`locustfiles/fps.py` imports `FpsUser` and `OneClient` and calls `register(events)`:

    init_command_line_parser  our options (`register_locust_options`)
    init                      refuse distributed runs; validate the options and the target
                              (one line, exit 2, before any load); in headless mode SIGINT and
                              SIGTERM stop the run as Ctrl-C does, remembering which
    FpsUser's task            the whole run (`FpsSession`) over every image size, each
                              submission also fed into Locust's statistics
    test_stop / quitting      end the log, write the reports, print the summary, set the exit
                              code of the results (130/143 when a signal stopped it; 5 when
                              provisioning failed)
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import gevent
from locust import LoadTestShape, User, constant, task
from locust.runners import MasterRunner, WorkerRunner

from edgeload import runlog, verdict
from edgeload.errors import EdgeloadError, UsageError
from edgeload.runfolder import check_output_dir
from edgeload.scenarios.fps.options import register_locust_options, validate_inputs
from edgeload.scenarios.fps.session import FpsSession
from edgeload.target import check_target


class _Run:
    """State of this process's FPS run (one per process)."""

    def __init__(self) -> None:
        self.signal_watchers: list = []  # ours, until the report is written
        self.reset()

    def reset(self) -> None:
        """A new run in the same process (the web UI's start after a stop)."""
        self.target: Any = None
        self.session: FpsSession | None = None
        self.started = False
        self.done = False  # the user finished (completed, or ended by an error)
        self.interrupted = False  # the user was stopped before it finished
        self.finished = False  # the report is written
        self.failure: str | None = None  # what ended the run early (provisioning failed ...)
        self.signal_name: str | None = None


RUN = _Run()


def say_error(message: str) -> None:
    sys.stderr.write(f"locust fps: error: {message}\n")
    sys.stderr.flush()


def on_init(environment: Any, **_: Any) -> None:
    if environment.parsed_options is None:
        return  # used as a library: options come later
    if isinstance(environment.runner, MasterRunner | WorkerRunner):
        say_error(
            "the FPS test measures one client: run it in one process, without --master, "
            "--worker or --processes"
        )
        sys.exit(verdict.EXIT_USAGE)
    try:
        inputs = validate_inputs(environment.parsed_options)
        check_target(sim_profile=inputs.sim_profile, ca_bundle=inputs.ca_bundle)
        check_output_dir(inputs.output_dir)  # a refused target leaves nothing behind
    except UsageError as exc:
        say_error(str(exc))
        sys.exit(exc.exit_code)  # before any load; Locust's own bad options exit the same way
    # Headless Locust installs its SIGTERM handler only after a shape test ends, so until then
    # SIGTERM would kill the process without a report: treat it like Ctrl-C instead. Ctrl-C
    # itself goes the same way: a hub callback raises KeyboardInterrupt in the main greenlet,
    # where Locust stops the run.
    if environment.parsed_options.headless:
        RUN.signal_watchers = [
            gevent.signal_handler(signum, _signal_as_ctrl_c, signal.Signals(signum).name)
            for signum in (signal.SIGTERM, signal.SIGINT)
        ]


def _signal_as_ctrl_c(name: str) -> None:
    RUN.signal_name = RUN.signal_name or name
    raise KeyboardInterrupt


class OneClient(LoadTestShape):
    """Exactly one user until it is done, then stop."""

    def tick(self) -> tuple[int, float] | None:
        return None if RUN.done else (1, 1)


class FpsUser(User):
    """The single client: runs the whole FPS test in its one task."""

    wait_time = constant(0)

    @task
    def fps_test(self) -> None:
        if RUN.started:  # done (or a second user by mistake): idle until the shape stops us
            gevent.sleep(0.5)
            return
        RUN.started = True
        completed = False
        try:
            execute(self.environment)
            completed = True
        except Exception as exc:  # provisioning failed, endpoint gone: one line, then report
            known = isinstance(exc, EdgeloadError)
            RUN.failure = str(exc) if known else f"{type(exc).__name__}: {exc}"
            say_error(RUN.failure)
            self.environment.process_exit_code = exc.exit_code if known else 1
            completed = True
        finally:
            # a killed greenlet (GreenletExit) is an interruption, not an end
            RUN.done, RUN.interrupted = completed, not completed


def execute(environment: Any) -> None:
    from edgeload.target import resolve_target

    # the web UI's start form may have changed the options since init
    inputs = validate_inputs(environment.parsed_options)
    RUN.target = resolve_target(
        profile=inputs.sim_profile, time_scale=inputs.sim_time_scale, ca_bundle=inputs.ca_bundle
    )
    print(RUN.target.describe(), flush=True)
    RUN.session = FpsSession(
        inputs,
        RUN.target,
        out=sys.stdout,
        progress_stream=sys.stderr,
        observer_factory=lambda size: request_reporter(environment, inputs.client, size),
    )
    RUN.session.start()
    print(f"run folder: {RUN.session.run_dir}", flush=True)
    for size in inputs.image_sizes:
        RUN.session.run_size(size)


def request_reporter(environment: Any, client: str, image_size: str) -> Any:
    """Feed every submission into Locust's statistics (web UI, --csv, the summary table);
    warm-up and measured submissions under separate names."""
    fire = environment.events.request.fire
    names = {
        "warmup": f"image-query {image_size} (warm-up)",
        "test": f"image-query {image_size}",
    }

    def report(phase: str, _started: float, seconds: float, outcome: Any) -> None:
        fire(
            request_type=f"{client.upper()} POST",
            name=names[phase],
            response_time=seconds * 1000.0,
            response_length=0,
            response=None,
            context={},
            exception=None if outcome.ok else RuntimeError(f"{outcome.error}: {outcome.detail}"),
        )

    return report


def end_status() -> tuple[str, str, str | None]:
    """(status, reason, signal) of the run as it ends."""
    if RUN.interrupted or not RUN.done:
        name = RUN.signal_name
        return runlog.STATUS_INTERRUPTED, f"{name} received" if name else "stopped", name
    if RUN.failure:
        return runlog.STATUS_FAILED, RUN.failure, None
    return runlog.STATUS_COMPLETED, "every image size was measured", None


def finish(environment: Any) -> None:
    """Write the report once: at test stop, or at quit when interrupted before that."""
    if RUN.finished:
        return
    RUN.finished = True
    for watcher in RUN.signal_watchers:  # from here on, Locust's own handlers are in place
        watcher.cancel()
    RUN.signal_watchers = []
    try:
        if RUN.session is None:
            if not RUN.done:
                environment.process_exit_code = environment.process_exit_code or 130
            return
        status, reason, signal_name = end_status()
        results = RUN.session.finish(status, reason, signal_name)
        if results is None:
            environment.process_exit_code = verdict.EXIT_OUTPUT_ERROR
            return
        if status == runlog.STATUS_INTERRUPTED:
            sys.stderr.write(f"locust fps: interrupted; partial results in {RUN.session.run_dir}\n")
        if not environment.process_exit_code:  # keep an earlier, more specific code
            environment.process_exit_code = int(results["exit_code"])
    finally:
        if RUN.target is not None:
            RUN.target.close()


def register(events: Any) -> None:
    """Wire a locustfile: our options, init checks, and the end of the run."""
    events.init_command_line_parser.add_listener(register_locust_options)
    events.init.add_listener(on_init)

    def on_test_start(environment: Any, **_: Any) -> None:
        if RUN.finished:
            RUN.reset()

    def on_test_stop(environment: Any, **_: Any) -> None:
        if RUN.done or RUN.interrupted:
            finish(environment)

    def on_quitting(environment: Any, **_: Any) -> None:
        finish(environment)

    events.test_start.add_listener(on_test_start)
    events.test_stop.add_listener(on_test_stop)
    events.quitting.add_listener(on_quitting)
