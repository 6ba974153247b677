"""Pure analysis of an FPS log: per image size the upstream script's figures, checks, the
console report, and what the plots draw.

Nothing here reads files or the network: `analyze(log)` turns the `LogData` of an fps log
(every request kept) into the reporter's `ScenarioAnalysis`. The log of an fps run holds,
per image size, a `step` record for its warm-up and one for its test (with `phase`,
`image_size` and the detector), the requests of each, the `pipeline_config` samples
(`pipeline_config.py`) and a `size_end` sample (how the measurement ended, the endpoint's
images).

FPS of one submission is 1 / its end-to-end latency (seconds, from just before the SDK call or
HTTP request to the checked answer), so `average_fps` is the mean of those per-submission
rates, as in the upstream `single_client_fps_test.py`. Because the mean of 1/x is at least
1/(mean x), `average_fps` is never below `throughput_fps` = completed submissions / summed
latency, which is also reported. Percentiles interpolate linearly between closest ranks
(numpy's default).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from edgeload import verdict
from edgeload.reporting.logreader import LogData
from edgeload.reporting.results import ScenarioAnalysis, warning
from edgeload.scenarios.fps import pipeline_config as pc
from edgeload.scenarios.fps.measure import TEST, WARMUP
from edgeload.scenarios.fps.metrics import ALIASES as ALIASES  # noqa: F401 - for gates
from edgeload.scenarios.fps.metrics import FIGURES, FPS_DEFINITION, RUN_METRICS
from edgeload.verdict import Check

KEEP_REQUESTS = True  # a few thousand submissions: every request's columns are kept
CSV_TABLES = ("sizes",)  # sizes.csv: one row per image size, beside the results
SIZE_END = "size_end"  # the sample kind that closes one image size's measurement


def _fps(latencies_s: np.ndarray) -> np.ndarray:
    return 1.0 / latencies_s


def _pct(values: np.ndarray, p: float) -> float:
    return float(np.percentile(values, p))


def _stdev(values: np.ndarray) -> float | None:
    # sample standard deviation, as statistics.stdev upstream; undefined for one value
    return float(np.std(values, ddof=1)) if values.size >= 2 else None


# How each figure of FIGURES is computed from latencies in seconds (all > 0).
_COMPUTE: dict[str, Callable[[np.ndarray], float | None]] = {
    "average_fps": lambda s: float(np.mean(_fps(s))),
    "min_fps": lambda s: float(np.min(_fps(s))),
    "max_fps": lambda s: float(np.max(_fps(s))),
    "fps_std_dev": lambda s: _stdev(_fps(s)),
    "fps_p50": lambda s: _pct(_fps(s), 50),
    "fps_p10": lambda s: _pct(_fps(s), 10),
    "throughput_fps": lambda s: float(s.size / np.sum(s)),
    "latency_ms_mean": lambda s: float(np.mean(s)) * 1e3,
    "latency_ms_p50": lambda s: _pct(s, 50) * 1e3,
    "latency_ms_p95": lambda s: _pct(s, 95) * 1e3,
    "latency_ms_p99": lambda s: _pct(s, 99) * 1e3,
    "latency_ms_min": lambda s: float(np.min(s)) * 1e3,
    "latency_ms_max": lambda s: float(np.max(s)) * 1e3,
}


def fps_statistics(latencies_s: Sequence[float]) -> dict[str, float | None]:
    """Every figure of FIGURES for these per-submission latencies (seconds); None when empty."""
    values = np.asarray(latencies_s, dtype=float)
    if values.size and not np.all(values > 0):
        raise ValueError("latencies must be positive")
    if values.size == 0:
        return {m.name: None for m in FIGURES}
    return {m.name: _COMPUTE[m.name](values) for m in FIGURES}


# -- from the log to the rows ------------------------------------------------------------------


def _requests_by_step(log: LogData) -> dict[int, list[tuple]]:
    """step -> [(t, latency_ms, ok, error), ...] in log order."""
    columns = log.requests or {}
    out: dict[int, list[tuple]] = {}
    steps = columns.get("step") or []
    for i, step in enumerate(steps):
        out.setdefault(int(step) if step is not None else -1, []).append(
            (
                columns["t"][i],
                columns["latency_ms"][i],
                bool(columns["ok"][i]),
                columns["error"][i],
            )
        )
    return out


def _first_failure(requests: list[tuple], where: str) -> tuple[int, str | None]:
    """(successes before the first failure, "category (where n)" of that failure or None)."""
    for i, (_, _, ok, error) in enumerate(requests):
        if not ok:
            return i, f"{error or 'unknown'} ({where} submission {i + 1})"
    return len(requests), None


def _size_rows(log: LogData) -> list[dict[str, Any]]:
    """One row per image size the log started, in order."""
    inputs = log.header.get("inputs") or {}
    target = log.header.get("target") or {}
    by_step = _requests_by_step(log)
    sizes: dict[str, dict[str, Any]] = {}
    for record in log.step_records:
        size = str(record.get("image_size"))
        entry = sizes.setdefault(size, {"record": record, "steps": {}})
        entry["steps"][record.get("phase")] = record
    ends = {s.get("image_size"): s for s in log.samples_of(SIZE_END)}
    rows = []
    for size, entry in sizes.items():
        readings = [r for r in log.samples_of(pc.KIND) if r.get("image_size") == size]
        row = _row_header(entry["record"], inputs, target)
        row.update(_measured(entry["steps"], by_step, ends.get(size), inputs))
        row.update(_config_fields(readings, entry["record"]))
        rows.append(row)
    return rows


def _row_header(record: dict, inputs: dict, target: dict) -> dict[str, Any]:
    return {
        "image_size": record.get("image_size"),
        "image_width": record.get("image_width"),
        "image_height": record.get("image_height"),
        "detector_id": record.get("detector_id"),
        "detector_name": record.get("detector_name"),
        "detector_query": record.get("detector_query"),
        "detector_mode": inputs.get("detector_mode"),
        "expected_pipeline_config": record.get("pipeline_config"),
        "endpoint": target.get("url"),
        "client": inputs.get("client"),
        "warmup_iterations": inputs.get("warmup_iterations"),
        "testing_iterations": inputs.get("iterations"),
    }


def _measured(steps: dict, by_step: dict, end: dict | None, inputs: dict) -> dict[str, Any]:
    warm = steps.get(WARMUP)
    test = steps.get(TEST)
    warm_requests = by_step.get(warm["step"], []) if warm else []
    test_requests = by_step.get(test["step"], []) if test else []
    warmup_completed, error = _first_failure(warm_requests, "warm-up")
    completed, test_error = _first_failure(test_requests, "test")
    error = error or test_error
    latencies_ms = [r[1] for r in test_requests[:completed]]
    if end is not None:
        status = end.get("status") or "completed"
        error = end.get("error") or error
        ended_at = end.get("t")
    else:  # the run stopped inside this size's measurement
        status, ended_at = "interrupted", None
    row: dict[str, Any] = {
        "status": status,
        "error": error,
        "warmup_completed": warmup_completed,
        "completed_iterations": completed,
        "failed_requests": sum(1 for r in warm_requests + test_requests if not r[2]),
        "started_at": warm.get("t") if warm else None,
        "test_started_at": test.get("t") if test else None,
        "ended_at": ended_at,
        "test_timestamp": _iso(ended_at),
        "edge_endpoint_image": (end or {}).get("edge_endpoint_image"),
        "inference_server_image": (end or {}).get("inference_server_image"),
    }
    row.update(fps_statistics([v * 1e-3 for v in latencies_ms if v > 0]))
    row["_latencies_ms"] = latencies_ms
    return row


def _config_fields(readings: list[dict], record: dict) -> dict[str, Any]:
    checks = [
        {k: v for k, v in r.items() if k not in ("type", "kind", "image_size", "detector_id")}
        for r in readings
        if r.get("phase") != pc.PROVISIONED
    ]
    first = pc.first_config(readings)
    return {
        "valid": pc.changed_to(readings) is None,
        "invalid_reason": pc.invalid_reason(readings),
        "pipeline_config": first if first is not None else record.get("pipeline_config"),
        "pipeline_config_source": (
            pc.EDGE if first is not None else record.get("pipeline_config_source", pc.UNKNOWN)
        ),
        "pipeline_config_verified": pc.verified(readings),
        "pipeline_config_checks": checks,
    }


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the analysis --------------------------------------------------------------------------------


def analyze(log: LogData) -> ScenarioAnalysis:
    """The reporter's analysis of an fps log: outputs, checks, warnings, plot data."""
    rows = _size_rows(log)
    latencies = {r["image_size"]: r.pop("_latencies_ms") for r in rows}
    pooled = [v * 1e-3 for r in rows for v in latencies[r["image_size"]] if v > 0]
    summary: dict[str, Any] = dict(fps_statistics(pooled))
    summary["completed_iterations"] = sum(r["completed_iterations"] for r in rows)
    summary["failed_requests"] = sum(r["failed_requests"] for r in rows)
    outputs = {"summary": summary, "sizes": rows, "fps_definition": FPS_DEFINITION}
    plot_data = {
        "sizes": [
            {"image_size": size, "title": _title(r), "latencies_ms": latencies[size]}
            for r in rows
            if (size := r["image_size"]) is not None
        ]
    }
    return ScenarioAnalysis(
        outputs=outputs,
        checks=_checks(rows),
        warnings=_warnings(rows),
        metrics=RUN_METRICS,
        plot_data=plot_data,
        definitions={"fps": FPS_DEFINITION},
    )


def _title(row: dict) -> str:
    title = (
        f"{row.get('detector_mode')} {row.get('image_size')} · {row.get('client')} client · "
        f"n={row.get('completed_iterations')}"
    )
    return title + (" · INVALID" if row.get("valid") is False else "")


def _checks(rows: list[dict]) -> list[Check]:
    return [_requests_check(rows), _config_check(rows)]


def _requests_check(rows: list[dict]) -> Check:
    name = "submissions answered by the edge"
    failed = [r for r in rows if r["error"]]
    if failed:
        detail = "; ".join(f"{r['image_size']}: {r['error']}" for r in failed)
        return verdict.check(name, False, detail)
    measured = sum(r["completed_iterations"] for r in rows)
    if not measured:
        return verdict.check(name, None, "no submission was measured")
    return verdict.check(name, True, f"all {measured} measured submissions, from the edge")


def _config_check(rows: list[dict]) -> Check:
    """Optional: an edge that never publishes its pipeline config cannot be checked, and the
    FPS it gave still stands (a warning says so)."""
    name = "pipeline config unchanged"
    changed = [r for r in rows if r["valid"] is False]
    if changed:
        detail = "; ".join(f"{r['image_size']}: {r['invalid_reason']}" for r in changed)
        return verdict.check(name, False, detail, required=False)
    unverified = [r["image_size"] for r in rows if not r["pipeline_config_verified"]]
    if unverified or not rows:
        detail = "the edge did not publish the pipeline config before and after the test" + (
            f" ({', '.join(unverified)})" if unverified else ""
        )
        return verdict.check(name, None, detail, required=False)
    return verdict.check(name, True, "the edge ran the same pipeline config throughout")


def _warnings(rows: list[dict]) -> list[dict]:
    unverified = [r["image_size"] for r in rows if not r["pipeline_config_verified"]]
    if not unverified:
        return []
    return [
        warning(
            "pipeline_config_unverified",
            "the edge's pipeline config could not be read before and after the test "
            f"({', '.join(unverified)}), so a model change during the test would go unnoticed",
        )
    ]


# -- the console report --------------------------------------------------------------------------

# Row fields printed before the figures, in the upstream script's order.
_ROW_HEADER_FIELDS = (
    "test_timestamp",
    "edge_endpoint_image",
    "inference_server_image",
    "detector_id",
    "pipeline_config",
    "detector_name",
    "detector_query",
    "detector_mode",
    "image_size",
    "endpoint",
    "client",
    "warmup_iterations",
    "testing_iterations",
    "completed_iterations",
)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.2f}" + (f" {unit}" if unit == "ms" else "")
    return str(value)


def format_row(row: dict[str, Any]) -> str:
    """The upstream script's printed report for one image size, plus status and latencies."""
    lines = [f"{'-' * 10} Test Results ({row.get('image_size', '?')}) {'-' * 10}"]
    status = row.get("status", "?")
    if row.get("valid") is False:
        status += f" - INVALID: {row.get('invalid_reason')}"
    elif row.get("error"):
        status += f" - {row['error']}"
    lines.append(f"status: {status}")
    if row.get("pipeline_config_verified") is False:
        lines.append(
            "warning: the edge's pipeline config could not be read before and after the test, "
            "so a model change during the test would go unnoticed"
        )
    for key in _ROW_HEADER_FIELDS:
        text = _fmt(row.get(key))
        if "\n" in text.strip():  # YAML pipeline configs: indented below the name
            body = "\n".join("  " + line for line in text.strip().splitlines())
            lines.append(f"{key}:\n{body}")
        else:
            lines.append(f"{key}: {text.strip()}")
    for metric in FIGURES:
        lines.append(f"{metric.name}: {_fmt(row.get(metric.name), metric.unit)}")
    return "\n".join(lines)


def format_summary_table(rows: Sequence[dict[str, Any]]) -> str:
    """One line per image size: the figures that matter when comparing sizes."""
    cols = (
        ("image_size", "size", "{}"),
        ("status", "status", "{}"),
        ("completed_iterations", "n", "{}"),
        ("average_fps", "avg FPS", "{:.2f}"),
        ("fps_p50", "p50 FPS", "{:.2f}"),
        ("fps_p10", "p10 FPS", "{:.2f}"),
        ("latency_ms_p50", "p50 ms", "{:.2f}"),
        ("latency_ms_p95", "p95 ms", "{:.2f}"),
        ("latency_ms_p99", "p99 ms", "{:.2f}"),
    )
    table = [[title for _, title, _ in cols]]
    for row in rows:
        cells = []
        for key, _, fmt in cols:
            value = row.get(key)
            if key == "status" and row.get("valid") is False:
                value = "invalid"
            cells.append("n/a" if value is None else fmt.format(value))
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in table)


def summary_lines(results: dict) -> list[str]:
    """The console report of fps results: each size's report, then a table of the sizes."""
    rows = results["outputs"].get("sizes") or []
    lines = [format_row(row) for row in rows]
    if len(rows) > 1:
        lines.append(format_summary_table(rows))
    if not rows:
        lines.append("no image size was measured")
    return lines
