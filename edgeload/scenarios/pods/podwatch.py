"""Kubernetes pod watching for the pod scenarios: what `watch kubectl get pods -n edge` shows,
recorded as it happens (the replay and checks are `podtimeline`, pure).

`connect_kubernetes` (kubeconfig, in-cluster, or a base URL such as the simulator's or
`kubectl proxy`'s, through the official `kubernetes` client) and `PodWatcher` (list, then watch,
in a background thread; re-lists after a broken watch so nothing is missed for long). Each
change is handed to `on_event` as it is seen (the run streams it into its log).

Event times (`t`) are endpoint seconds on the run's `EndpointClock` (when we saw the event).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeload.kube import NAMESPACE, kube_api_client
from edgeload.scenarios.pods.clock import EndpointClock
from edgeload.scenarios.pods.podtimeline import PodEvent, PodSnapshot, pod_snapshot


@dataclass
class KubernetesAccess:
    """How pods are watched, or why they are not."""

    core_api: Any | None
    source: str  # "kubeconfig" | "in-cluster" | URL | "off"
    skipped_reason: str | None = None

    @property
    def available(self) -> bool:
        return self.core_api is not None


def connect_kubernetes(
    option: str,
    *,
    simulator_url: str | None = None,
    verify_tls: bool = True,
    ca_bundle: str | None = None,
) -> KubernetesAccess:
    """Pod access for `--k8s auto|off|URL` (`edgeload.kube`); never raises for missing access
    (checks are skipped)."""
    from kubernetes import client

    conn = kube_api_client(
        option,
        simulator_url=simulator_url,
        simulated=simulator_url is not None,
        verify_tls=verify_tls,
        ca_bundle=ca_bundle,
    )
    if conn.api_client is None:
        why = f" ({conn.problem})" if conn.source == "off" else f": {conn.problem}"
        return KubernetesAccess(None, conn.source, f"pod checks were skipped{why}")
    return _checked(client.CoreV1Api(conn.api_client), conn.source)


def _checked(api: Any, source: str) -> KubernetesAccess:
    try:
        api.list_namespaced_pod(NAMESPACE, _request_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure means no pod checks
        status = getattr(exc, "status", None)
        why = f"HTTP {status}" if status else type(exc).__name__
        return KubernetesAccess(
            None, source, f"pod checks were skipped: the Kubernetes API at {source} failed ({why})"
        )
    return KubernetesAccess(api, source)


@dataclass
class PodWatcher:
    """Lists then watches inference pods in a background thread, recording every change."""

    access: KubernetesAccess
    clock: EndpointClock
    detector_ids: list[str] = field(default_factory=list)
    namespace: str = NAMESPACE
    events: list[PodEvent] = field(default_factory=list)
    errors: int = 0
    on_event: Callable[[PodEvent], None] | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._known: dict[str, PodSnapshot] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        if not self.access.available:
            return
        self._thread = threading.Thread(target=self._run, name="edgeload-podwatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        # a last list, so the end state is exact even if the watch lagged
        if self.access.available:
            try:
                self._relist()
            except Exception:  # noqa: BLE001
                self.errors += 1

    def snapshot_events(self) -> list[PodEvent]:
        with self._lock:
            return list(self.events)

    def ready_summary(self) -> tuple[int, int]:
        """(ready, total) inference pods for our detectors right now."""
        with self._lock:
            mine = [p for p in self._known.values() if p.detector_id in self.detector_ids]
        return sum(1 for p in mine if p.ready), len(mine)

    def _record(self, etype: str, raw: dict) -> None:
        snap = pod_snapshot(raw, self.detector_ids)
        if snap is None:
            return
        with self._lock:
            if etype == "DELETED":
                self._known.pop(snap.name, None)
            else:
                if self._known.get(snap.name) == snap:
                    return
                self._known[snap.name] = snap
            self._append(PodEvent(self.clock.now(), etype, snap))

    def _append(self, event: PodEvent) -> None:
        """Keep an event and hand it on (called with the lock held, so in order)."""
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _relist(self) -> str | None:
        resp = self.access.core_api.list_namespaced_pod(
            self.namespace, _preload_content=False, _request_timeout=10
        )
        body = json.loads(resp.data)
        seen = set()
        for raw in body.get("items") or []:
            name = (raw.get("metadata") or {}).get("name")
            seen.add(name)
            etype = "MODIFIED" if name in self._known else "ADDED"
            self._record(etype, raw)
        with self._lock:
            gone = [self._known[n] for n in list(self._known) if n not in seen]
        for snap in gone:
            with self._lock:
                self._known.pop(snap.name, None)
                self._append(PodEvent(self.clock.now(), "DELETED", snap))
        return (body.get("metadata") or {}).get("resourceVersion")

    def _run(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            try:
                rv = self._relist()
                w = watch.Watch()
                for ev in w.stream(
                    self.access.core_api.list_namespaced_pod,
                    self.namespace,
                    resource_version=rv,
                    timeout_seconds=5,
                    _request_timeout=10,
                ):
                    if self._stop.is_set():
                        w.stop()
                        break
                    raw = ev.get("raw_object")
                    if isinstance(raw, dict) and ev.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        self._record(ev["type"], raw)
            except Exception:  # noqa: BLE001 - a broken watch is re-listed, never fatal
                self.errors += 1
                self._stop.wait(0.5)
