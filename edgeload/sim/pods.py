"""The edge box as a pure, synchronous state machine: GPUs, inference pods, the model updater.

Nothing here sleeps or does I/O. `EdgeBox.tick()` advances the state to `clock.now()`,
processing every due event (a pod becoming Ready, a crash restart, a finished download, an
updater poll) at its own simulated time, so a test can jump a `ManualClock` by minutes and still
see exact timestamps. Inference requests take and release worker slots synchronously
(`try_acquire` / `release`); requests that find no free slot wait in a per-detector FIFO
(`enqueue`) and are handed a slot when one frees up. The asyncio layer (`runtime.py`) only
sleeps the service times and runs `tick()` periodically.

Model (all durations simulated seconds):
- per detector two Deployments, `inferencemodel-{primary,oodd}-<det>` (only primary with a
  minimal image), one replica each; a pod needs `vram_bytes` on one GPU and `ram_bytes` of host
  RAM (plus its VRAM too with unified memory);
- scheduling: with `on_memory_exhausted: pending` a pod is scheduled only where it fits (by
  requests), else it stays Pending (Unschedulable); with `oom_kill` it is always scheduled and
  its container is OOMKilled when allocating overflows the GPU (the starting pod dies) or the RAM
  (the largest pod dies), then restarted after a CrashLoopBackOff delay;
- a started container is Ready `startup_s` later (never, when the profile's
  `updater.unloadable_pipeline_configs` names its pipeline config);
- the updater: every `refresh_rate_s` it queues every detector for a check; new detectors are
  queued at once. It handles ONE detector at a time: ask `latest_model`, and when the version or
  pipeline config differs from what is deployed, download (`download_s`), then roll both
  Deployments (RollingUpdate maxSurge 1 / maxUnavailable 0: a new pod is created next to the old
  one, which keeps serving until the new one is Ready, then terminates); after each primary
  switch-over image queries fail for `switchover_error_s`. A rollout not done within
  `rollout_timeout_s` is abandoned (detector status update_failed).
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from edgeload.sim.clock import Clock
from edgeload.sim.profile import Profile, ServiceSpec

LatestModel = Callable[[str], "tuple[int, str] | None"]
# detector id -> its size n (MULTI_CLASS classes, BOUNDING_BOX max boxes), None for the others
DetectorSize = Callable[[str], "int | None"]
Role = Literal["primary", "oodd"]
Waiter = Callable[["Slot | str"], bool]

NAMESPACE = "edge"
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generated-name alphabet
_UTIL_WINDOW_S = 5.0  # utilization figures average over the last ~5 simulated seconds
_EVENT_HISTORY = 5000  # pod watch events kept for watchers that resume from a resourceVersion


def k8s_detector_name(detector_id: str) -> str:
    """det_2UOx... -> det-2uox... (how the real endpoint names a detector's Kubernetes objects)."""
    return detector_id.lower().replace("_", "-")


def service_seconds(
    service: ServiceSpec, n_pixels: int, other_busy_pods: int, rng: random.Random
) -> float:
    """Inference time of one request: grows with megapixels and with other busy pods on the GPU."""
    if service.fixed_ms is not None:
        return service.fixed_ms / 1000.0
    ms = service.base_ms + service.per_megapixel_ms * (max(0, n_pixels) / 1e6)
    ms *= 1.0 + service.gpu_sharing_factor * other_busy_pods
    if service.jitter_pct:
        ms *= 1.0 + rng.uniform(-1.0, 1.0) * service.jitter_pct / 100.0
    return max(0.0, ms) / 1000.0


def capacity_rps(profile: Profile, n_pixels: int) -> float:
    """Requests/s one detector's pod serves when nothing else shares its GPU (no jitter)."""
    s = service_seconds(profile.service, n_pixels, 0, random.Random(0))
    if s <= 0:
        return float("inf")
    return profile.pods.inference_workers / s


@dataclass
class Pod:
    name: str
    uid: str
    detector_id: str
    role: Role
    deployment: str
    template_hash: str
    revision: int
    model_version: int
    pipeline_config: str
    vram_bytes: int
    ram_bytes: int
    workers: int
    created_at: float
    resource_version: int = 0
    scheduled_at: float | None = None
    unschedulable: str | None = None  # why it is Pending, for the PodScheduled condition
    unschedulable_since: float | None = None
    gpu: int | None = None
    phase: str = "Pending"
    started_at: float | None = None  # current container start: memory held from then on
    ready_at: float | None = None
    ready: bool = False
    ready_changed_at: float | None = None
    restart_count: int = 0
    oom_kills: int = 0
    last_terminated: dict[str, Any] | None = None
    restart_at: float | None = None  # CrashLoopBackOff: container restarts then
    terminating_since: float | None = None
    incarnation: int = 0  # bumped when the container dies: in-flight requests then fail
    # simulated time each past incarnation's container died (OOM kill, or removal once the
    # termination grace period is over): a request on it fails only if its service would have
    # ended later than that (see `EdgeBox.release`)
    died_at: dict[int, float] = field(default_factory=dict)
    busy: int = 0
    busy_area: float = 0.0  # integral of busy workers over simulated time
    busy_changed_at: float = 0.0

    @property
    def running(self) -> bool:
        """Container up (memory allocated)."""
        return self.started_at is not None

    @property
    def serving(self) -> bool:
        return self.ready and self.terminating_since is None

    def area(self, t: float) -> float:
        return self.busy_area + self.busy * max(0.0, t - self.busy_changed_at)


@dataclass
class Deployment:
    name: str
    uid: str
    detector_id: str
    role: Role
    mode: str
    created_at: float
    revision: int = 1
    model_version: int = 0
    pipeline_config: str = ""
    resource_version: int = 0


@dataclass
class Rollout:
    detector_id: str
    version: int
    pipeline_config: str
    started_at: float
    phase: str = "downloading"  # downloading -> rolling -> done
    download_done_at: float = 0.0
    from_version: int | None = None
    new_pods: dict[str, Pod] = field(default_factory=dict)  # role -> the surge pod


@dataclass
class Detector:
    detector_id: str
    mode: str
    registered_at: float
    status: str = "initializing"
    model_version: int | None = None  # deployed (Ready) version
    pipeline_config: str = ""
    deploy_time: float | None = None  # wall time the first pods became Ready
    last_updated_time: float | None = None  # wall time of the last finished rollout
    switchover_until: float = -1.0  # image queries fail until then
    queue: deque = field(default_factory=deque)  # waiters for a worker slot
    mode_size: int | None = None  # n of COUNT / MULTI_CLASS / BOUNDING_BOX detectors (memory)
    largest_pixels: int = 0  # the largest image its pods have served (their working memory)


@dataclass
class Slot:
    """A worker slot held by one inference request."""

    pod: Pod
    incarnation: int
    oodd: Pod | None
    oodd_incarnation: int
    service_s: float
    model_version: int
    pipeline_config: str
    acquired_at: float


class EdgeBox:
    """The simulated edge box. See the module docstring for the model."""

    def __init__(
        self,
        profile: Profile,
        clock: Clock,
        latest_model: LatestModel,
        *,
        seed: int | None = 0,
        detector_size: DetectorSize | None = None,
    ) -> None:
        self.profile = profile
        self.clock = clock
        self.latest_model = latest_model
        self.detector_size = detector_size
        self.rng = random.Random(seed)
        self.refresh_rate_s = profile.updater.refresh_rate_s
        self.detectors: dict[str, Detector] = {}
        self.deployments: dict[str, Deployment] = {}
        self.pods: dict[str, Pod] = {}  # live pods by name, creation order
        self.resource_version = 1
        self.events: deque[tuple[int, str, dict]] = deque(maxlen=_EVENT_HISTORY)
        self.rollout: Rollout | None = None
        self.check_queue: deque[str] = deque()  # detectors the updater will check next
        self.next_poll_at = self.refresh_rate_s
        self.last_poll_at = 0.0
        self.rollout_log: deque[dict] = deque(maxlen=500)
        self.counters: dict[str, int] = {
            "restarts": 0,
            "oom_kills": 0,
            "rollouts_started": 0,
            "rollouts_completed": 0,
            "rollouts_failed": 0,
            "switchover_errors": 0,
            "pods_created": 0,
            "requests_ok": 0,
            "requests_failed": 0,
            "requests_no_pod": 0,
            "requests_overloaded": 0,
        }
        self.max_concurrent_rollouts = 0
        self.edge_app_busy = 0  # image queries inside the edge app now (incl. queued ones)
        self.edge_app_requests = 0  # image queries the edge app has finished, ever
        self.t = clock.now()  # the simulated time state changes are stamped with
        self.started_wall = clock.wall()
        # (time, busy-worker area per pod, edge-app requests finished so far)
        self._util_samples: deque[tuple[float, dict[str, float], int]] = deque()
        self._next_util_sample = 0.0
        # the edge-endpoint pod (edge app, nginx, updater) exists from the start
        self.edge_pod_name = f"edge-endpoint-{self._hash('edge-endpoint', 10)}-{self._suffix()}"
        self.edge_pod_uid = self._uid("edge-endpoint")
        self.edge_pod_rv = self._bump()

    # ---------------------------------------------------------------- helpers

    def _hash(self, text: str, n: int) -> str:
        digest = hashlib.sha256(text.encode()).digest()
        return "".join(_SUFFIX_ALPHABET[b % len(_SUFFIX_ALPHABET)] for b in digest[:n])

    def _suffix(self) -> str:
        return "".join(self.rng.choice(_SUFFIX_ALPHABET) for _ in range(5))

    def _uid(self, text: str) -> str:
        h = hashlib.sha256(f"{text}-{self.rng.random()}".encode()).hexdigest()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    def _bump(self) -> int:
        self.resource_version += 1
        return self.resource_version

    def wall_at(self, t: float) -> float:
        """Simulated UNIX time of simulated instant t."""
        return self.clock.wall() - self.clock.now() + t

    def _emit(self, pod: Pod, kind: str) -> None:
        from edgeload.sim.k8s import pod_json  # local: k8s imports this module

        pod.resource_version = self._bump()
        self.events.append((pod.resource_version, kind, pod_json(self, pod)))

    def _set_busy(self, pod: Pod, delta: int, t: float) -> None:
        pod.busy_area = pod.area(t)
        pod.busy_changed_at = t
        pod.busy = max(0, pod.busy + delta)

    def edge_app_enter(self) -> None:
        self.edge_app_busy += 1

    def edge_app_exit(self) -> None:
        """One image query left the edge app. Its CPU use is counted per finished request
        (a request waiting for an inference worker costs the edge app no CPU)."""
        self.edge_app_busy = max(0, self.edge_app_busy - 1)
        self.edge_app_requests += 1

    # ---------------------------------------------------------------- memory

    def gpu_vram_used(self, index: int) -> int:
        """VRAM allocated on a GPU: containers that are up (incl. Terminating ones)."""
        return sum(p.vram_bytes for p in self.pods.values() if p.gpu == index and p.running)

    def gpu_vram_requested(self, index: int) -> int:
        return sum(p.vram_bytes for p in self.pods.values() if p.gpu == index)

    def _pod_ram(self, pod: Pod) -> int:
        return pod.ram_bytes + (pod.vram_bytes if self.profile.box.unified_memory else 0)

    def ram_used(self) -> int:
        box = self.profile.box
        pods = sum(self._pod_ram(p) for p in self.pods.values() if p.running)
        return box.reserved_ram_bytes + box.edge_endpoint_ram_bytes + pods

    def _ram_requested(self) -> int:
        box = self.profile.box
        pods = sum(self._pod_ram(p) for p in self.pods.values() if p.scheduled_at is not None)
        return box.reserved_ram_bytes + box.edge_endpoint_ram_bytes + pods

    def _choose_gpu(self, pod: Pod, by_request: bool) -> int | None:
        gpus = self.profile.box.gpus
        used = self.gpu_vram_requested if by_request else self.gpu_vram_used
        free = [(g.vram_bytes - used(i), i) for i, g in enumerate(gpus)]
        fitting = [(f, i) for f, i in free if f >= pod.vram_bytes]
        if self.profile.pods.placement == "pack":
            if fitting:
                return fitting[0][1]
        elif fitting:
            return max(fitting, key=lambda fi: (fi[0], -fi[1]))[1]
        if by_request:
            return None
        return max(free, key=lambda fi: (fi[0], -fi[1]))[1]  # oom_kill: place anyway

    # ---------------------------------------------------------------- pod lifecycle

    def _footprint(self, det: Detector, role: Role, pipeline_config: str) -> Any:
        return self.profile.pods.pod_footprint(
            det.mode,
            role,
            n=det.mode_size,
            pipeline_config=pipeline_config,
            megapixels=det.largest_pixels / 1e6,
        )

    def _grow_working_memory(self, det: Detector, n_pixels: int, t: float) -> None:
        """A larger image than any before: the detector's pods keep more working memory (as
        a caching GPU allocator keeps its peak); with oom_kill, a GPU it overflows kills it."""
        if n_pixels <= det.largest_pixels:
            return
        det.largest_pixels = n_pixels
        per_mp = self.profile.pods.per_megapixel
        if not (per_mp.vram_bytes or per_mp.ram_bytes):
            return
        for pod in [p for p in self.pods.values() if p.detector_id == det.detector_id]:
            fp = self._footprint(det, pod.role, pod.pipeline_config)
            pod.vram_bytes, pod.ram_bytes = fp.vram_bytes, fp.ram_bytes
            if pod.running and self.profile.pods.on_memory_exhausted == "oom_kill":
                self._enforce_memory(pod, t)

    def _create_pod(self, det: Detector, role: Role, dep: Deployment, t: float) -> Pod:
        fp = self._footprint(det, role, dep.pipeline_config)
        template_hash = self._hash(f"{dep.name}-{dep.revision}-{dep.pipeline_config}", 10)
        pod = Pod(
            name=f"{dep.name}-{template_hash}-{self._suffix()}",
            uid=self._uid(dep.name),
            detector_id=det.detector_id,
            role=role,
            deployment=dep.name,
            template_hash=template_hash,
            revision=dep.revision,
            model_version=dep.model_version,
            pipeline_config=dep.pipeline_config,
            vram_bytes=fp.vram_bytes,
            ram_bytes=fp.ram_bytes,
            workers=self.profile.pods.inference_workers,
            created_at=t,
            busy_changed_at=t,
        )
        self.pods[pod.name] = pod
        self.counters["pods_created"] += 1
        self._emit(pod, "ADDED")
        return pod

    def _try_schedule(self, pod: Pod, t: float) -> None:
        pending_policy = self.profile.pods.on_memory_exhausted == "pending"
        gpu = self._choose_gpu(pod, by_request=pending_policy)
        reason = None
        if pending_policy:
            if gpu is None:
                reason = "Insufficient nvidia.com/gpu memory"
            elif self._ram_requested() + self._pod_ram(pod) > self.profile.box.ram_bytes:
                reason = "Insufficient memory"
        if reason is not None:
            if pod.unschedulable != reason:
                pod.unschedulable = reason
                pod.unschedulable_since = t
                self._emit(pod, "MODIFIED")
            return
        pod.unschedulable = None
        pod.gpu = gpu
        pod.scheduled_at = t
        pod.phase = "Running"
        self._start_container(pod, t)

    def _start_container(self, pod: Pod, t: float) -> None:
        pod.started_at = t
        pod.restart_at = None
        pod.ready = False
        self._emit(pod, "MODIFIED")
        if self.profile.pods.on_memory_exhausted == "oom_kill":
            self._enforce_memory(pod, t)

    def _enforce_memory(self, starting: Pod, t: float) -> None:
        """OOM-kill until allocations fit: CUDA OOM kills the starting pod; the kernel, the
        largest one."""
        gpus = self.profile.box.gpus
        if (
            starting.gpu is not None
            and self.gpu_vram_used(starting.gpu) > gpus[starting.gpu].vram_bytes
        ):
            self._oom_kill(starting, t)
            return
        while self.ram_used() > self.profile.box.ram_bytes:
            running = [p for p in self.pods.values() if p.running]
            if not running:
                return
            victim = max(running, key=lambda p: (self._pod_ram(p), p.created_at))
            self._oom_kill(victim, t)

    def _oom_kill(self, pod: Pod, t: float) -> None:
        pod.last_terminated = {
            "reason": "OOMKilled",
            "exit_code": 137,
            "started_at": pod.started_at,
            "finished_at": t,
        }
        was_ready = pod.ready
        pod.started_at = None
        pod.ready = False
        if was_ready:
            pod.ready_changed_at = t
        pod.restart_count += 1
        pod.oom_kills += 1
        pod.died_at[pod.incarnation] = t
        pod.incarnation += 1
        self._set_busy(pod, -pod.busy, t)
        backoff = self.profile.pods.crash_backoff_s * (2 ** (pod.oom_kills - 1))
        pod.restart_at = t + min(self.profile.pods.crash_backoff_max_s, backoff)
        self.counters["oom_kills"] += 1
        self.counters["restarts"] += 1
        self._emit(pod, "MODIFIED")
        det = self.detectors.get(pod.detector_id)
        if det is not None and not self.readiness(det.detector_id):
            self._fail_queue(det)

    def _remove_pod(self, pod: Pod, t: float) -> None:
        del self.pods[pod.name]
        pod.died_at[pod.incarnation] = t
        pod.incarnation += 1
        pod.started_at = None
        pod.ready = False
        self._emit(pod, "DELETED")

    def _terminate(self, pod: Pod, t: float) -> None:
        if pod.terminating_since is not None:
            return
        pod.terminating_since = t
        if pod.ready:
            pod.ready = False
            pod.ready_changed_at = t
        if pod.scheduled_at is None:  # never scheduled: goes at once
            self._remove_pod(pod, t)
        else:
            self._emit(pod, "MODIFIED")

    # ---------------------------------------------------------------- the event loop

    def _next_due(self) -> float | None:
        startup = self.profile.pods.startup_s
        grace = self.profile.pods.termination_grace_s
        due: list[float] = [self.next_poll_at]
        for p in self.pods.values():
            if p.terminating_since is not None:
                due.append(p.terminating_since + grace)
            elif p.restart_at is not None:
                due.append(p.restart_at)
            elif p.running and not p.ready and self._loadable(p):
                due.append(p.started_at + startup)  # type: ignore[operator]
        r = self.rollout
        if r is not None:
            due.append(r.started_at + self.profile.updater.rollout_timeout_s)
            if r.phase == "downloading":
                due.append(r.download_done_at)
        return min(due)

    def _loadable(self, pod: Pod) -> bool:
        """Whether the inference server can load the pod's pipeline config (a profile's
        `updater.unloadable_pipeline_configs` never becomes Ready)."""
        unloadable = self.profile.updater.unloadable_pipeline_configs
        return not unloadable or pod.pipeline_config not in unloadable

    def tick(self) -> None:
        """Advance the state to clock.now(), handling every due event at its own time."""
        now = self.clock.now()
        for _ in range(100_000):  # bound: each step consumes at least one due event
            due = self._next_due()
            if due is None or due > now:
                break
            self._step(max(due, self.t))
        self._step(max(now, self.t))
        self._sample_utilization(now)

    def _step(self, t: float) -> None:
        self.t = t
        startup = self.profile.pods.startup_s
        grace = self.profile.pods.termination_grace_s
        for pod in list(self.pods.values()):
            if pod.terminating_since is not None:
                if t >= pod.terminating_since + grace:
                    self._remove_pod(pod, t)
            elif pod.restart_at is not None and t >= pod.restart_at:
                self._start_container(pod, t)
            elif (
                pod.running
                and not pod.ready
                and t >= pod.started_at + startup  # type: ignore[operator]
                and self._loadable(pod)
            ):
                pod.ready = True
                pod.ready_at = t
                pod.ready_changed_at = t
                self._emit(pod, "MODIFIED")
                self.dispatch(pod.detector_id)
        for pod in list(self.pods.values()):
            if pod.scheduled_at is None and pod.terminating_since is None:
                self._try_schedule(pod, t)
        self._run_updater(t)

    # ---------------------------------------------------------------- the model updater

    def register_detector(self, detector_id: str, mode: str = "BINARY") -> Detector:
        """Make the box know a detector (the first image query does this); idempotent."""
        det = self.detectors.get(detector_id)
        if det is None:
            det = Detector(detector_id, (mode or "BINARY").upper(), registered_at=self.clock.now())
            # the updater learns the detector's size with its model (its mode configuration)
            det.mode_size = self.detector_size(detector_id) if self.detector_size else None
            self.detectors[detector_id] = det
            self.check_queue.append(detector_id)
        return det

    def set_refresh_rate(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"refresh rate must be > 0, got {seconds!r}")
        self.refresh_rate_s = float(seconds)
        self.next_poll_at = self.last_poll_at + self.refresh_rate_s

    def _roles(self) -> tuple[Role, ...]:
        return ("primary",) if self.profile.pods.minimal_image else ("primary", "oodd")

    def _run_updater(self, t: float) -> None:
        if t >= self.next_poll_at:
            self.last_poll_at = max(self.next_poll_at, t - self.refresh_rate_s)
            self.next_poll_at = self.last_poll_at + self.refresh_rate_s
            if self.next_poll_at <= t:
                self.next_poll_at = t + self.refresh_rate_s
            for det_id in self.detectors:
                if det_id not in self.check_queue:
                    self.check_queue.append(det_id)
        self._reconcile(t)
        if self.rollout is not None:
            self._advance_rollout(self.rollout, t)
        while self.rollout is None and self.check_queue:
            det = self.detectors[self.check_queue.popleft()]
            latest = self.latest_model(det.detector_id)
            if latest is None:
                continue  # the cloud has no model for it yet: checked again at the next poll
            version, config = latest
            deps = [self.deployments.get(self._dep_name(det, r)) for r in self._roles()]
            if all(d is not None for d in deps) and all(
                d.model_version == version and d.pipeline_config == config
                for d in deps  # type: ignore[union-attr]
            ):
                continue
            self.rollout = Rollout(
                det.detector_id,
                version,
                config,
                started_at=t,
                download_done_at=t + self.profile.updater.download_s,
                from_version=det.model_version,
            )
            self.counters["rollouts_started"] += 1
            if det.status in ("ready", "update_failed"):
                det.status = "updating"
            self.max_concurrent_rollouts = max(self.max_concurrent_rollouts, 1)
            self._advance_rollout(self.rollout, t)

    def _dep_name(self, det: Detector, role: Role) -> str:
        return f"inferencemodel-{role}-{k8s_detector_name(det.detector_id)}"

    def _advance_rollout(self, r: Rollout, t: float) -> None:
        det = self.detectors[r.detector_id]
        if r.phase == "downloading":
            if t < r.download_done_at:
                return
            r.phase = "rolling"
            for role in self._roles():
                name = self._dep_name(det, role)
                dep = self.deployments.get(name)
                if dep is None:
                    dep = Deployment(name, self._uid(name), det.detector_id, role, det.mode, t)
                    self.deployments[name] = dep
                else:
                    dep.revision += 1
                dep.model_version = r.version
                dep.pipeline_config = r.pipeline_config
                dep.resource_version = self._bump()
                r.new_pods[role] = self._create_pod(det, role, dep, t)
                self._try_schedule(r.new_pods[role], t)
        if r.phase == "rolling":
            if det.model_version == r.version and det.pipeline_config == r.pipeline_config:
                self._finish_rollout(r, t, ok=True)
                return
        if t >= r.started_at + self.profile.updater.rollout_timeout_s:
            self._finish_rollout(r, t, ok=False)

    def _reconcile(self, t: float) -> None:
        """The Deployment controller: once a Deployment's current pod is Ready, older pods
        terminate (maxUnavailable 0); once all of a detector's Deployments are, it runs that
        model version."""
        done_by_detector: dict[str, bool] = {}
        for dep in self.deployments.values():
            pods = [p for p in self.pods.values() if p.deployment == dep.name]
            current_ready = any(p.revision == dep.revision and p.serving for p in pods)
            olds = [p for p in pods if p.revision != dep.revision and p.terminating_since is None]
            if current_ready and olds:
                for old in olds:
                    self._terminate(old, t)
                det = self.detectors[dep.detector_id]
                if dep.role == "primary" and self.profile.updater.switchover_error_s > 0:
                    det.switchover_until = t + self.profile.updater.switchover_error_s
            ok = current_ready and not olds
            done_by_detector[dep.detector_id] = done_by_detector.get(dep.detector_id, True) and ok
        for det_id, done in done_by_detector.items():
            det = self.detectors[det_id]
            deps = [self.deployments.get(self._dep_name(det, r)) for r in self._roles()]
            if not done or any(d is None for d in deps):
                continue
            version, config = deps[0].model_version, deps[0].pipeline_config  # type: ignore[union-attr]
            if det.model_version == version and det.pipeline_config == config:
                continue
            first = det.model_version is None
            det.model_version = version
            det.pipeline_config = config
            det.status = "ready"
            if first:
                det.deploy_time = self.wall_at(t)
            det.last_updated_time = self.wall_at(t)

    def _finish_rollout(self, r: Rollout, t: float, ok: bool) -> None:
        det = self.detectors[r.detector_id]
        if ok:
            self.counters["rollouts_completed"] += 1
        else:  # like Kubernetes past its progress deadline: the new pods stay and keep trying
            det.status = "update_failed" if det.model_version is not None else "error"
            self.counters["rollouts_failed"] += 1
        self.rollout_log.append(
            {
                "detector_id": r.detector_id,
                "from_version": r.from_version,
                "to_version": r.version,
                "started_s": round(r.started_at, 3),
                "finished_s": round(t, 3),
                "outcome": "completed" if ok else "failed",
            }
        )
        self.rollout = None
        self.dispatch(r.detector_id)

    # ---------------------------------------------------------------- inference

    def readiness(self, detector_id: str) -> bool:
        """A detector can answer from the edge: a serving primary (and OODD unless minimal)."""
        serving = {p.role for p in self.pods.values() if p.detector_id == detector_id and p.serving}
        return all(role in serving for role in self._roles())

    def in_switchover(self, detector_id: str) -> bool:
        det = self.detectors.get(detector_id)
        return det is not None and self.clock.now() < det.switchover_until

    def _gpu_busy_others(self, pod: Pod) -> int:
        return sum(
            1
            for p in self.pods.values()
            if p.gpu == pod.gpu and p.busy > 0 and p.detector_id != pod.detector_id
        )

    def try_acquire(self, detector_id: str, n_pixels: int) -> Slot | str:
        """A worker slot on a serving pod, or "no_pod", "failed" (switch-over) or "busy"."""
        if not self.readiness(detector_id):
            return "no_pod"
        if self.in_switchover(detector_id):
            self.counters["switchover_errors"] += 1
            return "failed"
        det = self.detectors[detector_id]
        if det.queue:  # FIFO: earlier waiters first
            return "busy"
        return self._acquire(detector_id, n_pixels) or "busy"

    def _acquire(self, detector_id: str, n_pixels: int) -> Slot | None:
        t = self.clock.now()
        primaries = [
            p
            for p in self.pods.values()
            if p.detector_id == detector_id
            and p.role == "primary"
            and p.serving
            and p.busy < p.workers
        ]
        if not primaries:
            return None
        pod = max(primaries, key=lambda p: (p.revision, -p.busy))
        oodds = [
            p
            for p in self.pods.values()
            if p.detector_id == detector_id and p.role == "oodd" and p.serving
        ]
        oodd = max(oodds, key=lambda p: (p.revision, -p.busy)) if oodds else None
        service_s = service_seconds(
            self.profile.service, n_pixels, self._gpu_busy_others(pod), self.rng
        )
        self._grow_working_memory(self.detectors[detector_id], n_pixels, t)
        self._set_busy(pod, +1, t)
        if oodd is not None:
            self._set_busy(oodd, +1, t)
        return Slot(
            pod=pod,
            incarnation=pod.incarnation,
            oodd=oodd,
            oodd_incarnation=oodd.incarnation if oodd else 0,
            service_s=service_s,
            model_version=pod.model_version,
            pipeline_config=pod.pipeline_config,
            acquired_at=t,
        )

    def release(self, slot: Slot) -> bool:
        """Give a slot back; False when the pod died before the request's service time was
        over (the request failed).

        Judged in simulated time: a request whose service ended before its pod died succeeded,
        even if it is released later. The asyncio layer releases a slot when its sleep wakes up,
        which on a busy machine can be many simulated seconds late at a high time scale; a
        replaced pod that is removed meanwhile (its termination grace period over) must not
        fail a request that in simulated time finished well within that grace period, as a
        real pod's graceful shutdown lets in-flight requests finish."""
        t = self.clock.now()
        pod = slot.pod
        same_container = pod.incarnation == slot.incarnation
        if same_container:
            self._set_busy(pod, -1, t)
        if slot.oodd is not None and slot.oodd.incarnation == slot.oodd_incarnation:
            self._set_busy(slot.oodd, -1, t)
        self.dispatch(pod.detector_id)
        if same_container:
            return True
        died_at = pod.died_at.get(slot.incarnation)
        return died_at is not None and slot.acquired_at + slot.service_s <= died_at

    def enqueue(self, detector_id: str, n_pixels: int, waiter: Waiter) -> bool:
        """Wait for a slot: `waiter(slot)` is called later (or `waiter("failed")` when the pods
        die). Returns False (not queued) when a profile's queue limit is reached (overloaded;
        the real edge app has no limit)."""
        det = self.detectors[detector_id]
        limit = self.profile.service.queue_limit
        if limit is not None and len(det.queue) >= limit:
            return False
        det.queue.append((n_pixels, waiter))
        self.dispatch(detector_id)
        return True

    def cancel_wait(self, detector_id: str, waiter: Waiter) -> None:
        """Take a waiter that gave up out of the queue."""
        det = self.detectors.get(detector_id)
        if det is not None:
            for entry in list(det.queue):
                if entry[1] is waiter:
                    det.queue.remove(entry)

    def dispatch(self, detector_id: str) -> None:
        """Hand free slots to waiting requests, in arrival order."""
        det = self.detectors.get(detector_id)
        if det is None or not det.queue:
            return
        if not self.readiness(detector_id):
            return
        while det.queue:
            n_pixels, waiter = det.queue[0]
            slot = self._acquire(detector_id, n_pixels)
            if slot is None:
                return
            det.queue.popleft()
            if not waiter(slot):  # the waiter went away (cancelled): give the slot back
                alive = slot.pod.incarnation == slot.incarnation
                if alive:
                    self._set_busy(slot.pod, -1, self.clock.now())
                if slot.oodd is not None and slot.oodd.incarnation == slot.oodd_incarnation:
                    self._set_busy(slot.oodd, -1, self.clock.now())

    def _fail_queue(self, det: Detector) -> None:
        while det.queue:
            _, waiter = det.queue.popleft()
            waiter("failed")

    def count(self, outcome: str) -> None:
        key = f"requests_{outcome}"
        if key in self.counters:
            self.counters[key] += 1

    # ---------------------------------------------------------------- utilization

    def _sample_utilization(self, now: float) -> None:
        if now < self._next_util_sample:
            return
        self._next_util_sample = now + 1.0
        areas = {name: p.area(now) for name, p in self.pods.items()}
        self._util_samples.append((now, areas, self.edge_app_requests))
        while len(self._util_samples) > 2 and now - self._util_samples[1][0] >= _UTIL_WINDOW_S:
            self._util_samples.popleft()

    def busy_workers_avg(self) -> dict[str, float]:
        """Average busy workers per pod over the last few seconds."""
        now = self.clock.now()
        areas_now = {name: p.area(now) for name, p in self.pods.items()}
        if not self._util_samples or now - self._util_samples[0][0] <= 0:
            return {n: float(p.busy) for n, p in self.pods.items()}
        t0, areas0, _ = self._util_samples[0]
        dt = now - t0
        return {n: max(0.0, a - areas0.get(n, 0.0)) / dt for n, a in areas_now.items()}

    def edge_app_request_rate(self) -> float:
        """Image queries per simulated second that the edge app finished, over the last few
        seconds (0 before the first utilization sample)."""
        now = self.clock.now()
        if not self._util_samples or now - self._util_samples[0][0] <= 0:
            return 0.0
        t0, _, finished0 = self._util_samples[0]
        return max(0, self.edge_app_requests - finished0) / (now - t0)
