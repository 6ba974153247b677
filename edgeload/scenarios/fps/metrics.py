"""The FPS test's metric table: every figure of its results, defined once, as data.

Each image size's figures are a row of `outputs.sizes` (FIGURES, in the printed report's
order); the headline figures in `outputs.summary` are the same figures over every measured
submission of the run (all sizes together: for a one-size run, that size's figures), plus the
submission counts. `edgeload compare` and `--fail-if` read RUN_METRICS.
"""

from __future__ import annotations

from edgeload.reporting.metrics import MAX, MEAN, MIN, PERCENTILE, RATE, STDDEV, SUM, Metric

FPS_DEFINITION = (
    "fps of one submission = 1 / its end-to-end latency in seconds; average_fps is the mean of "
    "those; throughput_fps = completed submissions / sum of their latencies; percentiles "
    "interpolate linearly between closest ranks"
)

_FPS = "1/s"
_MS = "ms"

# (name, unit, aggregation, higher is better, description), in the printed report's order
_FIGURE_ROWS: list[tuple] = [
    ("average_fps", _FPS, MEAN, True, "mean of the per-submission FPS (1 / latency)"),
    ("min_fps", _FPS, MIN, True, "lowest per-submission FPS"),
    ("max_fps", _FPS, MAX, True, "highest per-submission FPS"),
    ("fps_std_dev", _FPS, STDDEV, False, "sample standard deviation of the per-submission FPS"),
    ("fps_p50", _FPS, PERCENTILE, True, "median per-submission FPS"),
    ("fps_p10", _FPS, PERCENTILE, True, "10th percentile of the per-submission FPS"),
    ("throughput_fps", _FPS, RATE, True, "completed submissions / sum of their latencies"),
    ("latency_ms_mean", _MS, MEAN, False, "mean end-to-end latency of a submission"),
    ("latency_ms_p50", _MS, PERCENTILE, False, "median end-to-end latency"),
    ("latency_ms_p95", _MS, PERCENTILE, False, "p95 end-to-end latency"),
    ("latency_ms_p99", _MS, PERCENTILE, False, "p99 end-to-end latency"),
    ("latency_ms_min", _MS, MIN, False, "smallest end-to-end latency"),
    ("latency_ms_max", _MS, MAX, False, "largest end-to-end latency"),
]
FIGURES: tuple[Metric, ...] = tuple(Metric(*row) for row in _FIGURE_ROWS)

_COUNT_ROWS: list[tuple] = [
    ("completed_iterations", "submissions", SUM, None, "measured submissions that succeeded"),
    ("failed_requests", "submissions", SUM, False, "submissions that failed (warm-up included)"),
]

# Run-level metrics in the order `compare` shows them (what gates and history read).
RUN_METRICS: tuple[Metric, ...] = (*FIGURES, *(Metric(*row) for row in _COUNT_ROWS))

# The spelling of the throughput test's latency figures, for gates typed from habit.
ALIASES: dict[str, str] = {
    "fps": "average_fps",
    "latency_mean_ms": "latency_ms_mean",
    "latency_p50_ms": "latency_ms_p50",
    "latency_p95_ms": "latency_ms_p95",
    "latency_p99_ms": "latency_ms_p99",
    "latency_max_ms": "latency_ms_max",
}
