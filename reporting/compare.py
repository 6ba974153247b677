"""Compare two runs' results metric by metric, and gate on regressions (pure; no I/O).

Every run-level metric of the metric table is compared; whether a change is better or worse
comes from the metric (more throughput is better, more latency is worse, utilization is
neither). Runs measured on different setups are flagged, since their numbers are not
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

from edgeload.reporting.errors import ReportError
from edgeload.reporting.metrics import (
    RUN_METRICS,
    RUN_METRICS_BY_NAME,
    Metric,
    metric,
    run_metric_value,
)

BETTER, WORSE, SAME, NEUTRAL, MISSING = "better", "worse", "same", "", "n/a"

# Setup facts that make two runs incomparable when they differ: label -> lookup paths
# (the first one found wins). The paths follow edgeload.metadata and the throughput inputs.
_SETUP: dict[str, list[tuple[str, ...]]] = {
    "scenario": [("metadata", "scenario")],
    "target kind": [("metadata", "target", "kind")],
    "endpoint URL": [("metadata", "target", "url")],
    "endpoint images": [("metadata", "endpoint_images")],
    "detector mode": [("inputs", "detector_mode"), ("metadata", "images", "mode")],
    "image size": [
        (("inputs", "image_width"), ("inputs", "image_height")),
        (("metadata", "images", "width"), ("metadata", "images", "height")),
    ],
    "client": [("inputs", "client")],
    "generator host": [("metadata", "generator_host", "hostname")],
    "generator CPU": [("metadata", "generator_host", "cpu_model")],
}


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


def _setup_value(results: dict, paths: list) -> object:
    for path in paths:
        if isinstance(path[0], tuple):  # several values shown together (width x height)
            parts = [_lookup(results, p) for p in path]
            value = None if None in parts else "x".join(str(p) for p in parts)
        else:
            value = _lookup(results, path)
        if value is not None:
            return value
    return None


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def compare_results(a: dict, b: dict) -> Comparison:
    """Every run-level metric of run A against run B, and setup differences as warnings."""
    rows = []
    for m in RUN_METRICS:
        va, vb = _number(run_metric_value(a, m)), _number(run_metric_value(b, m))
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
    warnings = []
    for label, paths in _SETUP.items():
        va, vb = _setup_value(a, paths), _setup_value(b, paths)
        if va is not None and vb is not None and va != vb:
            warnings.append(f"the runs differ in {label}: A {_short(va)} vs B {_short(vb)}")
    for name, results in (("A", a), ("B", b)):
        status = _lookup(results, ("outputs", "status"))
        if status and status != "completed":
            warnings.append(f"run {name} did not complete ({status})")
    return Comparison(rows, warnings)


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

    def fails(self, a, b) -> str | None:
        """None when run B is within the bound; otherwise a message saying how it broke it."""
        name = self.metric.name
        va, vb = _number(a), _number(b)
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


def parse_gates(spec: str) -> list[Gate]:
    """`name:[+|-]N[%],...` into Gates; ReportError (one line) for anything else."""
    gates = []
    for part in (p for p in spec.split(",") if p.strip()):
        match = _GATE.match(part)
        if not match:
            raise ReportError(
                f"bad --fail-on gate {part.strip()!r}: write METRIC:[+|-]NUMBER[%], "
                "e.g. max_steady_rps:-5%,latency_p95_ms:+10%"
            )
        name, sign, amount, percent = match.groups()
        try:
            m = metric(name)
        except KeyError:
            raise ReportError(
                f"unknown metric {name!r} in --fail-on; known: {', '.join(RUN_METRICS_BY_NAME)}"
            ) from None
        if m.name not in RUN_METRICS_BY_NAME:
            raise ReportError(f"{name!r} is a per-step column, not a run metric: it cannot gate")
        if sign:
            direction = 1 if sign == "+" else -1
        elif m.higher_is_better is None:
            raise ReportError(
                f"{m.name} is neither better higher nor lower: give the gate a sign (+ or -)"
            )
        else:
            direction = -1 if m.higher_is_better else 1  # the worse way
        gates.append(Gate(m, direction, float(amount), bool(percent), part.strip()))
    if not gates:
        raise ReportError("--fail-on is empty: give at least one METRIC:[+|-]NUMBER[%]")
    return gates


def check_gates(gates: list[Gate], a: dict, b: dict) -> list[str]:
    """Messages of the gates run B breaks (empty: all pass)."""
    broken = []
    for gate in gates:
        message = gate.fails(run_metric_value(a, gate.metric), run_metric_value(b, gate.metric))
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
