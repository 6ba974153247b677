"""`load_test_results.json`: build it from an Analysis, and load it back (checking its version).

Layout:
    {"schema_version": RESULTS_SCHEMA_VERSION,
     "inputs":   every option of the run (from the log header),
     "outputs":  {"status", "status_reason", "throughput_summary", "steps" (per-step table),
                  "system_utilization_summary", "errors_by_category", "workers_lost",
                  "events", "request_records", "locust_request_count", "warnings"},
     "metadata": the header's metadata (endpoint images, detector, versions, hosts, git ...)
                 plus created_at (UTC), scenario, target {kind, url}, tool, tool_version,
                 log_schema_version and report {generated_at, log file, log bytes},
     "units":    metric name -> unit (from edgeload.reporting.metrics),
     "definitions": short definitions of steady and corrected latency}

Format history (this file's own version, independent of the log's and the package's):
    1: first version.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from edgeload.reporting.errors import ReportError
from edgeload.reporting.metrics import ALL_METRICS
from edgeload.scenarios.throughput.analysis import (
    MIN_REQUESTS_FOR_PERCENTILES,
    STEADY_RATE_PERCENT,
    STEADY_SUCCESS_PERCENT,
    Analysis,
)

RESULTS_SCHEMA_VERSION = 1
RESULTS_FILENAME = "load_test_results.json"

# Input names that could hold a secret; they never reach a results file.
_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey")

DEFINITIONS = {
    "achieved_rps": "requests sent in the step divided by the step's duration",
    "dropped": (
        "open-model arrivals that found every in-flight slot busy and were never sent: counted "
        "as requests and failures, left out of latency percentiles and of achieved_rps"
    ),
    "steady": (
        f"achieved_rps >= {STEADY_RATE_PERCENT}% of expected_rps and success_rate >= "
        f"{STEADY_SUCCESS_PERCENT}%"
    ),
    "latency": "from the actual send of the request to its answer (raw per-request values)",
    "corrected_latency": (
        "from the intended send time of a paced request to its answer (coordinated-omission "
        "corrected; equals latency for requests that were not paced)"
    ),
    "percentiles": "linear interpolation over the raw per-request values (numpy)",
    "few_requests": (
        f"percentiles of steps with fewer than {MIN_REQUESTS_FOR_PERCENTILES} requests are "
        "flagged as unreliable"
    ),
    "maximum_steady_ramp": "0-based index of the steady step with the highest achieved_rps",
}


def _scrub(value):
    """Drop anything keyed like a secret, at any depth."""
    if isinstance(value, dict):
        return {
            k: _scrub(v)
            for k, v in value.items()
            if not any(word in str(k).lower() for word in _SECRET_WORDS)
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def build_results(analysis: Analysis, *, generated_at: datetime | None = None) -> dict:
    """The results dict for an analysed run (JSON-ready)."""
    header = analysis.header
    generated = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    metadata = dict(_scrub(header.get("metadata") or {}))
    metadata.update(
        {
            "created_at": header.get("created_at"),
            "scenario": header.get("scenario"),
            "target": _scrub(header.get("target") or {}),
            "tool": header.get("tool"),
            "tool_version": header.get("tool_version"),
            "log_schema_version": header.get("schema_version"),
            "report": {"generated_at": generated, **analysis.log_info},
        }
    )
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "inputs": _scrub(header.get("inputs") or {}),
        "outputs": {
            "status": analysis.status,
            "status_reason": analysis.status_reason,
            "throughput_summary": analysis.summary,
            "steps": analysis.steps,
            "system_utilization_summary": analysis.utilization_summary,
            "errors_by_category": analysis.errors_by_category,
            "workers_lost": analysis.workers_lost,
            "events": analysis.events,
            "request_records": analysis.request_count,
            "locust_request_count": analysis.locust_request_count,
            "warnings": analysis.warnings,
        },
        "metadata": metadata,
        "units": {name: m.unit for name, m in ALL_METRICS.items() if m.unit},
        "definitions": DEFINITIONS,
    }


def load_results(path: str | Path) -> dict:
    """Read a results file, refusing one of a format version this edgeload does not know."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such results file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read the results file ({exc})") from None
    try:
        results = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"{path}: not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(results, dict) or "outputs" not in results:
        raise ReportError(f"{path}: not an edgeload results file")
    version = results.get("schema_version")
    if version != RESULTS_SCHEMA_VERSION:
        raise ReportError(
            f"{path}: results schema_version {version!r} is not supported by this edgeload "
            f"(it reads version {RESULTS_SCHEMA_VERSION}); re-render it from its log with "
            "`edgeload report RUN_DIR`, or use the edgeload version that wrote it"
        )
    return results


def dumps(results: dict) -> str:
    return json.dumps(results, indent=2, allow_nan=False) + "\n"
