"""Inference pods as the pod scenarios see them: the facts of one pod, and the replay of the
recorded pod events into timelines and checks. Pure: no I/O (the watching is `podwatch`).

`pod_snapshot` turns a raw Pod JSON object into the few facts that matter; `analyze_pods`
replays the recorded events into per-pod timelines (created, scheduled, ready), restarts,
OOMKilled terminations, Pending pods, the model version each detector served over time, and the
windows in which each detector was being updated (with overlaps between detectors flagged: the
model updater should roll one detector at a time).

Event times (`t`) are endpoint seconds (when the event was seen); `created`/`scheduled`/
`ready_since` are the pod's own Kubernetes timestamps (UNIX s, the endpoint's clock), so
durations between them are endpoint seconds too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


# --------------------------------------------------------------------------- the replay


def analyze_pods(
    events: Sequence[PodEvent],
    detector_ids: Sequence[str],
    t_end: float,
    *,
    t0: float = 0.0,
) -> dict[str, Any]:
    """Replay pod events (in the order seen) into timelines and checks; times in the result
    are from t0.

    A detector is *updating* while it has two pods of one role at once (a RollingUpdate with
    surge: the new pod starts beside the old one) or a not-ready pod with a model version other
    than the one it last served; windows before its first Ready pod are its *initial* start-up,
    reported but not held against the one-at-a-time rule (the first image query for each
    detector creates its pods, possibly all at once).
    """
    replay = _Replay(list(detector_ids))
    for ev in events:
        replay.add(ev)
    return replay.result(t_end, t0, len(events))


def _new_pod_record(ev: PodEvent) -> dict[str, Any]:
    p = ev.pod
    return {
        "name": p.name,
        "detector_id": p.detector_id,
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


def _update_pod_record(rec: dict[str, Any], ev: PodEvent) -> None:
    """What one event adds to its pod's record."""
    p = ev.pod
    rec["scheduled"] = rec["scheduled"] or p.scheduled
    rec["ready_since"] = rec["ready_since"] or p.ready_since
    rec["restarts"] = max(rec["restarts"], p.restarts)
    rec["oom_killed"] = rec["oom_killed"] or p.oom_killed
    for key, value in (
        ("terminations", p.last_termination),
        ("waiting_reasons", p.waiting_reason),
        ("model_versions", p.model_version),
    ):
        if value and value not in rec[key]:
            rec[key].append(value)
    rec["unschedulable"] = rec["unschedulable"] or p.unschedulable
    rec["phase"] = p.phase
    pending_now = p.phase == "Pending" and ev.type != "DELETED"
    if pending_now and rec["pending_since_t"] is None:
        rec["pending_since_t"] = ev.t
    elif not pending_now and rec["pending_since_t"] is not None:
        rec["pending_s"] += ev.t - rec["pending_since_t"]
        rec["pending_since_t"] = None
    if p.ready and rec["first_ready_seen_t"] is None:
        rec["first_ready_seen_t"] = ev.t


class _Replay:
    """The state of the pods while the events are replayed, one event at a time."""

    def __init__(self, wanted: list[str]) -> None:
        self.wanted = wanted
        self.alive: dict[str, PodSnapshot] = {}
        self.pods: dict[str, dict[str, Any]] = {}
        self.ever_ready: dict[str, bool] = {}
        self.serving: dict[str, str | None] = {}
        self.version_changes: dict[str, list[dict[str, Any]]] = {d: [] for d in wanted}
        self.upd_flags: dict[str, list[tuple[float, bool]]] = {d: [] for d in wanted}
        self.init_flags: dict[str, list[tuple[float, bool]]] = {d: [] for d in wanted}
        self.ready_series: dict[str, list[tuple[float, int]]] = {d: [] for d in wanted}
        self.all_ready_t: float | None = None

    def add(self, ev: PodEvent) -> None:
        p = ev.pod
        rec = self.pods.get(p.name)
        if rec is None:
            rec = self.pods[p.name] = _new_pod_record(ev)
        _update_pod_record(rec, ev)
        if ev.type == "DELETED":
            self.alive.pop(p.name, None)
            rec["deleted_t"] = ev.t
        else:
            self.alive[p.name] = p
        for d in self.wanted:
            self._detector_after(d, ev.t)
        if self.all_ready_t is None and self.wanted and self._all_ready():
            self.all_ready_t = ev.t

    def _mine(self, d: str) -> list[PodSnapshot]:
        return [q for q in self.alive.values() if q.detector_id == d]

    def _all_ready(self) -> bool:
        for d in self.wanted:
            mine = self._mine(d)
            if not mine or not all(q.ready for q in mine):
                return False
        return True

    def _detector_after(self, d: str, t: float) -> None:
        """A detector's derived state after an event: version served, updating, starting."""
        mine = self._mine(d)
        ready_pods = [q for q in mine if q.ready]
        roles = [q.role for q in mine]
        surge = any(roles.count(r) > 1 for r in set(roles))
        if ready_pods:
            newest = max(ready_pods, key=lambda q: (q.created or 0.0, q.name))
            ver = newest.model_version
            if self.ever_ready.get(d) and ver != self.serving.get(d):
                self.version_changes[d].append({"t": t, "from": self.serving.get(d), "to": ver})
            elif not self.ever_ready.get(d):
                self.version_changes[d].append({"t": t, "from": None, "to": ver})
            self.serving[d] = ver
        new_version_starting = any(
            (not q.ready) and q.model_version and q.model_version != self.serving.get(d)
            for q in mine
        )
        was_ready = self.ever_ready.get(d, False)
        updating = was_ready and (surge or new_version_starting)
        starting = (not was_ready) and bool(mine)
        if ready_pods:
            self.ever_ready[d] = True
        for series, flag in ((self.upd_flags[d], updating), (self.init_flags[d], starting)):
            if not series or series[-1][1] != flag:
                series.append((t, flag))
        n_ready = len(ready_pods)
        if not self.ready_series[d] or self.ready_series[d][-1][1] != n_ready:
            self.ready_series[d].append((t, n_ready))

    def result(self, t_end: float, t0: float, n_events: int) -> dict[str, Any]:
        for rec in self.pods.values():
            if rec["pending_since_t"] is not None:
                rec["pending_s"] += t_end - rec["pending_since_t"]
            rec["pending_at_end"] = rec["pending_since_t"] is not None
            rec.pop("pending_since_t")
            rec["scheduled_after_s"] = _delta(rec["created"], rec["scheduled"])
            rec["ready_after_s"] = _delta(rec["created"], rec["ready_since"])
        update_windows = {d: _intervals(self.upd_flags[d], t_end) for d in self.wanted}
        initial_windows = {d: _intervals(self.init_flags[d], t_end) for d in self.wanted}
        pod_list = sorted(self.pods.values(), key=lambda r: (r["first_seen_t"], r["name"]))
        update_overlaps = _shifted_overlaps(update_windows, t0)
        initial_overlaps = _shifted_overlaps(initial_windows, t0)
        return {
            "pods": [_shifted_pod(r, t0) for r in pod_list],
            "per_detector": {
                d: self._per_detector(d, update_windows[d], initial_windows[d], t0)
                for d in self.wanted
            },
            "all_pods_ready_t": _shift(self.all_ready_t, t0),
            "restarted_pods": [r["name"] for r in pod_list if r["restarts"] > 0],
            "oom_killed_pods": [r["name"] for r in pod_list if r["oom_killed"]],
            "pending_pods": [
                r["name"] for r in pod_list if r["unschedulable"] or r["pending_at_end"]
            ],
            "max_pending_s": max((r["pending_s"] for r in pod_list), default=0.0),
            "update_overlaps": update_overlaps,
            "initial_overlaps": initial_overlaps,
            "other_detectors_with_pods": sorted(
                {r["detector_id"] for r in pod_list if r["detector_id"] not in self.wanted} - {None}
            ),
            "events": n_events,
            "t_end": t_end - t0,
        }

    def _per_detector(
        self, d: str, updates: list[list[float]], initial: list[list[float]], t0: float
    ) -> dict[str, Any]:
        mine = [r for r in self.pods.values() if r["detector_id"] == d]
        ready_ts = [r["first_ready_seen_t"] for r in mine if r["first_ready_seen_t"] is not None]
        changes = self.version_changes[d]
        return {
            "pods": sorted(r["name"] for r in mine),
            "first_ready_t": (min(ready_ts) - t0) if ready_ts else None,
            "restarts": sum(r["restarts"] for r in mine),
            "oom_killed": sum(1 for r in mine if r["oom_killed"]),
            "rollouts": len(updates),
            "version_changes": [{**c, "t": c["t"] - t0} for c in changes if c["from"] is not None],
            "versions_served": [{"t": c["t"] - t0, "version": c["to"]} for c in changes],
            "update_windows": [[s - t0, e - t0] for s, e in updates],
            "initial_windows": [[s - t0, e - t0] for s, e in initial],
            "ready_pods_over_time": [[t - t0, n] for t, n in self.ready_series[d]],
        }


def _shifted_pod(rec: dict[str, Any], t0: float) -> dict[str, Any]:
    return {
        **rec,
        "first_seen_t": rec["first_seen_t"] - t0,
        "first_ready_seen_t": _shift(rec["first_ready_seen_t"], t0),
        "deleted_t": _shift(rec["deleted_t"], t0),
    }


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


def overlaps(windows: dict[str, list[list[float]]]) -> list[dict[str, Any]]:
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


def _shifted_overlaps(windows: dict[str, list[list[float]]], t0: float) -> list[dict[str, Any]]:
    return [
        {**o, "start_t": o["start_t"] - t0, "end_t": o["end_t"] - t0} for o in overlaps(windows)
    ]


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 3)


def _shift(t: float | None, t0: float) -> float | None:
    return None if t is None else t - t0
