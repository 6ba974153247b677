"""The simulated edge app: the FastAPI app behind a real box's nginx, and only that.

Routes it serves itself: GET /ping, /health/live, /health/ready, GET|PUT /edge-config,
GET /edge-detector-readiness, POST /device-api/v1/image-queries. Anything else gets FastAPI's
404 (or 405 for a known path), which the front (`front.py`, nginx) resends to the cloud, as it
does with the 422s of the app's own parameter validation.

How an image query is served, as in the real app (app/api/routes/image_queries.py):
- the token is not checked here: the app builds a Groundlight SDK client for it (none given:
  the box's own token), which asks the cloud once per worker and token; a token the cloud
  refuses makes that fail: a plain-text 500;
- detector data (threshold, query, mode) come from a per-worker cache filled from the cloud on
  first use and refreshed in the background once older than `detector_cache_s`, so a threshold
  changed in the cloud reaches the edge late;
- inference pod readiness is cached per worker for `readiness_cache_s`; a pod not known to be
  ready means escalation (or 503 with `always_return_edge_prediction`); a pod believed ready that
  fails (gone, switching over, an empty image) means a plain-text 500;
- an answer below the threshold is escalated to the cloud synchronously (the cloud's answer is
  returned: `from_edge: false`); with `always_return_edge_prediction` the edge answer is returned
  and the query is queued for the cloud (`done_processing: false`), at most once per
  `min_time_between_escalations` per worker and detector;
- requests beyond the workers' concurrency wait (uvicorn queues); no answer says "overloaded"
  unless a profile sets `service.queue_limit` (simulator-only behaviour).

Each connection is served by one of `edge_app_workers` workers (round robin on accept), each
with its own caches, like uvicorn's worker processes.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from edgeload.sim import edge_config
from edgeload.sim.activity import Activity
from edgeload.sim.answers import image_pixels, image_truth
from edgeload.sim.cloud import ROIS_KEY, Cloud, IdMaker, image_query_json, iso
from edgeload.sim.cloud_api import CloudApi, encode_metadata
from edgeload.sim.faults import Faults
from edgeload.sim.http import DROP, Request, Response, json_response, text_response

IQ_PATH = "/device-api/v1/image-queries"
# the token in the box's own configuration (GROUNDLIGHT_API_TOKEN of the edge app); not a secret
BOX_TOKEN = "api_edgeloadSimulatedBoxOwnToken00000"
DEFAULT_PATIENCE_TIME = 30.0  # the real app's constant for edge answers
_EDGE_ONLY_PARAMS = ("inspection_id", "metadata", "image_query_id")
_HUMAN_REVIEW = ("DEFAULT", "ALWAYS", "NEVER")
_TRUE = ("true", "1", "yes", "on", "t", "y")
_FALSE = ("false", "0", "no", "off", "f", "n")
_NOT_FOUND = Response(404, b'{"detail":"Not Found"}')
_METHOD_NOT_ALLOWED = Response(405, b'{"detail":"Method Not Allowed"}')
_SERVER_ERROR = text_response("Internal Server Error", 500)
_NO_POD_DETAIL = (
    "Edge predictions are required, but an edge-inference server is not available "
    "for detector_id='{}'."
)
_LABEL_INDEX = {"YES": 0, "NO": 1}


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    """What an edge worker caches about a detector (the SDK's Detector)."""

    id: str
    name: str
    query: str
    mode: str
    confidence_threshold: float
    class_names: tuple[str, ...]


@dataclass
class _Cached:
    info: DetectorInfo
    fetched_at: float
    refreshing: bool = False


@dataclass
class Worker:
    """One uvicorn worker process's state: its SDK clients, caches and escalation times."""

    sdk_tokens: set = field(default_factory=set)
    detectors: dict[str, _Cached] = field(default_factory=dict)
    readiness: dict[str, tuple[bool, float]] = field(default_factory=dict)
    last_escalation: dict[str, float] = field(default_factory=dict)


class EdgeApp:
    """The request handler: `await app.handle(request)`."""

    def __init__(
        self,
        profile: Any,
        clock: Any,
        runtime: Any,
        cloud: Cloud,
        cloud_api: CloudApi,
        faults: Faults,
        activity: Activity,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.profile = profile
        self.clock = clock
        self.runtime = runtime
        self.cloud = cloud
        self.cloud_api = cloud_api
        self.faults = faults
        self.activity = activity
        self.rng = rng or random.Random()
        service = profile.service
        self.workers = [Worker() for _ in range(max(1, service.edge_app_workers))]
        self.readiness_ttl = float(service.readiness_cache_s)
        self.detector_ttl = float(service.detector_cache_s)
        self.config = edge_config.EdgeConfig(float(profile.updater.refresh_rate_s))
        self.ids = IdMaker()
        self.counters: dict[str, int] = {
            "requests": 0,
            "image_queries": 0,
            "edge_answers": 0,
            "escalations": 0,
            "async_forwards": 0,
            "queued_escalations": 0,
            "audits": 0,
            "errors_5xx": 0,
            "no_pod_503": 0,
            "inference_failed": 0,
            "overloaded": 0,
            "rejected_4xx": 0,
        }
        # failed queued escalations: (wall time, exception type), for metrics.json
        self.failed_escalations: list[tuple[float, str]] = []
        self._queue: asyncio.Queue | None = None
        self._queue_task: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()
        self._routes = {
            ("GET", "/ping"): self._ping,
            ("GET", "/health/live"): self._live,
            ("GET", "/health/ready"): self._ready,
            ("GET", "/edge-config"): self._get_config,
            ("PUT", "/edge-config"): self._put_config,
            ("GET", "/edge-detector-readiness"): self._readiness,
        }
        self._paths = {path for _, path in self._routes} | {IQ_PATH}

    # -- dispatch ----------------------------------------------------------------------------
    async def handle(self, req: Request) -> Response | object:
        self.counters["requests"] += 1
        if req.path == IQ_PATH:
            if req.method == "POST":
                return await self._submit_image_query(req)
            return _METHOD_NOT_ALLOWED
        handler = self._routes.get((req.method, req.path))
        if handler is not None:
            return await handler(req)
        return _METHOD_NOT_ALLOWED if req.path in self._paths else _NOT_FOUND

    def worker(self, req: Request) -> Worker:
        return self.workers[req.conn % len(self.workers)]

    async def stop(self) -> None:
        """Cancel background work (queued escalations, cache refreshes)."""
        tasks = list(self._background)
        if self._queue_task is not None:
            tasks.append(self._queue_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass

    # -- small routes ------------------------------------------------------------------------
    async def _ping(self, req: Request) -> Response:
        return json_response({"message": "Hello!"})

    async def _live(self, req: Request) -> Response:
        return json_response({"status": "alive"})

    async def _ready(self, req: Request) -> Response:
        return json_response({"status": "ready"})

    async def _get_config(self, req: Request) -> Response:
        return json_response(self.config.to_payload())

    async def _put_config(self, req: Request) -> Response:
        try:
            payload = req.json()
        except ValueError as exc:
            item = {"type": "json_invalid", "loc": ["body"], "msg": f"JSON decode error: {exc}"}
            return json_response({"detail": [item]}, 422)
        errors = edge_config.problems(payload)
        if errors is not None:
            return json_response({"detail": errors}, 422)
        self.config.apply(payload)
        self.runtime.set_refresh_rate(self.config.refresh_rate)
        # every listed detector the cloud knows gets a deployment record: the model updater
        # creates its pods (whatever `enabled` says: the real app does not look at it)
        for det_id in self.config.detector_ids:
            det = self.cloud.find(det_id)
            if det is not None:
                self.runtime.register_detector(det.id, det.mode)
        return Response(200, b"null")

    async def _readiness(self, req: Request) -> Response:
        """Pod health of each configured detector, through the worker's readiness cache."""
        worker = self.worker(req)
        self.runtime.tick()
        return json_response(
            {d: {"ready": self._available(worker, d)} for d in self.config.detector_ids}
        )

    def _available(self, worker: Worker, detector_id: str) -> bool:
        now = self.clock.now()
        cached = worker.readiness.get(detector_id)
        if cached is not None and now - cached[1] < self.readiness_ttl:
            return cached[0]
        ready = self.runtime.is_ready(detector_id)
        worker.readiness[detector_id] = (ready, now)
        return ready

    # -- image queries -----------------------------------------------------------------------
    async def _submit_image_query(self, req: Request) -> Response | object:
        """POST /device-api/v1/image-queries, in the real route's order: dependencies, detector
        data, then the cloud (async, human review, no pod) or the inference pod's answer.
        The hot path: the rarer branches are awaited helpers, the common one adds no await."""
        counters = self.counters
        # FastAPI runs the route's dependencies first: content type, then the SDK client
        if not req.headers.get("content-type", "").startswith("image/"):
            counters["rejected_4xx"] += 1
            return json_response({"detail": "Request body must be image bytes"}, 415)
        worker = self.worker(req)
        token = req.headers.get("x-api-token") or None
        if token not in worker.sdk_tokens and not await self._build_sdk_client(worker, token):
            return _SERVER_ERROR
        sdk_token = token or BOX_TOKEN
        params = self._query_params(req.query)
        if isinstance(params, Response):
            return params

        info = self._cached_detector(worker, sdk_token, params["detector_id"])
        if info is None:
            info = await self._fetch_detector(worker, sdk_token, params["detector_id"])
            if info is None:
                counters["errors_5xx"] += 1
                return _SERVER_ERROR  # the SDK's NotFoundError
        kind, value = self.faults.image_query_fault()
        if kind:
            fault = await self._injected_fault(kind, value)
            if fault is not None:
                return fault

        cfg = self.config.for_detector(info.id)
        return_edge = bool(cfg and cfg["always_return_edge_prediction"])
        if params["human_review"] == "ALWAYS" and return_edge:
            counters["rejected_4xx"] += 1
            detail = "Human review cannot be required if edge predictions are required."
            return json_response({"detail": detail}, 400)
        counters["image_queries"] += 1
        self.activity.record(info.id, "iqs")
        body = req.body
        if params["want_async"]:
            return await self._forward_async(sdk_token, info, body, params, return_edge)
        threshold = params["confidence_threshold"]
        if threshold is None:
            threshold = info.confidence_threshold
        if params["human_review"] == "ALWAYS":
            self.activity.record(info.id, "escalations")
            return await self._escalate(sdk_token, info, body, params, None, threshold=threshold)
        if not self._available(worker, info.id):
            return await self._without_pod(sdk_token, info, body, params, threshold, return_edge)

        async with self.runtime.edge_app_slot():
            outcome = await self.runtime.infer(info.id, info.mode, image_pixels(body))
        if outcome.status != "ok" or not body:
            return self._inference_failed(info, outcome.status)
        det = self.cloud.find(info.id)
        if det is None:  # pragma: no cover - the cloud never forgets a detector
            return _SERVER_ERROR
        trained = self.cloud.is_trained(det, outcome.model_version)
        result = self.cloud.model_result(det, image_truth(body), trained, from_edge=True)
        class_index = _class_index(info, result)
        confident = self._record_confidence(info.id, result["confidence"], class_index, threshold)
        if not (return_edge or confident):
            self.activity.record(info.id, "escalations", class_index)
            mlb, oodd_mlb = self.cloud.binary_ids(info.id, outcome.model_version)
            edge_result = _edge_result(result["confidence"], class_index, mlb, oodd_mlb)
            return await self._escalate(
                sdk_token, info, body, params, edge_result, threshold=threshold
            )
        return self._edge_answer(
            worker, info, body, params, cfg, threshold, result, class_index, outcome.model_version
        )

    async def _build_sdk_client(self, worker: Worker, token: str | None) -> bool:
        """Build the worker's SDK client for a token (once); False: the cloud refuses the token,
        so the client cannot be built (a 500)."""
        if not await self.cloud_api.check_token(token or BOX_TOKEN):
            self.counters["errors_5xx"] += 1
            return False
        worker.sdk_tokens.add(token)
        return True

    def _query_params(self, q: dict[str, str]) -> dict[str, Any] | Response:
        """The route's parameters, or its refusal: FastAPI's 422 (the front resends it to the
        cloud), or the 400 for parameters only the cloud takes."""
        params = _validated(q)
        if isinstance(params, Response):
            return params
        if "metadata" in q or "image_query_id" in q or "inspection_id" in q:
            self.counters["rejected_4xx"] += 1
            names = ", ".join(repr(k) for k in sorted(_EDGE_ONLY_PARAMS) if k in q)
            return json_response({"detail": f"Invalid query parameters: {{{names}}}"}, 400)
        return params

    async def _injected_fault(self, kind: str, value: float) -> Response | object | None:
        """An injected fault's answer (a dropped connection, an error status), or None once a
        latency spike has been waited out."""
        if kind == "drop":
            return DROP
        if kind == "error":
            self.counters["errors_5xx" if value >= 500 else "rejected_4xx"] += 1
            return _fault_response(int(value))
        await asyncio.sleep(self.clock.real_seconds(value))  # latency spike
        return None

    async def _forward_async(
        self,
        token: str,
        info: DetectorInfo,
        body: bytes,
        params: dict[str, Any],
        return_edge: bool,
    ) -> Response:
        """`want_async`: the query goes to the cloud as it is, unless edge answers are required."""
        if return_edge:
            self.counters["rejected_4xx"] += 1
            detail = (
                "Async requests are not supported when 'always_return_edge_prediction' "
                "is set to True."
            )
            return json_response({"detail": detail}, 400)
        self.counters["async_forwards"] += 1
        self.activity.record(info.id, "escalations")
        threshold = params["confidence_threshold"]
        return await self._escalate(
            token, info, body, params, None, threshold=threshold, want_async=True
        )

    async def _without_pod(
        self,
        token: str,
        info: DetectorInfo,
        body: bytes,
        params: dict[str, Any],
        threshold: float,
        return_edge: bool,
    ) -> Response:
        """No inference pod known to be ready: the cloud answers, or a 503 when edge answers
        are required."""
        # a deployment record: the model updater creates the detector's pods
        self.runtime.register_detector(info.id, info.mode)
        if return_edge:
            self.counters["no_pod_503"] += 1
            return json_response({"detail": _NO_POD_DETAIL.format(info.id)}, 503)
        self.activity.record(info.id, "escalations")
        return await self._escalate(token, info, body, params, None, threshold=threshold)

    def _inference_failed(self, info: DetectorInfo, status: str) -> Response:
        """The answer to an inference that gave no result."""
        if status == "overloaded":  # only with a profile's queue_limit
            self.counters["overloaded"] += 1
            detail = f"Inference server for detector_id='{info.id}' is overloaded; try again later."
            return json_response({"detail": detail}, 503)
        # the pod went away, is switching over, or could not read the image
        self.counters["inference_failed"] += 1
        self.counters["errors_5xx"] += 1
        return _SERVER_ERROR

    def _record_confidence(
        self, detector_id: str, confidence: float, class_index: int, threshold: float
    ) -> bool:
        """Record an edge inference's confidence; True when it meets the threshold."""
        activity = self.activity
        activity.record_confidence(detector_id, confidence, class_index)
        confident = confidence >= threshold
        if not confident:
            activity.record(detector_id, "below_threshold_iqs", class_index)
        return confident

    def _edge_answer(
        self,
        worker: Worker,
        info: DetectorInfo,
        body: bytes,
        params: dict[str, Any],
        cfg: dict | None,
        threshold: float,
        result: dict,
        class_index: int,
        model_version: int | None,
    ) -> Response:
        """The edge's own answer. Unless cloud escalation is disabled, a confident answer may be
        audited and an unconfident one is queued for the cloud (then it is not done yet)."""
        counters = self.counters
        confidence = result["confidence"]
        mlb, oodd_mlb = self.cloud.binary_ids(info.id, model_version)
        counters["edge_answers"] += 1
        iq_id = self.ids.make("iq_")
        done = True
        if not (cfg and cfg["disable_cloud_escalation"]):
            if confidence >= threshold:
                if self.rng.random() < self.config.confident_audit_rate:
                    counters["audits"] += 1
                    self.activity.record(info.id, "audits")
                    edge_result = _edge_result(confidence, class_index, mlb, oodd_mlb)
                    audit = {"is_edge_audit": True, "edge_result": edge_result}
                    self._queue_escalation(info, body, params, threshold, audit, iq_id)
            elif self._cooldown_over(worker, info.id, cfg):
                self.activity.record(info.id, "escalations", class_index)
                edge_result = _edge_result(confidence, class_index, mlb, oodd_mlb)
                self._queue_escalation(
                    info, body, params, threshold, {"edge_result": edge_result}, iq_id
                )
                done = False  # the cloud may still answer better
        metadata: dict[str, Any] = {"is_from_edge": True}
        if mlb is not None:
            metadata["edge_result"] = {"mlb_key": mlb, "oodd_mlb_key": oodd_mlb}
        patience = params["patience_time"]
        body_json = image_query_json(
            info,
            iq_id,
            iso(self.clock.wall()),
            result,
            threshold,
            DEFAULT_PATIENCE_TIME if patience is None else patience,
            metadata,
            done,
        )
        return json_response(body_json)

    def _cooldown_over(self, worker: Worker, detector_id: str, cfg: dict | None) -> bool:
        """At most one background escalation per `min_time_between_escalations` (per worker)."""
        interval = cfg["min_time_between_escalations"] if cfg else 2.0
        now = self.clock.now()
        last = worker.last_escalation.get(detector_id)
        if last is None or now - last > interval:
            worker.last_escalation[detector_id] = now
            return True
        return False

    # -- detector data -----------------------------------------------------------------------
    def _cached_detector(self, worker: Worker, token: str, detector_id: str) -> DetectorInfo | None:
        """The worker's cached detector data, or None when it has none yet."""
        cached = worker.detectors.get(detector_id)
        if cached is None:
            return None
        # after the answer, the real app refreshes a cache entry older than the limit
        if not cached.refreshing and self.clock.now() - cached.fetched_at > self.detector_ttl:
            cached.refreshing = True
            self._spawn(self._refresh(cached, token, detector_id))
        return cached.info

    async def _fetch_detector(
        self, worker: Worker, token: str, detector_id: str
    ) -> DetectorInfo | None:
        """Ask the cloud (the first query of a detector on this worker); None: unknown."""
        det = await self.cloud_api.get_detector(token, detector_id)
        if det is None:
            return None
        info = _info(det)
        worker.detectors[detector_id] = _Cached(info, self.clock.now())
        return info

    async def _refresh(self, cached: _Cached, token: str, detector_id: str) -> None:
        try:
            det = await self.cloud_api.get_detector(token, detector_id)
            if det is not None:
                cached.info = _info(det)
        finally:
            # a failed refresh keeps the stale data, stamped now (the real app does the same)
            cached.fetched_at = self.clock.now()
            cached.refreshing = False

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- escalation --------------------------------------------------------------------------
    def _sdk_query(
        self,
        info: DetectorInfo,
        params: dict[str, Any],
        threshold: float | None,
        metadata: dict | None,
    ) -> dict[str, str]:
        """The query string the SDK's submit_image_query builds."""
        q = {"detector_id": info.id}
        if params["patience_time"] is not None:
            q["patience_time"] = repr(params["patience_time"])
        if threshold is not None:
            q["confidence_threshold"] = repr(threshold)
        if params["human_review"] is not None:
            q["human_review"] = params["human_review"]
        if metadata is not None:
            q["metadata"] = encode_metadata(metadata)
        return q

    async def _escalate(
        self,
        token: str,
        info: DetectorInfo,
        body: bytes,
        params: dict[str, Any],
        edge_result: dict | None,
        *,
        threshold: float | None = None,
        want_async: bool = False,
    ) -> Response:
        """Submit to the cloud now and answer with what the cloud answers."""
        self.counters["escalations"] += 1
        if not body:  # the SDK refuses an empty image before any request
            self.counters["errors_5xx"] += 1
            return _SERVER_ERROR
        metadata = None if want_async else {"edge_result": edge_result}
        q = self._sdk_query(info, params, threshold, metadata)
        if want_async:
            q["want_async"] = "True"
        status, answer = await self.cloud_api.submit_image_query(token, q, body)
        if status >= 400:
            self.counters["errors_5xx" if status >= 500 else "rejected_4xx"] += 1
            detail = f"({status})\nReason: cloud refused the image query\nHTTP response body: "
            return json_response({"detail": detail + str(answer)}, status)
        return json_response(answer)

    def _queue_escalation(
        self,
        info: DetectorInfo,
        body: bytes,
        params: dict[str, Any],
        threshold: float,
        metadata: dict,
        iq_id: str,
    ) -> None:
        """The escalation queue: one reader sends queued queries to the cloud, one at a time,
        with the box's own token, as async queries named like the edge's answer."""
        self.counters["queued_escalations"] += 1
        q = self._sdk_query(info, params, threshold, metadata)
        q["want_async"] = "True"
        q["image_query_id"] = iq_id
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._queue_task = asyncio.get_running_loop().create_task(self._read_queue())
        self._queue.put_nowait((q, body))

    async def _read_queue(self) -> None:
        assert self._queue is not None
        while True:
            q, body = await self._queue.get()
            status, _ = await self.cloud_api.submit_image_query(BOX_TOKEN, q, body)
            if status >= 400:
                self.failed_escalations.append((self.clock.wall(), "HTTPException"))
                del self.failed_escalations[:-200]  # the real app keeps 200 records

    # -- views -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "edge_app_counters": dict(self.counters),
            "edge_config": self.config.to_payload(),
            "escalation_queue": self._queue.qsize() if self._queue is not None else 0,
        }


def _info(det: Any) -> DetectorInfo:
    return DetectorInfo(
        id=det.id,
        name=det.name,
        query=det.query,
        mode=det.mode,
        confidence_threshold=float(det.confidence_threshold),
        class_names=tuple(det.class_names) if det.mode == "MULTI_CLASS" else (),
    )


def _edge_result(confidence: float, label: int, mlb: str | None, oodd_mlb: str | None) -> dict:
    """The inference result an escalation carries in its metadata (`edge_result`)."""
    result: dict[str, Any] = {"confidence": confidence, "label": label, "text": None, "rois": None}
    if mlb is not None:
        result["mlb_key"] = mlb
        result["oodd_mlb_key"] = oodd_mlb
    return result


def _class_index(info: DetectorInfo, result: dict) -> int:
    """The class index an inference server reports (binary: 0 = YES, 1 = NO)."""
    if info.mode == "COUNT":
        return int(result.get("count") or 0)
    if info.mode == "BOUNDING_BOX":  # objects found
        return len(result.get(ROIS_KEY) or ())
    if info.mode == "MULTI_CLASS":
        try:
            return info.class_names.index(result.get("label"))
        except ValueError:
            return 0
    return _LABEL_INDEX.get(result.get("label"), 0)


def _validated(q: dict[str, str]) -> dict[str, Any] | Response:
    """FastAPI's validation of the route's query parameters: the values, or its 422."""
    errors: list[dict[str, Any]] = []
    detector_id = q.get("detector_id")
    if detector_id is None:
        errors.append(_error("missing", "detector_id", "Field required", None))
    patience = _float(q, "patience_time", 0.0, None, errors)
    threshold = _float(q, "confidence_threshold", 0.0, 1.0, errors)
    review = q.get("human_review")
    if review is not None and review not in _HUMAN_REVIEW:
        msg = "Input should be 'DEFAULT', 'ALWAYS' or 'NEVER'"
        errors.append(_error("literal_error", "human_review", msg, review, ctx=True))
    wanted = q.get("want_async")
    want_async = False
    if wanted is not None:
        lowered = wanted.lower()
        if lowered in _TRUE:
            want_async = True
        elif lowered not in _FALSE:
            msg = "Input should be a valid boolean, unable to interpret input"
            errors.append(_error("bool_parsing", "want_async", msg, wanted))
    if errors:
        return json_response({"detail": errors}, 422)
    return {
        "detector_id": detector_id,
        "patience_time": patience,
        "confidence_threshold": threshold,
        "human_review": review,
        "want_async": want_async,
    }


def _float(
    q: dict[str, str], name: str, low: float, high: float | None, errors: list
) -> float | None:
    raw = q.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        msg = "Input should be a valid number, unable to parse string as a number"
        errors.append(_error("float_parsing", name, msg, raw))
        return None
    if not value >= low:
        msg = f"Input should be greater than or equal to {low:g}"
        errors.append(_error("greater_than_equal", name, msg, raw, ctx={"ge": low}))
    elif high is not None and not value <= high:
        msg = f"Input should be less than or equal to {high:g}"
        errors.append(_error("less_than_equal", name, msg, raw, ctx={"le": high}))
    return value


def _error(kind: str, name: str, msg: str, given: Any, ctx: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": kind, "loc": ["query", name], "msg": msg, "input": given}
    if isinstance(ctx, dict):
        item["ctx"] = ctx
    elif ctx:
        item["ctx"] = {"expected": "'DEFAULT', 'ALWAYS' or 'NEVER'"}
    return item


def _fault_response(status: int) -> Response:
    if status == 500:
        return _SERVER_ERROR
    from http import HTTPStatus

    return json_response({"detail": HTTPStatus(status).phrase}, status)
