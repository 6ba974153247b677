"""Compare two runs of the same scenario metric by metric, and gate on regressions (pure).

Every run-level metric of the scenario's metric table is compared; whether a change is better
or worse comes from the metric (more throughput is better, more latency is worse, utilization
and step indices are neither, shown without a direction). Runs of different scenarios are
refused; runs with different inputs or setups are flagged, since their numbers are not
comparable as they stand.

Gates (`--fail-on`) in a short syntax, comma-separated:
    max_steady_rps:-5%       fail if it fell by more than 5%
    latency_p95_ms:+10%      fail if it rose by more than 10%
    latency_p95_ms:+20       fail if it rose by more than 20 (the metric's unit, ms)
    latency_p99_ms:10%       no sign: fail if it got more than 10% worse (the metric's
                             direction decides which way is worse)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from edgeload.errors import ResultsError
from edgeload.reporting.metrics import Metric, by_name, metric_value, number
from edgeload.scenarios import scenario

BETTER, WORSE, SAME, NEUTRAL, MISSING = "better", "worse", "same", "", "n/a"

# Setup facts that make two runs incomparable when they differ: label -> lookup path.
# The paths follow edgeload.metadata; every input is compared as well.
_SETUP: dict[str, tuple[str, ...]] = {
    "target kind": ("target", "kind"),
    "endpoint URL": ("target", "url"),
    "endpoint images": ("metadata", "endpoint_images"),
    "generator host": ("metadata", "generator_host", "hostname"),
    "generator CPU": ("metadata", "generator_host", "cpu_model"),
}
# Inputs that do not change what is measured.
_INPUTS_IGNORED = frozenset({"output_dir"})


@dataclass(frozen=True)
class Row:
    metric: Metric
    a: float | None
    b: float | None
    change: float | None  # b - a
    change_pct: float | None  # relative to a; None when a is 0 or either is missing
    verdict: str  # better / worse / same / "" (no direction) / n/a


@dataclass(frozen=True)
class Comparison:
    rows: list[Row]
    warnings: list[str]


def _lookup(results: dict, path: tuple[str, ...]):
    node = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def run_metrics(scenario_name: str) -> tuple[Metric, ...]:
    """The run-level metrics of a scenario (its metric table), in the order shown."""
    return scenario(scenario_name).analysis.RUN_METRICS


def compare_results(a: dict, b: dict) -> Comparison:
    """Every run-level metric of run A against run B (same scenario), and setup differences
    as warnings. ResultsError when the runs are of different scenarios."""
    if a.get("scenario") != b.get("scenario"):
        raise ResultsError(
            f"cannot compare a {a.get('scenario')} run with a {b.get('scenario')} run: "
            "give two runs of the same scenario"
        )
    rows = []
    for m in run_metrics(a["scenario"]):
        va, vb = number(metric_value(a, m)), number(metric_value(b, m))
        if va is None or vb is None:
            rows.append(Row(m, va, vb, None, None, MISSING))
            continue
        change = vb - va
        pct = change / abs(va) * 100 if va != 0 else None
        if change == 0:
            verdict = SAME
        elif m.higher_is_better is None:
            verdict = NEUTRAL
        else:
            verdict = BETTER if (change > 0) == m.higher_is_better else WORSE
        rows.append(Row(m, va, vb, change, pct, verdict))
    return Comparison(rows, _setup_warnings(a, b))


def _setup_warnings(a: dict, b: dict) -> list[str]:
    warnings = []
    inputs_a, inputs_b = a.get("inputs") or {}, b.get("inputs") or {}
    for key in sorted((set(inputs_a) | set(inputs_b)) - _INPUTS_IGNORED):
        va, vb = inputs_a.get(key), inputs_b.get(key)
        if va != vb:
            warnings.append(f"the runs differ in input {key}: A {_short(va)} vs B {_short(vb)}")
    for label, path in _SETUP.items():
        va, vb = _lookup(a, path), _lookup(b, path)
        if va is not None and vb is not None and va != vb:
            warnings.append(f"the runs differ in {label}: A {_short(va)} vs B {_short(vb)}")
    for name, results in (("A", a), ("B", b)):
        status = results.get("status")
        if status and status != "completed":
            warnings.append(f"run {name} did not complete ({status})")
    return warnings


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


_GATE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*:\s*([+-]?)(\d+(?:\.\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Gate:
    """A bound on how far a metric may move from run A to run B."""

    metric: Metric
    direction: int  # +1: fail when it rises beyond the bound; -1: when it falls beyond
    amount: float  # >= 0
    percent: bool
    text: str

    def fails(self, a: Any, b: Any) -> str | None:
        """None when run B is within the bound; otherwise a message saying how it broke it."""
        name = self.metric.name
        va, vb = number(a), number(b)
        if va is None or vb is None:
            which = "A" if va is None else "B"
            return f"{self.text}: {name} is missing in run {which}, so the gate cannot pass"
        change = vb - va
        if self.percent:
            if va == 0:
                moved = 0.0 if change == 0 else math.copysign(math.inf, change)
            else:
                moved = change / abs(va) * 100
            unit = "%"
        else:
            moved, unit = change, f" {self.metric.unit}"
        if moved * self.direction > self.amount:
            sign = "+" if moved >= 0 else ""
            return (
                f"{self.text}: {name} went from {va:g} to {vb:g} ({sign}{moved:.4g}{unit}), "
                f"beyond the allowed {'+' if self.direction > 0 else '-'}{self.amount:g}"
                f"{unit.strip() if self.percent else unit}"
            )
        return None


def parse_gates(spec: str, scenario_name: str) -> list[Gate]:
    """`name:[+|-]N[%],...` into Gates on the scenario's metrics; ResultsError (one line)
    for anything else."""
    metrics = by_name(run_metrics(scenario_name))
    aliases = getattr(scenario(scenario_name).analysis, "ALIASES", {})
    gates = []
    for part in (p for p in spec.split(",") if p.strip()):
        match = _GATE.match(part)
        if not match:
            raise ResultsError(
                f"bad --fail-on gate {part.strip()!r}: write METRIC:[+|-]NUMBER[%], "
                "e.g. max_steady_rps:-5%,latency_p95_ms:+10%"
            )
        name, sign, amount, percent = match.groups()
        m = metrics.get(aliases.get(name, name))
        if m is None:
            raise ResultsError(
                f"unknown {scenario_name} metric {name!r} in --fail-on; known: {', '.join(metrics)}"
            )
        if sign:
            direction = 1 if sign == "+" else -1
        elif m.higher_is_better is None:
            raise ResultsError(
                f"{m.name} is neither better higher nor lower: give the gate a sign (+ or -)"
            )
        else:
            direction = -1 if m.higher_is_better else 1  # the worse way
        gates.append(Gate(m, direction, float(amount), bool(percent), part.strip()))
    if not gates:
        raise ResultsError("--fail-on is empty: give at least one METRIC:[+|-]NUMBER[%]")
    return gates


def check_gates(gates: list[Gate], a: dict, b: dict) -> list[str]:
    """Messages of the gates run B breaks (empty: all pass)."""
    broken = []
    for gate in gates:
        message = gate.fails(metric_value(a, gate.metric), metric_value(b, gate.metric))
        if message:
            broken.append(message)
    return broken


def format_comparison(c: Comparison, label_a: str = "A", label_b: str = "B") -> str:
    """Side-by-side table of every metric with its change and verdict."""
    name_width = max(len(r.metric.label) for r in c.rows)
    lines = [
        f"A: {label_a}",
        f"B: {label_b}",
        f"{'metric':<{name_width}}  {'A':>12}  {'B':>12}  {'change':>12}  {'change %':>9}  verdict",
    ]
    for r in c.rows:
        pct = "-" if r.change_pct is None else f"{r.change_pct:+.1f}%"
        lines.append(
            f"{r.metric.label:<{name_width}}  {_fmt(r.a):>12}  {_fmt(r.b):>12}  "
            f"{_fmt(r.change, signed=True):>12}  {pct:>9}  {r.verdict}"
        )
    lines += [f"warning: {w}" for w in c.warnings]
    return "\n".join(lines)


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if value == int(value) and abs(value) < 1e12:
        return f"{int(value):+,}" if signed else f"{int(value):,}"
    return f"{value:+,.3f}" if signed else f"{value:,.3f}"
