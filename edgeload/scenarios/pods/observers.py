"""What watches the endpoint while a pod scenario runs, each in a background thread, every
observation streamed into the run's log: the inference pods (Kubernetes), RAM/VRAM
(`/status/resources.json`) and the model versions (`/status/metrics.json`)."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from edgeload import runlog
from edgeload.scenarios.pods import memory, podwatch, versions
from edgeload.scenarios.pods.clock import EndpointClock
from edgeload.scenarios.pods.podtimeline import PodEvent
from edgeload.scenarios.pods.recorder import RunRecorder


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


def simulator_k8s_url(target: Any) -> str | None:
    """Where the embedded simulator serves its Kubernetes API (a port of its own, as on a real
    box). Only for a simulator edgeload started: a given endpoint is never asked."""
    url = getattr(getattr(target, "sim", None), "k8s_url", None)
    return url if isinstance(url, str) and url else None


class Observers:
    """The pod watcher, the resource sampler and the status-page sampler of one run."""

    def __init__(self, target: Any, clock: EndpointClock, log: RunRecorder) -> None:
        self.target = target
        self.clock = clock
        self.log = log
        self.detector_ids: list[str] = []
        self.watcher: podwatch.PodWatcher | None = None
        self.sampling: Any = None
        self.metrics: Ticker | None = None

    def start(self, *, k8s: str, simulated: bool, sample_s: float, metrics_s: float) -> str:
        """Start every observer; returns a line saying how pods are watched (or why not)."""
        line = self._start_pod_watch(k8s, simulated)
        self._start_sampling(sample_s)
        self.metrics = Ticker(
            self._take_metrics, max(metrics_s / self.clock.time_scale, 0.05), "edgeload-metrics"
        ).start()
        return line

    def _start_pod_watch(self, k8s: str, simulated: bool) -> str:
        access = podwatch.connect_kubernetes(
            k8s,
            simulator_url=simulator_k8s_url(self.target) if simulated else None,
            verify_tls=self.target.verify_tls,
            ca_bundle=self.target.ca_bundle,
        )
        self.log.sample(
            "pod_source",
            source=access.source,
            available=access.available,
            skipped_reason=access.skipped_reason,
        )
        if not access.available:
            return access.skipped_reason or "pod checks were skipped"
        self.watcher = podwatch.PodWatcher(access, self.clock, on_event=self._record_pod)
        self.watcher.start()
        return f"watching inference pods in namespace edge through {access.source}"

    def _record_pod(self, event: PodEvent) -> None:
        self.log.sample("pod", event.t, event=event.type, pod=dataclasses.asdict(event.pod))

    def _start_sampling(self, sample_s: float) -> None:
        from edgeload.samplers import EndpointSampler, SamplingLoop

        def note(message: str) -> None:
            self.log.sample("note", message=message)

        sampler = EndpointSampler(self.target, note=note)

        def emit(record: dict) -> None:
            self.log.utilization(record)
            fields = memory.memory_sample(record["t"], record, sampler.last_raw)
            self.log.write(
                {"type": runlog.SAMPLE, "kind": "memory", **fields}  # t: wall clock already
            )

        interval = max(sample_s / self.clock.time_scale, 0.05)
        self.sampling = SamplingLoop([sampler], interval, emit, note=note).start()

    def _take_metrics(self) -> None:
        from edgeload.provisioning import detector_details, fetch_metrics

        details = detector_details(fetch_metrics(self.target, timeout_s=10.0))
        sample = versions.details_sample(self.clock.now(), details, self.detector_ids)
        self.log.sample("model_versions", sample["t"], detectors=sample["detectors"])

    def set_detectors(self, detector_ids: list[str]) -> None:
        self.detector_ids[:] = detector_ids
        if self.watcher is not None:
            self.watcher.detector_ids = list(detector_ids)

    def ready_line(self) -> str:
        if self.watcher is None:
            return ""
        ready, total = self.watcher.ready_summary()
        return f"pods ready {ready}/{total}"

    def final_samples(self) -> None:
        """The run ends as soon as its goal is reached, usually before the next periodic
        sample: list the pods one last time, then take one more resources sample, so the end
        state (every pod online) is measured and the checks on the steady state have data."""
        if self.watcher is not None:
            self.watcher.stop()  # ends the watch with a last list of the pods (idempotent)
        if self.sampling is not None:
            self.sampling.stop()  # no periodic sample runs concurrently (idempotent)
            self.sampling.sample_once()

    def stop(self) -> None:
        for observer in (self.sampling, self.metrics, self.watcher):
            if observer is not None:
                with contextlib.suppress(Exception):
                    observer.stop()
