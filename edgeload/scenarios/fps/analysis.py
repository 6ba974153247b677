"""Single-client FPS test: pure statistics, the printed report, and the result files.

FPS of one submission is 1 / its end-to-end latency (seconds, from just before the SDK call or
HTTP request to the parsed answer), so `average_fps` is the mean of those per-submission rates,
as in the seed's `single_client_fps_test.py`. Because the mean of 1/x is at least 1/(mean x),
`average_fps` is never below `throughput_fps` = completed submissions / summed latency, which is
also reported. Percentiles interpolate linearly between closest ranks (numpy's default).

Statistics and formatting are pure functions; `write_results` and `write_histogram` are the only
file I/O. Nothing here imports locust or gevent.

Result file (`fps_results.json`) format history:
    1: first version.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
RESULTS_FILENAME = "fps_results.json"
FPS_DEFINITION = (
    "fps of one submission = 1 / its end-to-end latency in seconds; average_fps is the mean of "
    "those; throughput_fps = completed submissions / sum of their latencies; percentiles "
    "interpolate linearly between closest ranks"
)


@dataclass(frozen=True)
class Metric:
    """One reported figure: key in the result row, label with unit, and its direction."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    compute: Callable[[np.ndarray], float | None]  # from latencies in seconds


def _fps(latencies_s: np.ndarray) -> np.ndarray:
    return 1.0 / latencies_s


def _pct(values: np.ndarray, p: float) -> float:
    return float(np.percentile(values, p))


def _stdev(values: np.ndarray) -> float | None:
    # sample standard deviation, as statistics.stdev in the seed; undefined for one value
    return float(np.std(values, ddof=1)) if values.size >= 2 else None


# The report's figures, in print order. Each is computed from latencies in seconds (all > 0).
METRICS: tuple[Metric, ...] = (
    Metric("average_fps", "average FPS", "1/s", True, lambda s: float(np.mean(_fps(s)))),
    Metric("min_fps", "min FPS", "1/s", True, lambda s: float(np.min(_fps(s)))),
    Metric("max_fps", "max FPS", "1/s", True, lambda s: float(np.max(_fps(s)))),
    Metric("fps_std_dev", "FPS std-dev", "1/s", False, lambda s: _stdev(_fps(s))),
    Metric("fps_p50", "FPS p50", "1/s", True, lambda s: _pct(_fps(s), 50)),
    Metric("fps_p10", "FPS p10", "1/s", True, lambda s: _pct(_fps(s), 10)),
    Metric("throughput_fps", "throughput FPS", "1/s", True, lambda s: float(s.size / np.sum(s))),
    Metric("latency_ms_mean", "latency mean", "ms", False, lambda s: float(np.mean(s)) * 1e3),
    Metric("latency_ms_p50", "latency p50", "ms", False, lambda s: _pct(s, 50) * 1e3),
    Metric("latency_ms_p95", "latency p95", "ms", False, lambda s: _pct(s, 95) * 1e3),
    Metric("latency_ms_p99", "latency p99", "ms", False, lambda s: _pct(s, 99) * 1e3),
)


def fps_statistics(latencies_s: Sequence[float]) -> dict[str, float | None]:
    """Every metric of METRICS for these per-submission latencies (seconds); None when empty."""
    values = np.asarray(latencies_s, dtype=float)
    if values.size and not np.all(values > 0):
        raise ValueError("latencies must be positive")
    if values.size == 0:
        return {m.key: None for m in METRICS}
    return {m.key: m.compute(values) for m in METRICS}


# Row fields printed before the statistics, in the seed's order: (key in the row, printed name).
_ROW_HEADER_FIELDS = (
    ("test_timestamp", "test_timestamp"),
    ("edge_endpoint_image", "edge_endpoint_image"),
    ("inference_server_image", "inference_server_image"),
    ("detector_id", "detector_id"),
    ("pipeline_config", "pipeline_config"),
    ("detector_name", "detector_name"),
    ("detector_query", "detector_query"),
    ("detector_mode", "detector_mode"),
    ("image_size", "image_size"),
    ("endpoint", "endpoint"),
    ("client", "client"),
    ("warmup_iterations", "warmup_iterations"),
    ("testing_iterations", "testing_iterations"),
    ("completed_iterations", "completed_iterations"),
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
    """The seed's printed report for one image size, plus status and latency percentiles."""
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
    for key, name in _ROW_HEADER_FIELDS:
        text = _fmt(row.get(key))
        if "\n" in text.strip():  # YAML pipeline configs: indented below the name
            body = "\n".join("  " + line for line in text.strip().splitlines())
            lines.append(f"{name}:\n{body}")
        else:
            lines.append(f"{name}: {text.strip()}")
    for metric in METRICS:
        lines.append(f"{metric.key}: {_fmt(row.get(metric.key), metric.unit)}")
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


def overall_status(
    rows: Sequence[dict[str, Any]], interrupted: bool, error: str | None = None
) -> str:
    """completed | invalid | failed | interrupted for the whole run (worst row wins)."""
    if interrupted or any(r.get("status") == "interrupted" for r in rows):
        return "interrupted"
    statuses = {r.get("status") for r in rows}
    if error or "failed" in statuses:
        return "failed"
    if any(r.get("valid") is False for r in rows):
        return "invalid"
    return "completed"


def build_results(
    *,
    rows: list[dict[str, Any]],
    inputs: dict[str, Any],
    target: dict[str, Any],
    metadata: dict[str, Any],
    created_at: str,
    interrupted: bool,
    tool_version: str | None,
    error: str | None = None,
) -> dict[str, Any]:
    """The JSON document of a run: header fields, then one row per image size."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "edgeload",
        "tool_version": tool_version,
        "scenario": "fps",
        "created_at": created_at,
        "status": overall_status(rows, interrupted, error),
        "error": error,
        "valid": all(r.get("valid") is not False for r in rows),
        "target": target,
        "inputs": inputs,
        "metadata": metadata,
        "fps_definition": FPS_DEFINITION,
        "metrics": [
            {"key": m.key, "label": m.label, "unit": m.unit, "higher_is_better": m.higher_is_better}
            for m in METRICS
        ],
        "rows": rows,
    }


def write_results(run_dir: Path, results: dict[str, Any]) -> Path:
    """Write fps_results.json atomically (a reader never sees half a file)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / RESULTS_FILENAME
    fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".fps_results.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(results, f, indent=2, allow_nan=False)
        f.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a result file is for everyone to read
    os.replace(tmp, path)
    return path


class ResultsFormatError(ValueError):
    """An FPS result file this version cannot read."""


def read_results(path: Path) -> dict[str, Any]:
    """Load an fps_results.json, refusing schema versions this code does not know."""
    doc = json.loads(Path(path).read_text())
    if doc.get("scenario") != "fps":
        raise ResultsFormatError(f"{path}: not an edgeload FPS result file")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ResultsFormatError(
            f"{path}: schema_version {doc.get('schema_version')!r} is not supported "
            f"(this edgeload reads {SCHEMA_VERSION})"
        )
    return doc


def histogram_filename(image_size: str) -> str:
    return f"latency_histogram_{image_size}.png"


def histogram_figure(latencies_ms: Sequence[float], title: str):
    """A latency histogram with p50/p95/p99 marked; returns the figure, writes nothing."""
    from matplotlib.figure import Figure  # Agg-free: a bare Figure needs no pyplot backend

    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.add_subplot()
    values = np.asarray(latencies_ms, dtype=float)
    if values.size:
        ax.hist(values, bins=min(60, max(10, int(np.sqrt(values.size)))), color="#4C72B0")
        for p, style in ((50, "-"), (95, "--"), (99, ":")):
            v = float(np.percentile(values, p))
            ax.axvline(v, color="#C44E52", linestyle=style, label=f"p{p} {v:.2f} ms")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no completed submissions", ha="center", va="center")
    ax.set_xlabel("end-to-end latency per submission (ms)")
    ax.set_ylabel("submissions")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def write_histogram(run_dir: Path, row: dict[str, Any]) -> Path:
    """Render one row's latency histogram PNG into the run folder."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    title = (
        f"{row.get('detector_mode')} {row.get('image_size')} · {row.get('client')} client · "
        f"n={len(row.get('latencies_ms') or [])}"
    )
    if row.get("valid") is False:
        title += " · INVALID"
    fig = histogram_figure(row.get("latencies_ms") or [], title)
    FigureCanvasAgg(fig)
    path = run_dir / histogram_filename(row["image_size"])
    fig.savefig(path)
    return path
