"""Status views of the simulated box: /status/resources.json, metrics.json parts, admin state.

All pure functions of an `EdgeBox`; figures come from the simulated state (memory of running
containers, busy inference workers and the edge app's request rate over the last seconds).

CPU: inference pods use POD_CPU_CORES_PER_BUSY_WORKER per busy worker (averaged); the edge app
uses EDGE_APP_CPU_S_PER_REQUEST per image query it finishes, i.e. request rate x CPU time, so
its figure rises with throughput but not with the number of requests queued for a worker.

GPU compute utilization is a capacity measure, consistent with the service model: a detector
whose inference workers are all busy (its capacity knee, e.g. 2 workers / 27.2 ms ~ 73
requests/s on gpu-1x) uses all of its GPU's compute, so 100 %. Each request's service time
covers both of the detector's models, so its GPU time is counted once and split between the
primary and OODD pods (OODD_COMPUTE_SHARE), each on the GPU it was scheduled on; a pod's
figure is its share x (average busy workers / workers). Detectors sharing a GPU take turns on
it (the sharing factor already stretches their service times), so a device's figure combines
its detectors' busy fractions as independent: 1 - prod(1 - busy), reaching 100 % only when
every detector there is saturated. (NVML's own `utilization.gpu` counts any running kernel as
busy; this is the occupancy a load test wants to compare with throughput.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeload.sim.k8s import (
    EDGE_CONTAINERS,
    EDGE_IMAGE,
    INFERENCE_CONTAINER,
    INFERENCE_IMAGE,
    deployment_json,
    edge_pod_json,
    image_digest,
    pod_json,
)
from edgeload.sim.pods import EdgeBox, Pod

# CPU cores a busy inference worker keeps busy (pre/post-processing around its GPU time).
POD_CPU_CORES_PER_BUSY_WORKER = 0.35
# CPU seconds the edge app spends per image query (HTTP parsing, image decode, forwarding to the
# inference server). Its CPU therefore follows the request rate: a request waiting for an
# inference worker is an idle coroutine, not a busy core, so a queue past the capacity knee does
# not raise it. A few ms, like a 640x480 JPEG decode.
EDGE_APP_CPU_S_PER_REQUEST = 0.004
# idle system load. Rough figures: they only need to move with load.
IDLE_OTHER_CPU_PCT = 2.0
MEMORY_BANDWIDTH_PER_COMPUTE = 0.6  # memory-bandwidth % per compute %
OODD_COMPUTE_SHARE = 0.3  # of a request's GPU time, the OODD model's part (the rest: primary)


def compute_share(role: str, minimal_image: bool) -> float:
    """The part of a request's GPU time spent by a pod of this role."""
    if minimal_image:  # only a primary pod: it does all of the work
        return 1.0 if role == "primary" else 0.0
    return OODD_COMPUTE_SHARE if role == "oodd" else 1.0 - OODD_COMPUTE_SHARE


def _r(x: float) -> float:
    return round(x, 1)


def resources_json(box: EdgeBox) -> dict[str, Any]:
    """The real `/status/resources.json` shape (in-cluster variant)."""
    spec = box.profile.box
    usage = _pod_usage(box)
    cpu = _system_cpu(box, usage)
    ram = _system_ram(spec, usage)
    devices = _devices(box, usage.busy_on_gpu)
    n = max(1, len(devices))
    return {
        "system": {
            "cpu_utilization_pct": cpu,
            "ram_bytes": ram,
            "gpu": _system_gpu(spec, usage, devices),
        },
        "detectors": [
            _detector_json(det_id, figures, n) for det_id, figures in usage.per_detector.items()
        ],
    }


@dataclass
class _PodUsage:
    """The pods' figures summed per detector and role, per (GPU, detector), and per state
    (serving vs loading its model)."""

    # detector id -> "cpu" | "ram" | "vram" | "compute" -> role -> figure
    per_detector: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    # (GPU, detector) -> the detector's busy fraction of that GPU (0..1)
    busy_on_gpu: dict[tuple[int, str], float] = field(default_factory=dict)
    cpu_det: float = 0.0
    cpu_loading: float = 0.0
    ram_det: int = 0
    ram_loading: int = 0
    vram_det: int = 0
    vram_loading: int = 0

    def add(self, pod: Pod, cpu_pct: float, ram: int, vram: int, compute_pct: float) -> None:
        if pod.gpu is not None:
            key = (pod.gpu, pod.detector_id)
            self.busy_on_gpu[key] = min(1.0, self.busy_on_gpu.get(key, 0.0) + compute_pct / 100.0)
        if pod.running and not pod.ready:  # loading its model
            self.cpu_loading += cpu_pct
            self.ram_loading += ram
            self.vram_loading += vram
        else:
            self.cpu_det += cpu_pct
            self.ram_det += ram
            self.vram_det += vram
        d = self.per_detector.setdefault(
            pod.detector_id, {"cpu": {}, "ram": {}, "vram": {}, "compute": {}}
        )
        for key, value in (
            ("cpu", cpu_pct),
            ("ram", ram),
            ("vram", vram),
            ("compute", compute_pct),
        ):
            d[key][pod.role] = d[key].get(pod.role, 0) + value


def _pod_usage(box: EdgeBox) -> _PodUsage:
    """Each pod's CPU, memory and GPU compute, from its average busy workers."""
    profile = box.profile
    cores = profile.box.cpu_cores
    unified = profile.box.unified_memory
    minimal = profile.pods.minimal_image
    avg_busy = box.busy_workers_avg()
    usage = _PodUsage()
    for pod in box.pods.values():
        busy = avg_busy.get(pod.name, 0.0)
        cpu_pct = 100.0 * busy * POD_CPU_CORES_PER_BUSY_WORKER / cores
        # an OODD pod serves the requests of every primary worker: at most all of its share
        busy_fraction = min(1.0, busy / max(1, pod.workers))
        compute_pct = 100.0 * compute_share(pod.role, minimal) * busy_fraction
        ram = (pod.ram_bytes + (pod.vram_bytes if unified else 0)) if pod.running else 0
        vram = pod.vram_bytes if pod.running else 0
        usage.add(pod, cpu_pct, ram, vram, compute_pct)
    return usage


def _system_cpu(box: EdgeBox, usage: _PodUsage) -> dict[str, float]:
    edge_cpu = (
        100.0 * box.edge_app_request_rate() * EDGE_APP_CPU_S_PER_REQUEST / box.profile.box.cpu_cores
    )
    total = min(100.0, usage.cpu_det + usage.cpu_loading + edge_cpu + IDLE_OTHER_CPU_PCT)
    return {
        "total": _r(total),
        "detectors": _r(usage.cpu_det),
        "loading_detectors": _r(usage.cpu_loading),
        "edge_endpoint": _r(edge_cpu),
        "other": _r(IDLE_OTHER_CPU_PCT),
    }


def _system_ram(spec: Any, usage: _PodUsage) -> dict[str, Any]:
    ram_edge = spec.edge_endpoint_ram_bytes
    ram_other = spec.reserved_ram_bytes
    ram_used = ram_other + ram_edge + usage.ram_det + usage.ram_loading
    return {
        "total": spec.ram_bytes,
        "used": int(ram_used),
        "detectors": int(usage.ram_det),
        "loading_detectors": int(usage.ram_loading),
        "edge_endpoint": int(ram_edge),
        "other": int(ram_other),
        "eviction_threshold_pct": spec.eviction_threshold_pct,
    }


def _devices(box: EdgeBox, busy_on_gpu: dict[tuple[int, str], float]) -> list[dict[str, Any]]:
    """Per GPU: its memory and its compute, the detectors on it combined as independent."""
    spec = box.profile.box
    idle = [1.0] * len(spec.gpus)  # per GPU: the chance that no detector is busy on it
    for (gpu_index, _), fraction in busy_on_gpu.items():
        idle[gpu_index] *= 1.0 - fraction
    devices = []
    for i, gpu in enumerate(spec.gpus):
        used = box.gpu_vram_used(i)
        compute = 100.0 * (1.0 - idle[i])
        devices.append(
            {
                "index": i,
                "uuid": "GPU-" + _uuid(f"{spec.node_name}-{i}"),
                "name": gpu.name,
                "vram_bytes": {
                    "total": gpu.vram_bytes,
                    "used": used,
                    "free": gpu.vram_bytes - used,
                },
                "compute_utilization_pct": _r(compute),
                "memory_bandwidth_pct": _r(compute * MEMORY_BANDWIDTH_PER_COMPUTE),
            }
        )
    return devices


def _system_gpu(spec: Any, usage: _PodUsage, devices: list[dict[str, Any]]) -> dict[str, Any]:
    compute_total = sum(d["compute_utilization_pct"] for d in devices) / max(1, len(devices))
    loading_compute = 0.0  # loading pods do not run inference
    bandwidth = _r(compute_total * MEMORY_BANDWIDTH_PER_COMPUTE)
    return {
        "vram_bytes": {
            "total": sum(g.vram_bytes for g in spec.gpus),
            "used": usage.vram_det + usage.vram_loading,
            "detectors": usage.vram_det,
            "loading_detectors": usage.vram_loading,
            "edge_endpoint": 0,
            "other": 0,
        },
        "compute_utilization_pct": {
            "total": _r(compute_total),
            "detectors": _r(compute_total - loading_compute),
            "loading_detectors": loading_compute,
            "edge_endpoint": 0.0,
            "other": 0.0,
        },
        "memory_bandwidth_pct": {
            "total": bandwidth,
            "detectors": bandwidth,
            "loading_detectors": 0.0,
            "edge_endpoint": 0.0,
            "other": 0.0,
        },
        "devices": devices,
    }


def _detector_json(
    detector_id: str, figures: dict[str, dict[str, float]], n_gpus: int
) -> dict[str, Any]:
    """One detector's figures per role and in total; GPU figures as a share of all GPUs."""
    compute = figures["compute"]
    return {
        "detector_id": detector_id,
        "cpu_utilization_pct": _by_role(figures["cpu"]),
        "ram_bytes": _by_role(figures["ram"], integer=True),
        "gpu": {
            "vram_bytes": _by_role(figures["vram"], integer=True),
            "compute_utilization_pct": _by_role({k: v / n_gpus for k, v in compute.items()}),
            "memory_bandwidth_pct": _by_role(
                {k: v * MEMORY_BANDWIDTH_PER_COMPUTE / n_gpus for k, v in compute.items()}
            ),
        },
    }


def _by_role(values: dict[str, float], integer: bool = False) -> dict[str, float]:
    out = {role: values.get(role, 0) for role in ("primary", "oodd")}
    out = {k: (int(v) if integer else _r(v)) for k, v in out.items()}
    out["total"] = sum(out.values()) if integer else _r(sum(out.values()))
    return out


def _uuid(text: str) -> str:
    h = hashlib.sha256(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def detector_details(
    box: EdgeBox,
    configs: dict[str, dict[str, Any] | None],
    describe: Callable[[str], dict[str, Any] | None],
) -> dict[str, dict[str, Any]]:
    """metrics.json `detector_details`, derived as the real status monitor does: from the
    Kubernetes objects (a detector is listed once it has a primary Deployment), with
    pipeline config and predictor metadata from the model files of the deployed version.

    `configs`: detector id -> its edge inference config (listed detectors only);
    `describe(detector_id)` -> {"query", "mode", "detector_name"} (the predictor metadata)."""
    pods = [edge_pod_json(box)] + [pod_json(box, p) for p in box.pods.values()]
    by_detector: dict[str, list[dict]] = {}
    for pod in pods:
        notes = pod["metadata"].get("annotations") or {}
        det_id = notes.get("groundlight.dev/detector-id")
        if det_id and notes.get("groundlight.dev/model-name") == f"{det_id}/primary":
            by_detector.setdefault(det_id, []).append(pod)
    out: dict[str, dict[str, Any]] = {}
    for dep_obj in box.deployments.values():
        if dep_obj.role != "primary":
            continue
        dep = deployment_json(box, dep_obj)
        det_id = dep_obj.detector_id
        det_pods = by_detector.get(det_id, [])
        status, status_detail = derive_status(dep, det_pods)
        details: dict[str, Any] = {"status": status}
        details["deploy_time"] = _k8s_isoformat(dep["metadata"]["creationTimestamp"])
        if status_detail:
            details["status_detail"] = status_detail
        ready = [p for p in det_pods if _pod_is_ready(p)]
        ready_pod = max(ready, key=lambda p: p["metadata"]["creationTimestamp"], default=None)
        version = None
        if ready_pod is not None:
            version = ready_pod["metadata"]["annotations"].get("groundlight.dev/model-version")
        if version is None:
            version = dep["spec"]["template"]["metadata"]["annotations"].get(
                "groundlight.dev/model-version"
            )
        config = _pipeline_config_of(box, det_id, version)
        if config is not None:
            info = describe(det_id) or {}
            details["query"] = info.get("query")
            details["mode"] = info.get("mode")
            details["detector_name"] = info.get("detector_name")
            details["pipeline_config"] = config
            if ready_pod is not None:
                since = _ready_since(ready_pod)
                details["last_updated_time"] = _k8s_isoformat(since) if since else None
        cfg = configs.get(det_id)
        if cfg:
            details["edge_inference_config"] = {
                key: cfg[key]
                for key in (
                    "enabled",
                    "always_return_edge_prediction",
                    "disable_cloud_escalation",
                    "min_time_between_escalations",
                )
            }
        out[det_id] = details
    return out


def _pipeline_config_of(box: EdgeBox, detector_id: str, version: str | None) -> str | None:
    """The pipeline config in the model files of a version (what the updater downloaded)."""
    if version is None or not version.isdigit():
        return None
    for pod in box.pods.values():
        if pod.detector_id == detector_id and pod.model_version == int(version):
            return pod.pipeline_config
    for dep in box.deployments.values():
        if dep.detector_id == detector_id and dep.model_version == int(version):
            return dep.pipeline_config
    return None


def derive_status(deployment: dict, pods: list[dict]) -> tuple[str, str | None]:
    """(status, detail) of a detector from its primary Deployment and pods, by the real status
    monitor's rules: ready, updating, update_failed, initializing or error."""
    desired = deployment["spec"].get("replicas") or 1
    status = deployment.get("status") or {}
    available = status.get("availableReplicas") or 0
    updated = status.get("updatedReplicas") or 0
    total = status.get("replicas") or 0
    if available >= 1:
        if total <= desired and updated >= desired:
            return "ready", None
        not_ready = [p for p in pods if not _pod_is_ready(p)]
        if any(_pod_is_progressing(p) for p in not_ready):
            return "updating", None
        if not_ready:
            return "update_failed", _waiting_reason(_newest(not_ready))
        return "ready", None
    newest = _newest(pods)
    if newest is None or _pod_is_progressing(newest):
        return "initializing", None
    return "error", _waiting_reason(newest)


def _pod_is_ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    conditions = status.get("conditions") or []
    if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
        return False
    return any(
        c["name"] == INFERENCE_CONTAINER and c.get("ready")
        for c in status.get("containerStatuses") or []
    )


def _pod_is_progressing(pod: dict) -> bool:
    status = pod.get("status") or {}
    for c in status.get("containerStatuses") or []:
        state = c.get("state") or {}
        if state.get("waiting"):
            return state["waiting"].get("reason") in ("ContainerCreating", "PodInitializing")
        if state.get("running") and not c.get("ready"):
            return True
    return status.get("phase") == "Pending"


def _waiting_reason(pod: dict | None) -> str | None:
    for c in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return waiting["reason"]
    return None


def _newest(pods: list[dict]) -> dict | None:
    return max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "", default=None)


def _ready_since(pod: dict) -> str | None:
    for c in pod["status"].get("conditions") or []:
        if c["type"] == "Ready" and c["status"] == "True":
            return c.get("lastTransitionTime")
    return None


def _k8s_isoformat(stamp: str | None) -> str | None:
    """A Kubernetes timestamp as Python writes the datetime the client parsed from it."""
    if not stamp:
        return None
    return stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp


def container_images(box: EdgeBox) -> dict[str, dict[str, str]]:
    """metrics.json k3s_stats.container_images: {pod: {container: image@sha256:...}}.

    Raises TypeError, as the real status monitor's loop does, while a pod has no container
    statuses yet (Pending, not scheduled): metrics.json then carries {"error": ...}."""
    images = {box.edge_pod_name: {c: image_digest(EDGE_IMAGE) for c in EDGE_CONTAINERS}}
    for pod in box.pods.values():
        if pod.scheduled_at is None:
            raise TypeError("'NoneType' object is not iterable")
        images[pod.name] = {INFERENCE_CONTAINER: image_digest(INFERENCE_IMAGE)}
    return images


def pod_statuses(box: EdgeBox) -> dict[str, str]:
    """metrics.json k3s_stats.pod_statuses: {pod: phase}."""
    statuses = {box.edge_pod_name: "Running"}
    for pod in box.pods.values():
        statuses[pod.name] = pod.phase
    return statuses


def state(box: EdgeBox) -> dict[str, Any]:
    """A JSON-able summary for the admin API (`GET /_sim/state`)."""
    now = box.clock.now()
    pods = []
    for p in box.pods.values():
        pods.append(
            {
                "name": p.name,
                "detector_id": p.detector_id,
                "role": p.role,
                "phase": p.phase,
                "ready": p.ready,
                "terminating": p.terminating_since is not None,
                "unschedulable": p.unschedulable,
                "gpu": p.gpu,
                "model_version": p.model_version,
                "revision": p.revision,
                "restarts": p.restart_count,
                "last_termination": (p.last_terminated or {}).get("reason"),
                "created_s": round(p.created_at, 3),
                "ready_s": round(p.ready_at, 3) if p.ready_at is not None else None,
                "busy_workers": p.busy,
            }
        )
    detectors = {
        det_id: {
            "mode": d.mode,
            "status": d.status,
            "model_version": d.model_version,
            "ready": box.readiness(det_id),
            "queued_requests": len(d.queue),
            "registered_s": round(d.registered_at, 3),
        }
        for det_id, d in box.detectors.items()
    }
    r = box.rollout
    return {
        "time_s": round(now, 3),
        "profile": box.profile.name,
        "refresh_rate_s": box.refresh_rate_s,
        "next_poll_s": round(box.next_poll_at, 3),
        "detectors": detectors,
        "pods": pods,
        "gpus": [
            {
                "index": i,
                "name": g.name,
                "vram_total": g.vram_bytes,
                "vram_used": box.gpu_vram_used(i),
            }
            for i, g in enumerate(box.profile.box.gpus)
        ],
        "ram_used": box.ram_used(),
        "rollout": None
        if r is None
        else {"detector_id": r.detector_id, "to_version": r.version, "phase": r.phase},
        "rollouts": list(box.rollout_log),
        "max_concurrent_rollouts": box.max_concurrent_rollouts,
        "counters": dict(box.counters),
        "edge_app_in_flight": box.edge_app_busy,
    }
