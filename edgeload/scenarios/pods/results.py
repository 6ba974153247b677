"""The result file of the pod scenarios, `scenario_results.json`, and the run folder.

    {"schema_version": 1, "tool": "edgeload", "scenario": "memory-pressure"|"rollouts",
     "created_at": ISO-8601 UTC, "status": "completed"|"interrupted"|"timed_out"|"failed",
     "reason": str, "exit_code": int,
     "target": {"kind", "url", ...no secrets},
     "time_unit": "endpoint seconds" (simulated seconds for a simulator with a time scale),
     "time_scale": float,
     "inputs": {every option},
     "timings": {"connect_wait_s", "all_edge_in_one_iteration_s", "all_pods_ready_s",
                 "every_detector_got_edge_s", "run_s", ...: seconds from the endpoint's first
                 answer},
     "detectors": [{"id", "name", "mode", ...}],
     "answers": summarize_answers(...),      # edge/cloud/error counts, firsts, per detector
     "labels": {"sent", "failed", "skipped"},
     "pods": analyse_pods(...) | {"skipped": reason},
     "memory": summarize_memory(...),
     "versions": analyse_versions(...),
     "checks": [{"name", "ok": true|false|null (not checked), "detail"}],
     "warnings": [str],
     "metadata": {...}}

Format history:
    1: first version.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
RESULTS_FILENAME = "scenario_results.json"


class ResultsError(ValueError):
    """A result file this version cannot read."""


def make_run_dir(output_dir: str | Path, scenario: str, *, now: datetime | None = None) -> Path:
    """A new folder `<output_dir>/<UTC timestamp>-<scenario>`; never reuses an existing one."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base = Path(output_dir) / f"{stamp}-{scenario}"
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")


def check(name: str, ok: bool | None, detail: str) -> dict[str, Any]:
    """One automatic check: ok True/False, or None when it could not be made."""
    return {"name": name, "ok": ok, "detail": detail}


def write_results(run_dir: str | Path, results: dict[str, Any]) -> Path:
    """Write the result file atomically (a half-written file never replaces a whole one)."""
    path = Path(run_dir) / RESULTS_FILENAME
    body = {"schema_version": SCHEMA_VERSION, **results}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=2, sort_keys=False, default=_jsonable) + "\n")
    os.replace(tmp, path)
    return path


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a result file, refusing versions this edgeload does not know."""
    try:
        body = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ResultsError(f"cannot read {path}: {exc}") from None
    if not isinstance(body, dict) or body.get("schema_version") != SCHEMA_VERSION:
        got = body.get("schema_version") if isinstance(body, dict) else None
        raise ResultsError(
            f"{path}: schema_version {got!r} is not supported (this edgeload reads "
            f"{SCHEMA_VERSION})"
        )
    return body


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def created_at() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
