"""The `load_test.log` format: JSON lines, written by the run, read by `reporting`.

This module is the single definition of the format; it imports nothing from locust or gevent
so that the reporter can use it.

Every line is one JSON object with a `type`. Times are wall-clock UNIX seconds (float).

    header       first line, exactly once
                 {"type": "header", "schema_version": 1, "tool": "edgeload", "tool_version",
                  "scenario": "throughput", "created_at": ISO-8601 UTC,
                  "target": {"kind": "simulated"|"real", "url": endpoint URL without secrets},
                  "inputs": {every option of the run},
                  "metadata": {detector, images, versions, hosts, ... (free-form)}}
    step         a ramp step starts
                 {"type": "step", "t", "step": int (0-based), "clients": int,
                  "expected_rps": float (requests/s the whole step should reach)}
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
                  "step":         [ramp step index when the request started]}
    utilization  one resource sample
                 {"type": "utilization", "t", "source": "endpoint"|"generator", "host": str,
                  "cpu_pct", "ram_pct", "gpu_pct", "vram_pct": float or null (unknown),
                  "ram_used_bytes", "vram_used_bytes", "vram_total_bytes": int or null,
                  "gpus": [{"index", "name", "gpu_pct", "vram_used_bytes",
                            "vram_total_bytes"}]}
    worker_lost  a distributed worker disappeared
                 {"type": "worker_lost", "t", "worker": worker id,
                  "unreceived_requests": int (requests it made that never reached the log,
                  estimated where not known exactly)}
    event        anything worth a mark on the timeline
                 {"type": "event", "t", "name": str, "detail": str}
    end          last line of a run that ended (missing after a hard crash)
                 {"type": "end", "t", "status": "completed"|"interrupted"|"failed",
                  "reason": str, "locust_request_count": int | null}

Format history:
    1: first version.
"""

from __future__ import annotations

SCHEMA_VERSION = 1
LOG_FILENAME = "load_test.log"

HEADER = "header"
STEP = "step"
REQUESTS = "requests"
UTILIZATION = "utilization"
WORKER_LOST = "worker_lost"
EVENT = "event"
END = "end"

RECORD_TYPES = (HEADER, STEP, REQUESTS, UTILIZATION, WORKER_LOST, EVENT, END)

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
    "client": "the load generator itself failed to send the request",
    "dropped": (
        "open model (--arrival-rate): the arrival found every in-flight slot busy and was not "
        "sent; a failure, but left out of latency percentiles (latency 0)"
    ),
}

# Failures that never reached the endpoint: they count as requests and failures, but carry no
# latency, so latency percentiles leave them out.
NOT_SENT_CATEGORIES = frozenset({"dropped"})


STATUS_COMPLETED = "completed"
STATUS_INTERRUPTED = "interrupted"
STATUS_FAILED = "failed"


class SchemaError(ValueError):
    """A log that this version cannot read."""


def check_header(record: dict) -> None:
    """Refuse a log whose first record is not a header of a version we know."""
    if record.get("type") != HEADER:
        raise SchemaError("not an edgeload log: the first line is not a header record")
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SchemaError(
            f"log schema_version {version!r} is not supported by this edgeload "
            f"(it reads version {SCHEMA_VERSION}); use the edgeload version that wrote it"
        )
