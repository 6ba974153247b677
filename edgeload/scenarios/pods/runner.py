"""Runs a pod scenario (memory pressure or repeated rollouts) from start to report.

    options -> target -> run folder -> wait for the endpoint (the timer starts when it
    answers) -> header -> pod watcher, resource and status samplers -> detectors (get/create;
    primed for rollouts) -> edge config -> the detector loop until the scenario's goal (and,
    for rollouts, --duration more) -> end record -> `write_reports` -> the console summary ->
    exit with the results' exit code.

Everything observed streams into `load_test.log` (`recorder`); the analysis reads only the log
(`analysis`), so `edgeload report RUN_DIR` re-renders any run. Ctrl-C and SIGTERM end the loop
at once and still report everything measured, marked interrupted (exit 130 or 143).

An endpoint is treated as edgeload's simulator only when edgeload started it: a given endpoint
is never probed for the simulator's admin API (a real box forwards unknown paths to its cloud).
Its clock runs at --sim-time-scale only when the user says so; its pods are watched through
--k8s URL, kubeconfig or in-cluster config.
"""

from __future__ import annotations

import contextlib
from typing import Any

from edgeload import runlog, verdict
from edgeload.errors import EdgeloadError, OutputError, RunError, UsageError
from edgeload.runfolder import check_output_dir, create_run_dir
from edgeload.scenarios.pods import edgeconfig, signals
from edgeload.scenarios.pods.clock import EndpointClock
from edgeload.scenarios.pods.detector_loop import (
    EDGE,
    Answer,
    DetectorLoop,
    ImageQuerySubmitter,
    Labeler,
    LoopDetector,
    connect_with_retry,
    iteration_line,
)
from edgeload.scenarios.pods.observers import Observers
from edgeload.scenarios.pods.options import DEFAULT_REFRESH_RATE_S, MEMORY_PRESSURE, Inputs
from edgeload.scenarios.pods.recorder import RunRecorder
from edgeload.wait import Progress


def run_scenario(
    inputs: Inputs, *, progress: Progress = print, run_class: type[PodRun] | None = None
) -> int:
    """Run one pod scenario; returns the exit code (edgeload.verdict's table). UsageError for
    bad input, before anything starts. `run_class`: a PodRun subclass of a scenario that loads
    its detectors its own way (rollouts-under-load)."""
    from edgeload.target import resolve_target, validate_target_environment

    raw_config = edgeconfig.load_edge_config(inputs.edge_config) if inputs.edge_config else None
    validate_target_environment()
    check_output_dir(inputs.output_dir)  # before a simulator or a request
    target = resolve_target(
        profile=inputs.sim_profile,
        time_scale=inputs.sim_time_scale,
        check_reachable=False,
        ca_bundle=inputs.ca_bundle,
    )
    try:
        progress(target.describe())
        run = (run_class or PodRun)(inputs, target, raw_config, progress)
        run.execute()
        with signals.deferred(progress):
            return run.report()
    finally:
        target.close()


def goal_text(inputs: Inputs, duration_s: float | None) -> str:
    if inputs.scenario == MEMORY_PRESSURE:
        return "every detector answers from the edge within one iteration"
    more = "10 refresh periods" if duration_s is None else f"{duration_s:g} s"
    return f"every detector gets an edge answer, then {more} more"


class GoalTimeout(Exception):
    """The goal was not reached within --timeout (a run that ran its course)."""


class PodRun:
    """One run: its clock, log, observers, detectors and loop, and how it ended.

    A scenario that watches pods the same way but loads the endpoint differently
    (`rollouts-under-load`'s `LoadRun`) subclasses it and overrides exactly these steps:
    `_prepare_detectors`, `_run_loop`, `_stop_threads` and `_end` (each calling this class's
    own where it adds to it). Changing what they do here means checking that subclass too.
    """

    def __init__(
        self, inputs: Inputs, target: Any, raw_config: dict | None, progress: Progress
    ) -> None:
        from edgeload.metadata import collect_metadata
        from edgeload.target import KIND_SIMULATED

        self.inputs = inputs
        self.target = target
        self.raw_config = raw_config
        self.say = progress
        self.simulated = target.kind == KIND_SIMULATED
        # a given endpoint runs on a simulated clock only when the user says so
        scale = target.time_scale if self.simulated else inputs.sim_time_scale
        # everything slow on our side happens before the clock starts: imports, image
        # encoding, metadata (under a time scale, one of our seconds is many simulated ones)
        self.pools = _warm_up(inputs)
        self.metadata = collect_metadata(None)
        self.metadata["endpoint_clock"] = {
            "time_scale": scale,
            "time_unit": "simulated seconds" if scale != 1.0 else "seconds",
        }
        self.clock = EndpointClock(scale)
        self.run_dir = create_run_dir(inputs.output_dir, inputs.scenario)
        progress(f"run folder: {self.run_dir}")
        self.log = RunRecorder(self.run_dir, self.clock)
        self.observers = Observers(target, self.clock, self.log)
        self.interrupts = signals.Interrupts()
        self.gl: Any = None
        self.labeler: Labeler | None = None
        self.loop: DetectorLoop | None = None
        self.detectors: list[dict[str, Any]] = []
        self.t_up: float | None = None
        self.duration_s = inputs.duration
        self.status, self.reason = verdict.STATUS_FAILED, ""

    # -- the run ---------------------------------------------------------------------------
    def execute(self) -> None:
        """Run until the goal (or a timeout, an error, a signal); always ends the log."""
        self.log.timing("connect_start", self.clock.now())
        with self.interrupts.as_keyboard_interrupt():
            try:
                self._connect()
                self._observe()
                self._prepare_detectors()
                self._configure_edge()
                self._run_loop()
                self.observers.final_samples()
                self.status = verdict.STATUS_COMPLETED
                self.reason = goal_text(self.inputs, self.duration_s) + " reached"
            except KeyboardInterrupt:
                name = self.interrupts.interrupted()
                self.status, self.reason = verdict.STATUS_INTERRUPTED, f"{name} received"
                self.say("interrupted: writing the report of what was measured")
            except GoalTimeout as exc:  # the run ran its course: its goal check fails
                self.status, self.reason = verdict.STATUS_COMPLETED, str(exc)
                self.say(f"timed out: {exc}")
            except (TimeoutError, RunError, UsageError) as exc:
                self.status, self.reason = verdict.STATUS_FAILED, str(exc)
                self.say(f"failed: {exc}")
            except OutputError:  # the log cannot be written (disk full): exit 6, one line
                self._stop_threads()
                self._say_where_the_log_is()
                raise
        with signals.deferred(self.say):  # a second signal does not cut the end short
            try:
                self._end()
            except OutputError:  # a sampler thread's write failed; the end record cannot follow
                self._say_where_the_log_is()
                raise

    def _say_where_the_log_is(self) -> None:
        self.say(
            f"run folder: {self.run_dir} (its log holds what was measured until the "
            "write failed: `edgeload report` renders it once there is room)"
        )

    def _connect(self) -> None:
        """Wait for the endpoint; its first answer starts the timer. Then the header."""
        from edgeload.metadata import collect_endpoint_images, collect_target

        self.say("waiting for the edge endpoint to answer...")
        self.gl, self.t_up, failures = connect_with_retry(
            self._sdk_when_up,
            self.clock,
            timeout_s=self.inputs.connect_timeout,
            progress=self.say,
            describe=_describe,
        )
        self.metadata["target"] = collect_target(self.target)
        self.metadata["endpoint_images"] = collect_endpoint_images(self.target)
        self._write_header()
        self.log.timing("endpoint_up", self.t_up, failed_attempts=failures)
        self.log.event("endpoint_up", f"after {failures} failed attempts", self.t_up)
        self.say(f"the endpoint answered after {self.t_up:.1f} s; timer started")

    def _sdk_when_up(self) -> Any:
        from edgeload.target import make_sdk, probe

        # a certificate that cannot be verified raises UsageError: waiting does not fix it
        problem = probe(self.target, timeout_s=5.0, tls_fatal=True)
        if problem is not None:
            raise _NotUp(problem)
        try:
            return make_sdk(self.target, retries=True)
        except UsageError as exc:  # e.g. the endpoint answers health but not the API yet
            raise _NotUp(str(exc)) from None

    def _write_header(self) -> None:
        self.log.write_header(
            runlog.header(
                scenario=self.inputs.scenario,
                run_id=runlog.new_run_id(),
                target=self.target.as_record(),
                inputs=self.inputs.as_record(),
                metadata=self.metadata,
            )
        )

    def _observe(self) -> None:
        inputs = self.inputs
        self.say(
            self.observers.start(
                k8s=inputs.k8s,
                simulated=self.simulated,
                sample_s=inputs.sample_interval,
                metrics_s=inputs.metrics_interval,
            )
        )

    def _prepare_detectors(self) -> None:
        inputs = self.inputs
        names = [
            f"edgeload-{inputs.scenario}-{inputs.detector_mode.lower()}-{i + 1}"
            for i in range(inputs.num_detectors)
        ]
        if inputs.prime_labels:
            self.detectors = self._primed_detectors(names)
        else:
            self.detectors = [
                _get_or_create(self.gl, n, inputs.detector_mode, self.say) for n in names
            ]
        ids = [d["id"] for d in self.detectors]
        self.log.sample("detectors", detectors=self.detectors)
        self.observers.set_detectors(ids)
        if inputs.set_detector_threshold and inputs.confidence_threshold is not None:
            for d in ids:
                self.gl.update_detector_confidence_threshold(d, inputs.confidence_threshold)
            self.say(f"confidence threshold {inputs.confidence_threshold:g} set on every detector")

    def _primed_detectors(self, names: list[str]) -> list[dict[str, Any]]:
        from edgeload.provisioning import provision_detectors

        inputs, scale = self.inputs, self.clock.time_scale
        self.say(f"priming {inputs.num_detectors} detectors to at least 30 labels...")
        provisioned = provision_detectors(
            self.gl,
            inputs.num_detectors,
            mode=inputs.detector_mode,
            image_size=inputs.image_size,
            names=names,
            timeout_s=max(inputs.provision_timeout / scale, 1.0),
            poll_s=max(2.0 / scale, 0.02),
            progress_every_s=max(10.0 / scale, 0.2),
            progress=lambda m: self.say("  " + m),
            wait_for_edge=False,
        )
        self.log.event("primed", f"{len(provisioned)} detectors trained")
        return [
            {
                "id": p.id,
                "name": p.name,
                "mode": inputs.detector_mode,
                "labels": p.labels,
                "projected_accuracy": p.projected_accuracy,
            }
            for p in provisioned
        ]

    def _configure_edge(self) -> None:
        """The edge config (memory pressure, when given), the endpoint's refresh rate, and
        --duration resolved from it (rollouts without --duration)."""
        note = None
        if self.raw_config is not None:
            ids = [d["id"] for d in self.detectors]
            filled = edgeconfig.fill_detectors(self.raw_config, ids)
            filled_path = edgeconfig.write_filled(self.run_dir, filled)
            config = edgeconfig.validate(self.raw_config, self.inputs.edge_config, detector_ids=ids)
            note = edgeconfig.apply_edge_config(self.gl, config, filled_path)
            self.say(note)
            self.log.event("edge_config_applied", str(self.inputs.edge_config))
        try:
            refresh_rate = float(self.gl.edge.get_config().global_config.refresh_rate)
        except Exception:  # noqa: BLE001 - older endpoints do not serve /edge-config
            refresh_rate = None
        if self.duration_s is None:
            refresh = refresh_rate or self.inputs.refresh_rate_hint or DEFAULT_REFRESH_RATE_S
            self.duration_s = 10 * refresh
            self.say(f"--duration: {self.duration_s:g} s (10 refresh periods of {refresh:g} s)")
        self.log.sample(
            "endpoint_config",
            note=note,
            endpoint_refresh_rate_s=refresh_rate,
            duration_s=self.duration_s,
        )

    def _run_loop(self) -> None:
        inputs = self.inputs
        self.loop = self._make_loop()
        self.say(
            f"loop: one image query to each of {len(self.detectors)} detectors per iteration "
            f"(goal: {goal_text(inputs, self.duration_s)})"
        )
        t_first = self.clock.now()
        self.log.timing("first_query", t_first)
        pacer = _Pacer(self, deadline=t_first + inputs.timeout)
        while True:
            it_start = self.clock.now()
            answers = self.loop.run_iteration()
            self.log.requests(answers)
            if pacer.after_iteration(answers):
                return
            self.clock.sleep(it_start + inputs.iteration_interval - self.clock.now())

    def _make_loop(self) -> DetectorLoop:
        inputs, target = self.inputs, self.target
        submitter = ImageQuerySubmitter(
            target.root_url,
            self.gl.get_raw_headers(),
            verify=(target.ca_bundle or True) if target.verify_tls else False,
            timeout_s=max(inputs.request_timeout / self.clock.time_scale, 5.0),
        )
        self.labeler = Labeler(lambda iq, label: self.gl.add_label(iq, label))
        return DetectorLoop(
            submitter=submitter,
            detectors=[
                LoopDetector(d["id"], d["name"], inputs.detector_mode, inputs.confidence_threshold)
                for d in self.detectors
            ],
            images=self.image_for,
            clock=self.clock,
            labeler=self.labeler,
            label_unconfident=inputs.label_unconfident,
            progress=self.say,
            t0=self.t_up or 0.0,
        )

    def image_for(self, det: LoopDetector) -> tuple[bytes, Any]:
        from edgeload import images

        pool = self.pools.get(det.mode)
        if pool is None:
            pool = self.pools[det.mode] = images.ImagePool(det.mode, *self.inputs.image_size)
        return pool.next()

    def label_every_detector(self) -> None:
        """One new label for each detector (rollouts: keeps training and rollouts going)."""
        assert self.loop is not None and self.labeler is not None
        for det in self.loop.detectors:
            data, truth = self.image_for(det)
            self.labeler.label(
                "",
                truth,
                before=lambda d=det, b=data: self.gl.ask_async(d.id, b, human_review="NEVER").id,
            )

    # -- the end ---------------------------------------------------------------------------
    def _end(self) -> None:
        """Stop every thread, then the last records: labels, the header if the endpoint never
        answered, and the end record."""
        t_end = self.clock.now()
        self._stop_threads()
        if self.labeler is not None:
            self.log.sample("labels", t_end, **self.labeler.counts())
        self._write_header()  # no-op once written
        signal_name = (
            self.interrupts.signal_name if self.status == verdict.STATUS_INTERRUPTED else None
        )
        self.log.end(
            runlog.end(self.status, self.reason, t=self.log.wall(t_end), signal=signal_name)
        )

    def _stop_threads(self) -> None:
        self.observers.stop()
        if self.labeler is not None:
            self.labeler.close(wait=False)
        if self.loop is not None:
            with contextlib.suppress(Exception):
                self.loop.submitter.close()

    def report(self) -> int:
        """`write_reports` on the run folder, the summary on screen; the exit code."""
        from edgeload.reporting import write_reports
        from edgeload.reporting.summary import format_summary

        try:
            results = write_reports(self.run_dir)
        except EdgeloadError as exc:  # the log is complete and safe; the report can be redone
            self.say(
                f"error: the report could not be written ({exc}); the log is intact: "
                f"re-run it with `edgeload report {self.run_dir}`"
            )
            return exc.exit_code if isinstance(exc, OutputError) else verdict.EXIT_RUN_ERROR
        self.say(format_summary(results))
        self.say(f"results: {self.run_dir}")
        return int(results["exit_code"])


class _Pacer:
    """After each iteration: a progress line, the stop rule, the timeout, the labels."""

    def __init__(self, run: PodRun, *, deadline: float) -> None:
        self.run = run
        self.deadline = deadline
        self.t_goal: float | None = None
        self.next_label = run.clock.now()
        self.last_line_t = -1e18
        self.last_kinds: tuple = ()

    def after_iteration(self, answers: list[Answer]) -> bool:
        """True when the run is done."""
        run, now = self.run, self.run.clock.now()
        self._progress_line(answers, now)
        if self._goal_reached(answers, now):
            return True
        if self.t_goal is None and now >= self.deadline:
            raise GoalTimeout(f"goal not reached within --timeout {run.inputs.timeout:g} s")
        if run.inputs.label_interval and now >= self.next_label:
            self.next_label = now + run.inputs.label_interval
            run.label_every_detector()
        return False

    def _progress_line(self, answers: list[Answer], now: float) -> None:
        kinds = tuple(a.kind for a in answers)
        if kinds != self.last_kinds or now - self.last_line_t >= 10.0:
            loop = self.run.loop
            assert loop is not None
            up = self.run.t_up or 0.0
            line = iteration_line(
                loop.iteration - 1, now - up, answers, self.run.observers.ready_line()
            )
            self.run.say(line)
            self.last_line_t, self.last_kinds = now, kinds

    def _goal_reached(self, answers: list[Answer], now: float) -> bool:
        run = self.run
        loop, up = run.loop, run.t_up or 0.0
        assert loop is not None
        if run.inputs.scenario == MEMORY_PRESSURE:
            if not (answers and all(a.kind == EDGE for a in answers)):
                return False
            self._goal(max(a.t for a in answers), "all_edge_in_one_iteration")
            run.say(
                f"every detector answered from the edge in iteration {loop.iteration - 1}: "
                f"all inference pods online after {self.t_goal - up:.1f} s"
            )
            return True
        if self.t_goal is None and len(loop.first_edge_t) == len(run.detectors):
            self._goal(max(loop.first_edge_t.values()), "every_detector_got_edge")
            run.say(
                "every detector has received an edge answer: "
                f"{self.t_goal - up:.1f} s after the endpoint first answered; "
                f"continuing for {run.duration_s:g} s"
            )
        return self.t_goal is not None and now >= self.t_goal + (run.duration_s or 0.0)

    def _goal(self, t: float, name: str) -> None:
        self.t_goal = t
        self.run.log.timing("goal", t)
        self.run.log.event(name, "", t)


class _NotUp(Exception):
    """The endpoint does not answer yet."""


def _describe(exc: BaseException) -> str:
    from edgeload.target import one_line

    return one_line(str(exc) or type(exc).__name__, 110)


def _warm_up(inputs: Inputs) -> dict[str, Any]:
    import groundlight  # noqa: F401
    import kubernetes.client  # noqa: F401
    import kubernetes.watch  # noqa: F401

    from edgeload import images

    return {inputs.detector_mode: images.ImagePool(inputs.detector_mode, *inputs.image_size)}


def _get_or_create(gl: Any, name: str, mode: str, progress: Progress) -> dict[str, Any]:
    """Get a detector by name or create it (the SDK's public calls only)."""
    from groundlight import NotFoundError

    from edgeload.provisioning import COUNT_CLASS_NAME, COUNT_MAX_COUNT, QUERIES

    try:
        det = gl.get_detector_by_name(name)
        verb = "using"
    except NotFoundError:
        if mode == "COUNT":
            det = gl.create_counting_detector(
                name, QUERIES[mode], COUNT_CLASS_NAME, max_count=COUNT_MAX_COUNT
            )
        else:
            det = gl.create_detector(name, QUERIES[mode])
        verb = "created"
    progress(f"  {verb} detector {det.id} ({name})")
    return {"id": det.id, "name": name, "mode": mode}
