"""The detector's inference Deployments: their revisions, and whether a rollout is under way.

A rollout changes a Deployment's pod template, so Kubernetes gives the Deployment a new
revision (annotation `deployment.kubernetes.io/revision`); the upstream script counts rollouts
as the rise of the highest revision among the `inferencemodel-*` Deployments. Here only the
Deployments of the run's detector count, so other detectors' rollouts on the same box do not.
`read_deployments` lists them (I/O, through the pod watcher's Kubernetes access); the rest is
pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from edgeload.scenarios.pods.podtimeline import (
    DETECTOR_ANNOTATION,
    INFERENCE_POD_PREFIX,
    MODEL_VERSION_ANNOTATION,
    detector_key,
)
from edgeload.scenarios.pods.podwatch import NAMESPACE, KubernetesAccess

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
KIND = "deployments"  # the log's sample kind: {"phase", "deployments": {name: fields}}


def apps_api(access: KubernetesAccess) -> Any | None:
    """The Deployments API on the pod watcher's connection (None without one)."""
    if not access.available:
        return None
    from kubernetes import client

    return client.AppsV1Api(access.core_api.api_client)


def read_deployments(api: Any, detector_id: str) -> dict[str, dict[str, Any]]:
    """The detector's inference Deployments now: name -> facts (`deployment_facts`)."""
    resp = api.list_namespaced_deployment(NAMESPACE, _preload_content=False, _request_timeout=5)
    body = json.loads(resp.data)
    out = {}
    for raw in body.get("items") or []:
        facts = deployment_facts(raw, detector_id)
        if facts is not None:
            out[str(raw["metadata"]["name"])] = facts
    return out


def deployment_facts(raw: dict, detector_id: str) -> dict[str, Any] | None:
    """Revision and rollout status of one raw Deployment of `detector_id` (else None)."""
    meta = raw.get("metadata") or {}
    name = str(meta.get("name") or "")
    ann = meta.get("annotations") or {}
    if not name.startswith(INFERENCE_POD_PREFIX):
        return None
    owner = ann.get(DETECTOR_ANNOTATION)
    if owner != detector_id and (owner is not None or detector_key(detector_id) not in name):
        return None
    status = raw.get("status") or {}
    try:
        revision = int(ann.get(REVISION_ANNOTATION) or 0)
    except ValueError:
        revision = 0
    return {
        "revision": revision,
        "generation": meta.get("generation"),
        "observed_generation": status.get("observedGeneration"),
        "desired": (raw.get("spec") or {}).get("replicas", 1),
        "replicas": status.get("replicas") or 0,
        "updated": status.get("updatedReplicas") or 0,
        "ready": status.get("readyReplicas") or 0,
        "model_version": ann.get(MODEL_VERSION_ANNOTATION),
    }


def max_revision(deployments: dict[str, dict]) -> int | None:
    revisions = [d["revision"] for d in deployments.values() if d.get("revision")]
    return max(revisions) if revisions else None


def rolling(deployments: dict[str, dict]) -> bool:
    """A rollout is under way (`kubectl rollout status` not yet complete) on any of them."""
    for d in deployments.values():
        generation, observed = d.get("generation"), d.get("observed_generation")
        if generation is not None and observed is not None and observed < generation:
            return True
        desired = d.get("desired") or 0
        if d["updated"] < desired or d["replicas"] > d["updated"] or d["ready"] < d["updated"]:
            return True
    return False


def revision_rise(samples: Sequence[dict]) -> dict[str, Any]:
    """Rollouts counted as upstream does, from `deployments` samples in time order: the rise of
    the highest revision from the first sample that had one to the last."""
    revs = [(s["t"], max_revision(s.get("deployments") or {})) for s in samples]
    revs = [(t, r) for t, r in revs if r is not None]
    if not revs:
        return {"available": False, "before": None, "after": None, "rollouts": None}
    before, after = revs[0][1], revs[-1][1]
    rises = [t for (t, r), (_, prev) in zip(revs[1:], revs, strict=False) if r > prev]
    return {
        "available": True,
        "before": before,
        "after": after,
        "rollouts": max(after - before, 0),
        "revision_rise_t": rises,
    }
