"""The simulated status monitor: the separate app a real box's nginx sends `/status*` to.

Routes (app/status_monitor/status_web.py): GET /status (the page), /status/metrics.json,
/status/resources.json, /status/edge-config (the active edge config, as /edge-config) and
/status/cloud-config (the cloud dashboard's URL). Anything else under /status is its 404, which
nginx does not resend to the cloud.

metrics.json is assembled as the real one is: every field is computed on its own, and a field
that cannot be computed becomes {"error": "<message>"} instead of failing the whole answer
(outside a Kubernetes cluster, every field read from the cluster; while a pod has no container
statuses, `container_images`). It takes `status.metrics_delay_s` to answer (the real one
measures CPU for a second).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from edgeload.sim.activity import Activity, local_iso
from edgeload.sim.cloud import IdMaker
from edgeload.sim.http import Request, Response, json_response

OUTSIDE_CLUSTER = "Not running in a Kubernetes cluster"
# what the kubernetes client's load_incluster_config() raises outside a cluster
NO_CLUSTER_CONFIG = "Service host/port is not set."
_NOT_FOUND = Response(404, b'{"detail":"Not Found"}')
_METHOD_NOT_ALLOWED = Response(405, b'{"detail":"Method Not Allowed"}')


class _NotInCluster(Exception):
    pass


class StatusApp:
    """`await status.handle(request)` for every path under /status."""

    def __init__(
        self,
        profile: Any,
        clock: Any,
        runtime: Any,
        cloud: Any,
        edge: Any,
        activity: Activity,
    ) -> None:
        self.profile = profile
        self.clock = clock
        self.runtime = runtime
        self.cloud = cloud
        self.edge = edge
        self.activity = activity
        self.cloud_url = ""  # the box's upstream (the simulated cloud), set once it listens
        spec = profile.status
        self.in_cluster = bool(spec.in_cluster)
        self.metrics_delay_s = float(spec.metrics_delay_s)
        flavor = spec.inference_flavor
        if flavor == "auto":
            flavor = "gpu" if profile.box.gpus else "cpu"
        self.inference_flavor = flavor
        device = IdMaker().make("device_")
        self.device_metadata = {
            "uuid": device,
            "friendly_name": f"Device-{device[-5:]}",
            "created_at": local_iso(clock.wall()),
        }
        self._routes: dict[str, Callable[[Request], Any]] = {
            "/status": self._page,
            "/status/metrics.json": self._metrics,
            "/status/resources.json": self._resources,
            "/status/edge-config": self._edge_config,
            "/status/cloud-config": self._cloud_config,
        }

    async def handle(self, req: Request) -> Response:
        handler = self._routes.get(req.path)
        if handler is None:
            return _NOT_FOUND
        if req.method != "GET":
            return _METHOD_NOT_ALLOWED
        return await handler(req)

    # -- routes ------------------------------------------------------------------------------
    async def _page(self, req: Request) -> Response:
        html = (
            "<html><body><h1>edgeload simulated edge endpoint</h1>"
            '<p><a href="/status/metrics.json">metrics.json</a> | '
            '<a href="/status/resources.json">resources.json</a> | '
            '<a href="/status/edge-config">edge-config</a> | '
            '<a href="/_sim/state">simulator state</a></p></body></html>'
        )
        return Response(200, html.encode(), "text/html; charset=utf-8")

    async def _resources(self, req: Request) -> Response:
        if not self.in_cluster:
            return json_response({"error": OUTSIDE_CLUSTER})
        return json_response(self.runtime.resources_json())

    async def _metrics(self, req: Request) -> Response:
        if self.metrics_delay_s > 0:
            await asyncio.sleep(self.clock.real_seconds(self.metrics_delay_s))
        return json_response(self.metrics_json())

    async def _edge_config(self, req: Request) -> Response:
        return json_response(self.edge.config.to_payload())

    async def _cloud_config(self, req: Request) -> Response:
        host = urlsplit(self.cloud_url).hostname or "api.groundlight.ai"
        dashboard = "dashboard." + (host[len("api.") :] if host.startswith("api.") else host)
        return json_response({"dashboard_url": f"https://{dashboard}"})

    # -- metrics.json ------------------------------------------------------------------------
    def metrics_json(self) -> dict[str, Any]:
        rt = self.runtime
        device_info = _Fields()
        device_info.add("device_id", lambda: self.device_metadata["uuid"])
        device_info.add("device_metadata", lambda: dict(self.device_metadata))
        device_info.add("now", lambda: local_iso(self.clock.wall()))
        device_info.add("cpucores", lambda: self.profile.box.cpu_cores)
        device_info.add("inference_flavor", lambda: self.inference_flavor)
        device_info.add("cpu_utilization", lambda: self._system()["cpu_utilization_pct"]["total"])
        device_info.add("memory_utilization", self._memory_pct)
        device_info.add("memory_available_bytes", lambda: self.profile.box.ram_bytes)

        activity = self.activity.metrics()

        k3s = _Fields()
        k3s.add("deployments", lambda: str(self._cluster(self._deployment_names)))
        k3s.add("pod_statuses", lambda: json.dumps(self._cluster(rt.pod_statuses)))
        k3s.add("container_images", lambda: json.dumps(self._cluster(rt.container_images)))

        details = _Fields()
        details.add("detector_details", lambda: json.dumps(self._cluster(self._details)))
        failed = _Fields()
        failed.add("failed_escalations", self._failed_escalations)
        return {
            "device_info": device_info.data,
            "activity_metrics": activity,
            "failed_escalations": failed.data["failed_escalations"],
            "detector_details": details.data["detector_details"],
            "k3s_stats": k3s.data,
        }

    def _cluster(self, fn: Callable[[], Any]) -> Any:
        if not self.in_cluster:
            raise _NotInCluster(NO_CLUSTER_CONFIG)
        return fn()

    def _deployment_names(self) -> list[str]:
        return [f"edge/{d['metadata']['name']}" for d in self.runtime.k8s_deployments()["items"]]

    def _details(self) -> dict[str, Any]:
        config = self.edge.config
        listed = {d: config.for_detector(d) for d in config.detector_ids}

        def describe(detector_id: str) -> dict[str, Any] | None:
            det = self.cloud.find(detector_id)
            if det is None:
                return None
            return {"query": det.query, "mode": det.mode, "detector_name": det.name}

        return self.runtime.detector_details(listed, describe)

    def _system(self) -> dict[str, Any]:
        return self.runtime.resources_json()["system"]

    def _memory_pct(self) -> float:
        ram = self._system()["ram_bytes"]
        return round(100.0 * ram["used"] / ram["total"], 1)

    def _failed_escalations(self) -> dict[str, Any]:
        wall = self.clock.wall()
        recent = [kind for t, kind in self.edge.failed_escalations if t >= wall - 3600]
        by_kind: dict[str, int] = {}
        for kind in recent:
            by_kind[kind] = by_kind.get(kind, 0) + 1
        newest = max((t for t, _ in self.edge.failed_escalations), default=None)
        return {
            "activity_hour": _utc_hour(wall - 3600),
            "last_failed_time": _utc_iso(newest) if newest is not None else None,
            "failed_last_hour_total": len(recent),
            "failed_last_hour_by_exception": json.dumps(by_kind, sort_keys=True),
        }


class _Fields:
    """A section of metrics.json: a field whose value cannot be computed (or is not JSON)
    becomes {"error": message}, and the other fields are still reported."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def add(self, key: str, compute: Callable[[], Any]) -> None:
        try:
            value = compute()
            json.dumps(value)
        except Exception as exc:  # noqa: BLE001 - the real status monitor does the same
            value = {"error": str(exc)}
        self.data[key] = value


def _utc_hour(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%d_%H")


def _utc_iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat()
