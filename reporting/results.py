"""`load_test_results.json`: the one results envelope of every scenario, and its one reader.

    {"schema_version": RESULTS_SCHEMA_VERSION,
     "scenario":  "throughput" | "fps" | "memory-pressure" | "rollouts" | "rollouts-under-load",
     "run_id":    the log header's run id,
     "status":    "completed" | "interrupted" | "failed",  "status_reason": str,
     "verdict":   "pass" | "fail" | "inconclusive",        "verdict_reason": str,
     "exit_code": the code the run exits with (edgeload.verdict's table),
     "target":    {"kind": "real"|"simulated", "url", ...} (no secrets),
     "inputs":    every option of the run (no secrets),
     "metadata":  the header's metadata (endpoint images, detectors, versions, hosts, git ...)
                  plus created_at, tool, tool_version, log_schema_version and report
                  {generated_at, file, bytes, truncated_tail_bytes},
     "outputs":   the scenario's own figures; `outputs.summary` holds its headline figures by
                  metric name (what `compare`, gates and `history` read),
     "checks":    [{"name", "kind", "status": "passed"|"failed"|"not_observed", "detail",
                   "required"}],
     "warnings":  [{"code", "message"}],
     "metrics":   {name: {"unit", "aggregation", "higher_is_better", "description"}} for every
                  figure in outputs.summary,
     "definitions": {term: short definition}}

Format history (this file's own version, independent of the log's and the package's):
    1: throughput only (outputs.throughput_summary, outputs.status).
    2: one envelope for every scenario: scenario, status, verdict, exit_code, checks, warnings
       and target at the top; headline figures in outputs.summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeload import verdict
from edgeload.errors import ResultsError
from edgeload.redaction import scrub
from edgeload.reporting.gates import gate_checks
from edgeload.reporting.logreader import LogData
from edgeload.reporting.metrics import Metric
from edgeload.verdict import Check

RESULTS_SCHEMA_VERSION = 2
RESULTS_FILENAME = "load_test_results.json"
REQUIRED_KEYS = ("scenario", "status", "verdict", "exit_code", "inputs", "outputs", "checks")


@dataclass
class ScenarioAnalysis:
    """What a scenario's pure analysis gives the reporter.

    outputs: JSON-ready figures; outputs["summary"] holds the headline figures by metric name.
    metrics: the metric table rows of the figures in outputs["summary"].
    status/status_reason: set only to override the log's end record (None: take the log's).
    plot_data: what the scenario's plots draw (picklable: it is sent to the plot process).
    """

    outputs: dict[str, Any]
    checks: list[Check]
    warnings: list[dict[str, str]]
    metrics: tuple[Metric, ...]
    status: str | None = None
    status_reason: str | None = None
    plot_data: Any = None
    definitions: dict[str, str] = field(default_factory=dict)


def run_status(log: LogData) -> tuple[str, str, str | None]:
    """(status, reason, signal) of a run from its log's last end record."""
    end = log.end
    if end is None:
        return (
            verdict.STATUS_INTERRUPTED,
            "the log has no end record: the run crashed, was killed, or is still running",
            None,
        )
    status = str(end.get("status") or verdict.STATUS_COMPLETED)
    if status not in verdict.RUN_STATUSES:
        status = verdict.STATUS_FAILED
    signal = end.get("signal") if end.get("signal") in ("SIGINT", "SIGTERM") else None
    return status, str(end.get("reason") or ""), signal


def warning(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def build_results(
    log: LogData,
    analysis: ScenarioAnalysis,
    *,
    generated_at: datetime | None = None,
    output_error: str | None = None,
) -> dict:
    """The results envelope for an analysed log (JSON-ready)."""
    header = log.header
    status, reason, signal = run_status(log)
    if analysis.status is not None:
        status, reason = analysis.status, analysis.status_reason or reason
    scenario_name = header.get("scenario")
    inputs = scrub(header.get("inputs") or {})
    gates = gate_checks({"scenario": scenario_name, "inputs": inputs, "outputs": analysis.outputs})
    checks = [*analysis.checks, *gates]
    decided = verdict.decide(status, checks, signal_name=signal, output_error=output_error)
    generated = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    metadata = dict(scrub(header.get("metadata") or {}))
    metadata.update(
        {
            "created_at": header.get("created_at"),
            "tool": header.get("tool"),
            "tool_version": header.get("tool_version"),
            "log_schema_version": header.get("schema_version"),
            "report": {
                "generated_at": generated,
                "file": log.path.name,
                "bytes": log.log_bytes,
                "truncated_tail_bytes": log.truncated_tail_bytes,
            },
        }
    )
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "scenario": scenario_name,
        "run_id": header.get("run_id"),
        "status": status,
        "status_reason": reason,
        "verdict": decided.verdict,
        "verdict_reason": decided.reason,
        "exit_code": decided.exit_code,
        "target": scrub(header.get("target") or {}),
        "inputs": inputs,
        "metadata": metadata,
        "outputs": analysis.outputs,
        "checks": [c.as_record() for c in checks],
        "warnings": [*analysis.warnings, *_metadata_warnings(metadata)],
        "metrics": {m.name: m.as_record() for m in analysis.metrics},
        "definitions": analysis.definitions,
    }


def _metadata_warnings(metadata: dict) -> list[dict[str, str]]:
    """What the run could not record about the endpoint, said where a reader looks."""
    images = metadata.get("endpoint_images")
    if not images or not any(images.values() if isinstance(images, dict) else [images]):
        return [
            warning(
                "endpoint_images_unknown",
                "the endpoint's container images are unknown (its /status/metrics.json did "
                "not list them): this run cannot be tied to an edge-endpoint release",
            )
        ]
    return []


def load_results(path: str | Path) -> dict:
    """Read a results file (or a run folder's), refusing versions this edgeload does not know."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f"; run `edgeload report {path.parent}`" if path.name == RESULTS_FILENAME else ""
        raise ResultsError(f"{path}: no such results file{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read the results file ({exc})") from None
    try:
        results = json.loads(text, parse_constant=_refuse_constant)
    except _NotFinite as exc:
        line = text[: text.find(exc.constant)].count("\n") + 1
        raise ResultsError(
            f"{path}: line {line} holds {exc.constant}, which is not a number edgeload writes "
            "(results hold finite numbers or null): re-render it with `edgeload report RUN_DIR`"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ResultsError(f"{path}: not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(results, dict) or "schema_version" not in results:
        raise ResultsError(f"{path}: not an edgeload results file")
    version = results.get("schema_version")
    if version != RESULTS_SCHEMA_VERSION:
        raise ResultsError(
            f"{path}: results schema_version {version!r} is not supported by this edgeload "
            f"(it reads version {RESULTS_SCHEMA_VERSION}); re-render it from its log with "
            "`edgeload report RUN_DIR`, or use the edgeload version that wrote it"
        )
    missing = [k for k in REQUIRED_KEYS if k not in results]
    if missing:
        raise ResultsError(f"{path}: not an edgeload results file (no {', '.join(missing)})")
    return results


class _NotFinite(ValueError):
    def __init__(self, constant: str) -> None:
        super().__init__(constant)
        self.constant = constant


def _refuse_constant(constant: str) -> float:
    """json's hook for NaN, Infinity and -Infinity: edgeload never writes them."""
    raise _NotFinite(constant)
