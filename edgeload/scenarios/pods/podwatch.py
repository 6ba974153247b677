"""Kubernetes pod watching for the pod scenarios: what `watch kubectl get pods -n edge` shows,
recorded and checked automatically.

Pure part: `pod_snapshot` turns a raw Pod JSON object into the few facts that matter, and
`analyse_pods` replays the recorded events into per-pod timelines (created, scheduled, ready),
restarts, OOMKilled terminations, Pending pods, the model version each detector served over
time, and the windows in which each detector was being updated (with overlaps between
detectors flagged: the model updater should roll one detector at a time).

I/O part: `connect_kubernetes` (kubeconfig, in-cluster, or a base URL such as the simulator's
or `kubectl proxy`'s, through the official `kubernetes` client) and `PodWatcher` (list, then
watch, in a background thread; re-lists after a broken watch so nothing is missed for long).

Event times (`t`) are endpoint seconds on the run's `EndpointClock` (when we saw the event);
`created`/`scheduled`/`ready_since` are the pod's own Kubernetes timestamps (UNIX s, the
endpoint's clock), so durations between them are endpoint seconds too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from edgeload.scenarios.pods.clock import EndpointClock

NAMESPACE = "edge"
DETECTOR_ANNOTATION = "groundlight.dev/detector-id"
MODEL_NAME_ANNOTATION = "groundlight.dev/model-name"
MODEL_VERSION_ANNOTATION = "groundlight.dev/model-version"
INFERENCE_POD_PREFIX = "inferencemodel-"


# --------------------------------------------------------------------------- pure: one pod


def parse_k8s_time(value: Any) -> float | None:
    """RFC 3339 timestamp (as Kubernetes writes it) -> UNIX seconds, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def detector_key(detector_id: str) -> str:
    """How a detector id appears in pod and Deployment names."""
    return detector_id.lower().replace("_", "-")


@dataclass(frozen=True)
class PodSnapshot:
    name: str
    detector_id: str | None
    role: str | None  # primary | oodd
    model_version: str | None
    phase: str
    ready: bool
    created: float | None
    scheduled: float | None
    ready_since: float | None
    unschedulable: bool
    restarts: int
    oom_killed: bool
    last_termination: str | None
    waiting_reason: str | None


def pod_snapshot(raw: dict, detector_ids: Iterable[str] = ()) -> PodSnapshot | None:
    """The facts of one raw Pod object, or None when it is not an inference pod."""
    meta = raw.get("metadata") or {}
    name = meta.get("name") or ""
    ann = meta.get("annotations") or {}
    detector = ann.get(DETECTOR_ANNOTATION)
    if detector is None:
        if not name.startswith(INFERENCE_POD_PREFIX):
            return None
        for det in detector_ids:
            if detector_key(det) in name:
                detector = det
                break
    model_name = ann.get(MODEL_NAME_ANNOTATION) or ""
    role = model_name.rsplit("/", 1)[-1] if "/" in model_name else None
    if role is None:
        role = "oodd" if "-oodd-" in name else ("primary" if "-primary-" in name else None)
    status = raw.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    sched = conditions.get("PodScheduled") or {}
    ready_c = conditions.get("Ready") or {}
    containers = status.get("containerStatuses") or []
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    reasons = []
    waiting = None
    for c in containers:
        for state_key in ("lastState", "state"):
            term = ((c.get(state_key) or {}).get("terminated")) or {}
            if term.get("reason"):
                reasons.append(term["reason"])
        w = ((c.get("state") or {}).get("waiting")) or {}
        waiting = waiting or w.get("reason")
    ready = ready_c.get("status") == "True"
    if containers and not ready_c:
        ready = all(bool(c.get("ready")) for c in containers)
    return PodSnapshot(
        name=name,
        detector_id=detector,
        role=role,
        model_version=(
            str(ann[MODEL_VERSION_ANNOTATION]) if ann.get(MODEL_VERSION_ANNOTATION) else None
        ),
        phase=status.get("phase") or "Unknown",
        ready=ready,
        created=parse_k8s_time(meta.get("creationTimestamp")),
        scheduled=(
            parse_k8s_time(sched.get("lastTransitionTime"))
            if sched.get("status") == "True"
            else None
        ),
        ready_since=parse_k8s_time(ready_c.get("lastTransitionTime")) if ready else None,
        unschedulable=sched.get("status") == "False" and sched.get("reason") == "Unschedulable",
        restarts=restarts,
        oom_killed="OOMKilled" in reasons,
        last_termination=reasons[0] if reasons else None,
        waiting_reason=waiting,
    )


@dataclass(frozen=True)
class PodEvent:
    t: float  # endpoint s when seen
    type: str  # ADDED | MODIFIED | DELETED
    pod: PodSnapshot


# --------------------------------------------------------------------------- pure: analysis


def _intervals(flags: list[tuple[float, bool]], t_end: float) -> list[list[float]]:
    """[start, end] intervals in which a (t, flag) series is True."""
    out: list[list[float]] = []
    start = None
    for t, flag in flags:
        if flag and start is None:
            start = t
        elif not flag and start is not None:
            out.append([start, t])
            start = None
    if start is not None:
        out.append([start, t_end])
    return out


def _overlaps(windows: dict[str, list[list[float]]]) -> list[dict[str, Any]]:
    """Every pair of detectors whose windows intersect, with the shared interval."""
    out = []
    dets = sorted(windows)
    for i, a in enumerate(dets):
        for b in dets[i + 1 :]:
            for sa, ea in windows[a]:
                for sb, eb in windows[b]:
                    start, end = max(sa, sb), min(ea, eb)
                    if end > start:
                        out.append({"detectors": [a, b], "start_t": start, "end_t": end})
    return sorted(out, key=lambda o: o["start_t"])


def analyse_pods(
    events: Sequence[PodEvent],
    detector_ids: Sequence[str],
    t_end: float,
    *,
    t0: float = 0.0,
) -> dict[str, Any]:
    """Replay pod events (in the order seen) into timelines and checks.

    A detector is *updating* while it has two pods of one role at once (a RollingUpdate with
    surge: the new pod starts beside the old one) or a not-ready pod with a model version other
    than the one it last served; windows before its first Ready pod are its *initial* start-up,
    reported but not held against the one-at-a-time rule (the first image query for each
    detector creates its pods, possibly all at once).
    """
    wanted = list(detector_ids)
    alive: dict[str, PodSnapshot] = {}
    pods: dict[str, dict[str, Any]] = {}
    ever_ready: dict[str, bool] = {}
    serving: dict[str, str | None] = {}
    version_changes: dict[str, list[dict[str, Any]]] = {d: [] for d in wanted}
    upd_flags: dict[str, list[tuple[float, bool]]] = {d: [] for d in wanted}
    init_flags: dict[str, list[tuple[float, bool]]] = {d: [] for d in wanted}
    ready_series: dict[str, list[tuple[float, int]]] = {d: [] for d in wanted}
    all_ready_t = None

    for ev in events:
        p = ev.pod
        det = p.detector_id
        rec = pods.get(p.name)
        if rec is None:
            rec = pods[p.name] = {
                "name": p.name,
                "detector_id": det,
                "role": p.role,
                "first_seen_t": ev.t,
                "created": p.created,
                "scheduled": p.scheduled,
                "ready_since": p.ready_since,
                "first_ready_seen_t": None,
                "deleted_t": None,
                "restarts": 0,
                "oom_killed": False,
                "terminations": [],
                "pending_since_t": None,
                "pending_s": 0.0,
                "unschedulable": False,
                "waiting_reasons": [],
                "model_versions": [],
                "phase": p.phase,
            }
        rec["scheduled"] = rec["scheduled"] or p.scheduled
        rec["ready_since"] = rec["ready_since"] or p.ready_since
        rec["restarts"] = max(rec["restarts"], p.restarts)
        rec["oom_killed"] = rec["oom_killed"] or p.oom_killed
        if p.last_termination and p.last_termination not in rec["terminations"]:
            rec["terminations"].append(p.last_termination)
        rec["unschedulable"] = rec["unschedulable"] or p.unschedulable
        if p.waiting_reason and p.waiting_reason not in rec["waiting_reasons"]:
            rec["waiting_reasons"].append(p.waiting_reason)
        if p.model_version and p.model_version not in rec["model_versions"]:
            rec["model_versions"].append(p.model_version)
        rec["phase"] = p.phase
        pending_now = p.phase == "Pending" and ev.type != "DELETED"
        if pending_now and rec["pending_since_t"] is None:
            rec["pending_since_t"] = ev.t
        elif not pending_now and rec["pending_since_t"] is not None:
            rec["pending_s"] += ev.t - rec["pending_since_t"]
            rec["pending_since_t"] = None
        if p.ready and rec["first_ready_seen_t"] is None:
            rec["first_ready_seen_t"] = ev.t

        if ev.type == "DELETED":
            alive.pop(p.name, None)
            rec["deleted_t"] = ev.t
        else:
            alive[p.name] = p

        # derived state per detector after this event
        for d in wanted:
            mine = [q for q in alive.values() if q.detector_id == d]
            ready_pods = [q for q in mine if q.ready]
            roles = [q.role for q in mine]
            surge = any(roles.count(r) > 1 for r in set(roles))
            if ready_pods:
                newest = max(ready_pods, key=lambda q: (q.created or 0.0, q.name))
                ver = newest.model_version
                if ever_ready.get(d) and ver != serving.get(d):
                    version_changes[d].append({"t": ev.t, "from": serving.get(d), "to": ver})
                elif not ever_ready.get(d):
                    version_changes[d].append({"t": ev.t, "from": None, "to": ver})
                serving[d] = ver
            new_version_starting = any(
                (not q.ready) and q.model_version and q.model_version != serving.get(d)
                for q in mine
            )
            was_ready = ever_ready.get(d, False)
            updating = was_ready and (surge or new_version_starting)
            starting = (not was_ready) and bool(mine)
            if ready_pods:
                ever_ready[d] = True
            for series, flag in ((upd_flags[d], updating), (init_flags[d], starting)):
                if not series or series[-1][1] != flag:
                    series.append((ev.t, flag))
            n_ready = len(ready_pods)
            if not ready_series[d] or ready_series[d][-1][1] != n_ready:
                ready_series[d].append((ev.t, n_ready))
        if all_ready_t is None and wanted:
            done = True
            for d in wanted:
                mine = [q for q in alive.values() if q.detector_id == d]
                if not mine or not all(q.ready for q in mine):
                    done = False
                    break
            if done:
                all_ready_t = ev.t

    for rec in pods.values():
        if rec["pending_since_t"] is not None:
            rec["pending_s"] += t_end - rec["pending_since_t"]
        rec["pending_at_end"] = rec["pending_since_t"] is not None
        rec.pop("pending_since_t")
        rec["scheduled_after_s"] = _delta(rec["created"], rec["scheduled"])
        rec["ready_after_s"] = _delta(rec["created"], rec["ready_since"])

    update_windows = {d: _intervals(upd_flags[d], t_end) for d in wanted}
    initial_windows = {d: _intervals(init_flags[d], t_end) for d in wanted}
    per_detector = {}
    for d in wanted:
        mine = [r for r in pods.values() if r["detector_id"] == d]
        ready_ts = [r["first_ready_seen_t"] for r in mine if r["first_ready_seen_t"] is not None]
        per_detector[d] = {
            "pods": sorted(r["name"] for r in mine),
            "first_ready_t": (min(ready_ts) - t0) if ready_ts else None,
            "restarts": sum(r["restarts"] for r in mine),
            "oom_killed": sum(1 for r in mine if r["oom_killed"]),
            "rollouts": len([w for w in update_windows[d]]),
            "version_changes": [
                {**c, "t": c["t"] - t0} for c in version_changes[d] if c["from"] is not None
            ],
            "versions_served": [{"t": c["t"] - t0, "version": c["to"]} for c in version_changes[d]],
            "update_windows": [[s - t0, e - t0] for s, e in update_windows[d]],
            "initial_windows": [[s - t0, e - t0] for s, e in initial_windows[d]],
            "ready_pods_over_time": [[t - t0, n] for t, n in ready_series[d]],
        }
    pod_list = sorted(pods.values(), key=lambda r: (r["first_seen_t"], r["name"]))
    restarted = [r["name"] for r in pod_list if r["restarts"] > 0]
    oom = [r["name"] for r in pod_list if r["oom_killed"]]
    pending = [r["name"] for r in pod_list if r["unschedulable"] or r["pending_at_end"]]
    stray = sorted({r["detector_id"] for r in pod_list if r["detector_id"] not in wanted} - {None})
    update_overlaps = _overlaps(update_windows)
    initial_overlaps = _overlaps(initial_windows)
    for o in update_overlaps + initial_overlaps:
        o["start_t"] -= t0
        o["end_t"] -= t0
    return {
        "pods": [
            {
                **r,
                "first_seen_t": r["first_seen_t"] - t0,
                "first_ready_seen_t": _shift(r["first_ready_seen_t"], t0),
                "deleted_t": _shift(r["deleted_t"], t0),
            }
            for r in pod_list
        ],
        "per_detector": per_detector,
        "all_pods_ready_t": _shift(all_ready_t, t0),
        "restarted_pods": restarted,
        "oom_killed_pods": oom,
        "pending_pods": pending,
        "max_pending_s": max((r["pending_s"] for r in pod_list), default=0.0),
        "update_overlaps": update_overlaps,
        "initial_overlaps": initial_overlaps,
        "other_detectors_with_pods": stray,
        "events": len(events),
        "t_end": t_end - t0,
    }


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 3)


def _shift(t: float | None, t0: float) -> float | None:
    return None if t is None else t - t0


# --------------------------------------------------------------------------- I/O


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
    """Pod access for `--k8s auto|off|URL`; never raises for missing access (checks are skipped).

    auto: the embedded simulator's own API when the target is simulated; otherwise kubeconfig,
    then in-cluster config. URL: that base URL without credentials (`kubectl proxy`, the
    simulator).
    """
    if option == "off":
        return KubernetesAccess(None, "off", "pod checks were skipped (--k8s off)")
    from kubernetes import client, config

    if option != "auto" or simulator_url:
        url = simulator_url if option == "auto" else option
        cfg = client.Configuration()
        cfg.host = url.rstrip("/")
        if url.startswith("https"):  # the endpoint's TLS settings (simulator, kubectl proxy)
            cfg.verify_ssl = verify_tls
            cfg.ssl_ca_cert = ca_bundle if verify_tls else None
        api = client.CoreV1Api(client.ApiClient(cfg))
        return _checked(api, url)
    for source, loader in (
        ("kubeconfig", config.load_kube_config),
        ("in-cluster", config.load_incluster_config),
    ):
        try:
            loader()
        except Exception:  # noqa: BLE001 - try the next source
            continue
        return _checked(client.CoreV1Api(), source)
    return KubernetesAccess(
        None,
        "none",
        "pod checks were skipped: no kubeconfig and not in a cluster "
        "(give --k8s URL, e.g. the address of `kubectl proxy`)",
    )


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
            self.events.append(PodEvent(self.clock.now(), etype, snap))

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
                self.events.append(PodEvent(self.clock.now(), "DELETED", snap))
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


def pod_events_to_json(events: Sequence[PodEvent]) -> list[dict[str, Any]]:
    return [{"t": e.t, "type": e.type, **asdict(e.pod)} for e in events]
