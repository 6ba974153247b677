"""The metric table: every number the reporter publishes, defined once, as data.

The results JSON, the plots' axis labels, the printed summary and `edgeload compare` all read
this table instead of keeping their own lists. A metric knows its unit, how it aggregates
(throughput sums, utilization averages, latency is a percentile of the raw values), whether
higher is better (None: neither, e.g. utilization, whose meaning depends on the load) and where
it lives in `load_test_results.json` (`path` under `outputs`).
"""

from __future__ import annotations

from dataclasses import dataclass

# How a metric is formed from the records; compare and the docs read this.
SUM = "sum"  # a count over requests
MAX = "max"  # the largest value over steps
MEAN = "mean"  # the average of samples over a time window
RATIO = "ratio"  # a count divided by another (success rate)
RATE = "rate"  # a count divided by a duration
PERCENTILE = "percentile"  # a percentile of the raw per-request values
VALUE = "value"  # a value chosen by a rule (e.g. the clients of the maximum steady step)

LATENCY_PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    aggregation: str
    higher_is_better: bool | None
    description: str
    path: tuple[str, ...] = ()  # where a run-level metric lives under results["outputs"]

    @property
    def label(self) -> str:
        """Axis / table label: the name with its unit."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


def _latency_metrics(prefix: str, scope: str, corrected: bool) -> list[tuple]:
    what = (
        "latency from the intended send time (coordinated-omission corrected)"
        if corrected
        else "latency from the actual send to the answer"
    )
    rows = [
        (f"{prefix}p{q}_ms", "ms", PERCENTILE, False, f"p{q} {what}, {scope}")
        for q in LATENCY_PERCENTILES
    ]
    rows.append((f"{prefix}max_ms", "ms", MAX, False, f"largest {what}, {scope}"))
    return rows


_STEADY_SCOPE = "over the maximum steady step"
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
        True,
        "index (0-based) of the maximum steady step, null when no step was steady",
    ),
    ("requests", "requests", SUM, None, "request records in the log"),
    (
        "dropped",
        "requests",
        SUM,
        False,
        "open-model arrivals never sent (no free in-flight slot); failures without latency",
    ),
    ("success_rate", "fraction", RATIO, True, "successful requests / requests, whole run"),
    *_latency_metrics("latency_", _STEADY_SCOPE, corrected=False),
    *_latency_metrics("corrected_latency_", _STEADY_SCOPE, corrected=True),
    *[r for r in _latency_metrics("run_latency_", _RUN_SCOPE, False) if "p90" not in r[0]],
    *[r for r in _latency_metrics("run_corrected_latency_", _RUN_SCOPE, True) if "p90" not in r[0]],
]

SUMMARY_METRICS: tuple[Metric, ...] = tuple(
    Metric(*row, path=("throughput_summary", row[0])) for row in _SUMMARY_ROWS
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
STEP_METRICS: tuple[Metric, ...] = tuple(
    Metric(*row)
    for row in [
        ("step", "", VALUE, None, "ramp step index, 0-based"),
        ("start_s", "s", VALUE, None, "step start, seconds since the run started"),
        ("duration_s", "s", VALUE, None, "how long the step lasted"),
        ("clients", "clients", VALUE, None, "active clients"),
        ("expected_rps", "requests/s", VALUE, None, "request rate the step should reach"),
        ("achieved_rps", "requests/s", RATE, True, "requests sent in the step / duration"),
        ("successful_rps", "requests/s", RATE, True, "successful requests / duration"),
        ("requests", "requests", SUM, None, "requests started in the step"),
        ("dropped", "requests", SUM, False, "open-model arrivals never sent (no free slot)"),
        ("successes", "requests", SUM, True, "successful requests"),
        ("success_rate", "fraction", RATIO, True, "successes / requests"),
        *_latency_metrics("latency_", "in the step", corrected=False),
        *_latency_metrics("corrected_latency_", "in the step", corrected=True),
        ("steady", "", VALUE, True, "achieved >= 95% of expected and >= 99% success"),
        *[
            (f"{source}_{field}", "%", MEAN, None, f"{source} {field}, mean over the step")
            for source in ("endpoint", "generator")
            for field in UTILIZATION_FIELDS
        ],
    ]
)

ALL_METRICS: dict[str, Metric] = {
    m.name: m for m in (*STEP_METRICS, *SUMMARY_METRICS, *UTILIZATION_METRICS)
}
# Run-level metrics in the order `compare` shows them.
RUN_METRICS: tuple[Metric, ...] = (*SUMMARY_METRICS, *UTILIZATION_METRICS)
RUN_METRICS_BY_NAME: dict[str, Metric] = {m.name: m for m in RUN_METRICS}

# Short names people type in `--fail-on` gates.
ALIASES: dict[str, str] = {
    "max_rps": "maximum_rps",
    "max_steady_rps": "maximum_steady_rps",
    "max_steady_clients": "maximum_steady_clients",
    "max_steady_ramp": "maximum_steady_ramp",
}


def metric(name: str) -> Metric:
    """The metric called `name` (or one of its aliases); KeyError names the known ones."""
    name = ALIASES.get(name, name)
    try:
        return ALL_METRICS[name]
    except KeyError:
        raise KeyError(name) from None


def run_metric_value(results: dict, m: Metric):
    """The value of a run-level metric in a results dict, or None when absent."""
    node = results.get("outputs", {})
    for key in m.path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node
