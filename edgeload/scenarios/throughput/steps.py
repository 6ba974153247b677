"""Per-step measurement of a throughput run (pure): windows, rates, latencies, steadiness,
the latency SLO and within-step stability.

A step runs from its step record (the shape's tick) to the next one. It is *measured* from
the moment all its clients are running (the `step_ready` event: Locust's spawning complete,
on a distributed master once every worker has spawned) plus a settle time, to its end: the
spawn-up of a large step (seconds on a busy master) never dilutes its rate. Rates divide by
the measured window; success and latency figures cover the requests started inside it.
Error categories and request counts of the whole step are kept as well.

Stability (as Triton perf_analyzer's stability windows): the measured window is cut into
STABILITY_WINDOWS equal parts; the step is stable when the achieved rate of every part is
within STABILITY_RATE_PCT of their mean and the p95 latency of every part within
STABILITY_P95_PCT of theirs. Too few requests per part to tell: stable is null.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from edgeload.errors import UsageError
from edgeload.reporting.logreader import LogData, StepData
from edgeload.reporting.metrics import LATENCY_PERCENTILES

STEADY_RATE_PERCENT = 95  # achieved >= 95% of the expected request rate ...
STEADY_SUCCESS_PERCENT = 99  # ... and >= 99% of requests succeeded
DEFAULT_SETTLE_S = 1.0
MAX_SETTLE_FRACTION = 0.25  # a settle time never takes more than a quarter of a step
STABILITY_WINDOWS = 3
STABILITY_RATE_PCT = 10.0
STABILITY_P95_PCT = 25.0  # a p95 over a third of a step is noisier than a rate
MIN_REQUESTS_PER_STABILITY_WINDOW = 20
# A relative slack so that a rate computed in floating point from exactly 95% passes.
_RATE_EPSILON = 1e-9

_SLO = re.compile(r"^\s*(corrected_)?p(\d{1,2}(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*ms\s*$")


@dataclass(frozen=True)
class LatencySlo:
    """A latency objective: the step's `percentile` (plain or corrected) at most `limit_ms`."""

    percentile: float
    limit_ms: float
    corrected: bool = False

    @property
    def text(self) -> str:
        return f"{'corrected_' if self.corrected else ''}p{self.percentile:g}:{self.limit_ms:g}ms"


def parse_slo(text: str | None) -> LatencySlo | None:
    """`p95:150ms` or `corrected_p99:300ms` into a LatencySlo; UsageError for anything else."""
    if text is None or not str(text).strip():
        return None
    match = _SLO.match(str(text))
    if not match or not 0 < float(match.group(2)) < 100 or not float(match.group(3)) > 0:
        raise UsageError(
            f"--latency-slo {text!r} is not PERCENTILE:LIMITms: write e.g. p95:150ms or "
            "corrected_p99:300ms (a percentile between 0 and 100, a limit above 0)"
        )
    return LatencySlo(float(match.group(2)), float(match.group(3)), bool(match.group(1)))


@dataclass(frozen=True)
class StepWindow:
    index: int
    start: float  # the shape's tick
    end: float  # the next step's tick, or the end of the run
    measured_from: float  # all clients running + settle
    record: dict | None
    data: StepData


def step_windows(log: LogData, settle_s: float) -> list[StepWindow]:
    """Every step with its window, in time order."""
    records: dict[int, dict] = {}
    for record in log.step_records:
        records.setdefault(record["step"], record)  # the first start of a step counts
    ready = {
        e["step"]: e["t"]
        for e in log.events
        if e.get("name") == "step_ready" and isinstance(e.get("step"), int)
    }
    indices = set(records) | set(log.steps)
    starts = {i: (records[i]["t"] if i in records else log.steps[i].first_t) for i in indices}
    ordered = sorted(indices, key=lambda i: (starts[i], i))
    run_end = log.end["t"] if log.end is not None else log.last_t
    windows = []
    for k, index in enumerate(ordered):
        start = starts[index]
        data = log.steps.get(index) or StepData(index)
        if k + 1 < len(ordered):
            end = starts[ordered[k + 1]]
        else:
            end = max(run_end, data.last_t) if data.requests else run_end
            planned = (records.get(index) or {}).get("planned_s")
            if isinstance(planned, (int, float)) and planned > 0:
                # a run stopped at its end: the stop takes a moment (longer with workers)
                end = min(end, start + planned)
        all_running = max(start, ready.get(index, start))
        settle = min(settle_s, MAX_SETTLE_FRACTION * max(0.0, end - start))
        measured_from = min(all_running + settle, end)
        windows.append(StepWindow(index, start, end, measured_from, records.get(index), data))
    return windows


def latency_stats(values: np.ndarray | None, prefix: str) -> dict:
    """p50/p90/p95/p99/max in ms of raw latencies, keyed `<prefix>p50_ms` ...; None if empty."""
    keys = [f"{prefix}p{q}_ms" for q in LATENCY_PERCENTILES] + [f"{prefix}max_ms"]
    if values is None or len(values) == 0:
        return dict.fromkeys(keys)
    found = np.percentile(values, LATENCY_PERCENTILES).tolist() + [float(values.max())]
    return {k: round(float(v), 3) for k, v in zip(keys, found, strict=True)}


def is_steady(
    requests: int, successes: int, achieved_rps: float | None, expected_rps: float | None
) -> bool | None:
    """The upstream scripts' steadiness rule; None when the expected rate is unknown."""
    if expected_rps is None:
        return None
    if requests == 0 or achieved_rps is None:
        return False
    rate_ok = achieved_rps * 100 >= STEADY_RATE_PERCENT * expected_rps * (1 - _RATE_EPSILON)
    success_ok = successes * 100 >= STEADY_SUCCESS_PERCENT * requests  # exact, integers
    return rate_ok and success_ok


def step_row(window: StepWindow, origin: float, slo: LatencySlo | None) -> dict:
    """The per-step table row of one step (outputs.steps)."""
    data = window.data
    t = data.times()
    inside = (t >= window.measured_from) & (t < window.end)
    sent = data.sent()
    measured_sent = inside & sent
    duration = window.end - window.measured_from
    duration = duration if duration > 0 else None
    expected = window.record.get("expected_rps") if window.record is not None else None
    expected = None if expected is None else float(expected)
    requests = int(inside.sum())
    successes = int((data.ok() & inside).sum())
    achieved = int(measured_sent.sum()) / duration if duration else None
    plain = data.all_latencies_ms()[measured_sent]
    corrected_all = data.all_corrected_latencies_ms()
    corrected = None if corrected_all is None else corrected_all[measured_sent]
    row = {
        "step": window.index,
        "start_s": _round(window.start - origin),
        "measured_from_s": _round(window.measured_from - origin),
        "duration_s": _round(duration),
        "clients": window.record["clients"] if window.record is not None else data.max_clients,
        "expected_rps": _round(expected),
        "achieved_rps": _round(achieved),
        "successful_rps": _round(successes / duration if duration else None),
        "requests": requests,
        "step_requests": data.requests,
        "dropped": int((inside & ~sent).sum()),
        "successes": successes,
        "success_rate": round(successes / requests, 6) if requests else None,
        **latency_stats(plain, "latency_"),
        **latency_stats(corrected, "corrected_latency_"),
    }
    row["slo_latency_ms"], row["within_slo"] = within_slo(plain, corrected, row, slo)
    steady = is_steady(requests, successes, achieved, expected)
    row["steady"] = steady if steady is None or row["within_slo"] is None else (
        steady and row["within_slo"]
    )  # fmt: skip
    row["stable"] = stability(t[measured_sent], plain, window.measured_from, window.end)
    return row


def within_slo(
    plain: np.ndarray, corrected: np.ndarray | None, row: dict, slo: LatencySlo | None
) -> tuple[float | None, bool | None]:
    """(the step's latency at the SLO's percentile, whether it met the SLO with >= 99%
    success); (None, None) without an SLO or without latencies to judge."""
    if slo is None:
        return None, None
    values = plain if not slo.corrected or corrected is None else corrected
    if len(values) == 0 or row["success_rate"] is None:
        return None, None
    value = round(float(np.percentile(values, slo.percentile)), 3)
    met = value <= slo.limit_ms and row["success_rate"] * 100 >= STEADY_SUCCESS_PERCENT
    return value, met


def stability(t: np.ndarray, latency_ms: np.ndarray, start: float, end: float) -> bool | None:
    """Whether the step's rate and p95 held steady across its measured window."""
    if end <= start or len(t) < STABILITY_WINDOWS * MIN_REQUESTS_PER_STABILITY_WINDOW:
        return None
    edges = np.linspace(start, end, STABILITY_WINDOWS + 1)
    part = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, STABILITY_WINDOWS - 1)
    counts = np.bincount(part, minlength=STABILITY_WINDOWS)
    if counts.min() < MIN_REQUESTS_PER_STABILITY_WINDOW:
        return None
    width = (end - start) / STABILITY_WINDOWS
    rates = counts / width
    p95s = np.array([np.percentile(latency_ms[part == k], 95) for k in range(STABILITY_WINDOWS)])
    return bool(_within(rates, STABILITY_RATE_PCT) and _within(p95s, STABILITY_P95_PCT))


def _within(values: np.ndarray, percent: float) -> bool:
    mean = float(values.mean())
    return mean > 0 and float(np.abs(values - mean).max()) <= mean * percent / 100


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)
