"""The simulated Groundlight cloud's HTTP API (the role api.groundlight.ai plays for a box).

It serves three kinds of caller, all with the same code:
- clients on its own port (`SimulatedEndpoint.cloud_url`), e.g. a real edge endpoint whose
  upstream is the simulator;
- the front (nginx) of the simulated box, which resends every request its edge app answers with
  404, 405 or 422 here, as a real box's nginx falls back to the cloud;
- the simulated edge app, which escalates image queries (`submit_image_query`) and looks up
  detectors and tokens as the real one does through its Groundlight SDK client.

The cloud validates tokens (401), its own query parameters (400 with Django REST framework's
field-error shape) and accepts what a real edge sends when it escalates: `metadata` (base64url
JSON, at most 1 KB) and `image_query_id`. Its answers take `cloud_latency_ms` (image queries)
or a quarter of it (other calls). The state lives in `cloud.Cloud`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlencode

from edgeload.sim.answers import image_truth
from edgeload.sim.cloud import Cloud, CloudDetector, CloudError, iso
from edgeload.sim.http import Request, Response, json_response

IQ_SUBPATH = "/v1/image-queries"
_NOT_FOUND = Response(404, b'{"detail":"Not found."}')
_IQ_ID_RE = re.compile(r"^iq_[A-Za-z0-9]{27}$")
_HUMAN_REVIEW = ("DEFAULT", "ALWAYS", "NEVER")
_TRUE = ("true", "1", "yes", "on", "t", "y")
_FALSE = ("false", "0", "no", "off", "f", "n")
METADATA_LIMIT_BYTES = 1024


class CloudApi:
    """`await api.handle(request)` for HTTP; the `submit_image_query`, `get_detector` and
    `check_token` coroutines for the simulated edge app's SDK calls."""

    def __init__(self, clock: Any, cloud: Cloud) -> None:
        self.clock = clock
        self.cloud = cloud
        self.counters: dict[str, int] = {"requests": 0, "image_queries": 0, "refused_401": 0}

    # -- the latency of a round trip to the cloud --------------------------------------------
    async def _api_round_trip(self) -> None:
        await asyncio.sleep(self.clock.real_seconds(self.cloud.latency_s / 4))

    async def _iq_round_trip(self) -> None:
        await asyncio.sleep(self.clock.real_seconds(self.cloud.latency_s))

    # -- HTTP --------------------------------------------------------------------------------
    async def handle(self, req: Request) -> Response:
        self.counters["requests"] += 1
        path = req.path
        if path.startswith("/edge-api/v1/fetch-model-urls/"):
            sub = "/v1/edge/fetch-model-urls/" + path[len("/edge-api/v1/fetch-model-urls/") :]
        elif path.startswith("/device-api/"):
            sub = path[len("/device-api") :]
        else:
            await self._api_round_trip()
            return _NOT_FOUND
        token = req.headers.get("x-api-token")
        problem = self.cloud.token_problem(token)
        if problem is not None:
            self.counters["refused_401"] += 1
            return json_response(problem[1], problem[0])
        if sub.rstrip("/") == IQ_SUBPATH and req.method == "POST":
            status, body = await self.submit_image_query(
                token, req.query, req.body, req.headers.get("content-type", "")
            )
            return json_response(body, status)
        await self._api_round_trip()
        try:
            return self._route(req, [p for p in sub.split("/") if p])
        except CloudError as exc:
            body = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
            return json_response(body, exc.status)

    def _route(self, req: Request, parts: list[str]) -> Response:
        method = req.method
        cloud = self.cloud
        if parts == ["v1", "me"] and method == "GET":
            return json_response(_me())
        if parts[:3] == ["v1", "api-tokens", "by-snippet"] and len(parts) == 4 and method == "GET":
            return json_response(_token_info(parts[3], self.clock.wall()))
        if parts == ["v1", "detectors"]:
            if method == "GET":
                q = req.query
                page = _int(q.get("page"), 1)
                size = _int(q.get("page_size"), 10)
                return json_response(cloud.list_detectors(q.get("name"), page, size))
            if method == "POST":
                return json_response(cloud.create_detector(_json_body(req)), 201)
        if len(parts) == 3 and parts[:2] == ["v1", "detectors"]:
            if method == "GET":
                return json_response(cloud.get(parts[2]).to_json())
            if method == "PATCH":
                return json_response(cloud.patch(parts[2], _json_body(req)))
        if len(parts) == 4 and parts[:2] == ["v1", "detectors"] and parts[3] == "evaluation":
            if method == "GET":
                return json_response(cloud.evaluation(parts[2]))
        if parts == ["v1", "image-queries"] and method == "GET":
            return self._list_image_queries(req)
        if len(parts) == 3 and parts[:2] == ["v1", "image-queries"] and method == "GET":
            return json_response(cloud.get_image_query(parts[2]))
        if len(parts) == 4 and parts[:2] == ["v1", "image-queries"] and parts[3] == "image":
            if method == "GET":
                return Response(200, cloud.image_of(parts[2]), "image/jpeg")
        if parts == ["v1", "labels"] and method == "POST":
            return json_response(cloud.add_label(_json_body(req)), 201)
        if len(parts) == 4 and parts[:3] == ["v1", "edge", "fetch-model-urls"]:
            if method == "GET":
                return json_response(cloud.model_urls(parts[3]))
        return _NOT_FOUND

    def _list_image_queries(self, req: Request) -> Response:
        """GET /v1/image-queries?detector_id=&page=&page_size= (newest first), with the
        `next` / `previous` page URLs Django REST framework gives."""
        q = req.query
        page, size = _int(q.get("page"), 1), min(_int(q.get("page_size"), 10), 1000)
        body = self.cloud.list_image_queries(q.get("detector_id"), page, size)
        base = f"http://{req.headers.get('host') or '127.0.0.1'}{req.path}"
        extra = {"detector_id": q["detector_id"]} if q.get("detector_id") else {}

        def url(n: int) -> str:
            return base + "?" + urlencode({**extra, "page": n, "page_size": size})

        if page * size < body["count"]:
            body["next"] = url(page + 1)
        if page > 1:
            body["previous"] = url(page - 1)
        return json_response(body)

    # -- what the edge app's SDK client calls ------------------------------------------------
    async def check_token(self, token: str | None) -> bool:
        """The SDK client's construction (it asks the cloud who the token belongs to)."""
        await self._api_round_trip()
        return self.cloud.token_problem(token) is None

    async def get_detector(self, token: str | None, detector_id: str) -> CloudDetector | None:
        """GET /v1/detectors/{id}: the detector, or None (unknown, or the token refused)."""
        await self._api_round_trip()
        if self.cloud.token_problem(token) is not None:
            return None
        return self.cloud.find(detector_id)

    async def submit_image_query(
        self,
        token: str | None,
        query: dict[str, str],
        body: bytes,
        content_type: str = "image/jpeg",
    ) -> tuple[int, dict]:
        """POST /v1/image-queries with the SDK's query parameters -> (status, JSON body).

        The answer comes after the cloud's latency: with `want_async` an image query without a
        result yet (it appears a latency later on GET); else the cloud's own answer, right and
        confident. `metadata` is kept and returned; `image_query_id` names the query."""
        self.counters["image_queries"] += 1
        await self._iq_round_trip()
        problem = self.cloud.token_problem(token)
        if problem is not None:
            self.counters["refused_401"] += 1
            return problem
        try:
            params = _iq_params(query)
        except CloudError as exc:
            return exc.status, exc.detail
        if not body:
            return 400, {"image": ["The submitted file is empty."]}
        if not content_type.startswith("image/"):
            return 400, {"detail": "Request body must be image bytes"}
        cloud = self.cloud
        det = cloud.find(params["detector_id"])
        if det is None:
            return 404, {"detail": "Not found."}
        threshold = params["confidence_threshold"]
        if threshold is None:
            threshold = det.confidence_threshold
        patience = params["patience_time"]
        if patience is None:
            patience = det.patience_time
        answer = cloud.cloud_result(det, image_truth(body), threshold, params["human_review"])
        try:
            if params["want_async"]:
                return 200, cloud.image_query(
                    det,
                    None,
                    threshold=threshold,
                    patience_time=patience,
                    iq_id=params["image_query_id"],
                    pending_result=answer,
                    ready_at=self.clock.now() + cloud.latency_s,
                    metadata=params["metadata"],
                    image=body,
                )
            return 200, cloud.image_query(
                det,
                answer,
                threshold=threshold,
                patience_time=patience,
                iq_id=params["image_query_id"],
                metadata=params["metadata"],
                image=body,
            )
        except CloudError as exc:
            return exc.status, exc.detail


def encode_metadata(metadata: dict) -> str:
    """How the SDK puts a metadata dict into the query string: base64url of its JSON."""
    return base64.urlsafe_b64encode(json.dumps(metadata).encode()).decode()


def _iq_params(q: dict[str, str]) -> dict[str, Any]:
    """The cloud's own validation of an image query's parameters (400 with field errors)."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    detector_id = q.get("detector_id")
    if not detector_id:
        errors["detector_id"] = ["This field is required."]
    out["detector_id"] = detector_id
    out["patience_time"] = _number(q, "patience_time", 0.0, 3600.0, errors)
    out["confidence_threshold"] = _number(q, "confidence_threshold", 0.0, 1.0, errors)
    review = q.get("human_review")
    if review is not None and review not in _HUMAN_REVIEW:
        errors["human_review"] = [f'"{review}" is not a valid choice.']
    out["human_review"] = review
    wanted = q.get("want_async", "false").lower()
    if wanted not in _TRUE + _FALSE:
        errors["want_async"] = ["Must be a valid boolean."]
    out["want_async"] = wanted in _TRUE
    out["metadata"] = None
    if "metadata" in q:
        try:
            raw = base64.urlsafe_b64decode(q["metadata"].encode())
            metadata = json.loads(raw)
        except (binascii.Error, ValueError):
            metadata = None
            errors["metadata"] = ["Metadata must be a base64url-encoded JSON object."]
        if metadata is not None and not isinstance(metadata, dict):
            errors["metadata"] = ["Metadata must be a JSON object."]
        elif metadata is not None and len(raw) > METADATA_LIMIT_BYTES:
            errors["metadata"] = [f"Metadata is limited to {METADATA_LIMIT_BYTES} bytes."]
        out["metadata"] = metadata
    iq_id = q.get("image_query_id")
    if iq_id is not None and not _IQ_ID_RE.match(iq_id):
        errors["image_query_id"] = ["Enter a valid image query id (iq_ and 27 characters)."]
    out["image_query_id"] = iq_id
    if errors:
        raise CloudError(400, errors)
    return out


def _number(
    q: dict[str, str], name: str, low: float, high: float, errors: dict[str, list[str]]
) -> float | None:
    if name not in q:
        return None
    try:
        value = float(q[name])
    except ValueError:
        errors[name] = ["A valid number is required."]
        return None
    if not value >= low:
        errors[name] = [f"Ensure this value is greater than or equal to {low:g}."]
    elif not value <= high:
        errors[name] = [f"Ensure this value is less than or equal to {high:g}."]
    return value


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
