"""Metrics are defined once, as data: every figure a scenario publishes is a `Metric`.

Each scenario's analysis declares its metric table (e.g. `edgeload.scenarios.throughput.
metrics`); the results JSON (`metrics`), the plots' axis labels, the printed summary, the gates
(`--fail-if`), `edgeload compare` and `edgeload history` read those tables instead of keeping
their own lists. A metric knows its unit, how it aggregates (throughput sums, utilization
averages, latency is a percentile of the raw values), whether higher is better (None: neither,
e.g. utilization or a step index, whose change has no direction) and where it lives in the
results (`path` under `outputs`; headline figures are `outputs.summary.<name>`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# How a metric is formed from the records.
SUM = "sum"  # a count over requests
MAX = "max"  # the largest value over steps or samples
MIN = "min"  # the smallest value
MEAN = "mean"  # the average of samples over a time window
STDDEV = "stddev"  # the standard deviation of per-request values
RATIO = "ratio"  # a count divided by another (success rate)
RATE = "rate"  # a count divided by a duration
PERCENTILE = "percentile"  # a percentile of the raw per-request values
DURATION = "duration"  # the time until something was observed
VALUE = "value"  # a value chosen by a rule (e.g. the clients of the maximum steady step)

LATENCY_PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    aggregation: str
    higher_is_better: bool | None
    description: str
    path: tuple[str, ...] = ()  # where it lives under results["outputs"]; () = summary.<name>

    @property
    def label(self) -> str:
        """Axis / table label: the name with its unit."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    @property
    def location(self) -> tuple[str, ...]:
        return self.path or ("summary", self.name)

    def as_record(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "aggregation": self.aggregation,
            "higher_is_better": self.higher_is_better,
            "description": self.description,
        }


def latency_metrics(prefix: str, scope: str, *, corrected: bool, path: tuple = ()) -> list[Metric]:
    """p50/p90/p95/p99/max latency metrics named `<prefix>p50_ms` ..., over `scope`."""
    what = (
        "latency from the intended send time (coordinated-omission corrected)"
        if corrected
        else "latency from the actual send to the answer"
    )
    rows = [
        Metric(
            f"{prefix}p{q}_ms",
            "ms",
            PERCENTILE,
            False,
            f"p{q} {what}, {scope}",
            (*path, f"{prefix}p{q}_ms") if path else (),
        )
        for q in LATENCY_PERCENTILES
    ]
    rows.append(
        Metric(
            f"{prefix}max_ms",
            "ms",
            MAX,
            False,
            f"largest {what}, {scope}",
            (*path, f"{prefix}max_ms") if path else (),
        )
    )
    return rows


def by_name(metrics: Iterable[Metric]) -> dict[str, Metric]:
    return {m.name: m for m in metrics}


def metric_value(results: Mapping[str, Any], m: Metric) -> Any:
    """The value of a metric in a results dict, or None when absent."""
    node: Any = results.get("outputs", {})
    for key in m.location:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def number(value: Any) -> float | None:
    """A metric value as a float, or None for a missing or non-numeric one (bool, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)
