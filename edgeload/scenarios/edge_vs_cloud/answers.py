"""One image answered on each side, through the groundlight SDK (hidden retries off).

Edge: `POST /device-api/v1/image-queries` to the edge with `confidence_threshold=0` and
`human_review=NEVER`. Every edge inference meets a threshold of 0, so the edge app returns its
own model's answer and never escalates it (the real app escalates only an answer below the
threshold); the box's edge config is left as it is. The answer's provenance is read back
(`metadata.is_from_edge`, `result.from_edge`): when no inference pod is ready the edge sends the
query to the cloud instead, and that answer is recorded as not from the edge, never compared.

Cloud: the same image submitted as an async query (`want_async=True`, `human_review=NEVER`:
the cloud's model, never a person), then `GET /v1/image-queries/{id}` until its result
arrives. Through the edge (the default), the edge forwards an async query to its cloud as it
is and nginx sends the GETs there; with `--cloud-endpoint` the calls go to that cloud directly.

Recent images: `GET /v1/image-queries?detector_id=...` (the SDK's `list_image_queries`, newest
first) and `GET /v1/image-queries/{id}/image` (`get_image`), on the cloud side.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

from edgeload.target import error_line

EDGE = "edge"
CLOUD = "cloud"
MAX_PAGE_SIZE = 100
_FIRST_POLL_S = 0.05
_MAX_POLL_S = 1.0


@dataclass
class Answer:
    """One side's answer to one image (label None when it gave none: see `error`)."""

    iq_id: str | None = None
    label: str | None = None
    confidence: float | None = None
    latency_ms: float | None = None
    source: str | None = None  # the result's source (ALGORITHM, CLOUD, HUMAN, ...)
    from_edge: bool | None = None  # the answer says the edge's model gave it
    error: str | None = None

    def fields(self, side: str) -> dict[str, Any]:
        return {f"{side}_{k}": v for k, v in self.__dict__.items()}


@dataclass
class SourceQuery:
    """A recent image query of the detector, as the cloud lists it."""

    id: str
    created_at: str | None
    label: str | None
    confidence: float | None
    source: str | None
    extra: dict = field(default_factory=dict)


def label_of(result: Any) -> str | None:
    """The answer as text: the label (an enum's value) or, for COUNT, the count."""
    if result is None:
        return None
    label = getattr(result, "label", None)
    if label is not None:
        return str(getattr(label, "value", label))
    count = getattr(result, "count", None)
    return None if count is None else str(count)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def from_edge(image_query: Any) -> bool:
    """Whether the edge's own model gave this answer (its metadata or its result says so)."""
    result = getattr(image_query, "result", None)
    if result is not None and getattr(result, "from_edge", None):
        return True
    metadata = getattr(image_query, "metadata", None) or {}
    return bool(isinstance(metadata, dict) and metadata.get("is_from_edge"))


def _fill(answer: Answer, image_query: Any) -> Answer:
    result = getattr(image_query, "result", None)
    answer.iq_id = getattr(image_query, "id", None)
    answer.label = label_of(result)
    confidence = getattr(result, "confidence", None)
    answer.confidence = float(confidence) if confidence is not None else None
    answer.source = _text(getattr(result, "source", None))
    answer.from_edge = from_edge(image_query)
    return answer


def edge_answer(gl: Any, detector_id: str, image: bytes, token: str | None) -> Answer:
    """The edge model's own answer (see the module docstring), timed from the call to the
    parsed answer."""
    answer = Answer()
    started = time.perf_counter()
    try:
        image_query = gl.submit_image_query(
            detector_id, image, wait=0, confidence_threshold=0.0, human_review="NEVER"
        )
    except Exception as exc:
        answer.latency_ms = (time.perf_counter() - started) * 1e3
        answer.error = error_line(exc, token)
        return answer
    answer.latency_ms = (time.perf_counter() - started) * 1e3
    _fill(answer, image_query)
    if not answer.from_edge:
        answer.error = "not_from_edge: the edge sent it to the cloud (no edge inference ready)"
    return answer


def cloud_answer(
    gl: Any, detector_id: str, image: bytes, token: str | None, *, timeout_s: float
) -> Answer:
    """The cloud's answer: an async query, then polls until its result (at most `timeout_s`),
    timed from the submission to the answered poll."""
    answer = Answer()
    started = time.perf_counter()
    try:
        image_query = gl.ask_async(detector_id, image, human_review="NEVER")
        answer.iq_id = image_query.id
        pause = _FIRST_POLL_S
        while getattr(image_query, "result", None) is None:
            if time.perf_counter() - started + pause > timeout_s:
                answer.error = f"timeout: no cloud answer within {timeout_s:g} s"
                return answer
            time.sleep(pause)
            pause = min(_MAX_POLL_S, pause * 1.5)
            image_query = gl.get_image_query(image_query.id)
    except Exception as exc:
        answer.latency_ms = (time.perf_counter() - started) * 1e3
        answer.error = error_line(exc, token)
        return answer
    answer.latency_ms = (time.perf_counter() - started) * 1e3
    _fill(answer, image_query)
    if answer.from_edge:
        answer.error = "from_edge: the cloud side's answer says the edge gave it"
    return answer


def recent_queries(gl: Any, detector_id: str, limit: int) -> list[SourceQuery]:
    """The detector's `limit` most recent image queries (newest first), page by page."""
    found: list[SourceQuery] = []
    page_size = min(limit, MAX_PAGE_SIZE)
    for page in range(1, limit // page_size + 2):  # bounded: never more pages than needed
        listing = gl.list_image_queries(page=page, page_size=page_size, detector_id=detector_id)
        for iq in listing.results or []:
            if len(found) < limit:
                found.append(_source(iq))
        if len(found) >= limit or not getattr(listing, "next", None):
            break
    return found


def _source(iq: Any) -> SourceQuery:
    result = getattr(iq, "result", None)
    created = getattr(iq, "created_at", None)
    confidence = getattr(result, "confidence", None)
    return SourceQuery(
        id=iq.id,
        created_at=created.isoformat() if hasattr(created, "isoformat") else _text(created),
        label=label_of(result),
        confidence=float(confidence) if confidence is not None else None,
        source=_text(getattr(result, "source", None)),
    )


def image_of(gl: Any, iq_id: str) -> bytes:
    """The image of an image query. The SDK hands back an open temporary file it leaves
    behind: read, closed and removed here."""
    raw = gl.get_image(iq_id)
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    path = getattr(raw, "name", None)
    try:
        return raw.read()
    finally:
        raw.close()
        if isinstance(path, str):
            with contextlib.suppress(OSError):
                os.remove(path)
