"""Rollouts as the run sees them while it goes: how many finished, and whether one is under way.

The stop rule needs this live; the analysis recounts everything from the log. Two sources, each
optional: the detector's Deployments (revisions, as the upstream script counts rollouts, and
their rollout status), sampled here into the log as `deployments` samples whenever they change;
and the pod watcher's events (a rollout window: a new pod beside the old one until the old one
is gone, `podtimeline`). Without either, rollouts cannot be observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeload.scenarios.pods.clock import EndpointClock
from edgeload.scenarios.pods.observers import Observers
from edgeload.scenarios.pods.podtimeline import analyze_pods
from edgeload.scenarios.pods.recorder import RunRecorder
from edgeload.scenarios.rollouts_under_load import revisions


@dataclass(frozen=True)
class RolloutState:
    finished: int  # rollouts finished since the load started
    busy: bool  # one is under way now
    last_finished_t: float | None  # endpoint s when the last one was seen to finish


class RolloutTracker:
    """Polled by the run's thread (not thread-safe)."""

    def __init__(
        self, observers: Observers, detector_id: str, log: RunRecorder, clock: EndpointClock
    ) -> None:
        self.watcher = observers.watcher
        self.api = revisions.apps_api(self.watcher.access) if self.watcher is not None else None
        self.detector_id = detector_id
        self.log = log
        self.clock = clock
        self.before: int | None = None
        self.last: dict[str, Any] | None = None
        self.was_busy = False
        self.last_finished_t: float | None = None
        self.since = clock.now()  # pod windows that start before this are not counted

    @property
    def observable(self) -> bool:
        return self.watcher is not None or self.api is not None

    def poll(self, phase: str = "during") -> RolloutState:
        now = self.clock.now()
        deps = self._deployments(phase, now)
        windows = self._pod_windows(now)
        open_window = bool(windows) and windows[-1][1] == now
        busy = open_window or (deps is not None and revisions.rolling(deps))
        rev = revisions.max_revision(deps) if deps is not None else None
        if rev is not None and self.before is None:
            self.before = rev
        if rev is not None and self.before is not None:
            finished = max(rev - self.before - (1 if busy else 0), 0)
        else:
            finished = len(windows) - (1 if open_window else 0)
        if self.was_busy and not busy:
            self.last_finished_t = now
        self.was_busy = busy
        return RolloutState(finished, busy, self.last_finished_t)

    def _deployments(self, phase: str, now: float) -> dict[str, Any] | None:
        if self.api is None:
            return None
        try:
            deps = revisions.read_deployments(self.api, self.detector_id)
        except Exception as exc:  # noqa: BLE001 - e.g. no RBAC for Deployments: pods remain
            self.api = None
            self.log.sample("note", message=f"Deployments could not be read ({exc!s:.120}); "
                            "rollouts are counted from pod updates")  # fmt: skip
            return None
        if deps != self.last or phase != "during":
            self.log.sample(revisions.KIND, now, phase=phase, deployments=deps)
            self.last = deps
        return deps

    def _pod_windows(self, now: float) -> list[list[float]]:
        if self.watcher is None:
            return []
        pods = analyze_pods(self.watcher.snapshot_events(), [self.detector_id], now)
        windows = pods["per_detector"][self.detector_id]["update_windows"]
        return [w for w in windows if w[0] >= self.since]
