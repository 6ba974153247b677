"""Single-client FPS test as a locustfile: one user submits back to back and the run stops by
itself after the warm-up and the timed iterations of every image size.

    uv run locust -f locustfiles/fps.py --headless --detector-mode BINARY \\
        --image-size 640x480,1920x1080 --warmup-iterations 300 --iterations 1000

The `OneClient` shape holds exactly one user whatever `-u` says, and ends the run when the user
is done. The measurement itself is `edgeload.scenarios.fps.run` (the same loop, timing and report as
`edgeload fps`); this file only wires it to Locust's options and events, and feeds every
submission into Locust's statistics. The run folder `<output-dir>/<timestamp>-fps/` is written
when the test stops, also on Ctrl-C or a web-UI stop (marked interrupted). The exit code is 0
for a completed run, 1 for an invalid or failed one, 130 for an interrupted one. One client
means one process: distributed runs (--master/--worker/--processes) are refused.
"""

from __future__ import annotations

import os
import signal
import sys
import types

import gevent
from locust import LoadTestShape, User, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

from edgeload.errors import RunError, UsageError
from edgeload.scenarios.fps.run import (
    DEFAULT_ITERATIONS,
    DEFAULT_WARMUP_ITERATIONS,
    FpsSession,
    exit_message,
    options_from_args,
)


class _Run:
    """State of this process's FPS run (one per process)."""

    options = None
    target = None
    session: FpsSession | None = None
    started = False
    done = False  # the user finished (completed, or failed with an error)
    interrupted = False  # the user was stopped (web UI stop, Ctrl-C) before it finished
    finished = False  # the report is written
    signal_watchers: list = []  # our SIGTERM/SIGINT handlers until the report is written

    def reset(self) -> None:
        """A new run in the same process (the web UI's start after a stop)."""
        self.target = self.session = None
        self.started = self.done = self.interrupted = self.finished = False


RUN = _Run()


@events.init_command_line_parser.add_listener
def _add_options(parser, **_kwargs) -> None:
    group = parser.add_argument_group("edgeload single-client FPS test")
    group.add_argument("--detector-mode", default="BINARY", help="BINARY or COUNT")
    group.add_argument("--image-width", default="640", help="image width (pixels)")
    group.add_argument("--image-height", default="480", help="image height (pixels)")
    group.add_argument(
        "--image-size",
        default="",
        help="WxH sizes, comma-separated (e.g. 640x480,1920x1080): one result row per size; "
        "overrides --image-width/--image-height",
    )
    group.add_argument(
        "--warmup-iterations", default=str(DEFAULT_WARMUP_ITERATIONS), help="unmeasured"
    )
    group.add_argument("--iterations", default=str(DEFAULT_ITERATIONS), help="timed submissions")
    group.add_argument("--client", default="sdk", help="sdk or http")
    group.add_argument("--detector-id", default="", help="an existing detector to use")
    group.add_argument("--output-dir", default="load_tests", help="where the run folder goes")
    group.add_argument(
        "--config-check-interval", default="10", help="seconds between pipeline-config checks"
    )
    group.add_argument("--provision-timeout", default="1800", help="seconds")
    group.add_argument(
        "--ca-bundle", default="", help="PEM file of the CA(s) of an https endpoint's certificate"
    )
    group.add_argument("--sim-profile", default="demo", help="embedded simulator profile")
    group.add_argument(
        "--sim-time-scale",
        "--time-scale",
        dest="time_scale",
        default="1",
        help="embedded simulator time scale",
    )


def _options_from(parsed) -> object:
    sizes = [s for s in str(parsed.image_size or "").replace(" ", ",").split(",") if s]
    args = types.SimpleNamespace(
        mode=parsed.detector_mode,
        image_width=parsed.image_width,
        image_height=parsed.image_height,
        image_size=sizes or None,
        warmup_iterations=parsed.warmup_iterations,
        iterations=parsed.iterations,
        client=parsed.client,
        detector_id=parsed.detector_id or None,
        output_dir=parsed.output_dir,
        config_check_interval=parsed.config_check_interval,
        provision_timeout=parsed.provision_timeout,
        sim_profile=parsed.sim_profile,
        time_scale=parsed.time_scale,
        ca_bundle=parsed.ca_bundle or None,
    )
    return options_from_args(args)


@events.init.add_listener
def _on_init(environment, **_kwargs) -> None:
    if environment.parsed_options is None:
        return  # used as a library: options come later
    if isinstance(environment.runner, MasterRunner | WorkerRunner):
        sys.stderr.write(
            "locust fps: error: the FPS test measures one client: run it in one process, "
            "without --master, --worker or --processes\n"
        )
        sys.exit(2)
    try:
        RUN.options = _options_from(environment.parsed_options)
        _check_target(RUN.options)
    except UsageError as exc:
        sys.stderr.write(f"locust fps: error: {exc}\n")
        sys.exit(exc.exit_code)  # before any load; Locust's own bad options exit the same way
    # Headless Locust installs its SIGTERM handler only after a shape test ends, so until then
    # SIGTERM would kill the process without a report: treat it like Ctrl-C instead. Ctrl-C
    # itself goes the same way: Python raises KeyboardInterrupt in whichever greenlet runs when
    # the signal lands (often the user's, which then just dies), a hub callback raises it in
    # the main greenlet, where Locust stops the run.
    if environment.parsed_options.headless:
        RUN.signal_watchers = [
            gevent.signal_handler(signum, _signal_as_ctrl_c)
            for signum in (signal.SIGTERM, signal.SIGINT)
        ]


def _check_target(options) -> None:
    """A real endpoint's problems (URL, cloud, token, TLS, reachability) or an unusable
    simulator profile: UsageError now, before Locust starts its user."""
    if os.environ.get("GROUNDLIGHT_ENDPOINT") is not None:
        from edgeload.target import resolve_target

        resolve_target(ca_bundle=options.ca_bundle).close()
    else:
        from edgeload.sim.profile import load_profile

        load_profile(options.sim_profile)


def _signal_as_ctrl_c() -> None:
    # raised in a hub callback, a KeyboardInterrupt is re-raised in the main greenlet, where
    # Locust handles it as Ctrl-C (stop, quitting listeners, exit)
    raise KeyboardInterrupt


class OneClient(LoadTestShape):
    """Exactly one user until it is done, then stop."""

    def tick(self):
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
            _execute(self.environment)
            completed = True
        except Exception as exc:  # provisioning failed, endpoint gone: one line, then report
            known = isinstance(exc, UsageError | RunError)
            message = str(exc) if known else f"{type(exc).__name__}: {exc}"
            sys.stderr.write(f"locust fps: error: {message}\n")
            if RUN.session is not None:
                RUN.session.error = message
            self.environment.process_exit_code = exc.exit_code if known else 1
            completed = True
        finally:
            # a killed greenlet (GreenletExit) is an interruption, not an end
            RUN.done, RUN.interrupted = completed, not completed


def _execute(environment) -> None:
    from edgeload.target import resolve_target

    # the web UI's start form may have changed the options since init
    options = _options_from(environment.parsed_options)
    RUN.target = resolve_target(
        profile=options.sim_profile, time_scale=options.time_scale, ca_bundle=options.ca_bundle
    )
    print(RUN.target.describe(), flush=True)
    RUN.session = FpsSession(
        options,
        RUN.target,
        out=sys.stdout,
        progress_stream=sys.stderr,
        observer_factory=lambda size: _request_reporter(environment, options.client, size),
    )
    RUN.session.start()
    print(f"run folder: {RUN.session.run_dir}", flush=True)
    for size in options.image_sizes:
        RUN.session.run_size(size)


def _request_reporter(environment, client: str, image_size: str):
    """Feed every submission into Locust's statistics (web UI, --csv, the summary table);
    warm-up and measured submissions under separate names."""
    fire = environment.events.request.fire
    names = {
        "warmup": f"image-query {image_size} (warm-up)",
        "test": f"image-query {image_size}",
    }

    def report(phase: str, seconds: float, outcome) -> None:
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


def _finish(environment) -> None:
    """Write the report once: at test stop, or at quit when interrupted before that."""
    if RUN.finished:
        return
    RUN.finished = True
    for watcher in RUN.signal_watchers:  # from here on, Locust's own handlers are in place
        watcher.cancel()
    RUN.signal_watchers = []
    try:
        if RUN.session is not None:
            from edgeload.scenarios.fps.analysis import RESULTS_FILENAME

            results = RUN.session.finish(interrupted=not RUN.done)
            code, message = exit_message(results, RUN.session.run_dir / RESULTS_FILENAME)
            if message:
                sys.stderr.write(f"locust fps: {message}\n")
            if not environment.process_exit_code:  # keep an earlier, more specific code
                environment.process_exit_code = code
        elif not RUN.done:
            environment.process_exit_code = environment.process_exit_code or 130
    finally:
        if RUN.target is not None:
            RUN.target.close()


@events.test_start.add_listener
def _on_test_start(environment, **_kwargs) -> None:
    if RUN.finished:
        RUN.reset()


@events.test_stop.add_listener
def _on_test_stop(environment, **_kwargs) -> None:
    if RUN.done or RUN.interrupted:
        _finish(environment)


@events.quitting.add_listener
def _on_quitting(environment, **_kwargs) -> None:
    _finish(environment)
