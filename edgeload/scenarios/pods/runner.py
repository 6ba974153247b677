"""Runs a pod scenario (memory pressure or repeated rollouts) from start to report.

    target -> run folder -> wait for the endpoint (timer starts when it answers) -> pod watcher,
    resource and status samplers -> detectors (get/create; prime for rollouts) -> edge config
    -> the detector loop until the scenario's goal (and, for rollouts, --duration more) ->
    analysis -> scenario_results.json, plots, load_test.log -> a summary on screen.

Ctrl-C and SIGTERM end the loop at once and still write everything measured, marked
`interrupted` (exit 130 or 143). The verdict and exit code come from edgeload.verdict: a check
whose subject was never observed (no pod source, no rollout) is `not_observed`, and a scenario
whose goal was not observed is inconclusive (exit 4).

An endpoint is treated as edgeload's simulator only when edgeload started it: a given endpoint
is never probed for the simulator's admin API (a real box forwards unknown paths to its cloud).
Its clock runs at --sim-time-scale only when the user says so; its pods are watched through
--k8s URL, kubeconfig or in-cluster config. The scenario-specific parts are the options: how
detectors are prepared and which stop rule applies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeload import verdict
from edgeload.errors import RunError, UsageError
from edgeload.runfolder import check_output_dir, create_run_dir
from edgeload.scenarios.pods import edgeconfig, memory, plots, podwatch, versions
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
    summarize_answers,
)
from edgeload.scenarios.pods.results import created_at, write_results
from edgeload.scenarios.pods.runlog import RunLog

MEMORY_PRESSURE = "memory-pressure"
ROLLOUTS = "rollouts"

STOP_ALL_EDGE_IN_ONE_ITERATION = "all_edge_in_one_iteration"
STOP_EVERY_DETECTOR_EDGE_THEN_DURATION = "every_detector_edge_then_duration"

Progress = Callable[[str], None]


@dataclass
class ScenarioOptions:
    """Everything a pod scenario run needs. Durations are endpoint seconds."""

    scenario: str
    num_detectors: int
    mode: str
    stop_rule: str
    timeout_s: float  # from the endpoint's first answer until the goal
    connect_timeout_s: float = 600.0
    k8s: str = "auto"
    output_dir: str = "load_tests"
    sim_profile: str = "gpu-1x"
    time_scale: float = 1.0
    confidence_threshold: float | None = None  # sent with every image query
    set_detector_threshold: bool = False  # also PATCH it onto the detectors (memory pressure)
    label_unconfident: bool = True  # label unconfident cloud answers (memory pressure)
    prime_labels: bool = False  # rollouts: train to >= 30 labels and wait for evaluation
    prime_timeout_s: float = 600.0
    label_interval_s: float | None = None  # rollouts: label every detector this often
    duration_s: float | None = 0.0  # rollouts: after every detector got edge; None: 10 refreshes
    edge_config: str | None = None
    ca_bundle: str | None = None  # CA file for an https endpoint's certificate
    refresh_rate_hint: float | None = None
    warn_refresh_rate: bool = False  # the hint was given: warn if the endpoint says otherwise
    iteration_interval_s: float = 1.0  # shortest iteration
    request_timeout_s: float = 30.0
    sample_interval_s: float = 5.0
    metrics_interval_s: float = 10.0
    image_size: tuple[int, int] = (640, 480)
    detector_names: list[str] | None = None
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunState:
    """What a run has measured so far (everything the report needs, partial or not)."""

    status: str = "failed"
    reason: str = ""
    t_connect_start: float = 0.0
    t_up: float | None = None
    connect_failures: int = 0
    t_goal: float | None = None
    t_first_query: float | None = None
    t_end: float = 0.0
    detectors: list[dict[str, Any]] = field(default_factory=list)
    loop: DetectorLoop | None = None
    watcher: podwatch.PodWatcher | None = None
    k8s: podwatch.KubernetesAccess | None = None
    memory_samples: list[dict] = field(default_factory=list)
    metrics_samples: list[dict] = field(default_factory=list)
    labeler: Labeler | None = None
    edge_config_note: str | None = None
    endpoint_refresh_rate: float | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    signal_name: str | None = None  # "SIGTERM" when a SIGTERM ended the run


# --------------------------------------------------------------------------- signals


@contextlib.contextmanager
def sigterm_as_interrupt(state: RunState) -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread, like Ctrl-C (and is remembered,
    for exit 143)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        state.signal_name = "SIGTERM"
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def deferred_interrupts(progress: Progress) -> Iterator[None]:
    """While the report is written, Ctrl-C/SIGTERM only print a line (the report finishes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        progress("  writing the report of what was measured; it takes a moment")

    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


# --------------------------------------------------------------------------- background ticks


class Ticker:
    """Calls `fn` every `interval_s` wall seconds on a daemon thread until stopped."""

    def __init__(self, fn: Callable[[], None], interval_s: float, name: str) -> None:
        self._fn = fn
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._fn()
            except Exception:  # noqa: BLE001 - a failed sample is skipped, never fatal
                pass
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)


# --------------------------------------------------------------------------- the run


def run_scenario(opts: ScenarioOptions, *, progress: Progress = print) -> int:
    """Run one pod scenario; returns the exit code (edgeload.verdict's table). UsageError for
    bad input, before anything starts."""
    from edgeload.target import KIND_SIMULATED, resolve_target, validate_target_environment

    _check_options(opts)
    raw_config = edgeconfig.load_edge_config(opts.edge_config) if opts.edge_config else None
    validate_target_environment()
    check_output_dir(opts.output_dir)  # before a simulator or a request
    target = resolve_target(
        profile=opts.sim_profile,
        time_scale=opts.time_scale,
        check_reachable=False,
        ca_bundle=opts.ca_bundle,
    )
    try:
        progress(target.describe())
        simulated = target.kind == KIND_SIMULATED
        # a given endpoint runs on a simulated clock only when the user says so
        scale = target.time_scale if simulated else opts.time_scale
        # everything slow on our side happens before the clock starts: imports and image
        # encoding (under a simulator's time scale, one of our seconds is many simulated ones)
        pools = _warm_up(opts)
        clock = EndpointClock(scale)
        run_dir = create_run_dir(opts.output_dir, opts.scenario)
        progress(f"run folder: {run_dir}")
        log = RunLog(run_dir, clock)
        log.header(opts.scenario, target.as_record(), opts.inputs, {})
        state = RunState(t_connect_start=clock.now())
        with sigterm_as_interrupt(state):
            try:
                _run(
                    opts, target, clock, run_dir, raw_config, state, log, simulated, pools, progress
                )
            except KeyboardInterrupt:
                state.status, state.reason = "interrupted", "interrupted by Ctrl-C or SIGTERM"
                progress("interrupted: writing the report of what was measured")
            except TimeoutError as exc:
                state.status, state.reason = "timed_out", str(exc)
                progress(f"timed out: {exc}")
            except (RunError, UsageError) as exc:
                state.status, state.reason = "failed", str(exc)
                progress(f"failed: {exc}")
            finally:
                state.t_end = clock.now()
                _stop_background(state)
        with deferred_interrupts(progress):
            results = build_results(opts, target.as_record(), scale, state)
            write_results(run_dir, results)
            try:
                plots.save_all(run_dir, results, shifted_memory_samples(state))
            except Exception as exc:  # noqa: BLE001 - the numbers matter more than the pictures
                progress(f"  plots could not be drawn: {exc}")
            log.end(
                state.t_end,
                "failed" if state.status == "timed_out" else state.status,
                state.reason,
            )
            for line in summary_lines(results):
                progress(line)
            progress(f"results: {run_dir}")
        return int(results["exit_code"])
    finally:
        target.close()


def _warm_up(opts: ScenarioOptions) -> dict[str, Any]:
    import groundlight  # noqa: F401
    import kubernetes.client  # noqa: F401
    import kubernetes.watch  # noqa: F401

    from edgeload import images as images_module

    return {opts.mode: images_module.ImagePool(opts.mode, *opts.image_size)}


def _check_options(opts: ScenarioOptions) -> None:
    if opts.num_detectors < 1:
        raise UsageError(f"NUM_DETECTORS must be at least 1, got {opts.num_detectors}")
    if opts.num_detectors > 200:
        raise UsageError(f"NUM_DETECTORS {opts.num_detectors} is too many: use at most 200")
    if opts.mode not in ("BINARY", "COUNT"):
        raise UsageError(f"unknown detector mode {opts.mode!r}: use BINARY or COUNT")
    if not opts.timeout_s > 0:
        raise UsageError(f"--timeout must be positive, got {opts.timeout_s:g}")
    if opts.duration_s is not None and opts.duration_s < 0:
        raise UsageError(f"--duration must not be negative, got {opts.duration_s:g}")
    th = opts.confidence_threshold
    if th is not None and not 0.0 <= th <= 1.0:
        raise UsageError(f"--confidence-threshold must be between 0 and 1, got {th:g}")
    if opts.refresh_rate_hint is not None and not 0 < opts.refresh_rate_hint <= 86400:
        raise UsageError("--refresh-rate-hint must be in (0, 86400] seconds")
    if not opts.time_scale > 0:
        raise UsageError(f"--sim-time-scale must be positive, got {opts.time_scale:g}")
    k8s = opts.k8s
    if k8s not in ("auto", "off") and not k8s.startswith(("http://", "https://")):
        raise UsageError(f"--k8s must be auto, off or a URL (http://...), got {k8s!r}")


def _simulator_k8s_url(target: Any) -> str | None:
    """Where the embedded simulator serves its Kubernetes API (a port of its own, as on a real
    box). Only for a simulator edgeload started: a given endpoint is never asked."""
    url = getattr(getattr(target, "sim", None), "k8s_url", None)
    return url if isinstance(url, str) and url else None


def _run(
    opts: ScenarioOptions,
    target: Any,
    clock: EndpointClock,
    run_dir: Path,
    raw_config: dict | None,
    state: RunState,
    log: RunLog,
    simulated: bool,
    pools: dict[str, Any],
    progress: Progress,
) -> None:
    from edgeload import images as images_module
    from edgeload.provisioning import detector_details, fetch_metrics
    from edgeload.samplers import EndpointSampler, SamplingLoop
    from edgeload.target import make_sdk, one_line
    from edgeload.target import probe as health_probe

    # 1. wait for the endpoint; its first answer starts the timer
    progress("waiting for the edge endpoint to answer...")

    class NotUp(Exception):
        pass

    def connect() -> Any:
        # a certificate that cannot be verified raises UsageError: waiting does not fix it
        problem = health_probe(target, timeout_s=5.0, tls_fatal=True)
        if problem is not None:
            raise NotUp(problem)
        try:
            return make_sdk(target, retries=True)
        except UsageError as exc:  # e.g. the endpoint answers health but not the API yet
            raise NotUp(str(exc)) from None

    def describe(exc: BaseException) -> str:
        return one_line(str(exc) or type(exc).__name__, 110)

    gl, state.t_up, state.connect_failures = connect_with_retry(
        connect, clock, timeout_s=opts.connect_timeout_s, progress=progress, describe=describe
    )
    log.event(state.t_up, "endpoint_up", f"after {state.connect_failures} failed attempts")
    progress(
        f"the endpoint answered after {state.t_up - state.t_connect_start:.1f} s; timer started"
    )

    # 2. watchers: pods, resources, status page
    state.k8s = podwatch.connect_kubernetes(
        opts.k8s,
        simulator_url=_simulator_k8s_url(target) if simulated else None,
        verify_tls=target.verify_tls,
        ca_bundle=target.ca_bundle,
    )
    if state.k8s.available:
        progress(f"watching inference pods in namespace edge through {state.k8s.source}")
        state.watcher = podwatch.PodWatcher(state.k8s, clock)
        state.watcher.start()
    else:
        progress(state.k8s.skipped_reason or "pod checks were skipped")

    sampler = EndpointSampler(target, note=lambda m: state.notes.append(m))

    def emit(record: dict) -> None:
        state.memory_samples.append(memory.memory_sample(record["t"], record, sampler.last_raw))
        log.utilization(record)

    sampling = SamplingLoop(
        [sampler], max(opts.sample_interval_s / clock.time_scale, 0.05), emit, clock=clock.now
    )
    sampling.start()
    state.metadata["_sampling"] = sampling
    detector_ids: list[str] = []

    def take_metrics() -> None:
        details = detector_details(fetch_metrics(target, timeout_s=10.0))
        state.metrics_samples.append(versions.details_sample(clock.now(), details, detector_ids))

    metrics_ticker = Ticker(
        take_metrics, max(opts.metrics_interval_s / clock.time_scale, 0.05), "edgeload-metrics"
    ).start()
    state.metadata["_metrics"] = metrics_ticker

    # 3. detectors
    names = opts.detector_names or [
        f"edgeload-{opts.scenario}-{opts.mode.lower()}-{i + 1}" for i in range(opts.num_detectors)
    ]
    if opts.prime_labels:
        from edgeload.provisioning import provision_detectors

        progress(f"priming {opts.num_detectors} detectors to at least 30 labels...")
        provisioned = provision_detectors(
            gl,
            opts.num_detectors,
            mode=opts.mode,
            image_size=opts.image_size,
            names=names,
            timeout_s=max(opts.prime_timeout_s / clock.time_scale, 1.0),
            poll_s=max(2.0 / clock.time_scale, 0.02),
            progress_every_s=max(10.0 / clock.time_scale, 0.2),
            progress=lambda m: progress("  " + m),
            wait_for_edge=False,
        )
        dets = [
            {
                "id": p.id,
                "name": p.name,
                "mode": opts.mode,
                "labels": p.labels,
                "projected_accuracy": p.projected_accuracy,
            }
            for p in provisioned
        ]
        log.event(clock.now(), "primed", f"{len(dets)} detectors trained")
    else:
        dets = [_get_or_create(gl, name, opts.mode, progress) for name in names]
    state.detectors = dets
    detector_ids.extend(d["id"] for d in dets)
    if state.watcher is not None:
        state.watcher.detector_ids = list(detector_ids)
    if opts.set_detector_threshold and opts.confidence_threshold is not None:
        for d in dets:
            gl.update_detector_confidence_threshold(d["id"], opts.confidence_threshold)
        progress(f"confidence threshold {opts.confidence_threshold:g} set on every detector")

    # 4. edge config
    if raw_config is not None:
        filled = edgeconfig.fill_detectors(raw_config, detector_ids)
        filled_path = edgeconfig.write_filled(run_dir, filled)
        config = edgeconfig.validate(raw_config, opts.edge_config, detector_ids=detector_ids)
        state.edge_config_note = edgeconfig.apply_edge_config(gl, config, filled_path)
        progress(state.edge_config_note)
        log.event(clock.now(), "edge_config_applied", str(opts.edge_config))
    try:
        state.endpoint_refresh_rate = float(gl.edge.get_config().global_config.refresh_rate)
    except Exception:  # noqa: BLE001 - older endpoints do not serve /edge-config
        state.endpoint_refresh_rate = None
    if opts.duration_s is None:
        refresh = state.endpoint_refresh_rate or opts.refresh_rate_hint or 60.0
        opts.duration_s = 10 * refresh
        opts.inputs["duration"] = opts.duration_s
        progress(f"--duration: {opts.duration_s:g} s (10 refresh periods of {refresh:g} s)")

    # 5. the loop
    def image_for(det: LoopDetector) -> tuple[bytes, Any]:
        pool = pools.get(det.mode)
        if pool is None:
            pool = pools[det.mode] = images_module.ImagePool(det.mode, *opts.image_size)
        return pool.next()

    verify: bool | str = (target.ca_bundle or True) if target.verify_tls else False
    submitter = ImageQuerySubmitter(
        target.root_url,
        gl.get_raw_headers(),
        verify=verify,
        timeout_s=max(opts.request_timeout_s / clock.time_scale, 5.0),
    )
    state.labeler = Labeler(lambda iq, label: gl.add_label(iq, label))
    loop = DetectorLoop(
        submitter=submitter,
        detectors=[
            LoopDetector(d["id"], d["name"], opts.mode, opts.confidence_threshold) for d in dets
        ],
        images=image_for,
        clock=clock,
        labeler=state.labeler,
        label_unconfident=opts.label_unconfident,
        progress=progress,
        t0=state.t_up,
    )
    state.loop = loop
    progress(
        f"loop: one image query to each of {len(dets)} detectors per iteration "
        f"(goal: {_goal_text(opts)})"
    )
    state.t_first_query = clock.now()
    deadline = state.t_first_query + opts.timeout_s
    next_label = clock.now()
    last_line_t = -1e18
    last_kinds: tuple = ()
    while True:
        it_start = clock.now()
        answers = loop.run_iteration()
        log.requests(answers)
        now = clock.now()
        kinds = tuple(a.kind for a in answers)
        if kinds != last_kinds or now - last_line_t >= 10.0:
            extra = ""
            if state.watcher is not None:
                ready, total = state.watcher.ready_summary()
                extra = f"pods ready {ready}/{total}"
            progress(iteration_line(loop.iteration - 1, now - state.t_up, answers, extra))
            last_line_t, last_kinds = now, kinds
        if opts.stop_rule == STOP_ALL_EDGE_IN_ONE_ITERATION:
            if answers and all(a.kind == EDGE for a in answers):
                state.t_goal = max(a.t for a in answers)
                log.event(
                    state.t_goal, "all_edge_in_one_iteration", f"iteration {loop.iteration - 1}"
                )
                progress(
                    f"every detector answered from the edge in iteration {loop.iteration - 1}: "
                    f"all inference pods online after {state.t_goal - state.t_up:.1f} s"
                )
                break
        else:
            if state.t_goal is None and len(loop.first_edge_t) == len(dets):
                state.t_goal = max(loop.first_edge_t.values())
                log.event(state.t_goal, "every_detector_got_edge", "")
                progress(
                    "every detector has received an edge answer: "
                    f"{state.t_goal - state.t_up:.1f} s after the endpoint first answered; "
                    f"continuing for {opts.duration_s:g} s"
                )
            if state.t_goal is not None and now >= state.t_goal + opts.duration_s:
                break
        if state.t_goal is None and now >= deadline:
            raise TimeoutError(f"goal not reached within --timeout {opts.timeout_s:g} s")
        if opts.label_interval_s and now >= next_label:
            next_label = now + opts.label_interval_s
            for det in loop.detectors:
                data, truth = image_for(det)
                state.labeler.label(
                    "",
                    truth,
                    before=lambda d=det, b=data: gl.ask_async(d.id, b, human_review="NEVER").id,
                )
        clock.sleep(it_start + opts.iteration_interval_s - clock.now())
    _final_samples(state, sampling)
    state.status = "completed"
    state.reason = _goal_text(opts) + " reached"


def _final_samples(state: RunState, sampling: Any) -> None:
    """The run ends as soon as its goal is reached, usually before the next periodic sample:
    list the pods one last time, then take one more resources sample, so the end state (every
    pod online) is measured and the checks on the steady state have data."""
    if state.watcher is not None:
        state.watcher.stop()  # ends the watch with a last list of the pods (idempotent)
    sampling.stop()  # no periodic sample runs concurrently with this one (idempotent)
    sampling.sample_once()


def _goal_text(opts: ScenarioOptions) -> str:
    if opts.stop_rule == STOP_ALL_EDGE_IN_ONE_ITERATION:
        return "every detector answers from the edge within one iteration"
    more = "10 refresh periods" if opts.duration_s is None else f"{opts.duration_s:g} s"
    return f"every detector gets an edge answer, then {more} more"


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


def _stop_background(state: RunState) -> None:
    for key in ("_sampling", "_metrics"):
        obj = state.metadata.pop(key, None)
        if obj is not None:
            with contextlib.suppress(Exception):
                obj.stop()
    if state.watcher is not None:
        state.watcher.stop()
    if state.labeler is not None:
        state.labeler.close(wait=False)
    if state.loop is not None:
        with contextlib.suppress(Exception):
            state.loop.submitter.close()


# --------------------------------------------------------------------------- results


def _t0(state: RunState) -> float:
    return state.t_up if state.t_up is not None else state.t_connect_start


def shifted_memory_samples(state: RunState) -> list[dict]:
    """Memory samples with times from the endpoint's first answer."""
    t0 = _t0(state)
    return [{**s, "t": s["t"] - t0} for s in state.memory_samples]


def build_results(
    opts: ScenarioOptions, target_record: dict, scale: float, state: RunState
) -> dict[str, Any]:
    """The result dict (see results.py) from what the run measured. Pure given the state."""
    t0 = _t0(state)
    det_ids = [d["id"] for d in state.detectors]
    answers: list[Answer] = (
        [dataclasses.replace(a, t=a.t - t0) for a in state.loop.answers] if state.loop else []
    )
    ans = summarize_answers(answers, det_ids)
    if state.watcher is not None:
        pods = podwatch.analyse_pods(state.watcher.snapshot_events(), det_ids, state.t_end, t0=t0)
        pods["source"] = state.k8s.source if state.k8s else None
    else:
        reason = (state.k8s.skipped_reason if state.k8s else None) or "pod checks were skipped"
        pods = {"skipped": reason}
    mem_samples = shifted_memory_samples(state)
    steady_after = None
    if pods.get("all_pods_ready_t") is not None:
        steady_after = pods["all_pods_ready_t"]
    elif state.t_goal is not None:
        steady_after = state.t_goal - t0
    mem = memory.summarize_memory(mem_samples, steady_after_t=steady_after)
    mem["series"] = [
        {
            "t": round(s["t"], 3),
            "ram_used_bytes": s["ram_used_bytes"],
            "vram_used_bytes_per_gpu": [g["vram_used_bytes"] for g in s["gpus"]],
        }
        for s in mem_samples
    ]
    metric_samples = [{**s, "t": s["t"] - t0} for s in state.metrics_samples]
    vers = versions.analyse_versions(metric_samples, det_ids, state.t_end - t0)

    timings = {
        "connect_wait_s": (
            None if state.t_up is None else round(state.t_up - state.t_connect_start, 3)
        ),
        "connect_failed_attempts": state.connect_failures,
        "first_query_s": (
            None if state.t_first_query is None else round(state.t_first_query - t0, 3)
        ),
        "goal_s": None if state.t_goal is None else round(state.t_goal - t0, 3),
        "goal_after_first_query_s": (
            None
            if state.t_goal is None or state.t_first_query is None
            else round(state.t_goal - state.t_first_query, 3)
        ),
        "all_edge_in_one_iteration_s": (
            None if ans["all_edge_iteration_t"] is None else round(ans["all_edge_iteration_t"], 3)
        ),
        "every_detector_got_edge_s": ans["every_detector_got_edge_t"],
        "all_pods_ready_s": pods.get("all_pods_ready_t"),
        "run_s": round(state.t_end - t0, 3),
    }
    checks, warnings = _checks(opts, state, ans, pods, mem, vers)
    warnings = state.warnings + warnings
    status = run_status(state)
    decision = verdict.decide(status, checks, signal_name=state.signal_name)
    rollouts_summary = {
        d: {
            "from_pods": (pods.get("per_detector") or {}).get(d, {}).get("rollouts"),
            "version_changes_from_pods": len(
                (pods.get("per_detector") or {}).get(d, {}).get("version_changes") or []
            ),
            "deployments_after_first_from_status": vers["per_detector"][d]["rollouts_after_first"],
        }
        for d in det_ids
    }
    return {
        "tool": "edgeload",
        "scenario": opts.scenario,
        "created_at": created_at(),
        "status": status,
        "reason": state.reason,
        "verdict": decision.verdict,
        "verdict_reason": decision.reason,
        "exit_code": decision.exit_code,
        "target": target_record,
        "time_unit": "simulated seconds" if scale != 1.0 else "seconds",
        "time_scale": scale,
        "time_origin": "the endpoint's first answer",
        "inputs": opts.inputs,
        "timings": timings,
        "detectors": state.detectors,
        "answers": ans,
        "labels": state.labeler.counts()
        if state.labeler
        else {"sent": 0, "failed": 0, "skipped": 0},
        "pods": pods,
        "memory": mem,
        "versions": vers,
        "rollouts": rollouts_summary,
        "edge_config": state.edge_config_note,
        "endpoint_refresh_rate_s": state.endpoint_refresh_rate,
        "checks": [c.as_record() for c in checks],
        "warnings": warnings,
        "notes": state.notes,
    }


def run_status(state: RunState) -> str:
    """The run's status in the verdict model. A goal not reached within --timeout is a run
    that ran its course (its goal check fails); an endpoint that never answered is a run
    that could not be carried out."""
    if state.status == "interrupted":
        return verdict.STATUS_INTERRUPTED
    if state.status == "completed" or (state.status == "timed_out" and state.t_up is not None):
        return verdict.STATUS_COMPLETED
    return verdict.STATUS_FAILED


def _goal_ok(state: RunState, t: float | None) -> bool | None:
    """Reached (True), not reached in a run that ran its course (False), never observed."""
    if t is not None:
        return True
    return False if run_status(state) == verdict.STATUS_COMPLETED else None


def _checks(
    opts: ScenarioOptions,
    state: RunState,
    ans: dict,
    pods: dict,
    mem: dict,
    vers: dict,
) -> tuple[list[verdict.Check], list[str]]:
    checks = _goal_checks(opts, state, ans, pods, vers)
    warnings: list[str] = []
    if opts.stop_rule != STOP_ALL_EDGE_IN_ONE_ITERATION and ans["all_edge_on_first_iteration"]:
        warnings.append(
            "every detector answered from the edge on the very first iteration: their "
            "inference pods already existed, so this run says nothing about rollouts from "
            "scratch; do a fresh install of the edge endpoint (helm uninstall, then install) "
            "and run again"
        )
    checks += _pod_checks(pods)
    checks += _memory_checks(state, mem)
    checks += _answer_checks(opts, ans)
    if opts.scenario == ROLLOUTS:
        checks.append(_one_at_a_time_check(pods, vers))
    if (
        opts.warn_refresh_rate
        and opts.refresh_rate_hint
        and state.endpoint_refresh_rate is not None
    ):
        if abs(state.endpoint_refresh_rate - opts.refresh_rate_hint) > 1e-6:
            warnings.append(
                f"--refresh-rate-hint {opts.refresh_rate_hint:g} s, but the endpoint's "
                f"edge config says refresh_rate {state.endpoint_refresh_rate:g} s"
            )
    return checks, warnings


def rollouts_seen(pods: dict, vers: dict) -> int:
    """Rollouts observed after each detector's first model: pod updates (Kubernetes) or, without
    a pod source, deployments on the status page."""
    from_pods = sum(
        len(v.get("update_windows") or []) for v in (pods.get("per_detector") or {}).values()
    )
    from_status = sum(v.get("rollouts_after_first") or 0 for v in vers["per_detector"].values())
    return max(from_pods, from_status)


def _goal_checks(
    opts: ScenarioOptions, state: RunState, ans: dict, pods: dict, vers: dict
) -> list[verdict.Check]:
    status = state.status
    if opts.stop_rule == STOP_ALL_EDGE_IN_ONE_ITERATION:
        t = ans["all_edge_iteration_t"]
        return [
            verdict.check(
                "all inference pods online",
                _goal_ok(state, t),
                f"every detector answered from the edge within one iteration after {t:.1f} s"
                if t is not None
                else f"no iteration in which every detector answered from the edge ({status})",
                kind=verdict.GOAL,
            )
        ]
    t = ans["every_detector_got_edge_t"]
    goals = [
        verdict.check(
            "every detector received an edge answer",
            _goal_ok(state, t),
            f"after {t:.1f} s" if t is not None else f"not every detector ({status})",
            kind=verdict.GOAL,
        )
    ]
    if opts.scenario == ROLLOUTS:
        n = rollouts_seen(pods, vers)
        goals.append(
            verdict.check(
                "model rollouts observed",
                True if n else None,
                f"{n} rollouts after the first models"
                if n
                else "no rollout was seen (neither a pod update nor a new deployment on the "
                "status page): run longer (--duration) or label more (--label-interval)",
                kind=verdict.GOAL,
            )
        )
    return goals


def _pod_checks(pods: dict) -> list[verdict.Check]:
    names = ("no pod restarts", "no OOMKilled pods", "no Pending pods")
    if "skipped" in pods:
        return [verdict.check(name, None, pods["skipped"]) for name in names]
    if not pods.get("per_detector"):
        why = "no inference pod of these detectors was seen in namespace edge"
        return [verdict.check(name, None, why) for name in names]
    r, o, p = pods["restarted_pods"], pods["oom_killed_pods"], pods["pending_pods"]
    return [
        verdict.check(
            names[0],
            not r,
            f"{len(r)} restarted: {', '.join(r)}" if r else "no inference pod restarted",
        ),
        verdict.check(
            names[1],
            not o,
            f"{len(o)} OOMKilled: {', '.join(o)}" if o else "no OOMKilled termination",
        ),
        verdict.check(
            names[2],
            not p,
            f"{len(p)} unschedulable or still Pending at the end: {', '.join(p)}"
            if p
            else f"every pod was scheduled (longest Pending {pods['max_pending_s']:.1f} s)",
        ),
    ]


def _memory_checks(state: RunState, mem: dict) -> list[verdict.Check]:
    # optional: a one-GPU box has no spread, and not every endpoint publishes its resources
    if not mem.get("available"):
        note = "; ".join(state.notes) or "no /status/resources.json samples"
        return [verdict.check("VRAM spread evenly across GPUs", None, note, required=False)]
    bal = mem["vram_balance"]
    above = mem.get("ram_above_eviction_threshold")
    return [
        verdict.check("VRAM spread evenly across GPUs", bal["ok"], bal["detail"], required=False),
        verdict.check(
            "RAM below the eviction threshold",
            None if above is None else not above,
            f"peak RAM {mem.get('ram_peak_pct') or 0:.1f}% (threshold "
            f"{mem.get('ram_eviction_threshold_pct')}%)",
            required=False,
        ),
    ]


def _answer_checks(opts: ScenarioOptions, ans: dict) -> list[verdict.Check]:
    # before a detector's first edge answer, cloud answers and 503s are the pods coming up
    seen = bool(ans["by_kind"]["edge"])
    errs_after: dict[str, int] = {}
    for p in ans["per_detector"].values():
        for cat, n in p["errors_after_first_edge"].items():
            errs_after[cat] = errs_after.get(cat, 0) + n
    if opts.scenario == ROLLOUTS:
        after = ans["non_edge_after_first_edge"]
        return [
            verdict.check(
                "only edge answers after a detector's first edge answer",
                after == 0 if seen else None,
                f"{after} non-edge answers after first edge answers"
                + (f" (errors: {_fmt_counts(errs_after)})" if errs_after else "")
                if seen
                else "no detector answered from the edge",
            )
        ]
    return [
        verdict.check(
            "no errors after a detector's first edge answer",
            not errs_after if seen else None,
            (_fmt_counts(errs_after) if errs_after else "none")
            if seen
            else "no detector answered from the edge",
        )
    ]


def _one_at_a_time_check(pods: dict, vers: dict) -> verdict.Check:
    name = "pods updated one detector at a time"
    overlaps = (pods.get("update_overlaps") or []) + vers["updating_overlaps"]
    if overlaps:
        return verdict.check(
            name,
            False,
            f"{len(overlaps)} overlapping updates: "
            + "; ".join(
                f"{o['detectors'][0]} & {o['detectors'][1]} at {o['start_t']:.0f}-"
                f"{o['end_t']:.0f} s"
                for o in overlaps[:5]
            ),
        )
    n = rollouts_seen(pods, vers)
    if not n:
        return verdict.check(name, None, pods.get("skipped") or "no rollout was seen")
    return verdict.check(name, True, f"{n} updates seen, never two detectors at once")


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def summary_lines(results: dict) -> list[str]:
    """The report on screen."""
    unit = "s" if results["time_scale"] == 1 else f"simulated s (time x{results['time_scale']:g})"
    t = results["timings"]
    a = results["answers"]
    lines = [
        "",
        f"== {results['scenario']}: {results['status']} ({results['reason']})",
        f"target: {results['target'].get('kind')} endpoint at {results['target'].get('url')}",
        f"times in {unit}, from the endpoint's first answer "
        f"(it answered after {_num(t['connect_wait_s'])} s of waiting)",
    ]
    lines.append(f"detectors ready and first image queries sent at {_num(t['first_query_s'])} s")
    if results["scenario"] == MEMORY_PRESSURE:
        lines.append(
            f"all inference pods online (every detector answered from the edge in one "
            f"iteration): {_num(t['all_edge_in_one_iteration_s'])} s "
            f"({_num(t['goal_after_first_query_s'])} s after the first image query)"
        )
    lines.append(f"every detector had an edge answer: {_num(t['every_detector_got_edge_s'])} s")
    if t.get("all_pods_ready_s") is not None:
        lines.append(f"all inference pods Ready (Kubernetes): {_num(t['all_pods_ready_s'])} s")
    errs = _fmt_counts(a["errors_by_category"]) or "none"
    lines.append(
        f"answers: {a['answers']} ({a['by_kind']['edge']} edge, {a['by_kind']['cloud']} cloud, "
        f"{a['by_kind']['error']} errors: {errs}); labels sent {results['labels']['sent']}"
    )
    if results["scenario"] == ROLLOUTS:
        per = results["rollouts"]
        lines.append(
            "rollouts per detector (pod updates / status-page deployments): "
            + ", ".join(
                f"{d[-6:]}: {_num(v['from_pods'])}/{v['deployments_after_first_from_status']}"
                for d, v in per.items()
            )
        )
    for c in results["checks"]:
        lines.append(f"  [{_MARKS[c['status']]}] {c['name']}: {c['detail']}")
    lines.append(
        f"verdict {results['verdict'].upper()} ({results['verdict_reason']}) · exit "
        f"{results['exit_code']}"
    )
    for w in results["warnings"]:
        lines.append(f"warning: {w}")
    return lines


_MARKS = {verdict.PASSED: "ok  ", verdict.FAILED: "FAIL", verdict.NOT_OBSERVED: "n/o "}


def _num(v: Any) -> str:
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
