"""One rollouts-under-load run: the pod scenarios' `PodRun` (connect, header, pod watcher and
samplers, signals, end record, report) with this test's detector and load.

    one detector, trained and served by the edge (`edgeload.provisioning`) -> the Deployments'
    revisions before the load -> fixed-rate clients (`load`) and, every --label-interval,
    --labels-per-batch labels (the pod scenarios' `Labeler`) -> until the load ran
    --error-free-s, at least --min-rollouts rollouts finished, the one under way then (if any)
    finished too, and --window-margin passed since; or --timeout -> the revisions after.

The load's requests go into the log as they finish; the verdict comes from the analysis of the
log alone (`analysis`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from edgeload import verdict
from edgeload.scenarios.pods.detector_loop import Labeler, LoopDetector
from edgeload.scenarios.pods.runner import GoalTimeout, PodRun
from edgeload.scenarios.rollouts_under_load.load import (
    FixedRateLoad,
    close_submitters,
    make_submitters,
)
from edgeload.scenarios.rollouts_under_load.tracker import RolloutState, RolloutTracker

PROGRESS_EVERY_S = 30.0  # endpoint seconds between progress lines when nothing changes


class LoadRun(PodRun):
    """A pod scenario run whose loop is the fixed-rate load on one detector."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.detector: Any = None
        self.load: FixedRateLoad | None = None
        self.submitters: list[Any] = []
        self.done_reason: str | None = None
        self.wait_for: int | None = None  # rollouts to finish before the load stops
        self._labels_gl: Any = None  # the SDK client labels go through (_labels_client)

    # -- the detector --------------------------------------------------------------------
    def _prepare_detectors(self) -> None:
        from edgeload.provisioning import provision_detector

        inputs, scale = self.inputs, self.clock.time_scale
        w, h = inputs.image_size
        self.say(f"provisioning a {inputs.detector_mode} detector (trained, served by the edge)...")
        self.detector = provision_detector(
            self.gl,
            mode=inputs.detector_mode,
            image_size=inputs.image_size,
            detector_id=inputs.detector_id,
            name=None
            if inputs.detector_id
            else f"edgeload-rul-{inputs.detector_mode.lower()}-{w}x{h}",
            timeout_s=max(inputs.provision_timeout / scale, 1.0),
            poll_s=max(2.0 / scale, 0.02),
            progress_every_s=max(10.0 / scale, 0.2),
            progress=lambda m: self.say("  " + m),
            target=self.target,
        )
        d = self.detector
        self.detectors = [
            {"id": d.id, "name": d.name, "mode": d.mode, "labels": d.labels,
             "projected_accuracy": d.projected_accuracy, "pipeline_config": d.pipeline_config}
        ]  # fmt: skip
        self.log.sample("detectors", detectors=self.detectors)
        self.observers.set_detectors([d.id])
        self.say(f"detector {d.id} ({d.name!r}) is served by the edge")

    # -- the load ------------------------------------------------------------------------
    def _run_loop(self) -> None:
        inputs = self.inputs
        tracker = RolloutTracker(self.observers, self.detector.id, self.log, self.clock)
        tracker.poll("before")
        self.submitters = make_submitters(self.target, self.detector, inputs.client, inputs.clients)
        pool = self.pools[inputs.detector_mode]
        self.load = FixedRateLoad(
            self.submitters, lambda: pool.next()[0], self.detector.id, inputs.requests_per_second
        )
        labels_gl = self._labels_client()
        self.labeler = Labeler(lambda iq, label: labels_gl.add_label(iq, label))
        t_start = tracker.since = self.clock.now()
        self.log.timing("load_start", t_start)
        self.say(
            f"load: {inputs.requests_per_second:g} image queries/s from {inputs.clients} "
            f"client(s); {inputs.labels_per_batch} labels every {inputs.label_interval:g} s; "
            f"goal: {inputs.min_rollouts} rollouts and no error in at least "
            f"{inputs.error_free_s:g} s"
        )
        if not tracker.observable:
            self.say("  rollouts cannot be observed (no Kubernetes access): load only")
        self.load.start()
        try:
            self._until_done(tracker, t_start)
            with contextlib.suppress(Exception):  # the revisions the load ends with
                tracker.poll("after")
        finally:
            t_stop = self.clock.now()
            self.load.stop()
            self._write_requests()
            self.log.timing("load_end", t_stop)

    def _until_done(self, tracker: RolloutTracker, t_start: float) -> None:
        inputs = self.inputs
        poll_s = max(1.0, 0.1 * self.clock.time_scale)  # endpoint s: at most 10 polls a second
        next_label, last_line, shown = t_start, -1e18, None
        goal_logged = False
        while True:
            self.clock.sleep(poll_s)
            now = self.clock.now()
            self._write_requests()
            if now >= next_label:
                next_label = now + inputs.label_interval
                self._label_batch()
            state = tracker.poll()
            if state.finished >= inputs.min_rollouts and not goal_logged:
                goal_logged = True
                self.log.timing("goal", now)
                self.log.event("min_rollouts", f"{state.finished} rollouts finished", now)
            key = (state.finished, state.busy, self.load.failed > 0)
            if key != shown or now - last_line >= PROGRESS_EVERY_S:
                self.say(self._line(now - t_start, state))
                shown, last_line = key, now
            if self._done(now - t_start, state, tracker.observable, now):
                return

    def _done(self, elapsed: float, state: RolloutState, observable: bool, now: float) -> bool:
        inputs = self.inputs
        if elapsed >= inputs.timeout:
            if state.finished < inputs.min_rollouts:
                raise GoalTimeout(
                    f"only {state.finished} of --min-rollouts {inputs.min_rollouts} rollouts "
                    f"finished within --timeout {inputs.timeout:g} s"
                )
            self.done_reason = f"--timeout {inputs.timeout:g} s reached with a rollout under way"
            return True
        if elapsed < inputs.error_free_s:
            return False
        if not observable:
            self.done_reason = f"load ran {elapsed:.0f} s (rollouts could not be observed)"
            return True
        if state.finished < inputs.min_rollouts:
            return False
        if self.wait_for is None:  # the rollout under way now is waited for, no later one
            self.wait_for = state.finished + (1 if state.busy else 0)
        settled = state.last_finished_t is None or now - state.last_finished_t >= (
            inputs.window_margin_s
        )
        if state.finished >= self.wait_for and settled:
            self.done_reason = f"{state.finished} rollouts finished; load ran {elapsed:.0f} s"
            return True
        return False

    def _line(self, elapsed: float, state: RolloutState) -> str:
        load = self.load
        assert load is not None
        busy = "  (a rollout is under way)" if state.busy else ""
        return (
            f"  t={elapsed:8.1f} s  queries {load.sent}  errors {load.failed}  "
            f"rollouts {state.finished}/{self.inputs.min_rollouts}{busy}"
        )

    def _labels_client(self) -> Any:
        """Where labels go: the cloud of --cloud-endpoint; our simulator's own cloud when an
        --edge-config was applied (an edge-only config refuses the async queries labels need,
        which is why upstream labels in the cloud); otherwise through the endpoint."""
        from edgeload.cloudside import cloud_sdk

        url = self.inputs.cloud_endpoint
        sim = getattr(self.target, "sim", None)
        if url is None and self.inputs.edge_config and sim is not None:
            url = sim.cloud_url or None
        if url is None:
            self._labels_gl = self.gl
        else:
            self._labels_gl = cloud_sdk(self.target, url)
            self.say(f"  labels go to the cloud at {url}")
        return self._labels_gl

    def _label_batch(self) -> None:
        assert self.labeler is not None
        det_id = self.detector.id
        det = LoopDetector(det_id, self.detector.name, self.inputs.detector_mode)
        gl = self._labels_gl
        for _ in range(self.inputs.labels_per_batch):
            data, truth = self.image_for(det)
            ask = lambda b=data: gl.ask_async(det_id, b, human_review="NEVER").id  # noqa: E731
            self.labeler.label("", truth, before=ask)

    def _write_requests(self) -> None:
        record = self.load.rows.take() if self.load is not None else None
        if record is not None:
            self.log.write(record, flush=True)

    # -- the end -------------------------------------------------------------------------
    def _stop_threads(self) -> None:
        if self.load is not None:
            self.load.stop()  # idempotent; requests still in flight are waited for (bounded)
            self._write_requests()
        close_submitters(self.submitters)
        super()._stop_threads()

    def _end(self) -> None:
        if self.status == verdict.STATUS_COMPLETED and self.done_reason:
            self.reason = self.done_reason
        super()._end()
