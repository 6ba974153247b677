"""Locust-facing glue of the throughput test: options, run lifecycle, run folder.

A locustfile calls `register(events, *extensions)` at import; everything else hangs off
Locust's events (an extension, such as the live web UI of `webui.py`, is called with the
environment and the `ThroughputRun` of a master or local process before its log opens):

    init_command_line_parser  our options (`register_locust_options`), ramp options also in
                              the web UI form
    init (master or local)    validate the options (one-line error, exit 2, before any load),
                              resolve the target (first line says which), create the run folder
                              and `load_test.log`, provision the detector(s), write the header,
                              hand workers the endpoint (environment.host) and detector ids
    init (worker)             a LogSink that forwards its records to the master
    test_start                the web UI form's options apply (validated again); new run
                              folder for a second web-UI run; resource samplers start
                              (endpoint on master/local, this host on every load process)
    shape step change         `step` record; the step is announced to workers
    test_stop / quitting      `end` record (completed, or interrupted if the ramp had not run
                              its course), close the log, write the report, print the folder,
                              set the exit code (0 completed, 1 failed, 130/143 interrupted)

SIGINT/SIGTERM at any moment (provisioning, ramp, report) leave a closed log and a report
marked interrupted, and a non-zero exit code.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent

from edgeload import runlog, verdict
from edgeload.errors import EdgeloadError, OutputError, UsageError
from edgeload.processes import die_with_parent
from edgeload.runfolder import create_run_dir
from edgeload.runlog import LogWriter
from edgeload.scenarios.throughput import users
from edgeload.scenarios.throughput.logsink import LogSink
from edgeload.scenarios.throughput.monitor import RunMonitor
from edgeload.scenarios.throughput.options import (
    Inputs,
    register_locust_options,
    validate_inputs,
)

logger = logging.getLogger(__name__)

SCENARIO = "throughput"
MASTER_FINAL_REPORT_WAIT_S = 4.0  # a worker's last stats report may come up to 3 s after stop


# --------------------------------------------------------------------------------------------
# options


# --------------------------------------------------------------------------------------------
# the run (master or local process)


def edge_pipeline_provenance(requested: str, detectors: list[Any]) -> dict:
    """The run metadata's record of an asked-for edge pipeline config: what each detector's
    edge said it runs, and where that was read."""
    from edgeload.provisioning import METRICS_PATH, same_pipeline_config

    served = {d.id: d.pipeline_config for d in detectors}
    return {
        "requested": requested,
        "verified": bool(detectors)
        and all(
            d.pipeline_config_confirmed and same_pipeline_config(d.pipeline_config, requested)
            for d in detectors
        ),
        "source": f"the edge's status page ({METRICS_PATH} detector_details.pipeline_config)",
        "served": served,
    }


class ThroughputRun:
    """One throughput run of a master or local process: its log, samplers and end."""

    def __init__(self, environment: Any, inputs: Inputs) -> None:
        self.environment = environment
        self.inputs = inputs
        self.target: Any = None
        self.detectors: list[Any] = []
        self.metadata: dict = {}
        self.run_dir: Path | None = None
        self.sink: LogSink | None = None
        self.sampling: Any = None
        self.finished = False
        self.started = False  # a test started in this run folder
        self.signal_name: str | None = None
        self.signals: _Signals | None = None
        self.finalizing = False
        self._final_timer: gevent.Greenlet | None = None
        self._step_written: tuple[int, int] | None = None  # last step record of this log
        self._step_announced: tuple[int, int] | None = None  # last step printed on the console
        self._step_started_at = 0.0
        self.monitor: RunMonitor | None = None
        self._watcher: gevent.Greenlet | None = None
        self._sim_death_said = False
        self.output_error: str | None = None  # why the run folder could not be written
        # see every record the log gets, header first (the live web UI)
        self.record_listeners: list[Callable[[dict], None]] = []
        # when the load was told to stop: the run's (and its last step's) end, not the moment
        # the log closes, which a distributed web-UI master puts off for the workers' reports
        self._load_stopped_at: float | None = None

    # -- set-up ----------------------------------------------------------------------------
    def open_log(self) -> None:
        self.run_dir = create_run_dir(self.inputs.output_dir, SCENARIO)
        self.run_id = runlog.new_run_id()
        writer = LogWriter(self.run_dir / runlog.LOG_FILENAME)
        self.monitor = RunMonitor(
            say=say,
            record=lambda record: self.sink.write(record),
            down_after_s=self.inputs.endpoint_down_seconds,
        )
        self.sink = LogSink(
            self.environment,
            writer,
            on_batch=self.monitor.add_batch,
            on_record=self._tell_listeners,
            on_write_error=self.on_write_error,
        ).register()
        self.finished = False
        self.started = False
        self._step_written = None
        self._step_announced = None
        self._load_stopped_at = None

    def _tell_listeners(self, record: dict) -> None:
        for listener in self.record_listeners:
            listener(record)

    def header(self) -> dict:
        return runlog.header(
            scenario=SCENARIO,
            run_id=self.run_id,
            target=self.target.as_record() if self.target is not None else None,
            inputs={**self.inputs.as_record(), **_distribution(self.environment)},
            metadata=self.metadata,
        )

    def provision(self) -> None:
        from edgeload.provisioning import provision_detectors
        from edgeload.target import make_sdk

        inputs = self.inputs
        pipeline = inputs.edge_pipeline_config
        say(
            f"provisioning {inputs.num_detectors} {inputs.detector_mode} detector(s) for "
            f"{inputs.image_width}x{inputs.image_height} images"
            + (f" with edge pipeline config {pipeline!r}" if pipeline else "")
        )
        gl = make_sdk(self.target, retries=False)
        try:
            self.detectors = provision_detectors(
                gl,
                inputs.num_detectors,
                mode=inputs.detector_mode,
                image_size=(inputs.image_width, inputs.image_height),
                detector_ids=list(inputs.detector_ids) or None,
                timeout_s=inputs.provision_timeout,
                progress=say,
                target=self.target,
                mode_size=inputs.mode_size,
                edge_pipeline_config=inputs.edge_pipeline_config,
            )
        finally:
            try:
                gl.close()
            except Exception:
                pass
        for detector in self.detectors:
            say(f"detector {detector.id} ({detector.name}) is answered by the edge")

    def collect_metadata(self) -> None:
        from edgeload.metadata import collect_metadata

        try:
            self.metadata = collect_metadata(self.target)
        except Exception as exc:  # metadata must never fail a run
            self.metadata = {"error": f"metadata collection failed: {exc}"}
        self.metadata["detectors"] = [d.as_record() for d in self.detectors]
        self.metadata["images"] = {
            "mode": self.inputs.detector_mode,
            "width": self.inputs.image_width,
            "height": self.inputs.image_height,
            "unique_per_request": True,
        }
        if self.detectors and self.detectors[0].mode_size is not None:
            self.metadata["images"]["mode_size"] = self.detectors[0].mode_size
        if self.inputs.edge_pipeline_config is not None:
            self.metadata["edge_pipeline_config"] = edge_pipeline_provenance(
                self.inputs.edge_pipeline_config, self.detectors
            )

    def publish_to_workers(self) -> None:
        """What workers need, carried by Locust's spawn message (custom parsed options)."""
        options = self.environment.parsed_options
        options.edgeload_inputs = self.inputs.as_record()  # the validated options
        options.edgeload_run_id = self.run_id  # workers tag their records with it
        options.edgeload_master_id = MASTER_ID  # a worker serves one master only
        self.sink.run_id = self.run_id
        options.edgeload_detectors = [d.id for d in self.detectors]
        # what each detector's answers look like (MULTI_CLASS classes, BOUNDING_BOX maximum)
        options.edgeload_answers = {d.id: d.answer_spec() for d in self.detectors}
        options.edgeload_target_kind = self.target.kind
        # TLS as the master verified it: workers on other machines get the CA itself
        options.edgeload_verify_tls = self.target.verify_tls
        options.edgeload_ca_pem = users.read_ca_pem(self.target.ca_bundle)
        self.environment.host = self.target.url

    # -- during the run ----------------------------------------------------------------------
    def on_test_start(self, **_: Any) -> None:
        if self.finished or not self.started:
            # web UI: the form may have changed the options since the last run (or since the
            # header was written): this run's inputs are the form's
            try:
                self.inputs = validate_inputs(self.environment.parsed_options)
                self.environment.parsed_options.edgeload_inputs = self.inputs.as_record()
            except UsageError as exc:
                say(f"error: {exc}; stopping")
                gevent.spawn(self.environment.runner.stop)
                return
        if self.finished:  # a new run from the web UI: a new folder, same target and detectors
            self.open_log()
            self.sink.write(self.header())
            self.publish_to_workers()
        elif not self.started:
            self._rewrite_header_if_alone()
        self.started = True
        # Locust's counts start now; so does the count of another run's records it takes in
        self.sink.foreign_requests = 0
        # the endpoint measured is the target's, whatever the web UI's host field says
        self.environment.host = self.target.url
        users.reset_context(self.environment)
        if not _is_master(self.environment):
            users.warm_up(self.environment)
        current = getattr(self.environment.shape_class, "current", None)
        if current is not None and self._step_written is None:  # the step began before the log
            self.on_step(*current)
        self.start_sampling()
        if self._watcher is None or self._watcher.dead:
            self._watcher = gevent.spawn(self._watch_endpoint)

    def _watch_endpoint(self) -> None:
        """Every second: has the endpoint stopped answering? Has the embedded simulator died?"""
        while not self.finished and not self.finalizing:
            gevent.sleep(1.0)
            if self.monitor is not None:
                self.monitor.check_liveness()
            self._check_simulator()

    def _check_simulator(self) -> None:
        sim = getattr(self.target, "sim", None)
        if sim is not None and not sim.running and not self._sim_death_said:
            self._sim_death_said = True
            say("the embedded simulated endpoint died; its requests now fail")
            self.sink.write(runlog.event("simulator_died", "the embedded simulator process ended"))

    def on_write_error(self, exc: OutputError) -> None:
        """The log cannot be written (disk full, read-only): stop the run now, keep what is
        on disk (a readable log), exit 6."""
        # on stderr, as every command's errors are (the pod scenarios' full disk too)
        print(
            f"edgeload: error: {exc}; stopping the run (what was written stays readable)",
            file=sys.stderr,
            flush=True,
        )
        self.output_error = str(exc)
        if not self.finalizing and not self.finished:
            gevent.spawn(self.environment.runner.quit)

    def on_spawning_complete(self, user_count: int = 0, **_: Any) -> None:
        """All of the current step's clients run: its measured window may start."""
        current = self._step_written
        if current is not None and user_count == current[1] and not self.finished:
            self.sink.write(
                runlog.event("step_ready", f"{user_count} clients running", step=current[0])
            )

    def _rewrite_header_if_alone(self) -> None:
        """Rewrite the header (with the inputs as the test starts) while the log holds nothing
        but it and the first step record, which is written again afterwards."""
        writer = self.sink.writer if self.sink else None
        if writer is not None and writer.records_written <= (
            1 if self._step_written is None else 2
        ):
            writer.close()
            self.sink.writer = LogWriter(writer.path, mode="w")
            self.sink.write(self.header())
            self._step_written = None

    def start_sampling(self) -> None:
        from edgeload.samplers import EndpointSampler, SamplingLoop, generator_sampler

        self.stop_sampling()
        samplers = [EndpointSampler(self.target, note=say)]
        if not _is_master(self.environment):  # on a master, the workers sample their hosts
            samplers.append(generator_sampler(note=say))
        self.sampling = SamplingLoop(
            samplers, self.inputs.system_sample_interval_seconds, self.sink.add_utilization
        ).start()

    def stop_sampling(self, final_sample: bool = False) -> None:
        if self.sampling is not None:
            sampling, self.sampling = self.sampling, None
            sampling.stop(timeout_s=2.0)
            if final_sample:  # covers the run's last seconds, up to its end
                sampling.sample_once()

    def on_step(self, step: int, clients_count: int) -> None:
        if self.sink is None:
            return
        if not self.started or self.finished:
            # web UI: the form's options apply from the first step of each run
            self._refresh_inputs()
        users.set_step(self.environment, step, clients_count)
        runner = self.environment.runner
        if _is_master(self.environment):
            runner.send_message(users.STEP_MESSAGE, {"step": step, "clients": clients_count})
        if (step, clients_count) == self._step_written or self.finished:
            return
        self._say_step_done()
        self._step_written = (step, clients_count)
        self._step_started_at = time.time()
        expected = self.inputs.expected_rps(clients_count)
        self.sink.write(
            {
                "type": runlog.STEP,
                "t": time.time(),
                "step": step,
                "clients": clients_count,
                "expected_rps": expected,
                # the step's planned length: the last step ends there, not when the run's
                # stop reached every worker
                "planned_s": self.inputs.time_between_ramp,
            }
        )
        # a header rewrite writes the first step record again; print it only once
        if self._step_announced != (step, clients_count):
            self._step_announced = (step, clients_count)
            say(f"step {step + 1}: {clients_count} clients, expecting {expected:g} requests/s")

    def _say_step_done(self) -> None:
        """One line for the step that just ended (a distributed master waits for the
        workers' last reports of it)."""
        if self._step_written is None or self.monitor is None:
            return
        step, clients = self._step_written
        expected, ended = self.inputs.expected_rps(clients), time.time()
        monitor = self.monitor

        def line() -> None:
            say(monitor.step_line(step, clients, expected, ended))

        if _is_master(self.environment):
            gevent.spawn_later(MASTER_FINAL_REPORT_WAIT_S, line)
        else:
            line()

    def _refresh_inputs(self) -> None:
        try:
            inputs = validate_inputs(self.environment.parsed_options)
        except UsageError:
            return  # said and stopped in on_test_start
        self.inputs = inputs
        self.environment.parsed_options.edgeload_inputs = inputs.as_record()

    def on_test_stopping(self, **_: Any) -> None:
        if self.started and not self.finished and self._load_stopped_at is None:
            self._load_stopped_at = time.time()

    def on_test_stop(self, **_: Any) -> None:
        if self.finished or self.finalizing:
            return
        headless = bool(getattr(self.environment.parsed_options, "headless", False))
        if not _is_master(self.environment):
            self.finish()
        elif not headless:  # web UI: wait for the workers' last reports, then close the run
            self._final_timer = gevent.spawn_later(MASTER_FINAL_REPORT_WAIT_S, self.finish)
        # headless master: `quitting` finishes, after the workers' final reports arrived

    def on_quitting(self, environment: Any = None, **_: Any) -> None:
        from locust.runners import STATE_RUNNING, STATE_SPAWNING

        runner = self.environment.runner
        if self.signal_name is None and runner.state in (STATE_RUNNING, STATE_SPAWNING):
            # Quitting while users still run, without a Ctrl-C: Locust's SIGTERM handler
            # (the only other way a headless run quits mid-test) brought us here.
            self.signal_name = "SIGTERM"
        if _is_master(self.environment) and len(runner.greenlet) > 0:
            # Make sure workers were told to quit and their final reports are in before the log
            # closes, whatever order the quitting listeners run in (SIGTERM comes straight here).
            runner.quit()
        if self._final_timer is not None:
            self._final_timer.kill(block=False)
        self.finish()

    # -- the end -----------------------------------------------------------------------------
    def status(self) -> tuple[str, str]:
        shape = self.environment.shape_class
        if self.signal_name:
            return runlog.STATUS_INTERRUPTED, f"{self.signal_name} received"
        if shape is not None and getattr(shape, "completed", False):
            return runlog.STATUS_COMPLETED, "the ramp ran its course"
        return runlog.STATUS_INTERRUPTED, "stopped before the ramp ran its course"

    def finish(self, status: str | None = None, reason: str | None = None) -> None:
        """End record, close the log, write the report, set the exit code. Idempotent."""
        if self.finished or self.finalizing or self.sink is None:
            return
        self.finalizing = True
        if self.signals is not None:
            # Locust's own SIGTERM handler (installed once a headless shape has finished)
            # would exit mid-report: ours lets the report complete and marks the run
            self.signals.install()
        try:
            self.stop_sampling(final_sample=self.signal_name is None)
            if self.signal_name is None and self.started:
                self._say_step_done_now()
            if status is None:
                status, reason = self.status()
            count = int(self.environment.stats.total.num_requests) if self.started else 0
            end = self.end_record(status, reason or "", count)
            self.sink.close([end])
            if self.output_error is not None:
                self.environment.process_exit_code = verdict.EXIT_OUTPUT_ERROR
                say(
                    f"run folder: {self.run_dir} (its log holds what was measured until the "
                    "write failed: `edgeload report` renders it once there is room)"
                )
                return
            if self.sink.requests_recorded != count:
                say(
                    f"warning: the log holds {self.sink.requests_recorded} requests, "
                    f"Locust counted {count}"
                )
            code = self.write_report()
            if self.signal_name is not None and status == runlog.STATUS_COMPLETED:
                # stopped while the report was written: measured in full, but interrupted
                reason = f"{self.signal_name} received while the report was written"
                self.append_end(self.end_record(runlog.STATUS_INTERRUPTED, reason, count))
                code = self.write_report()
            self.environment.process_exit_code = code
        finally:
            self.finished = True
            self.finalizing = False
            if self.signals is not None:
                self.signals.quit_if_asked()

    def _say_step_done_now(self) -> None:
        if self._step_written is not None and self.monitor is not None:
            step, clients = self._step_written
            expected = self.inputs.expected_rps(clients)
            say(self.monitor.step_line(step, clients, expected, time.time()))
            self._step_written = None

    def end_record(self, status: str, reason: str, locust_request_count: int) -> dict:
        signal_name = self.signal_name if status == runlog.STATUS_INTERRUPTED else None
        return runlog.end(
            status,
            reason,
            t=self._load_stopped_at,
            signal=signal_name,
            locust_request_count=locust_request_count,
            # records of another run that reached this master: Locust counted them, the log not
            foreign_requests=self.sink.foreign_requests if self.sink is not None else 0,
        )

    def append_end(self, end: dict) -> None:
        """A later `end` record (readers take the last one) on the closed log."""
        writer = LogWriter(self.run_dir / runlog.LOG_FILENAME, mode="a")
        try:
            writer.write(end)
        finally:
            writer.close()

    def write_report(self) -> int:
        """Write the run folder's reports; the run's exit code (edgeload.verdict's table)."""
        from edgeload.reporting import write_reports
        from edgeload.reporting.summary import format_summary

        run_dir = self.run_dir
        try:
            results = write_reports(run_dir)
        except EdgeloadError as exc:  # the log is complete and safe; the report can be redone
            say(
                f"error: the report could not be written ({exc}); the log is intact: "
                f"re-run it with `edgeload report {run_dir}`"
            )
            return exc.exit_code if isinstance(exc, OutputError) else verdict.EXIT_RUN_ERROR
        print(format_summary(results), flush=True)
        say(f"run folder: {run_dir}")
        return int(results["exit_code"])

    def shutdown_target(self) -> None:
        if self.target is not None:
            self.target.close()


# --------------------------------------------------------------------------------------------
# wiring


def say(text: str) -> None:
    """One line for the person running the test."""
    print(f"edgeload: {text}", flush=True)


def fail(exc: Exception) -> None:
    """End the process with a one-line error and the error's exit code."""
    print(f"edgeload: error: {exc}", file=sys.stderr, flush=True)
    sys.exit(getattr(exc, "exit_code", verdict.EXIT_RUN_ERROR))


def _is_master(environment: Any) -> bool:
    from locust.runners import MasterRunner

    return isinstance(environment.runner, MasterRunner)


def _is_worker(environment: Any) -> bool:
    from locust.runners import WorkerRunner

    return isinstance(environment.runner, WorkerRunner)


def _distribution(environment: Any) -> dict:
    options = environment.parsed_options
    if _is_master(environment):
        return {"distributed": True, "expected_workers": getattr(options, "expect_workers", None)}
    return {"distributed": False}


class _Signals:
    """SIGINT/SIGTERM around a run.

    The first signal during set-up or the ramp interrupts the main greenlet as Ctrl-C does, so
    that Locust stops the users and the `quitting` listener finishes the run (a headless Locust
    installs its own SIGTERM handler only after the shape has finished; in the web UI it does
    so after `init` and then SIGTERM goes through Locust's shutdown to the same listener).
    While the run is being finished (log end, report) `finish` installs this handler again: a
    signal then lets the report complete, marks the run interrupted and sets the exit code (in
    the web UI, Locust then quits, as it does for a signal between runs).
    A repeated signal (Ctrl-C in a terminal and a forwarded one) does not interrupt twice."""

    def __init__(self, run: ThroughputRun) -> None:
        self.run = run
        self.setting_up = True
        self.main = gevent.getcurrent()  # made in `init`, on the main greenlet
        self._quit_after_report = False

    def quit_if_asked(self) -> None:
        """After the report: quit now if a signal came while it was written (web UI)."""
        if self._quit_after_report:
            self._quit_after_report = False
            self.interrupt()

    def interrupt(self) -> None:
        """KeyboardInterrupt in the main greenlet, as Ctrl-C does; from any other greenlet (or
        the hub) by a callback, so that no bystander greenlet dies of it."""
        if gevent.getcurrent() is self.main:
            raise KeyboardInterrupt
        gevent.get_hub().loop.run_callback_threadsafe(self.main.throw, KeyboardInterrupt)

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handler)
        signal.signal(signal.SIGTERM, self._handler)

    def _handler(self, signum: int, frame: Any) -> None:
        run = self.run
        name = signal.Signals(signum).name
        first = run.signal_name is None
        run.signal_name = run.signal_name or name
        if run.finalizing or run.finished:
            run.environment.process_exit_code = (
                verdict.EXIT_SIGTERM if run.signal_name == "SIGTERM" else verdict.EXIT_SIGINT
            )
            options = run.environment.parsed_options
            if first and not getattr(options, "headless", False):
                if run.finished:
                    self.interrupt()  # web UI between runs: quit as Locust would
                else:
                    self._quit_after_report = True  # web UI: quit once the report is written
            return
        if first:
            self.interrupt()


MASTER_TIMEOUT_VARIABLE = "EDGELOAD_MASTER_TIMEOUT_S"


def _set_master_timeout() -> None:
    """A worker quits when the master's heartbeats stop for Locust's MASTER_HEARTBEAT_TIMEOUT
    (60 s, a module constant with no option); EDGELOAD_MASTER_TIMEOUT_S sets it shorter."""
    value = os.environ.get(MASTER_TIMEOUT_VARIABLE, "").strip()
    if not value:
        return
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds >= 2:  # heartbeats come every second: less would drop a healthy master
        fail(
            UsageError(f"{MASTER_TIMEOUT_VARIABLE} must be a number of seconds >= 2, got {value!r}")
        )
    import locust.runners

    locust.runners.MASTER_HEARTBEAT_TIMEOUT = seconds


# This process's identity as a master: workers refuse a second master (a new run on the same
# port that an orphaned worker of an old run would otherwise join).
MASTER_ID = runlog.new_run_id()


def _stay_with_one_master(environment: Any, state: dict) -> None:
    """Leave, with one line, when the master that sends work is not the first one."""
    master = getattr(environment.parsed_options, "edgeload_master_id", None)
    if master is None:
        return
    if state.setdefault("master_id", master) != master:
        print(
            "edgeload: error: this worker belongs to another run (its master is gone); "
            "leaving so that none of its records reach this run",
            file=sys.stderr,
            flush=True,
        )
        os._exit(1)  # noqa: SLF001 - nothing of this worker may reach the new master


def _on_worker_init(environment: Any) -> None:
    _set_master_timeout()
    options = environment.parsed_options
    if getattr(options, "master_host", "") in ("127.0.0.1", "localhost") and not die_with_parent(
        signal.SIGKILL
    ):
        # a --processes child: its parent is the master; orphaned already, so leave now
        if os.getppid() == 1:
            print("edgeload: error: this worker's master is gone; leaving", file=sys.stderr)
            os._exit(1)  # noqa: SLF001
    runner = environment.runner
    sink = LogSink(environment).register()
    if users.STEP_MESSAGE not in runner.custom_messages:
        runner.register_message(users.STEP_MESSAGE, users.on_step_message)
    state: dict[str, Any] = {"sampling": None}

    def on_test_start(**_: Any) -> None:
        from edgeload.samplers import SamplingLoop, generator_sampler

        _stay_with_one_master(environment, state)
        users.reset_context(environment)
        users.warm_up(environment)
        if state["sampling"] is not None:
            state["sampling"].stop(timeout_s=2.0)
        inputs = getattr(environment.parsed_options, "edgeload_inputs", None) or {}
        interval = float(inputs.get("system_sample_interval_seconds") or 5)
        state["sampling"] = SamplingLoop(
            [generator_sampler(note=logger.warning)], interval, sink.add_utilization
        ).start()

    def on_test_stop(**_: Any) -> None:
        if state["sampling"] is not None:
            sampling, state["sampling"] = state["sampling"], None
            sampling.stop(timeout_s=2.0)

    environment.events.test_start.add_listener(on_test_start)
    environment.events.test_stop.add_listener(on_test_stop)
    # a worker already running when its master died never sees a new test_start
    environment.events.report_to_master.add_listener(
        lambda **_: _stay_with_one_master(environment, state)
    )


def quiet_locust(environment: Any) -> None:
    """With --only-summary (what `edgeload throughput` passes unless --locust-stats), Locust's
    final stats tables go too: edgeload prints its own summary with exact percentiles, and
    Locust's approximated ones beside it would contradict it."""
    if getattr(environment.parsed_options, "only_summary", False):
        logging.getLogger("locust.stats_logger").disabled = True


Extension = Callable[[Any, "ThroughputRun"], None]


def install(environment: Any, extensions: tuple[Extension, ...] = ()) -> ThroughputRun | None:
    """Set up a throughput run on this process (the `init` listener). Exits with a one-line
    error for bad options or an unusable endpoint, before any load starts. Each extension is
    called with the environment and the run (master or local) before its log opens."""
    if _is_worker(environment):
        _on_worker_init(environment)
        return None
    try:
        inputs = validate_inputs(environment.parsed_options)
    except UsageError as exc:
        fail(exc)
    quiet_locust(environment)
    run = ThroughputRun(environment, inputs)
    for extend in extensions:
        extend(environment, run)
    signals = _Signals(run)
    run.signals = signals
    signals.install()
    try:
        from edgeload.target import resolve_target

        run.target = resolve_target(
            profile=inputs.sim_profile,
            time_scale=inputs.sim_time_scale,
            ca_bundle=inputs.ca_bundle,
        )
        say(run.target.describe())
        run.open_log()
        run.provision()
        run.collect_metadata()
        run.sink.write(run.header())
        run.publish_to_workers()
    except KeyboardInterrupt:
        _abort(run, runlog.STATUS_INTERRUPTED, f"{run.signal_name or 'SIGINT'} received")
        sys.exit(verdict.EXIT_SIGTERM if run.signal_name == "SIGTERM" else verdict.EXIT_SIGINT)
    except EdgeloadError as exc:
        if run.sink is not None:
            _abort(run, runlog.STATUS_FAILED, str(exc))
        run.shutdown_target()
        fail(exc)
    signals.setting_up = False

    environment.events.test_start.add_listener(run.on_test_start)
    environment.events.spawning_complete.add_listener(run.on_spawning_complete)
    environment.events.test_stopping.add_listener(run.on_test_stopping)
    environment.events.test_stop.add_listener(run.on_test_stop)
    environment.events.quitting.add_listener(run.on_quitting)
    environment.events.quit.add_listener(lambda **_: run.shutdown_target())
    shape = environment.shape_class
    if shape is not None:
        shape.on_step = run.on_step
    return run


def _abort(run: ThroughputRun, status: str, reason: str) -> None:
    """Close a run that never started load: header, an event, the end, and a report."""
    run.stop_sampling()
    if run.sink is None:
        if run.target is None:
            run.shutdown_target()
            return
        run.open_log()
    if run.sink.writer is not None and run.sink.writer.records_written == 0:
        run.collect_metadata()
        run.sink.write(run.header())
    run.sink.write(runlog.event("setup_ended", reason))
    run.finish(status, reason)
    run.shutdown_target()


def register(events: Any, *extensions: Extension) -> None:
    """Wire a locustfile: our options, and `install` (with the extensions) at init."""
    events.init_command_line_parser.add_listener(register_locust_options)

    def on_init(environment: Any, **_: Any) -> None:
        install(environment, extensions)

    events.init.add_listener(on_init)
