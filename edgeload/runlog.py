"""The `load_test.log` format and its one writer: every scenario writes this log.

JSON lines, written while the run goes and read by `edgeload.reporting` (which re-renders any
run folder from it). This module is the single definition of the format; it imports nothing
from locust or gevent. Times are wall-clock UNIX seconds (float).

    header       first line, exactly once
                 {"type": "header", "schema_version": 2, "tool": "edgeload", "tool_version",
                  "scenario": "throughput"|"fps"|"memory-pressure"|"rollouts",
                  "run_id": str (unique per run), "created_at": ISO-8601 UTC,
                  "target": {"kind": "simulated"|"real", "url": endpoint URL without secrets,
                             "started_by_edgeload": bool, ...},
                  "inputs": {every option of the run},
                  "metadata": {detectors, images, versions, hosts, ... (free-form)}}
    step         a step (throughput: a ramp step; fps: one image size's warm-up or test) starts
                 {"type": "step", "t", "step": int (0-based), "clients": int,
                  "expected_rps": float | null (requests/s the whole step should reach),
                  "planned_s": float (optional: the step's planned length),
                  ...scenario fields (e.g. "phase", "image_size")}
    requests     a batch of request records, column-oriented (one list per field, same length n)
                 so that writing and reading a million requests stays cheap:
                 {"type": "requests", "worker": worker id, "n": int,
                  "t":            [start, UNIX s],
                  "intended":     [intended send time, UNIX s, or null when the request was not
                                   paced (coordinated-omission correction)],
                  "latency_ms":   [float, from the actual send to the answer],
                  "ok":           [1 | 0],
                  "status":       [HTTP status, 0 when no response arrived],
                  "error":        [null | error category, see ERROR_CATEGORIES],
                  "detector":     [detector id],
                  "clients":      [active clients when the request started],
                  "step":         [step index when the request started]}
    utilization  one resource sample
                 {"type": "utilization", "t", "source": "endpoint"|"generator", "host": str,
                  "cpu_pct", "ram_pct", "gpu_pct", "vram_pct": float or null (unknown),
                  "ram_used_bytes", "vram_used_bytes", "vram_total_bytes": int or null,
                  generator samples also: "process_cpu_pct" (the load process's own CPU,
                  100 = one core) and "pid",
                  "gpus": [{"index", "name", "gpu_pct", "vram_used_bytes",
                            "vram_total_bytes"}]}
    sample       a scenario's own observation (pods, memory, model versions, pipeline config)
                 {"type": "sample", "t", "kind": str, ...fields of that kind}
    worker_lost  a distributed worker disappeared
                 {"type": "worker_lost", "t", "worker": worker id,
                  "unreceived_requests": int (requests it made that never reached the log,
                  estimated where not known exactly)}
    event        anything worth a mark on the timeline
                 {"type": "event", "t", "name": str, "detail": str}
    end          last line of a run that ended (missing after a hard crash; readers take the
                 last one)
                 {"type": "end", "t", "status": "completed"|"interrupted"|"failed",
                  "reason": str, "signal": "SIGINT"|"SIGTERM"|null,
                  "locust_request_count": int | null, ...scenario fields}

Format history:
    1: first version (throughput only wrote it in full).
    2: every scenario; `run_id`; `sample` records; `signal` in `end`; extra step fields.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import IO, Any

from edgeload import verdict
from edgeload.errors import OutputError, ResultsError
from edgeload.redaction import scrub
from edgeload.runfolder import os_error_cause

SCHEMA_VERSION = 2
LOG_FILENAME = "load_test.log"

HEADER = "header"
STEP = "step"
REQUESTS = "requests"
UTILIZATION = "utilization"
WORKER_LOST = "worker_lost"
SAMPLE = "sample"
EVENT = "event"
END = "end"

RECORD_TYPES = (HEADER, STEP, REQUESTS, UTILIZATION, SAMPLE, WORKER_LOST, EVENT, END)

# Column names of a `requests` batch, in order.
REQUEST_COLUMNS = (
    "t",
    "intended",
    "latency_ms",
    "ok",
    "status",
    "error",
    "detector",
    "clients",
    "step",
)

# Error categories a request record may carry. Readers must accept categories they do not
# know (show them as they are); writers use these where they apply.
ERROR_CATEGORIES = {
    "connection": "no HTTP answer: refused, reset or dropped connection",
    "timeout": "no answer within the client timeout",
    "http_4xx": "the endpoint answered 4xx (bad request, auth, validation)",
    "http_500": "the endpoint answered 500 (inference failed, e.g. a pod dying)",
    "http_503": "the endpoint answered 503 (no inference pod ready, overloaded)",
    "http_5xx": "the endpoint answered another 5xx",
    "not_from_edge": "200, but the answer came from the cloud, not the edge",
    "wrong_detector": "200, but the answer is for another detector",
    "bad_response": "200, but the body could not be parsed as an image query",
    "bad_answer": (
        "200, but the answer does not have the detector mode's shape (a multi-class label "
        "outside the detector's classes, a bounding-box label or ROIs that do not fit)"
    ),
    "client": "the load generator itself failed to send the request",
    "dropped": (
        "open model (--arrival-rate): the arrival found every in-flight slot busy and was not "
        "sent; a failure, but left out of latency percentiles (latency 0)"
    ),
}

# Failures that never reached the endpoint: they count as requests and failures, but carry no
# latency, so latency percentiles leave them out.
NOT_SENT_CATEGORIES = frozenset({"dropped"})
# Failures that got no HTTP answer at all: when every request fails so for a while, the
# endpoint has stopped answering.
UNANSWERED_CATEGORIES = frozenset({"connection", "timeout"})


# The run statuses an `end` record carries (edgeload.verdict defines them).
STATUS_COMPLETED = verdict.STATUS_COMPLETED
STATUS_INTERRUPTED = verdict.STATUS_INTERRUPTED
STATUS_FAILED = verdict.STATUS_FAILED


def check_header(record: dict) -> None:
    """Refuse a log whose first record is not a header of a version we know."""
    if record.get("type") != HEADER:
        raise ResultsError("not an edgeload log: the first line is not a header record")
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"log schema_version {version!r} is not supported by this edgeload "
            f"(it reads version {SCHEMA_VERSION}); use the edgeload version that wrote it"
        )


def new_run_id() -> str:
    """A run's identity: distributed workers check it, so no record reaches another run's log."""
    return uuid.uuid4().hex


def header(
    *,
    scenario: str,
    run_id: str,
    target: dict | None,
    inputs: dict,
    metadata: dict,
    created_at: str | None = None,
) -> dict:
    """The header record of a run."""
    from edgeload import __version__

    return {
        "type": HEADER,
        "schema_version": SCHEMA_VERSION,
        "tool": "edgeload",
        "tool_version": __version__,
        "scenario": scenario,
        "run_id": run_id,
        "created_at": created_at or utc_now_iso(),
        # a log is shared like a report: no secrets, no URL credentials
        "target": scrub(target),
        "inputs": scrub(inputs),
        "metadata": scrub(metadata),
    }


def end(
    status: str, reason: str, *, t: float | None = None, signal: str | None = None, **extra: Any
) -> dict:
    """The end record of a run."""
    if status not in verdict.RUN_STATUSES:
        raise ValueError(f"run status {status!r} is not one of {verdict.RUN_STATUSES}")
    return {
        "type": END,
        "t": time.time() if t is None else t,
        "status": status,
        "reason": reason,
        "signal": signal,
        **extra,
    }


def event(name: str, detail: str = "", *, t: float | None = None, **fields: Any) -> dict:
    return {
        "type": EVENT,
        "t": time.time() if t is None else t,
        "name": name,
        "detail": detail,
        **fields,
    }


def sample(kind: str, *, t: float | None = None, **fields: Any) -> dict:
    return {"type": SAMPLE, "t": time.time() if t is None else t, "kind": kind, **fields}


def utc_now_iso() -> str:
    """Now, UTC, to the second: `2026-12-01T08:06:28Z`."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class LogWriter:
    """Appends JSON-lines records to one log file through a large buffer.

    Callers flush when a record must be on disk (a batch, the end). A write error of any kind
    (disk full, file system gone read-only) raises OutputError naming the file, once; the
    writer is closed after it, so what reached the disk stays a readable log. `close()` is
    idempotent.
    """

    def __init__(self, path: str | os.PathLike, *, mode: str = "w") -> None:
        self.path = os.fspath(path)
        try:
            self._file: IO[str] | None = open(self.path, mode, encoding="utf-8", buffering=1 << 20)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {os_error_cause(exc)}") from None
        self.records_written = 0

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, record: dict) -> None:
        if self._file is None:
            raise ValueError(f"log {self.path} is closed")
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        self._guarded(self._file.write, line)
        self.records_written += 1

    def flush(self) -> None:
        if self._file is not None:
            self._guarded(self._file.flush)

    def close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            try:
                f.flush()
            except OSError as exc:
                _close_quietly(f)
                raise OutputError(f"cannot write {self.path}: {os_error_cause(exc)}") from None
            f.close()

    def _guarded(self, call: Any, *args: Any) -> None:
        try:
            call(*args)
        except OSError as exc:
            f, self._file = self._file, None
            if f is not None:
                _close_quietly(f)
            raise OutputError(f"cannot write {self.path}: {os_error_cause(exc)}") from None


def _close_quietly(f: IO[str]) -> None:
    try:
        f.close()
    except OSError:
        pass
