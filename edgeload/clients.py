"""One image-query submission and the check of its answer, for the two clients a run can use.

    sdk   the real `groundlight` SDK (`submit_sdk`), with a client built by
          `edgeload.target.make_sdk` (hidden retries off, pool sized for the users);
    http  the same HTTP request the SDK sends, built once (`EdgeRequest`) and posted by a raw
          HTTP client (Locust's FastHttpUser in `edgeload.scenarios.throughput.users`; outside
          Locust `HttpSubmitter` for one detector, `SharedHttpSubmit` for many detectors and
          concurrent callers, both on `edgeload.http`).

Both ask for an answer the edge gives itself (`wait=0`, `human_review=NEVER`,
`confidence_threshold=0`, as the original load tests did) and check every answer: an HTTP
success, from the edge (`result.from_edge`), for the detector asked, and, given the detector's
`AnswerSpec`, in its mode's shape: a MULTI_CLASS label among the detector's classes; a
BOUNDING_BOX label (BOUNDING_BOX, NO_OBJECTS, GREATER_THAN_MAX, UNCLEAR) with ROIs that fit it
(at least one box for BOUNDING_BOX, none for NO_OBJECTS, at most the detector's maximum); a
COUNT answer's `count` a whole number up to the detector's max count (10 by default), any
count with `greater_than_max` true, or null (the API allows it). BINARY answers are checked
as before. Anything else is a failure with one of `edgeload.runlog.ERROR_CATEGORIES`.

This module imports neither locust nor gevent, so the single-client FPS test can use it too.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from edgeload.modes import BBOX_FOUND, BBOX_LABELS, BBOX_NONE, COUNT_MAX

IMAGE_QUERIES_PATH = "/device-api/v1/image-queries"
# What the SDK is asked for: an edge answer now, never a human, whatever its confidence.
SUBMIT_KWARGS = {"wait": 0.0, "human_review": "NEVER", "confidence_threshold": 0.0}
QUERY_PARAMS = {"human_review": "NEVER", "confidence_threshold": "0.0"}
REQUEST_TIMEOUT_S = 10.0  # the SDK's own default request timeout


@dataclass(slots=True)
class Outcome:
    """What one submission gave: `error` is None on success, else an error category."""

    status: int  # HTTP status, 0 when no answer arrived
    error: str | None
    detail: str = ""  # short, low-cardinality text for Locust's error table

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class AnswerSpec:
    """What a detector's answers look like beyond the common checks (COUNT, MULTI_CLASS and
    BOUNDING_BOX; BINARY answers get the common checks only). `max_boxes`: BOUNDING_BOX's max
    boxes, COUNT's max count."""

    mode: str
    class_names: frozenset[str] = frozenset()
    max_boxes: int | None = None

    @classmethod
    def of(cls, record: dict | None) -> AnswerSpec | None:
        """From `ProvisionedDetector.answer_spec()` (what the master sends workers); None for
        BINARY, or no record."""
        mode = (record or {}).get("mode")
        if mode not in ("COUNT", "MULTI_CLASS", "BOUNDING_BOX"):
            return None
        most = record.get("max")
        if mode == "COUNT":  # a default COUNT detector records no size: it counts to 10
            return cls(mode, max_boxes=int(most) if most is not None else COUNT_MAX)
        return cls(
            mode,
            frozenset(str(c) for c in record.get("class_names") or ()),
            int(most) if most is not None and mode == "BOUNDING_BOX" else None,
        )

    def problem(
        self, label: Any, rois: Any, *, count: Any = None, over_max: Any = None
    ) -> str | None:
        """Why an answer's label and ROIs (COUNT: its count and greater_than_max) do not fit
        the mode (None when they do)."""
        if self.mode == "COUNT":
            return self._count_problem(count, over_max)
        if self.mode == "MULTI_CLASS":
            if not isinstance(label, str) or (self.class_names and label not in self.class_names):
                return "label is not one of the detector's classes"
            return None
        if label not in BBOX_LABELS:
            return "not a bounding-box label"
        if rois is None:
            rois = ()
        if not isinstance(rois, list | tuple):
            return "rois is not a list"
        if label == BBOX_FOUND and not rois:
            return "BOUNDING_BOX answer without boxes"
        if label == BBOX_NONE and rois:
            return "NO_OBJECTS answer with boxes"
        if self.max_boxes is not None and len(rois) > self.max_boxes:
            return "more boxes than the detector's maximum"
        return None

    def _count_problem(self, count: Any, over_max: Any) -> str | None:
        if count is None:  # the API's CountingResult allows a null count (an unclear image)
            return None
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return "count is not a whole number"
        # beyond its max count a detector says greater_than_max (its count is then the max)
        if over_max is not True and self.max_boxes is not None and count > self.max_boxes:
            return "count above the detector's max count without greater_than_max"
        return None


def _roi_ok(roi: Any) -> bool:
    """A JSON ROI: a label and a geometry with left/top/right/bottom."""
    if not isinstance(roi, dict):
        return False
    geometry = roi.get("geometry")
    return isinstance(geometry, dict) and all(
        isinstance(geometry.get(k), int | float) for k in ("left", "top", "right", "bottom")
    )


def category_for_status(status: int) -> str:
    """The error category of a non-2xx HTTP status (0: no answer)."""
    if status == 0:
        return "connection"
    if 400 <= status < 500:
        return "http_4xx"
    if status == 500:
        return "http_500"
    if status == 503:
        return "http_503"
    if 500 <= status < 600:
        return "http_5xx"
    return "bad_response"  # 1xx/3xx where an answer was expected


def check_answer(answer: dict, detector_id: str, spec: AnswerSpec | None = None) -> Outcome:
    """Check a parsed 2xx image-query body: for `detector_id`, answered by the edge (and in
    the shape of `spec`'s mode)."""
    if not isinstance(answer, dict):
        return Outcome(200, "bad_response", "answer is not a JSON object")
    if answer.get("detector_id") != detector_id:
        return Outcome(200, "wrong_detector", "answer is for another detector")
    result = answer.get("result")
    if not isinstance(result, dict):
        return Outcome(200, "not_from_edge", "answer has no result")
    if result.get("from_edge") is not True:
        return Outcome(200, "not_from_edge", "answer did not come from the edge")
    if spec is not None:
        rois = answer.get("rois")
        problem = spec.problem(
            result.get("label"),
            rois,
            count=result.get("count"),
            over_max=result.get("greater_than_max"),
        )
        if problem is None and rois and not all(_roi_ok(r) for r in rois):
            problem = "an ROI has no geometry"
        if problem is not None:
            return Outcome(200, "bad_answer", problem)
    return Outcome(200, None)


def check_http_answer(
    status: int, body: bytes | None, detector_id: str, spec: AnswerSpec | None = None
) -> Outcome:
    """Check a raw HTTP answer: status, then the JSON body."""
    if not 200 <= status < 300:
        return Outcome(status, category_for_status(status), f"HTTP {status}")
    try:
        answer = json.loads(body or b"")
    except ValueError:
        return Outcome(status, "bad_response", "body is not JSON")
    outcome = check_answer(answer, detector_id, spec)
    outcome.status = status
    return outcome


def classify_exception(exc: BaseException) -> Outcome:
    """An exception raised by a submission (no usable answer) as an Outcome."""
    status = getattr(exc, "status", None)  # the SDK's ApiException carries the HTTP status
    if isinstance(status, int) and status:
        return Outcome(status, category_for_status(status), f"HTTP {status}")
    chain = _exception_chain(exc)
    names = " ".join(type(e).__name__ for e in chain).lower()
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, TimeoutError | socket.timeout) for e in chain) or "timeout" in names:
        return Outcome(0, "timeout", "no answer in time")
    if "timed out" in text:
        return Outcome(0, "timeout", "no answer in time")
    if any(isinstance(e, ConnectionError | OSError) for e in chain) or any(
        word in names for word in ("connection", "protocol", "maxretry", "newconnection")
    ):
        return Outcome(0, "connection", "connection failed")
    if "validation" in names or "apitype" in names or "apivalue" in names:
        return Outcome(200, "bad_response", "answer could not be parsed")
    return Outcome(0, "client", type(exc).__name__)


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < 8:
        chain.append(current)
        seen.add(id(current))
        reason = getattr(current, "reason", None)  # urllib3 MaxRetryError keeps the cause here
        current = (
            (reason if isinstance(reason, BaseException) else None)
            or current.__cause__
            or current.__context__
        )
    return chain


def submit_sdk(gl: Any, detector_id: str, jpeg: bytes, spec: AnswerSpec | None = None) -> Outcome:
    """One image query through the SDK, checked. Never raises for an endpoint problem."""
    try:
        image_query = gl.submit_image_query(detector_id, jpeg, **SUBMIT_KWARGS)
    except Exception as exc:  # the SDK raises many types; each maps to a category
        return classify_exception(exc)
    return check_sdk_answer(image_query, detector_id, spec)


def check_sdk_answer(image_query: Any, detector_id: str, spec: AnswerSpec | None = None) -> Outcome:
    """Check an SDK `ImageQuery` the way `check_answer` checks a JSON body."""
    if getattr(image_query, "detector_id", None) != detector_id:
        return Outcome(200, "wrong_detector", "answer is for another detector")
    result = getattr(image_query, "result", None)
    if result is None:
        return Outcome(200, "not_from_edge", "answer has no result")
    if getattr(result, "from_edge", None) is not True:
        return Outcome(200, "not_from_edge", "answer did not come from the edge")
    if spec is not None:
        rois = getattr(image_query, "rois", None)
        problem = spec.problem(
            getattr(result, "label", None),
            rois,
            count=getattr(result, "count", None),
            over_max=getattr(result, "greater_than_max", None),
        )
        if problem is None and rois and not all(getattr(r, "geometry", None) for r in rois):
            problem = "an ROI has no geometry"
        if problem is not None:
            return Outcome(200, "bad_answer", problem)
    return Outcome(200, None)


def edge_headers(token: str) -> dict[str, str]:
    """The headers of the SDK's image-query POST (the same for every detector)."""
    return {"Content-Type": "image/jpeg", "Accept": "application/json", "x-api-token": token}


class EdgeRequest:
    """The SDK's image-query POST for one detector, prepared once: path and headers."""

    def __init__(self, detector_id: str, token: str) -> None:
        self.detector_id = detector_id
        self.path = (
            IMAGE_QUERIES_PATH + "?" + urlencode({"detector_id": detector_id, **QUERY_PARAMS})
        )
        self.headers = edge_headers(token)

    def __repr__(self) -> str:  # never show the token
        return f"EdgeRequest(detector_id={self.detector_id!r})"


class HttpSubmitter:
    """The `http` client outside Locust: `EdgeRequest` posted for one detector by
    `edgeload.http.HttpClient` (urllib3, one kept-alive connection, the target's TLS settings,
    no retries). A dropped connection is reopened on the next submission, never retried."""

    def __init__(
        self,
        target: Any,
        detector_id: str,
        timeout_s: float = REQUEST_TIMEOUT_S,
        *,
        spec: AnswerSpec | None = None,
    ) -> None:
        from edgeload.http import HttpClient

        self.detector_id = detector_id
        self.spec = spec
        self.request = EdgeRequest(detector_id, target.token)
        self._http = HttpClient.for_target(
            target, timeout_s=timeout_s, pool_size=1, headers=self.request.headers
        )

    def __call__(self, jpeg: bytes) -> Outcome:
        """One image query, checked. Never raises for an endpoint problem."""
        return post_checked(self._http, self.request, jpeg, self.spec)

    def close(self) -> None:
        self._http.close()


class SharedHttpSubmit:
    """The `http` client for many detectors and many concurrent callers (greenlets or
    threads): one `edgeload.http.HttpClient` whose pool holds `pool_size` kept-alive
    connections (urllib3's pool hands each call its own connection), and one `EdgeRequest`
    per detector, prepared on its first call. Called as `submit_sdk` is, less the SDK client:
    `(detector_id, jpeg, spec) -> Outcome`."""

    def __init__(self, target: Any, pool_size: int, timeout_s: float = REQUEST_TIMEOUT_S):
        from edgeload.http import HttpClient

        self._token = target.token
        self._requests: dict[str, EdgeRequest] = {}
        # every detector's request has the same headers: the client sends them on each call
        self._http = HttpClient.for_target(
            target,
            timeout_s=timeout_s,
            pool_size=max(1, pool_size),
            headers=edge_headers(self._token),
        )

    def __call__(self, detector_id: str, jpeg: bytes, spec: AnswerSpec | None = None) -> Outcome:
        """One image query for `detector_id`, checked. Never raises for an endpoint problem."""
        request = self._requests.get(detector_id)
        if request is None:
            request = self._requests[detector_id] = EdgeRequest(detector_id, self._token)
        return post_checked(self._http, request, jpeg, spec)

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never show the token
        return f"SharedHttpSubmit(detectors={len(self._requests)})"


def post_checked(http: Any, request: EdgeRequest, jpeg: bytes, spec: AnswerSpec | None) -> Outcome:
    """POST `request` with `jpeg` on an `edgeload.http.HttpClient` (that sends its headers),
    checked like any answer. Never raises for an endpoint problem."""
    from edgeload.http import TransportError

    try:
        response = http.request("POST", request.path, body=jpeg, ok_statuses=_ANY_STATUS)
    except TransportError as exc:
        if exc.category == "timeout":
            return Outcome(0, "timeout", "no answer in time")
        return Outcome(0, "connection", "connection failed")
    except Exception as exc:  # the client itself failed: categorised, never raised
        return classify_exception(exc)
    return check_http_answer(response.status, response.body, request.detector_id, spec)


_ANY_STATUS = range(100, 1000)  # every HTTP answer is checked by check_http_answer


def timed(submit: Any, *args: Any) -> tuple[float, float, Outcome]:
    """(wall-clock start, latency ms, outcome) of one call of `submit(*args)`."""
    start = time.time()
    t0 = time.perf_counter()
    outcome = submit(*args)
    return start, (time.perf_counter() - t0) * 1000.0, outcome
