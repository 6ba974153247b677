"""Routing and request handlers of the simulated edge endpoint.

One port serves what a real box serves behind its nginx, plus the simulator's own admin API:
- edge app: /ping, /health/live, /health/ready, /edge-config (GET/PUT), /edge-detector-readiness,
  POST /device-api/v1/image-queries (edge inference, escalation to the cloud);
- cloud (which a real box forwards to api.groundlight.ai): the rest of /device-api/v1/... and
  /edge-api/v1/fetch-model-urls/...;
- status monitor: /status/resources.json, /status/metrics.json;
- read-only Kubernetes API for namespace `edge`: pods (list, get, watch), deployments;
- admin: /_sim/health, /_sim/state, /_sim/faults, /_sim/new-model, /_sim/down (never faulted).

The box itself (pods, GPUs, queueing, rollouts) is `runtime.EdgeRuntime`; the cloud is
`cloud.Cloud`; faults are `faults.Faults`. This module only speaks HTTP for them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from typing import Any

from edgeload.sim.answers import image_pixels, image_truth
from edgeload.sim.cloud import Cloud, CloudError, iso
from edgeload.sim.faults import FaultError, Faults
from edgeload.sim.http import DROP, Request, Response, StreamResponse, json_response, text_response

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_]{20}")
_DET_RE = re.compile(r"^det_[A-Za-z0-9]{27}$")
_EDGE_ONLY_PARAMS = ("inspection_id", "metadata", "image_query_id")
_HUMAN_REVIEW = ("DEFAULT", "ALWAYS", "NEVER")
_NOT_FOUND = Response(404, b'{"detail":"Not Found"}')
_IQ_PATH = "/device-api/v1/image-queries"
_TRUE = ("true", "1", "yes", "on")
_NO_POD_DETAIL = (
    "Edge predictions are required, but an edge-inference server is not available "
    "for detector_id='{}'."
)

DEFAULT_INFERENCE_CONFIGS: dict[str, dict] = {
    "default": {
        "enabled": True,
        "always_return_edge_prediction": False,
        "disable_cloud_escalation": False,
        "min_time_between_escalations": 2.0,
    },
    "edge_answers_with_escalation": {
        "enabled": True,
        "always_return_edge_prediction": True,
        "disable_cloud_escalation": False,
        "min_time_between_escalations": 2.0,
    },
    "no_cloud": {
        "enabled": True,
        "always_return_edge_prediction": True,
        "disable_cloud_escalation": True,
        "min_time_between_escalations": 2.0,
    },
    "disabled": {
        "enabled": False,
        "always_return_edge_prediction": False,
        "disable_cloud_escalation": False,
        "min_time_between_escalations": 2.0,
    },
}


def _err(status: int, detail: Any) -> Response:
    return json_response({"detail": detail}, status)


def _validation_error(loc: list, msg: str, kind: str, given: Any = None) -> Response:
    """FastAPI's standard 422 body."""
    item: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg}
    if given is not None:
        item["input"] = given
    return json_response({"detail": [item]}, 422)


class EdgeApp:
    """The request handler: `await app.handle(request)`."""

    def __init__(
        self, profile: Any, clock: Any, runtime: Any, cloud: Cloud, faults: Faults
    ) -> None:
        self.profile = profile
        self.clock = clock
        self.runtime = runtime
        self.cloud = cloud
        self.faults = faults
        self.url = ""  # set by the server once bound
        refresh = float(getattr(getattr(profile, "updater", None), "refresh_rate_s", 60.0))
        self.edge_config: dict = {
            "global_config": {"refresh_rate": refresh, "confident_audit_rate": 1e-05},
            "edge_inference_configs": json.loads(json.dumps(DEFAULT_INFERENCE_CONFIGS)),
            "detectors": [],
        }
        self._detector_configs: dict[str, dict] = {}
        self.counters: dict[str, int] = {
            "requests": 0,
            "image_queries": 0,
            "edge_answers": 0,
            "escalations": 0,
            "async_forwards": 0,
            "errors_5xx": 0,
            "no_pod_503": 0,
            "inference_failed": 0,
            "overloaded": 0,
            "rejected_4xx": 0,
        }
        self.activity: dict[str, dict[str, Any]] = {}
        self._last_escalation: dict[str, float] = {}
        self._static = {
            ("GET", "/ping"): self._ping,
            ("GET", "/health/live"): self._live,
            ("GET", "/health/ready"): self._ready,
            ("GET", "/edge-config"): self._get_config,
            ("PUT", "/edge-config"): self._put_config,
            ("GET", "/edge-detector-readiness"): self._readiness,
            ("GET", "/edge-info"): self._edge_info,
            ("GET", "/status/resources.json"): self._resources,
            ("GET", "/status/metrics.json"): self._metrics,
            ("GET", "/"): self._root,
            ("GET", "/status"): self._status_page,
            ("GET", "/_sim/health"): self._sim_health,
            ("GET", "/_sim/state"): self._sim_state,
            ("POST", "/_sim/faults"): self._sim_faults,
            ("GET", "/_sim/faults"): self._sim_get_faults,
            ("POST", "/_sim/new-model"): self._sim_new_model,
            ("POST", "/_sim/down"): self._sim_down,
        }

    # -- dispatch ----------------------------------------------------------------------------
    async def handle(self, req: Request) -> Response | StreamResponse | object:
        self.counters["requests"] += 1
        path = req.path
        if not path.startswith("/_sim/"):
            now = self.clock.now()
            if self.faults.is_down(now):
                self.faults.count("down_reset")
                return DROP
            wait = self.faults.stall_wait(now)
            if wait > 0:
                self.faults.count("stalled")
                await asyncio.sleep(self.clock.real_seconds(wait))
        if path == _IQ_PATH and req.method == "POST":
            return await self._submit_image_query(req)
        handler = self._static.get((req.method, path))
        if handler is not None:
            return await handler(req)
        if path.startswith("/device-api/") or path.startswith("/edge-api/"):
            return await self._cloud_route(req)
        if path.startswith("/api/") or path.startswith("/apis/"):
            return await self._k8s_route(req)
        if any(p == path for (_, p) in self._static):
            return _err(405, "Method Not Allowed")
        return _NOT_FOUND

    @staticmethod
    def _token_problem(req: Request) -> Response | None:
        token = req.headers.get("x-api-token")
        if not token:
            return _err(401, "Authentication credentials were not provided.")
        if not _TOKEN_RE.match(token):
            return _err(401, "Invalid API token.")
        return None

    # -- edge app ----------------------------------------------------------------------------
    async def _ping(self, req: Request) -> Response:
        return json_response({"message": "Hello!"})

    async def _live(self, req: Request) -> Response:
        return json_response({"status": "alive"})

    async def _ready(self, req: Request) -> Response:
        return json_response({"status": "ready"})

    async def _edge_info(self, req: Request) -> Response:
        return json_response(
            {"upstream_endpoint": "simulated (edgeload sim serves the cloud routes itself)"}
        )

    async def _get_config(self, req: Request) -> Response:
        return json_response(self.edge_config)

    async def _put_config(self, req: Request) -> Response:
        try:
            payload = req.json()
        except ValueError as exc:
            return _validation_error(["body"], f"JSON decode error: {exc}", "json_invalid")
        problem = _validate_edge_config(payload)
        if problem is not None:
            return problem
        self._apply_config(payload)
        return Response(200, b"null")

    def _apply_config(self, payload: dict) -> None:
        global_config = {"refresh_rate": 60.0, "confident_audit_rate": 1e-05}
        global_config.update(
            {k: v for k, v in (payload.get("global_config") or {}).items() if k in global_config}
        )
        configs = {}
        for name, cfg in (payload.get("edge_inference_configs") or {}).items():
            merged = dict(DEFAULT_INFERENCE_CONFIGS["default"])
            merged.update({k: v for k, v in cfg.items() if k in merged})
            configs[name] = merged
        detectors = [
            {"detector_id": d["detector_id"], "edge_inference_config": d["edge_inference_config"]}
            for d in payload.get("detectors") or []
        ]
        self.edge_config = {
            "global_config": global_config,
            "edge_inference_configs": configs,
            "detectors": detectors,
        }
        self._detector_configs = {
            d["detector_id"]: configs[d["edge_inference_config"]] for d in detectors
        }
        self.runtime.set_refresh_rate(float(global_config["refresh_rate"]))
        # the model updater creates pods for configured detectors the cloud knows
        for d in detectors:
            det = self.cloud.find(d["detector_id"])
            if det is not None and configs[d["edge_inference_config"]]["enabled"]:
                self._register(det.id, det.mode)

    def _register(self, detector_id: str, mode: str) -> None:
        register = getattr(self.runtime, "register_detector", None)
        if register is not None:
            register(detector_id, mode)

    def _config_for(self, detector_id: str) -> dict:
        return self._detector_configs.get(detector_id) or DEFAULT_INFERENCE_CONFIGS["default"]

    async def _readiness(self, req: Request) -> Response:
        ids = [d["detector_id"] for d in self.edge_config["detectors"]]
        ready = self.runtime.readiness(ids) if ids else {}
        out = {}
        for det_id in ids:
            value = ready.get(det_id, False)
            if isinstance(value, dict):
                value = value.get("ready", False)
            out[det_id] = {"ready": bool(value) and self._config_for(det_id)["enabled"]}
        return json_response(out)

    # -- image queries -----------------------------------------------------------------------
    async def _submit_image_query(self, req: Request) -> Response | object:
        problem = self._token_problem(req)
        if problem is not None:
            return problem
        counters = self.counters
        q = req.query
        detector_id = q.get("detector_id")
        if not detector_id:
            counters["rejected_4xx"] += 1
            return _validation_error(["query", "detector_id"], "Field required", "missing")
        threshold: float | None = None
        if "confidence_threshold" in q:
            try:
                threshold = float(q["confidence_threshold"])
            except ValueError:
                threshold = None
            if threshold is None or not 0.0 <= threshold <= 1.0:
                counters["rejected_4xx"] += 1
                return _validation_error(
                    ["query", "confidence_threshold"],
                    "Input should be less than or equal to 1 and greater than or equal to 0",
                    "value_error",
                    q["confidence_threshold"],
                )
        patience: float | None = None
        if "patience_time" in q:
            try:
                patience = float(q["patience_time"])
            except ValueError:
                patience = -1.0
            if not patience >= 0:
                counters["rejected_4xx"] += 1
                return _validation_error(
                    ["query", "patience_time"],
                    "Input should be greater than or equal to 0",
                    "value_error",
                    q["patience_time"],
                )
        human_review = q.get("human_review")
        if human_review is not None and human_review not in _HUMAN_REVIEW:
            counters["rejected_4xx"] += 1
            return _validation_error(
                ["query", "human_review"],
                "Input should be 'DEFAULT', 'ALWAYS' or 'NEVER'",
                "enum",
                human_review,
            )
        bad = {k: q[k] for k in _EDGE_ONLY_PARAMS if k in q}
        if bad:
            counters["rejected_4xx"] += 1
            return _err(400, f"Invalid query parameters: {bad}")
        if not req.headers.get("content-type", "").startswith("image/"):
            counters["rejected_4xx"] += 1
            return _err(415, "Request body must be image bytes")
        if not req.body:
            counters["rejected_4xx"] += 1
            return _validation_error(["body"], "Field required", "missing")

        det = self.cloud.find(detector_id)
        if det is None:
            counters["errors_5xx"] += 1
            return text_response("Internal Server Error", 500)

        kind, value = self.faults.image_query_fault()
        if kind:
            if kind == "drop":
                return DROP
            if kind == "error":
                counters["errors_5xx" if value >= 500 else "rejected_4xx"] += 1
                return _fault_response(int(value))
            await asyncio.sleep(self.clock.real_seconds(value))  # latency spike

        counters["image_queries"] += 1
        if threshold is None:
            threshold = det.confidence_threshold
        if patience is None:
            patience = det.patience_time
        activity = self._activity(det.id)
        activity["iqs"] += 1
        activity["last_iq"] = self.clock.wall()
        truth = image_truth(req.body)
        cfg = self._config_for(det.id)
        want_async = q.get("want_async", "").lower() in _TRUE

        if want_async or human_review == "ALWAYS":
            # forwarded to the cloud; the answer shows up later on GET /v1/image-queries/{id}
            counters["async_forwards"] += 1
            activity["escalations"] += 1
            await asyncio.sleep(self.clock.real_seconds(self.cloud.latency_s))
            answer = self.cloud.cloud_result(det, truth, threshold)
            ready_at = self.clock.now() + self.cloud.latency_s
            body = self.cloud.image_query(
                det,
                None,
                threshold=threshold,
                patience_time=patience,
                pending_result=answer,
                ready_at=ready_at,
            )
            return json_response(body)

        if not cfg["enabled"]:
            return await self._escalate(det, truth, threshold, patience, activity)

        async with self.runtime.edge_app_slot():
            outcome = await self.runtime.infer(det.id, det.mode, image_pixels(req.body))
            status = outcome.status
            if status == "ok":
                trained = self.cloud.is_trained(det, outcome.model_version)
                result = self.cloud.model_result(det, truth, trained, from_edge=True)
                confident = result["confidence"] >= threshold
                if not confident:
                    activity["below_threshold_iqs"] += 1
                if confident or cfg["always_return_edge_prediction"]:
                    counters["edge_answers"] += 1
                    if not confident and not cfg["disable_cloud_escalation"]:
                        self._background_escalation(det.id, cfg, activity)
                    body = self.cloud.image_query(
                        det, result, threshold=threshold, patience_time=patience
                    )
                    return json_response(body)
                return await self._escalate(det, truth, threshold, patience, activity)
            if status == "no_pod":
                if cfg["always_return_edge_prediction"]:
                    counters["no_pod_503"] += 1
                    return _err(503, _NO_POD_DETAIL.format(det.id))
                return await self._escalate(det, truth, threshold, patience, activity)
            if status == "overloaded":
                counters["overloaded"] += 1
                return _err(
                    503,
                    f"Inference server for detector_id='{det.id}' is overloaded; try again later.",
                )
            counters["inference_failed"] += 1
            counters["errors_5xx"] += 1
            return text_response("Internal Server Error", 500)

    async def _escalate(
        self, det: Any, truth: Any, threshold: float, patience: float, activity: dict
    ) -> Response:
        """Synchronous escalation: the cloud answers after its latency (`from_edge: false`)."""
        self.counters["escalations"] += 1
        activity["escalations"] += 1
        activity["last_escalation"] = self.clock.wall()
        await asyncio.sleep(self.clock.real_seconds(self.cloud.latency_s))
        result = self.cloud.cloud_result(det, truth, threshold)
        return json_response(
            self.cloud.image_query(det, result, threshold=threshold, patience_time=patience)
        )

    def _background_escalation(self, detector_id: str, cfg: dict, activity: dict) -> None:
        """An unconfident edge answer is also sent to the cloud, at most once per interval."""
        now = self.clock.now()
        last = self._last_escalation.get(detector_id)
        if last is not None and now - last < cfg["min_time_between_escalations"]:
            return
        self._last_escalation[detector_id] = now
        self.counters["escalations"] += 1
        activity["escalations"] += 1
        activity["last_escalation"] = self.clock.wall()

    def _activity(self, detector_id: str) -> dict:
        a = self.activity.get(detector_id)
        if a is None:
            a = self.activity[detector_id] = {
                "iqs": 0,
                "escalations": 0,
                "below_threshold_iqs": 0,
                "audits": 0,
                "last_iq": None,
                "last_escalation": None,
            }
        return a

    # -- cloud routes ------------------------------------------------------------------------
    async def _cloud_route(self, req: Request) -> Response:
        problem = self._token_problem(req)
        if problem is not None:
            return problem
        path = req.path
        if path.startswith("/edge-api/v1/fetch-model-urls/"):
            sub = "/v1/edge/fetch-model-urls/" + path[len("/edge-api/v1/fetch-model-urls/") :]
        elif path.startswith("/device-api/"):
            sub = path[len("/device-api") :]
        else:
            return _NOT_FOUND
        parts = [p for p in sub.split("/") if p]
        method = req.method
        cloud = self.cloud
        # the cloud's round trip, as seen through the box (simulated seconds)
        await asyncio.sleep(self.clock.real_seconds(cloud.latency_s / 4))
        try:
            if parts == ["v1", "me"] and method == "GET":
                return json_response(_me())
            if (
                parts[:3] == ["v1", "api-tokens", "by-snippet"]
                and len(parts) == 4
                and method == "GET"
            ):
                return json_response(_token_info(parts[3], self.clock.wall()))
            if parts == ["v1", "detectors"]:
                if method == "GET":
                    q = req.query
                    page = _int(q.get("page"), 1)
                    size = _int(q.get("page_size"), 10)
                    return json_response(cloud.list_detectors(q.get("name"), page, size))
                if method == "POST":
                    body = _json_body(req)
                    created = cloud.create_detector(body)
                    return json_response(created, 201)
            if len(parts) == 3 and parts[:2] == ["v1", "detectors"]:
                if method == "GET":
                    return json_response(cloud.get(parts[2]).to_json())
                if method == "PATCH":
                    return json_response(cloud.patch(parts[2], _json_body(req)))
            if (
                len(parts) == 4
                and parts[:2] == ["v1", "detectors"]
                and parts[3] == "evaluation"
                and method == "GET"
            ):
                return json_response(cloud.evaluation(parts[2]))
            if len(parts) == 3 and parts[:2] == ["v1", "image-queries"] and method == "GET":
                return json_response(cloud.get_image_query(parts[2]))
            if parts == ["v1", "labels"] and method == "POST":
                return json_response(cloud.add_label(_json_body(req)), 201)
            if (
                len(parts) == 4
                and parts[:3] == ["v1", "edge", "fetch-model-urls"]
                and method == "GET"
            ):
                return json_response(cloud.model_urls(parts[3]))
        except CloudError as exc:
            body = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
            return json_response(body, exc.status)
        return _NOT_FOUND

    # -- status monitor ----------------------------------------------------------------------
    async def _root(self, req: Request) -> Response:
        return Response(302, b"", "text/plain", [("location", "/status")])

    async def _status_page(self, req: Request) -> Response:
        html = (
            "<html><body><h1>edgeload simulated edge endpoint</h1>"
            '<p><a href="/status/metrics.json">metrics.json</a> | '
            '<a href="/status/resources.json">resources.json</a> | '
            '<a href="/_sim/state">simulator state</a></p></body></html>'
        )
        return Response(200, html.encode(), "text/html; charset=utf-8")

    async def _resources(self, req: Request) -> Response:
        return json_response(self.runtime.resources_json())

    async def _metrics(self, req: Request) -> Response:
        return json_response(self.metrics_json())

    def metrics_json(self) -> dict:
        rt = self.runtime
        details = {}
        for det_id, st in rt.detector_status().items():
            det = self.cloud.find(det_id)
            entry = dict(st)
            if det is not None:
                entry.setdefault("mode", det.mode)
                entry.setdefault("query", det.query)
                entry.setdefault("detector_name", det.name)
            entry["edge_inference_config"] = self._config_for(det_id)
            details[det_id] = entry
        images = dict(rt.container_images())
        pods = dict(rt.pod_statuses())
        wall = self.clock.wall()
        last_iq = max((a["last_iq"] or 0 for a in self.activity.values()), default=0) or None
        hour = {
            det_id: {
                "hourly_total_iqs": a["iqs"],
                "hourly_total_escalations": a["escalations"],
                "hourly_total_audits": a["audits"],
                "hourly_total_below_threshold_iqs": a["below_threshold_iqs"],
                "last_iq": iso(a["last_iq"]) if a["last_iq"] else None,
                "last_escalation": iso(a["last_escalation"]) if a["last_escalation"] else None,
            }
            for det_id, a in self.activity.items()
        }
        box = getattr(self.profile, "box", None)
        gpus = getattr(box, "gpus", ())
        return {
            "device_info": {
                "device_id": "sim-" + str(getattr(box, "node_name", "edge-box")),
                "now": iso(wall),
                "cpucores": getattr(box, "cpu_cores", os.cpu_count()),
                "inference_flavor": "GPU" if gpus else "CPU",
                "cpu_utilization": _pct(rt, "cpu"),
                "memory_utilization": _pct(rt, "ram"),
                "memory_available_bytes": getattr(box, "ram_bytes", None),
            },
            "activity_metrics": {
                "activity_hour": iso(wall - wall % 3600),
                "last_activity_time": iso(last_iq) if last_iq else None,
                "num_detectors_lifetime": len(self.activity),
                "num_detectors_active_1h": len(self.activity),
                "num_detectors_active_24h": len(self.activity),
                "detector_activity_previous_hour": json.dumps(hour),
            },
            "detector_details": json.dumps(details),
            "k3s_stats": {
                "deployments": str(
                    [f"edge/{d['metadata']['name']}" for d in rt.k8s_deployments()["items"]]
                ),
                "pod_statuses": json.dumps(pods),
                "container_images": json.dumps(images),
            },
        }

    # -- Kubernetes --------------------------------------------------------------------------
    async def _k8s_route(self, req: Request) -> Response | StreamResponse:
        if req.method != "GET":
            return _k8s_status(405, "MethodNotAllowed", "the simulated Kubernetes API is read-only")
        parts = [p for p in req.path.split("/") if p]
        rt = self.runtime
        if (
            parts[:2] == ["api", "v1"]
            and len(parts) >= 5
            and parts[2] == "namespaces"
            and parts[4] == "pods"
        ):
            namespace = parts[3]
            if len(parts) == 6:
                for pod in rt.k8s_pods()["items"] if namespace == "edge" else []:
                    if pod["metadata"]["name"] == parts[5]:
                        return json_response(pod)
                return _k8s_status(404, "NotFound", f'pods "{parts[5]}" not found')
            if len(parts) == 5:
                q = req.query
                if q.get("watch", "").lower() in _TRUE:
                    return self._watch(q, namespace)
                if namespace == "edge":
                    return json_response(rt.k8s_pods())
                return json_response(_empty_list("PodList", "v1", rt.k8s_resource_version()))
        if (
            parts[:3] == ["apis", "apps", "v1"]
            and len(parts) == 6
            and parts[3] == "namespaces"
            and parts[5] == "deployments"
        ):
            if parts[4] == "edge":
                return json_response(rt.k8s_deployments())
            return json_response(
                _empty_list("DeploymentList", "apps/v1", rt.k8s_resource_version())
            )
        if parts == ["api"] or parts == ["version"]:
            return json_response({"kind": "APIVersions", "versions": ["v1"]})
        return _k8s_status(404, "NotFound", "the server could not find the requested resource")

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

    # -- admin -------------------------------------------------------------------------------
    async def _sim_health(self, req: Request) -> Response:
        return json_response(
            {"ok": True, "up": not self.faults.is_down(self.clock.now()), "url": self.url}
        )

    async def _sim_state(self, req: Request) -> Response:
        return json_response(self.state())

    def state(self) -> dict:
        now = self.clock.now()
        runtime_state = self.runtime.state()
        return {
            "profile": getattr(self.profile, "name", None),
            "time_scale": self.clock.time_scale,
            "sim_time_s": now,
            "url": self.url,
            "edge_app_counters": dict(self.counters),
            "faults": self.faults.describe(now),
            "cloud": self.cloud.state(),
            "edge_config": self.edge_config,
            **(runtime_state if isinstance(runtime_state, dict) else {"runtime": runtime_state}),
        }

    async def _sim_get_faults(self, req: Request) -> Response:
        return json_response(self.faults.describe(self.clock.now()))

    async def _sim_faults(self, req: Request) -> Response:
        try:
            knobs = _json_body(req)
            if not isinstance(knobs, dict):
                raise FaultError("expected a JSON object of fault knobs")
            return json_response(self.faults.configure(self.clock.now(), **knobs))
        except (FaultError, CloudError) as exc:
            return _err(400, str(exc))

    async def _sim_new_model(self, req: Request) -> Response:
        try:
            body = _json_body(req)
            det_id = body.get("detector_id") if isinstance(body, dict) else None
            if not isinstance(det_id, str):
                return _err(400, 'expected {"detector_id": "det_..."}')
            version, config = self.cloud.new_model(det_id)
        except CloudError as exc:
            return json_response(
                exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}, exc.status
            )
        return json_response(
            {"detector_id": det_id, "model_version": version, "pipeline_config": config}
        )

    async def _sim_down(self, req: Request) -> Response:
        try:
            body = _json_body(req)
            seconds = body.get("seconds") if isinstance(body, dict) else None
            return json_response(self.faults.configure(self.clock.now(), down_for_s=seconds))
        except (FaultError, CloudError) as exc:
            return _err(400, str(exc))


# -- helpers ---------------------------------------------------------------------------------
def _fault_response(status: int) -> Response:
    if status == 500:
        return text_response("Internal Server Error", 500)
    from http import HTTPStatus

    return _err(status, HTTPStatus(status).phrase)


def _empty_list(kind: str, api_version: str, rv: str) -> dict:
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": str(rv)},
        "items": [],
    }


def _k8s_status(code: int, reason: str, message: str) -> Response:
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


def _json_body(req: Request) -> Any:
    try:
        return req.json()
    except ValueError:
        raise CloudError(400, {"detail": "JSON parse error"}) from None


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value is not None else default
    except ValueError:
        return default


def _float(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def _pct(runtime: Any, which: str) -> float | None:
    try:
        system = runtime.resources_json()["system"]
        if which == "cpu":
            return system["cpu_utilization_pct"]["total"]
        ram = system["ram_bytes"]
        return round(100.0 * ram["used"] / ram["total"], 1)
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def _me() -> dict:
    return {
        "email": "edgeload-sim@example.invalid",
        "username": "edgeload-sim",
        "group": {"id": 1, "name": "edgeload-sim"},
        "is_superuser": False,
    }


def _token_info(snippet: str, wall: float) -> dict:
    return {
        "name": "edgeload-sim",
        "raw_key_snippet": snippet,
        "created_at": iso(wall - 86400),
        "last_used_at": iso(wall),
        "expires_at": None,
        "token_ttl": None,
    }


def _validate_edge_config(payload: Any) -> Response | None:
    """Validate with the SDK's own edge-config models (the real app's rules); 422 like FastAPI."""
    if not isinstance(payload, dict):
        return _validation_error(["body"], "Input should be a valid dictionary", "dict_type")
    try:
        from groundlight.edge.config import EdgeEndpointConfig
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover - the SDK is a dependency
        return None
    try:
        EdgeEndpointConfig.model_validate(payload)
    except ValidationError as exc:
        detail = [
            {"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        return json_response({"detail": detail}, 422)
    except (ValueError, TypeError) as exc:
        return _validation_error(["body"], str(exc), "value_error")
    for d in payload.get("detectors") or []:
        if not _DET_RE.match(str(d.get("detector_id", ""))):
            return _validation_error(
                ["body", "detectors"], "invalid detector_id", "string_pattern_mismatch"
            )
    return None
