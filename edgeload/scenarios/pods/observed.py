"""What a pod scenario run observed, read back from its log (pure: `LogData` in, data out).

The log holds wall-clock times; the pod scenarios report endpoint seconds (simulated seconds
under a time scale) from the endpoint's first answer. The header's `metadata.endpoint_clock`
gives the scale, the `timing` sample `endpoint_up` the origin (the start of the wait for the
endpoint when it never answered). The sample kinds are listed in `recorder`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeload.reporting.logreader import LogData
from edgeload.reporting.results import run_status
from edgeload.scenarios.pods.detector_loop import CLOUD, EDGE, ERROR, Answer
from edgeload.scenarios.pods.podtimeline import PodEvent, PodSnapshot


@dataclass
class Observed:
    """Everything the analysis of a pod scenario run needs; times in endpoint seconds from
    the endpoint's first answer."""

    scenario: str
    inputs: dict[str, Any]
    status: str
    reason: str
    time_scale: float
    timings: dict[str, float] = field(default_factory=dict)  # connect_start, first_query, goal
    up: bool = False  # the endpoint answered
    connect_failures: int = 0
    t_end: float = 0.0
    detectors: list[dict[str, Any]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    pod_source: dict[str, Any] | None = None
    pod_events: list[PodEvent] = field(default_factory=list)
    memory_samples: list[dict] = field(default_factory=list)
    version_samples: list[dict] = field(default_factory=list)
    endpoint_config: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=lambda: {"sent": 0, "failed": 0, "skipped": 0})
    notes: list[str] = field(default_factory=list)

    @property
    def detector_ids(self) -> list[str]:
        return [d["id"] for d in self.detectors]

    @property
    def time_unit(self) -> str:
        return "simulated seconds" if self.time_scale != 1.0 else "seconds"


def observe(log: LogData) -> Observed:
    """The observations of a pod scenario log."""
    header = log.header
    clock = (header.get("metadata") or {}).get("endpoint_clock") or {}
    scale = float(clock.get("time_scale") or 1.0)
    status, reason, _ = run_status(log)
    obs = Observed(
        scenario=str(header.get("scenario")),
        inputs=dict(header.get("inputs") or {}),
        status=status,
        reason=reason,
        time_scale=scale,
    )
    wall = {s.get("name"): s for s in log.samples_of("timing")}
    up = wall.get("endpoint_up")
    rel = endpoint_seconds(log)
    obs.up = up is not None
    obs.connect_failures = int((up or {}).get("failed_attempts") or 0)
    obs.timings = {name: rel(s["t"]) for name, s in wall.items() if name != "endpoint_up"}
    end_t = log.end["t"] if log.end is not None else log.last_t
    obs.t_end = rel(end_t) if math.isfinite(end_t) else 0.0  # 0: the origin itself
    _read_samples(obs, log, rel)
    obs.answers = _answers(log.requests or {}, rel)
    return obs


def endpoint_seconds(log: LogData) -> Callable[[float], float]:
    """The log's wall-clock time -> endpoint seconds from the endpoint's first answer (the
    start of the wait for it when it never answered), at the header's time scale."""
    clock = (log.header.get("metadata") or {}).get("endpoint_clock") or {}
    scale = float(clock.get("time_scale") or 1.0)
    wall = {s.get("name"): s for s in log.samples_of("timing")}
    origin_record = wall.get("endpoint_up") or wall.get("connect_start")
    origin = origin_record["t"] if origin_record else _first_time(log)
    return lambda t: (t - origin) * scale


def _first_time(log: LogData) -> float:
    return log.first_t if math.isfinite(log.first_t) else 0.0


def _read_samples(obs: Observed, log: LogData, rel: Any) -> None:
    for s in log.samples_of("detectors"):
        obs.detectors = list(s.get("detectors") or [])
    for s in log.samples_of("pod_source"):
        obs.pod_source = {k: s.get(k) for k in ("source", "available", "skipped_reason")}
    obs.pod_events = [
        PodEvent(rel(s["t"]), str(s.get("event")), PodSnapshot(**s["pod"]))
        for s in log.samples_of("pod")
    ]
    obs.memory_samples = [_without_type({**s, "t": rel(s["t"])}) for s in log.samples_of("memory")]
    obs.version_samples = [
        {"t": rel(s["t"]), "detectors": s.get("detectors") or {}}
        for s in log.samples_of("model_versions")
    ]
    for s in log.samples_of("endpoint_config"):
        obs.endpoint_config = _without_type(dict(s))
    for s in log.samples_of("labels"):
        obs.labels = {k: int(s.get(k) or 0) for k in ("sent", "failed", "skipped")}
    obs.notes = [str(s.get("message")) for s in log.samples_of("note")]


def _without_type(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("type", "kind")}


def _answers(columns: dict[str, list], rel: Any) -> list[Answer]:
    """The image queries and what came back, from the kept request columns."""
    out = []
    names = ("t", "latency_ms", "ok", "status", "error", "detector", "step")
    rows = zip(*(columns.get(n) or [] for n in names), strict=False)
    for t, latency_ms, ok, status, error, detector, step in rows:
        if ok:
            kind, category = EDGE, None
        elif error == "not_from_edge":
            kind, category = CLOUD, None
        else:
            kind, category = ERROR, error
        out.append(
            Answer(
                t=rel(t),
                iteration=int(step or 0),
                detector_id=str(detector),
                kind=kind,
                category=category,
                status=int(status or 0),
                latency_ms=float(latency_ms),
            )
        )
    return out
