"""Kubernetes Pod and Deployment JSON for the simulated box, as the real API server sends it.

Only the fields the official `kubernetes` client needs (its required fields) and the scenarios
read: names, namespace, timestamps, resourceVersion, annotations, nodeName, phase, conditions,
container statuses with restart counts and OOMKilled terminations, Deployment revisions.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edgeload.sim.pods import NAMESPACE, Deployment, Pod

if TYPE_CHECKING:
    from edgeload.sim.pods import EdgeBox

INFERENCE_IMAGE = "docker.io/groundlight/gl-edge-inference"
EDGE_IMAGE = "docker.io/groundlight/edge-endpoint"
INFERENCE_CONTAINER = "inference-server"
EDGE_CONTAINERS = ("edge-endpoint", "inference-model-updater", "status-monitor")


def image_digest(image: str) -> str:
    """A stable, well-formed `image@sha256:...` reference for a simulated image."""
    return f"{image}@sha256:{hashlib.sha256(f'edgeload-sim:{image}'.encode()).hexdigest()}"


def iso(wall: float | None) -> str | None:
    """RFC 3339 in UTC with whole seconds, as Kubernetes writes timestamps."""
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind: str, ok: bool, since: float | None, reason: str | None = None,
               message: str | None = None) -> dict[str, Any]:  # fmt: skip
    cond: dict[str, Any] = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": iso(since),
    }
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def pod_json(box: EdgeBox, pod: Pod) -> dict[str, Any]:
    """The Pod object for an inference pod."""
    w = box.wall_at
    image = image_digest(INFERENCE_IMAGE)
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": INFERENCE_CONTAINER,
                "image": image,
                "env": [{"name": "WORKERS", "value": str(pod.workers)}],
                "ports": [{"containerPort": 8000, "protocol": "TCP"}],
                "resources": {"limits": {"nvidia.com/gpu": "1"}},
            }
        ],
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
    }
    status: dict[str, Any] = {
        "phase": pod.phase,
        "conditions": _pod_conditions(box, pod),
        "qosClass": "BestEffort",
    }
    if pod.scheduled_at is not None:
        spec["nodeName"] = box.profile.box.node_name
        status["hostIP"] = "10.0.0.2"
        status["podIP"] = f"10.42.0.{10 + (int(pod.uid[:4], 16) % 240)}"
        status["startTime"] = iso(w(pod.scheduled_at))
        status["containerStatuses"] = [_container_status(box, pod, image)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _pod_metadata(box, pod),
        "spec": spec,
        "status": status,
    }


def _pod_conditions(box: EdgeBox, pod: Pod) -> list[dict[str, Any]]:
    """Scheduled: all four conditions, readiness from the pod; else only PodScheduled=False."""
    w = box.wall_at
    if pod.scheduled_at is None:
        since = pod.unschedulable_since if pod.unschedulable_since is not None else pod.created_at
        reason = "Unschedulable" if pod.unschedulable else None
        message = f"0/1 nodes are available: 1 {pod.unschedulable}." if pod.unschedulable else None
        return [_condition("PodScheduled", False, w(since), reason, message)]
    scheduled = w(pod.scheduled_at)
    since = w(pod.ready_changed_at if pod.ready_changed_at is not None else pod.scheduled_at)
    reason = None if pod.ready else "ContainersNotReady"
    return [
        _condition("PodScheduled", True, scheduled),
        _condition("Initialized", True, scheduled),
        _condition("ContainersReady", pod.ready, since, reason),
        _condition("Ready", pod.ready, since, reason),
    ]


def _container_status(box: EdgeBox, pod: Pod, image: str) -> dict[str, Any]:
    """The inference-server container: running, crash-looping or being created; the last
    termination (OOMKilled, ...) when it had one."""
    w = box.wall_at
    if pod.running:
        state: dict[str, Any] = {"running": {"startedAt": iso(w(pod.started_at))}}
    elif pod.restart_at is not None:
        message = f"back-off restarting failed container {INFERENCE_CONTAINER}"
        state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    last_state: dict[str, Any] = {}
    if pod.last_terminated:
        lt = pod.last_terminated
        last_state["terminated"] = {
            "reason": lt["reason"],
            "exitCode": lt["exit_code"],
            "startedAt": iso(w(lt["started_at"])) if lt["started_at"] is not None else None,
            "finishedAt": iso(w(lt["finished_at"])),
        }
    status: dict[str, Any] = {
        "name": INFERENCE_CONTAINER,
        "image": image,
        "imageID": image,
        "ready": pod.ready,
        "started": pod.running,
        "restartCount": pod.restart_count,
        "state": state,
        "lastState": last_state,
    }
    if pod.running:
        status["containerID"] = f"containerd://{hashlib.sha256(pod.uid.encode()).hexdigest()}"
    return status


def _pod_metadata(box: EdgeBox, pod: Pod) -> dict[str, Any]:
    """Name, owner ReplicaSet, labels and the annotations naming the detector and model; a
    deletion timestamp once the pod is terminating."""
    replica_set = f"{pod.deployment}-{pod.template_hash}"
    metadata: dict[str, Any] = {
        "name": pod.name,
        "generateName": f"{replica_set}-",
        "namespace": NAMESPACE,
        "uid": pod.uid,
        "resourceVersion": str(pod.resource_version),
        "creationTimestamp": iso(box.wall_at(pod.created_at)),
        "labels": {"app": pod.deployment, "pod-template-hash": pod.template_hash},
        "annotations": {
            "groundlight.dev/detector-id": pod.detector_id,
            "groundlight.dev/model-name": f"{pod.detector_id}/{pod.role}",
            "groundlight.dev/model-version": str(pod.model_version),
        },
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": replica_set,
                "uid": hashlib.md5(replica_set.encode()).hexdigest(),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if pod.terminating_since is not None:
        grace = box.profile.pods.termination_grace_s
        metadata["deletionTimestamp"] = iso(box.wall_at(pod.terminating_since + grace))
        metadata["deletionGracePeriodSeconds"] = int(round(grace))
    return metadata


def edge_pod_json(box: EdgeBox) -> dict[str, Any]:
    """The edge-endpoint pod (edge app, model updater, status monitor): always Running."""
    started = iso(box.started_wall)
    statuses = [
        {
            "name": name,
            "image": image_digest(EDGE_IMAGE),
            "imageID": image_digest(EDGE_IMAGE),
            "ready": True,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": started}},
            "lastState": {},
        }
        for name in EDGE_CONTAINERS
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": box.edge_pod_name,
            "namespace": NAMESPACE,
            "uid": box.edge_pod_uid,
            "resourceVersion": str(box.edge_pod_rv),
            "creationTimestamp": started,
            "labels": {"app": "edge-endpoint"},
            "annotations": {},
        },
        "spec": {
            "containers": [{"name": n, "image": image_digest(EDGE_IMAGE)} for n in EDGE_CONTAINERS],
            "nodeName": box.profile.box.node_name,
            "restartPolicy": "Always",
        },
        "status": {
            "phase": "Running",
            "conditions": [
                _condition(kind, True, box.started_wall)
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "hostIP": "10.0.0.2",
            "podIP": "10.42.0.5",
            "startTime": started,
            "containerStatuses": statuses,
        },
    }


def deployment_json(box: EdgeBox, dep: Deployment) -> dict[str, Any]:
    pods = [p for p in box.pods.values() if p.deployment == dep.name]
    current = [p for p in pods if p.revision == dep.revision and p.terminating_since is None]
    ready = [p for p in pods if p.serving]
    labels = {"app": dep.name}
    template = {
        "metadata": {
            "labels": labels,
            "annotations": {
                "groundlight.dev/detector-id": dep.detector_id,
                "groundlight.dev/model-name": f"{dep.detector_id}/{dep.role}",
                "groundlight.dev/model-version": str(dep.model_version),
            },
        },
        "spec": {
            "containers": [{"name": INFERENCE_CONTAINER, "image": image_digest(INFERENCE_IMAGE)}]
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": dep.name,
            "namespace": NAMESPACE,
            "uid": dep.uid,
            "resourceVersion": str(dep.resource_version),
            "generation": dep.revision,
            "creationTimestamp": iso(box.wall_at(dep.created_at)),
            "labels": labels,
            "annotations": {
                "deployment.kubernetes.io/revision": str(dep.revision),
                "groundlight.dev/detector-id": dep.detector_id,
                "groundlight.dev/model-name": f"{dep.detector_id}/{dep.role}",
                "groundlight.dev/model-version": str(dep.model_version),
            },
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": template,
        },
        "status": {
            "observedGeneration": dep.revision,
            "replicas": len([p for p in pods if p.terminating_since is None]),
            "updatedReplicas": len(current),
            "readyReplicas": len(ready),
            "availableReplicas": len(ready),
            "unavailableReplicas": max(0, 1 - len(ready)),
        },
    }


def pod_list(box: EdgeBox) -> dict[str, Any]:
    items = [edge_pod_json(box)] + [pod_json(box, p) for p in box.pods.values()]
    return {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(box.resource_version)},
        "items": items,
    }


def deployment_list(box: EdgeBox) -> dict[str, Any]:
    return {
        "kind": "DeploymentList",
        "apiVersion": "apps/v1",
        "metadata": {"resourceVersion": str(box.resource_version)},
        "items": [deployment_json(box, d) for d in box.deployments.values()],
    }


def pod_metrics_list(box: EdgeBox) -> dict[str, Any]:
    """A PodMetricsList (metrics.k8s.io/v1beta1, as k3s's bundled metrics-server serves it):
    the memory working set of each running inference container, its RAM as resources.json
    counts it (with unified memory its VRAM too). Pods whose container is not up are absent,
    as metrics-server leaves them out."""
    now = iso(box.wall_at(box.clock.now()))
    unified = box.profile.box.unified_memory
    items = []
    for pod in box.pods.values():
        if not pod.running:
            continue
        ram = pod.ram_bytes + (pod.vram_bytes if unified else 0)
        items.append(
            {
                "metadata": {
                    "name": pod.name,
                    "namespace": NAMESPACE,
                    "creationTimestamp": now,
                    "labels": {"app": pod.deployment},
                },
                "timestamp": now,
                "window": "10s",
                "containers": [
                    {
                        "name": INFERENCE_CONTAINER,
                        "usage": {"cpu": f"{pod.busy * 350}m", "memory": f"{ram // 1024}Ki"},
                    }
                ],
            }
        )
    return {
        "kind": "PodMetricsList",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {},
        "items": items,
    }
