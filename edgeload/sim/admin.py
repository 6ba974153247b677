"""The simulator's own admin API under /_sim/ on the edge port (no real box has it).

GET /_sim/health, GET /_sim/state (detectors, pods, versions, counters, where the Kubernetes API
and the cloud listen), GET|POST /_sim/faults, POST /_sim/new-model, POST /_sim/down,
POST /_sim/edge-pipeline-config (`{"detector_id", "edge_pipeline_config"}`: the detector's edge
pipeline config changes, as an admin would change it in the cloud; the edge rolls it out). Never
faulted, so a test can always reach it. With a token (always when the simulator listens
beyond loopback), every route but /_sim/health needs it in the `x-edgeload-admin-token`
header: otherwise anyone on the network could take the endpoint down.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from edgeload.sim.cloud import CloudError
from edgeload.sim.faults import FaultError
from edgeload.sim.http import Request, Response, json_response

_NOT_FOUND = Response(404, b'{"detail":"Not Found"}')
TOKEN_HEADER = "x-edgeload-admin-token"
_UNAUTHORIZED = Response(
    401, b'{"detail":"the simulator admin API needs its token in x-edgeload-admin-token"}'
)


class Admin:
    """`await admin.handle(request)` for paths under /_sim/."""

    def __init__(
        self,
        profile: Any,
        clock: Any,
        runtime: Any,
        cloud_api: Any,
        faults: Any,
        edge: Any,
        token: str | None = None,
    ) -> None:
        self.token = token
        self.profile = profile
        self.clock = clock
        self.runtime = runtime
        self.cloud_api = cloud_api
        self.faults = faults
        self.edge = edge
        self.urls = {"url": "", "k8s_url": "", "cloud_url": ""}  # set once the servers listen
        self._routes = {
            ("GET", "/_sim/health"): self._health,
            ("GET", "/_sim/state"): self._state,
            ("GET", "/_sim/faults"): self._get_faults,
            ("POST", "/_sim/faults"): self._set_faults,
            ("POST", "/_sim/new-model"): self._new_model,
            ("POST", "/_sim/down"): self._down,
            ("POST", "/_sim/edge-pipeline-config"): self._edge_pipeline_config,
        }

    async def handle(self, req: Request) -> Response:
        handler = self._routes.get((req.method, req.path))
        if handler is None:
            return _NOT_FOUND
        if (
            self.token is not None
            and req.path != "/_sim/health"
            and not hmac.compare_digest(req.headers.get(TOKEN_HEADER, ""), self.token)
        ):
            return _UNAUTHORIZED
        return await handler(req)

    async def _health(self, req: Request) -> Response:
        up = not self.faults.is_down(self.clock.now())
        return json_response({"ok": True, "up": up, **self.urls})

    async def _state(self, req: Request) -> Response:
        return json_response(self.state())

    def state(self) -> dict[str, Any]:
        now = self.clock.now()
        runtime_state = self.runtime.state()
        cloud = self.cloud_api.cloud.state()
        cloud["api"] = dict(self.cloud_api.counters)
        return {
            "profile": getattr(self.profile, "name", None),
            "time_scale": self.clock.time_scale,
            "sim_time_s": now,
            **self.urls,
            **self.edge.state(),
            "faults": self.faults.describe(now),
            "cloud": cloud,
            **runtime_state,
        }

    async def _get_faults(self, req: Request) -> Response:
        return json_response(self.faults.describe(self.clock.now()))

    async def _set_faults(self, req: Request) -> Response:
        try:
            knobs = _json_object(req)
            return json_response(self.faults.configure(self.clock.now(), **knobs))
        except FaultError as exc:
            return json_response({"detail": str(exc)}, 400)

    async def _new_model(self, req: Request) -> Response:
        return _model_change(
            req,
            'expected {"detector_id": "det_..."}',
            lambda det_id, body: self.cloud_api.cloud.new_model(det_id),
        )

    async def _edge_pipeline_config(self, req: Request) -> Response:
        return _model_change(
            req,
            'expected {"detector_id": "det_...", "edge_pipeline_config": ...}',
            lambda det_id, body: self.cloud_api.cloud.set_edge_pipeline_config(
                det_id, body.get("edge_pipeline_config")
            ),
        )

    async def _down(self, req: Request) -> Response:
        try:
            seconds = _json_object(req).get("seconds")
            return json_response(self.faults.configure(self.clock.now(), down_for_s=seconds))
        except FaultError as exc:
            return json_response({"detail": str(exc)}, 400)


def _json_object(req: Request) -> dict:
    try:
        body = req.json()
    except ValueError:
        raise FaultError("expected a JSON object") from None
    if not isinstance(body, dict):
        raise FaultError("expected a JSON object")
    return body


def _model_change(
    req: Request, usage: str, change: Callable[[str, dict], tuple[int, Any]]
) -> Response:
    """A change to one detector's model in the cloud (a new model, another edge pipeline
    config): {"detector_id", "model_version", "pipeline_config"}, or the error as the cloud
    gives it."""
    try:
        body = _json_object(req)
        det_id = body.get("detector_id")
        if not isinstance(det_id, str):
            raise FaultError(usage)
        version, config = change(det_id, body)
    except FaultError as exc:
        return json_response({"detail": str(exc)}, 400)
    except CloudError as exc:
        detail = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
        return json_response(detail, exc.status)
    return json_response(
        {"detector_id": det_id, "model_version": version, "pipeline_config": config}
    )
