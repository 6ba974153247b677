"""The simulated box's Kubernetes API server: read-only, namespace `edge`, on its own port.

A real box's kube-apiserver listens on its own port (k3s: 6443), never behind the edge
endpoint's nginx; `SimulatedEndpoint.k8s_url` says where this one is. It serves what the
official `kubernetes` client calls for the scenarios: pods (list, get, watch), deployments and
pod metrics (metrics.k8s.io, as k3s's bundled metrics-server), as JSON from `k8s.py`. Other
namespaces are empty; writes get 405.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from edgeload.sim.http import Request, Response, StreamResponse, json_response

_TRUE = ("true", "1", "yes", "on")
# what `kubectl version` shows for the box's k3s
VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4+k3s1",
    "platform": "linux/amd64",
}


class KubernetesApi:
    """`await api.handle(request)` for the Kubernetes API port."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    async def handle(self, req: Request) -> Response | StreamResponse:
        if req.method != "GET":
            return _status(405, "MethodNotAllowed", "the simulated Kubernetes API is read-only")
        parts = [p for p in req.path.split("/") if p]
        rt = self.runtime
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) in (5, 6) and parts[4] == "pods":
            namespace = parts[3]
            if len(parts) == 6:
                for pod in rt.k8s_pods()["items"] if namespace == "edge" else []:
                    if pod["metadata"]["name"] == parts[5]:
                        return json_response(pod)
                return _status(404, "NotFound", f'pods "{parts[5]}" not found')
            q = req.query
            if q.get("watch", "").lower() in _TRUE:
                return self._watch(q, namespace)
            if namespace == "edge":
                return json_response(rt.k8s_pods())
            return json_response(_empty_list("PodList", "v1", rt.k8s_resource_version()))
        if (
            parts[:4] == ["apis", "apps", "v1", "namespaces"]
            and len(parts) == 6
            and parts[5] == "deployments"
        ):
            if parts[4] == "edge":
                return json_response(rt.k8s_deployments())
            return json_response(
                _empty_list("DeploymentList", "apps/v1", rt.k8s_resource_version())
            )
        if parts[:3] == ["apis", "metrics.k8s.io", "v1beta1"] and parts[3:4] == ["namespaces"]:
            if len(parts) == 6 and parts[5] == "pods":  # metrics-server's pod memory
                if parts[4] == "edge":
                    return json_response(rt.k8s_pod_metrics())
                return json_response(
                    {
                        "kind": "PodMetricsList",
                        "apiVersion": "metrics.k8s.io/v1beta1",
                        "metadata": {},
                        "items": [],
                    }  # fmt: skip
                )
        if parts == ["api"]:
            return json_response({"kind": "APIVersions", "versions": ["v1"]})
        if parts == ["version"]:
            return json_response(VERSION)
        return _status(404, "NotFound", "the server could not find the requested resource")

    def _watch(self, q: dict, namespace: str) -> StreamResponse:
        """Newline-delimited watch events until `timeoutSeconds` (real seconds) pass."""
        timeout = _float(q.get("timeoutSeconds"), 1800.0)
        rv = q.get("resourceVersion") or None
        rt = self.runtime

        async def events():
            if namespace != "edge":
                await asyncio.sleep(timeout)
                return
            deadline = time.monotonic() + timeout
            # no resourceVersion: the current pods come first as ADDED, like a real API server
            stream = rt.watch_pods(rv).__aiter__()
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    try:
                        kind, pod = await asyncio.wait_for(stream.__anext__(), remaining)
                    except (TimeoutError, StopAsyncIteration):
                        return
                    yield json.dumps({"type": kind, "object": pod}).encode() + b"\n"
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()

        return StreamResponse(events())


def _empty_list(kind: str, api_version: str, rv: str) -> dict:
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": str(rv)},
        "items": [],
    }


def _status(code: int, reason: str, message: str) -> Response:
    return json_response(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
        code,
    )


def _float(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default
