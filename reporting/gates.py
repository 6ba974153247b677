"""Gates on one run, k6-threshold style: `--fail-if "latency_p95_ms>150,success_rate<0.99"`.

Each clause names a run-level metric of the scenario's metric table (or an alias), a
comparison and a number in the metric's unit; the run fails when the clause holds. Gates are
evaluated by the reporter from the results, so `edgeload report` re-evaluates them, and each
becomes a check of kind `gate` (not_observed when the run has no value for the metric).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from edgeload import verdict
from edgeload.errors import UsageError
from edgeload.reporting.metrics import Metric, by_name, metric_value, number
from edgeload.scenarios import scenario

_CLAUSE = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$"
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Threshold:
    """Fail the run when `metric op value` holds."""

    metric: Metric
    op: str
    value: float
    text: str

    def check(self, results: dict) -> verdict.Check:
        name = f"--fail-if {self.text}"
        found = number(metric_value(results, self.metric))
        if found is None:
            return verdict.check(
                name, None, f"the run has no {self.metric.name} value", kind=verdict.GATE
            )
        unit = f" {self.metric.unit}" if self.metric.unit else ""
        if _OPS[self.op](found, self.value):
            detail = f"{self.metric.name} was {found:g}{unit}: {self.op} {self.value:g}"
            return verdict.check(name, False, detail, kind=verdict.GATE)
        detail = f"{self.metric.name} was {found:g}{unit} (fails when {self.op} {self.value:g})"
        return verdict.check(name, True, detail, kind=verdict.GATE)


def parse_thresholds(spec: str | None, scenario_name: str) -> list[Threshold]:
    """The clauses of a --fail-if spec; UsageError (one line) for a bad one."""
    if spec is None or not str(spec).strip():
        return []
    analysis = scenario(scenario_name).analysis
    metrics = by_name(analysis.RUN_METRICS)
    aliases = getattr(analysis, "ALIASES", {})
    thresholds = []
    for part in (p.strip() for p in str(spec).split(",")):
        if not part:
            continue
        match = _CLAUSE.match(part)
        if not match:
            raise UsageError(
                f"--fail-if clause {part!r} is not METRIC<OP>NUMBER: write e.g. "
                "'latency_p95_ms>150,success_rate<0.99' (OP one of < <= > >= == !=)"
            )
        name, op, value = match.groups()
        m = metrics.get(aliases.get(name, name))
        if m is None:
            raise UsageError(
                f"--fail-if names {name!r}, not a {scenario_name} metric; known: "
                + ", ".join(metrics)
            )
        thresholds.append(Threshold(m, op, float(value), part))
    if not thresholds:
        raise UsageError("--fail-if is empty: give at least one METRIC<OP>NUMBER clause")
    return thresholds


def gate_checks(results: dict) -> list[verdict.Check]:
    """The checks of the run's --fail-if gates, from its (partly built) results."""
    spec = (results.get("inputs") or {}).get("fail_if")
    return [t.check(results) for t in parse_thresholds(spec, results["scenario"])]
