"""The throughput test's metric table: every figure of its results, defined once, as data.

Headline figures live in `outputs.summary`, utilization over the maximum steady step in
`outputs.system_utilization_summary`, and one row per ramp step in `outputs.steps`.
"""

from __future__ import annotations

from edgeload.reporting.metrics import (
    MAX,
    MEAN,
    PERCENTILE,
    RATE,
    RATIO,
    SUM,
    VALUE,
    Metric,
    by_name,
    latency_metrics,
)

_STEADY_SCOPE = (
    "over the maximum steady step (the highest-throughput step when none was steady: see "
    "latency_basis)"
)
_RUN_SCOPE = "over all requests of the run"

# Run-level metrics: the headline numbers of a run, compared by `edgeload compare`.
_SUMMARY_ROWS: list[tuple] = [
    ("maximum_rps", "requests/s", MAX, True, "highest achieved request rate of any step"),
    (
        "maximum_steady_rps",
        "requests/s",
        MAX,
        True,
        "highest achieved request rate of a steady step (0 when no step was steady)",
    ),
    (
        "maximum_steady_clients",
        "clients",
        VALUE,
        True,
        "clients of the maximum steady step (0 when no step was steady)",
    ),
    (
        "maximum_steady_ramp",
        "step",
        VALUE,
        None,  # an index: a change has no better or worse
        "index (0-based) of the maximum steady step, null when no step was steady",
    ),
    (
        "maximum_rps_within_slo",
        "requests/s",
        MAX,
        True,
        "highest achieved request rate of a step within the latency SLO with >= 99% success "
        "(null without --latency-slo)",
    ),
    (
        "maximum_clients_within_slo",
        "clients",
        VALUE,
        True,
        "clients of that step (null without --latency-slo)",
    ),
    ("requests", "requests", SUM, None, "request records in the log"),
    ("failed_requests", "requests", SUM, False, "requests that failed, whole run"),
    (
        "dropped",
        "requests",
        SUM,
        False,
        "open-model arrivals never sent (no free in-flight slot); failures without latency",
    ),
    ("success_rate", "fraction", RATIO, True, "successful requests / requests, whole run"),
]

SUMMARY_METRICS: tuple[Metric, ...] = (
    *(Metric(*row) for row in _SUMMARY_ROWS),
    *latency_metrics("latency_", _STEADY_SCOPE, corrected=False),
    *latency_metrics("corrected_latency_", _STEADY_SCOPE, corrected=True),
    *(
        m
        for m in latency_metrics("run_latency_", _RUN_SCOPE, corrected=False)
        if "p90" not in m.name
    ),
    *(
        m
        for m in latency_metrics("run_corrected_latency_", _RUN_SCOPE, corrected=True)
        if "p90" not in m.name
    ),
)

# Utilization averaged over the maximum steady step, per source (endpoint / load generator).
UTILIZATION_FIELDS = ("cpu_pct", "ram_pct", "gpu_pct", "vram_pct")
UTILIZATION_METRICS: tuple[Metric, ...] = tuple(
    Metric(
        f"{source}_{field}",
        "%",
        MEAN,
        None,
        f"{source} {field.split('_')[0].upper()} utilization, mean over the maximum steady step",
        path=("system_utilization_summary", source, field),
    )
    for source in ("endpoint", "generator")
    for field in UTILIZATION_FIELDS
)

# Columns of the per-step table (results["outputs"]["steps"]).
_STEP_ROWS: list[tuple] = [
    ("step", "", VALUE, None, "ramp step index, 0-based"),
    ("start_s", "s", VALUE, None, "step start, seconds since the run started"),
    (
        "measured_from_s",
        "s",
        VALUE,
        None,
        "start of the measured window: all clients running plus the settle time",
    ),
    ("duration_s", "s", VALUE, None, "length of the measured window"),
    ("clients", "clients", VALUE, None, "active clients"),
    ("expected_rps", "requests/s", VALUE, None, "request rate the step should reach"),
    ("achieved_rps", "requests/s", RATE, True, "requests sent in the step / duration"),
    ("successful_rps", "requests/s", RATE, True, "successful requests / duration"),
    ("requests", "requests", SUM, None, "requests started in the measured window"),
    ("step_requests", "requests", SUM, None, "requests started in the whole step"),
    ("dropped", "requests", SUM, False, "open-model arrivals never sent (no free slot)"),
    ("successes", "requests", SUM, True, "successful requests"),
    ("success_rate", "fraction", RATIO, True, "successes / requests"),
]
STEP_METRICS: tuple[Metric, ...] = (
    *(Metric(*row) for row in _STEP_ROWS),
    *latency_metrics("latency_", "in the step", corrected=False),
    *latency_metrics("corrected_latency_", "in the step", corrected=True),
    Metric("slo_latency_ms", "ms", PERCENTILE, False, "the step's latency at the SLO's percentile"),
    Metric("within_slo", "", VALUE, True, "met the latency SLO with >= 99% success"),
    Metric(
        "steady", "", VALUE, True, "achieved >= 95% of expected, >= 99% success, within the SLO"
    ),
    Metric("stable", "", VALUE, True, "rate and p95 held steady across the measured window"),
    *(
        Metric(f"{source}_{field}", "%", MEAN, None, f"{source} {field}, mean over the step")
        for source in ("endpoint", "generator")
        for field in UTILIZATION_FIELDS
    ),
)

# Run-level metrics in the order `compare` shows them (what gates and history read).
RUN_METRICS: tuple[Metric, ...] = (*SUMMARY_METRICS, *UTILIZATION_METRICS)
STEP_METRICS_BY_NAME: dict[str, Metric] = by_name(STEP_METRICS)

# Short names people type in gates.
ALIASES: dict[str, str] = {
    "max_rps": "maximum_rps",
    "max_steady_rps": "maximum_steady_rps",
    "max_steady_clients": "maximum_steady_clients",
    "max_steady_ramp": "maximum_steady_ramp",
}
