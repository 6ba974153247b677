"""The loop both pod scenarios share: image queries to N detectors, every answer classified.

Memory pressure and repeated rollouts do the same thing with different stop rules: wait for the
endpoint to answer, get or create detectors, then submit one image query per detector per
iteration and watch the answers move from cloud (no inference pod yet) to edge. This module
holds that shared part:

- `classify_response`: pure; an HTTP answer -> edge / cloud / error(category).
- `summarize_answers`: pure; the answer list -> counts, first edge answer per detector, the
  first iteration in which every detector answered from the edge, non-edge answers after a
  detector's first edge answer.
- `ImageQuerySubmitter`: one raw HTTP POST per query, never retried, so every 500 and 503 the
  endpoint gives is counted (the SDK would retry 5xx up to 3 times and hide them).
- `Labeler`: labels in background threads (labels trigger training; they must not slow the
  loop).
- `connect_with_retry`, `DetectorLoop`: the I/O around those.

Times (`t`) are endpoint seconds on an `EndpointClock`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from edgeload.errors import UsageError
from edgeload.scenarios.pods.clock import EndpointClock
from edgeload.wait import Progress

EDGE = "edge"
CLOUD = "cloud"
ERROR = "error"
KINDS = (EDGE, CLOUD, ERROR)

IMAGE_QUERY_PATH = "/device-api/v1/image-queries"


# --------------------------------------------------------------------------- classification


def status_category(status: int) -> str:
    """The log schema's error category for a non-2xx status (see edgeload.runlog)."""
    if status in (500, 503):
        return f"http_{status}"
    if 500 <= status < 600:
        return "http_5xx"
    if 400 <= status < 500:
        return "http_4xx"
    return f"http_{status}"


def classify_response(
    status: int, body: bytes | str | None, detector_id: str
) -> tuple[str, str | None, dict | None]:
    """(kind, error category or None, parsed image query or None) for one HTTP answer."""
    if not 200 <= status < 300:
        return ERROR, status_category(status), None
    try:
        iq = json.loads(body or b"")
    except ValueError:
        return ERROR, "bad_response", None
    if not isinstance(iq, dict) or not isinstance(iq.get("result"), dict):
        return ERROR, "bad_response", None
    if iq.get("detector_id") not in (None, detector_id):
        return ERROR, "wrong_detector", iq
    result = iq["result"]
    metadata = iq.get("metadata") if isinstance(iq.get("metadata"), dict) else {}
    from_edge = bool(result.get("from_edge")) or bool(metadata.get("is_from_edge"))
    return (EDGE if from_edge else CLOUD), None, iq


def exception_category(exc: BaseException) -> str:
    """Error category for a request that got no HTTP answer."""
    name = type(exc).__name__.lower()
    if "timeout" in name:
        return "timeout"
    if isinstance(exc, (ConnectionError, OSError)) or "connection" in name:
        return "connection"
    return "client"


@dataclass(frozen=True)
class Answer:
    """One image query and what came back."""

    t: float  # endpoint s when the request was sent
    iteration: int
    detector_id: str
    kind: str  # edge | cloud | error
    category: str | None  # error category when kind == error
    status: int  # 0 when no HTTP answer
    latency_ms: float
    confidence: float | None = None
    iq_id: str | None = None


# --------------------------------------------------------------------------- pure analysis


def _empty_detector_summary() -> dict[str, Any]:
    """One detector's counters and milestones before its first answer."""
    return {
        "answers": 0,
        "edge": 0,
        "cloud": 0,
        "errors": {},
        "first_answer_t": None,
        "first_edge_t": None,
        "first_edge_iteration": None,
        "non_edge_after_first_edge": 0,
        "errors_after_first_edge": {},
    }


def summarize_answers(answers: Sequence[Answer], detector_ids: Sequence[str]) -> dict[str, Any]:
    """Counts and milestones of an answer list (answers in the order they were made)."""
    totals = Counter(a.kind for a in answers)
    errors = Counter(a.category for a in answers if a.kind == ERROR)
    per: dict[str, dict[str, Any]] = {d: _empty_detector_summary() for d in detector_ids}
    by_iteration: dict[int, dict[str, str]] = {}
    for a in answers:
        p = per.get(a.detector_id)
        if p is None:
            p = per[a.detector_id] = _empty_detector_summary()
        p["answers"] += 1
        if a.kind == ERROR:
            p["errors"][a.category] = p["errors"].get(a.category, 0) + 1
        else:
            p[a.kind] += 1
            if p["first_answer_t"] is None:
                p["first_answer_t"] = a.t
        if p["first_edge_t"] is not None and a.kind != EDGE:
            p["non_edge_after_first_edge"] += 1
            if a.kind == ERROR:
                after = p["errors_after_first_edge"]
                after[a.category] = after.get(a.category, 0) + 1
        if a.kind == EDGE and p["first_edge_t"] is None:
            p["first_edge_t"] = a.t
            p["first_edge_iteration"] = a.iteration
        by_iteration.setdefault(a.iteration, {})[a.detector_id] = a.kind

    wanted = set(detector_ids)
    all_edge_iteration = None
    for it in sorted(by_iteration):
        kinds = by_iteration[it]
        if wanted and wanted <= set(kinds) and all(kinds[d] == EDGE for d in wanted):
            all_edge_iteration = it
            break
    all_edge_iteration_t = None
    if all_edge_iteration is not None:
        all_edge_iteration_t = max(
            a.t for a in answers if a.iteration == all_edge_iteration and a.detector_id in wanted
        )
    firsts = [per[d]["first_edge_t"] for d in detector_ids]
    return {
        "answers": len(answers),
        "iterations": (max(by_iteration) + 1) if by_iteration else 0,
        "by_kind": {k: totals.get(k, 0) for k in KINDS},
        "errors_by_category": dict(sorted(errors.items())),
        "all_edge_iteration": all_edge_iteration,
        "all_edge_iteration_t": all_edge_iteration_t,
        "all_edge_on_first_iteration": all_edge_iteration == 0,
        "every_detector_got_edge_t": (
            max(firsts) if firsts and all(f is not None for f in firsts) else None
        ),
        "non_edge_after_first_edge": sum(p["non_edge_after_first_edge"] for p in per.values()),
        "per_detector": per,
    }


# --------------------------------------------------------------------------- I/O


class ImageQuerySubmitter:
    """Raw HTTP image-query POSTs with the SDK's headers and TLS setting; no retries."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        verify: bool | str = True,
        timeout_s: float = 30.0,
    ) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.url = base_url.rstrip("/") + IMAGE_QUERY_PATH
        self.timeout_s = timeout_s
        self._session = requests.Session()
        # max_retries=0: a refused connection is an error to count, not to retry
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=8)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.verify = verify
        self._headers = {
            k: v for k, v in headers.items() if k.lower() not in ("x-request-id", "content-type")
        }
        self._headers["Content-Type"] = "image/jpeg"

    def post(
        self,
        detector_id: str,
        image: bytes,
        *,
        confidence_threshold: float | None = None,
        want_async: bool = False,
    ) -> tuple[int, bytes, float, str | None]:
        """(status, body, latency ms, error category when no HTTP answer came)."""
        params: dict[str, Any] = {"detector_id": detector_id, "human_review": "NEVER"}
        if confidence_threshold is not None:
            params["confidence_threshold"] = confidence_threshold
        if want_async:
            params["want_async"] = "true"
        start = time.perf_counter()
        try:
            resp = self._session.post(
                self.url,
                params=params,
                data=image,
                headers=self._headers,
                timeout=self.timeout_s,
                # per request: a session's verify loses to REQUESTS_CA_BUNDLE in the environment
                verify=self._session.verify,
            )
        except Exception as exc:  # noqa: BLE001 - every failure is a counted category
            return 0, b"", (time.perf_counter() - start) * 1000, exception_category(exc)
        return resp.status_code, resp.content, (time.perf_counter() - start) * 1000, None

    def close(self) -> None:
        self._session.close()


class Labeler:
    """Labels image queries in background threads, bounded so a slow cloud cannot pile up work."""

    def __init__(self, add_label: Callable[[str, Any], Any], *, max_pending: int = 16) -> None:
        self._add_label = add_label
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="edgeload-label")
        self._lock = threading.Lock()
        self._pending = 0
        self.max_pending = max_pending
        self.sent = 0
        self.failed = 0
        self.skipped = 0

    def label(self, iq_id: str, label: Any, before: Callable[[], str | None] | None = None) -> bool:
        """Queue a label; `before` (optional) runs first in the thread and returns the iq id."""
        with self._lock:
            if self._pending >= self.max_pending:
                self.skipped += 1
                return False
            self._pending += 1
        self._pool.submit(self._run, iq_id, label, before)
        return True

    def _run(self, iq_id: str, label: Any, before: Callable[[], str | None] | None) -> None:
        ok = False
        try:
            if before is not None:
                iq_id = before() or ""
            if iq_id:
                self._add_label(iq_id, label)
                ok = True
        except Exception:  # noqa: BLE001 - a failed label is counted, never fatal
            ok = False
        with self._lock:
            self._pending -= 1
            if ok:
                self.sent += 1
            else:
                self.failed += 1

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def counts(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "skipped": self.skipped}


def connect_with_retry(
    probe: Callable[[], Any],
    clock: EndpointClock,
    *,
    timeout_s: float,
    interval_s: float = 2.0,
    progress: Progress = print,
    describe: Callable[[BaseException], str] | None = None,
) -> tuple[Any, float, int]:
    """Call `probe` until it succeeds: (its result, endpoint t when it did, failed attempts).

    One short line per failed attempt: while the endpoint is being installed this is expected.
    Raises TimeoutError after `timeout_s` endpoint seconds.
    """
    start = clock.now()
    failures = 0
    while True:
        try:
            return probe(), clock.now(), failures
        except (KeyboardInterrupt, SystemExit, UsageError):  # UsageError: waiting cannot fix it
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means "not up yet"
            failures += 1
            elapsed = clock.now() - start
            why = describe(exc) if describe else type(exc).__name__
            if elapsed >= timeout_s:
                raise TimeoutError(
                    f"the endpoint did not answer within {timeout_s:.0f} s "
                    f"({failures} attempts, last: {why})"
                ) from None
            progress(
                f"  endpoint not answering yet ({why}); retrying in {interval_s:g} s "
                f"[{elapsed:.0f} s waited]"
            )
            clock.sleep(interval_s)


@dataclass
class LoopDetector:
    """A detector the loop queries, with what it needs to make images and labels."""

    id: str
    name: str
    mode: str
    confidence_threshold: float | None = None


ImageSource = Callable[[LoopDetector], tuple[bytes, Any]]  # -> (jpeg bytes, true label)


@dataclass
class DetectorLoop:
    """Submits one image query per detector per iteration (the run logs the answers)."""

    submitter: ImageQuerySubmitter
    detectors: list[LoopDetector]
    images: ImageSource
    clock: EndpointClock
    labeler: Labeler | None = None
    label_unconfident: bool = True
    progress: Progress = print
    iteration: int = 0
    first_edge_t: dict[str, float] = field(default_factory=dict)
    t0: float = 0.0  # progress lines show times from here (the endpoint's first answer)

    def run_iteration(self) -> list[Answer]:
        """One image query to every detector; returns this iteration's answers."""
        out = []
        for det in self.detectors:
            image, truth = self.images(det)
            t = self.clock.now()
            status, body, latency_ms, no_answer = self.submitter.post(
                det.id, image, confidence_threshold=det.confidence_threshold
            )
            if no_answer is not None:
                kind, category, iq = ERROR, no_answer, None
            else:
                kind, category, iq = classify_response(status, body, det.id)
            result = (iq or {}).get("result") or {}
            confidence = result.get("confidence")
            answer = Answer(
                t=t,
                iteration=self.iteration,
                detector_id=det.id,
                kind=kind,
                category=category,
                status=status,
                latency_ms=round(latency_ms, 3),
                confidence=confidence if isinstance(confidence, (int, float)) else None,
                iq_id=(iq or {}).get("id"),
            )
            out.append(answer)
            if kind == EDGE and det.id not in self.first_edge_t:
                self.first_edge_t[det.id] = t
                self.progress(f"  first edge answer from {det.id} at t={t - self.t0:.1f} s")
            elif kind == ERROR and det.id in self.first_edge_t:
                self.progress(f"  {category} from {det.id} after its first edge answer")
            if (
                kind == CLOUD
                and self.label_unconfident
                and self.labeler is not None
                and answer.iq_id
                and (
                    answer.confidence is None or answer.confidence < (det.confidence_threshold or 0)
                )
            ):
                self.labeler.label(answer.iq_id, truth)
        self.iteration += 1
        return out


def iteration_line(iteration: int, t: float, answers: Sequence[Answer], extra: str = "") -> str:
    """One progress line for an iteration."""
    kinds = Counter(a.kind for a in answers)
    errs = Counter(a.category for a in answers if a.kind == ERROR)
    err_text = ", ".join(f"{k} {v}" for k, v in sorted(errs.items()))
    line = (
        f"iter {iteration:>4}  t={t:8.1f} s  edge {kinds.get(EDGE, 0)}/{len(answers)}"
        f"  cloud {kinds.get(CLOUD, 0)}  errors {kinds.get(ERROR, 0)}"
    )
    if err_text:
        line += f" ({err_text})"
    return line + (f"  {extra}" if extra else "")
