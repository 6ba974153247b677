"""Rollout windows and what the load met in each (pure).

A rollout window is a detector's pod update as `podtimeline` replays it: from the new pod
seen beside the old one until the old pod is gone. A request belongs to a window when it
started inside it or within the margin after it (errors right after a switch-over are the
rollout's: each edge-app worker caches pod readiness a few seconds), never past the next
window's start. Everything else is "outside".

A latency spike is an answered request slower than the window's threshold: --spike-ms when
given, else --spike-factor x the median latency of answered requests outside windows before
the window (all of them when none came before), and at least SPIKE_MIN_EXCESS_MS above it.

Times are endpoint seconds from the endpoint's first answer; latencies are milliseconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SPIKE_MIN_EXCESS_MS = 100.0  # a spike is at least this much above the median
MAX_LISTED = 20_000  # errors and spikes listed one by one (all are counted)


@dataclass(frozen=True)
class Request:
    t: float  # endpoint s when sent
    latency_ms: float
    ok: bool
    category: str | None  # error category when not ok
    status: int


@dataclass(frozen=True)
class SpikeRule:
    spike_ms: float | None
    factor: float

    def threshold(self, baseline_ms: float | None) -> float | None:
        if self.spike_ms is not None:
            return self.spike_ms
        if baseline_ms is None:
            return None
        return max(self.factor * baseline_ms, baseline_ms + SPIKE_MIN_EXCESS_MS)


def windows_between(
    update_windows: Sequence[Sequence[float]], t_start: float, t_end: float
) -> list[list[float]]:
    """The update windows that started while the load ran, in order; one still open when the
    load stopped ends there."""
    return sorted(
        [float(s), min(float(e), t_end)] for s, e in update_windows if t_start <= s < t_end
    )


def attribute(
    requests: Sequence[Request], windows: Sequence[Sequence[float]], margin_s: float
) -> list[int]:
    """For each request, the index of its window, or -1 outside every window."""
    spans = counted_spans(windows, margin_s)
    out = []
    for r in requests:
        out.append(next((i for i, (s, e) in enumerate(spans) if s <= r.t <= e), -1))
    return out


def counted_spans(windows: Sequence[Sequence[float]], margin_s: float) -> list[tuple[float, float]]:
    """Each window widened by the margin, never past the next window's start."""
    spans = []
    for i, (s, e) in enumerate(windows):
        until = e + margin_s
        if i + 1 < len(windows):
            until = min(until, windows[i + 1][0])
        spans.append((s, max(until, e)))
    return spans


def _latency_figures(latencies: Sequence[float]) -> dict[str, float | None]:
    if not latencies:
        return {"latency_p50_ms": None, "latency_p95_ms": None, "latency_max_ms": None}
    a = np.asarray(latencies, dtype=float)
    return {
        "latency_p50_ms": round(float(np.percentile(a, 50)), 3),
        "latency_p95_ms": round(float(np.percentile(a, 95)), 3),
        "latency_max_ms": round(float(a.max()), 3),
    }


def group_figures(requests: Sequence[Request], threshold_ms: float | None) -> dict[str, Any]:
    """Requests, errors (by category), spikes and latency of a group of requests."""
    errors = [r for r in requests if not r.ok]
    answered = [r for r in requests if r.ok]
    return {
        "requests": len(requests),
        "errors": len(errors),
        "errors_by_category": dict(sorted(Counter(r.category or "?" for r in errors).items())),
        "spikes": sum(1 for r in answered if _spike(r, threshold_ms)),
        "spike_threshold_ms": None if threshold_ms is None else round(threshold_ms, 3),
        **_latency_figures([r.latency_ms for r in answered]),
    }


def _spike(r: Request, threshold_ms: float | None) -> bool:
    return r.ok and threshold_ms is not None and r.latency_ms > threshold_ms


def incidents(
    requests: Sequence[Request], where: Sequence[int], thresholds: dict[int, float | None]
) -> list[dict[str, Any]]:
    """Every error and every spike in time order, with its window (None: outside)."""
    out = []
    for r, w in zip(requests, where, strict=True):
        if r.ok and not _spike(r, thresholds.get(w)):
            continue
        out.append(
            {
                "t": round(r.t, 3),
                "window": w + 1 if w >= 0 else None,
                "kind": "spike" if r.ok else "error",
                "category": r.category,
                "status": r.status,
                "latency_ms": round(r.latency_ms, 3),
            }
        )
        if len(out) >= MAX_LISTED:
            break
    return out


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(np.asarray(values, dtype=float))) if values else None


def analyze_windows(
    requests: Sequence[Request],
    windows: Sequence[Sequence[float]],
    *,
    margin_s: float,
    rule: SpikeRule,
    t_end: float,
    version_changes: Sequence[dict] = (),
) -> dict[str, Any]:
    """Per window and outside: requests, errors, spikes and latency; `closed` is False for a
    window still open when the run ended."""
    where = attribute(requests, windows, margin_s)
    outside = [r for r, w in zip(requests, where, strict=True) if w < 0]
    all_outside_median = _median([r.latency_ms for r in outside if r.ok])
    spans = counted_spans(windows, margin_s)
    thresholds: dict[int, float | None] = {-1: rule.threshold(all_outside_median)}
    rows = []
    for i, (start, end) in enumerate(windows):
        before = [r.latency_ms for r in outside if r.ok and r.t < start]
        baseline = _median(before) if before else all_outside_median
        mine = [r for r, w in zip(requests, where, strict=True) if w == i]
        thresholds[i] = rule.threshold(baseline)
        changes = [c for c in version_changes if start <= c["t"] <= spans[i][1]]
        rows.append(
            {
                "index": i + 1,
                "start_s": round(start, 3),
                "end_s": round(end, 3),
                "duration_s": round(end - start, 3),
                "closed": end < t_end,
                "counted_until_s": round(spans[i][1], 3),
                "from_version": changes[0]["from"] if changes else None,
                "to_version": changes[-1]["to"] if changes else None,
                "baseline_p50_ms": None if baseline is None else round(baseline, 3),
                **group_figures(mine, thresholds[i]),
            }
        )
    return {
        "windows": rows,
        "outside": group_figures(outside, thresholds[-1]),
        "incidents": incidents(requests, where, thresholds),
        "thresholds": thresholds,
    }


def longest_error_free_s(requests: Sequence[Request], t_start: float, t_end: float) -> float:
    """The longest stretch of the load without a failed request (endpoint seconds)."""
    marks = [t_start] + sorted(r.t for r in requests if not r.ok) + [t_end]
    return round(max(max(b - a for a, b in zip(marks, marks[1:], strict=False)), 0.0), 3)
