"""Pure analysis of a read log: per-step table, headline numbers, utilization, warnings, series.

Nothing here reads files or the network: `analyze(log)` turns the `LogData` of a throughput
log into the reporter's `ScenarioAnalysis` (outputs, checks, warnings), with an `Analysis` as
what the plots draw.

Definitions (as the upstream load-testing scripts define them):
- a step's achieved rate is the number of requests started in the step divided by its
  duration (from its step record to the next step's, or to the end of the run);
- a step is steady when it achieved at least 95% of its expected rate and at least 99% of its
  requests succeeded; a step without a known expected rate is neither (steady: null);
- the maximum steady step is the steady step with the highest achieved rate;
- latency is measured from the actual send to the answer; corrected latency from the intended
  send time of a paced request (coordinated omission: a client stuck on a slow answer sends
  late, and latency from the late send hides the stall). Percentiles are numpy's linear
  interpolation over the raw per-request values.
- an open-model arrival that found no free in-flight slot (error category `dropped`) is a
  request and a failure, but was never sent: it has no latency (left out of the percentiles)
  and is not part of the achieved rate (requests sent / duration).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edgeload import verdict
from edgeload.reporting.logreader import (
    HIST_BINS,
    HIST_RATIO,
    LogData,
    SecondSeries,
    StepData,
    hist_bin_edges_ms,
)
from edgeload.reporting.metrics import LATENCY_PERCENTILES
from edgeload.reporting.results import ScenarioAnalysis, run_status, warning
from edgeload.scenarios.throughput.metrics import ALIASES as ALIASES  # noqa: F401 - for gates
from edgeload.scenarios.throughput.metrics import RUN_METRICS, UTILIZATION_FIELDS
from edgeload.verdict import Check, check

STEADY_RATE_PERCENT = 95  # achieved >= 95% of the expected request rate ...
STEADY_SUCCESS_PERCENT = 99  # ... and >= 99% of requests succeeded
GENERATOR_CPU_LIMIT_PCT = 90.0  # above this the numbers measure the load generator
MIN_REQUESTS_FOR_PERCENTILES = 100  # fewer, and a step's p99 is one or two requests
SOURCES = ("endpoint", "generator")

DEFINITIONS = {
    "achieved_rps": "requests sent in the step divided by the step's duration",
    "dropped": (
        "open-model arrivals that found every in-flight slot busy and were never sent: counted "
        "as requests and failures, left out of latency percentiles and of achieved_rps"
    ),
    "steady": (
        f"achieved_rps >= {STEADY_RATE_PERCENT}% of expected_rps and success_rate >= "
        f"{STEADY_SUCCESS_PERCENT}%"
    ),
    "latency": "from the actual send of the request to its answer (raw per-request values)",
    "corrected_latency": (
        "from the intended send time of a paced request to its answer (coordinated-omission "
        "corrected; equals latency for requests that were not paced)"
    ),
    "percentiles": "linear interpolation over the raw per-request values (numpy)",
    "few_requests": (
        f"percentiles of steps with fewer than {MIN_REQUESTS_FOR_PERCENTILES} requests are "
        "flagged as unreliable"
    ),
    "maximum_steady_ramp": "0-based index of the steady step with the highest achieved_rps",
}
KEEP_REQUESTS = False  # a million requests: the reader keeps compact per-step data only

# A relative slack so that a rate computed in floating point from exactly 95% passes.
_RATE_EPSILON = 1e-9


@dataclass
class Series:
    """Per-second series for the time plots (x = seconds since the run started)."""

    elapsed_s: np.ndarray  # middle of each second
    requests: np.ndarray  # requests started in that second (= requests/s)
    errors: np.ndarray  # failed requests started in that second
    latency_p50_ms: np.ndarray  # NaN where no request started
    latency_p95_ms: np.ndarray
    corrected_latency_p95_ms: np.ndarray | None  # None when no request was paced


@dataclass
class UtilizationSeries:
    """The samples of one source and host, as arrays (NaN where a value was unknown)."""

    source: str
    host: str
    elapsed_s: np.ndarray
    values: dict[str, np.ndarray]  # field (cpu_pct, ...) -> values


@dataclass
class Analysis:
    header: dict
    status: str
    status_reason: str
    origin_t: float  # UNIX time of elapsed 0
    steps: list[dict]
    summary: dict
    utilization_summary: dict
    errors_by_category: dict[str, int]
    warnings: list[dict]
    workers_lost: list[dict]
    events: list[dict]
    request_count: int
    locust_request_count: int | None
    has_intended: bool
    series: Series
    utilization_series: list[UtilizationSeries] = field(default_factory=list)


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


def latency_stats(values: np.ndarray | None, prefix: str) -> dict:
    """p50/p90/p95/p99/max in ms of raw latencies, keyed `<prefix>p50_ms` ...; None if empty."""
    keys = [f"{prefix}p{q}_ms" for q in LATENCY_PERCENTILES] + [f"{prefix}max_ms"]
    if values is None or len(values) == 0:
        return dict.fromkeys(keys)
    found = np.percentile(values, LATENCY_PERCENTILES).tolist() + [float(values.max())]
    return {k: round(float(v), 3) for k, v in zip(keys, found, strict=True)}


def hist_percentiles(hist: np.ndarray, quantiles: list[float]) -> list[np.ndarray]:
    """Per-row percentiles of a (seconds x bins) latency histogram; NaN for empty rows.

    Within a bin the values are taken as spread log-uniformly, so the estimate moves smoothly
    instead of jumping from bin to bin.
    """
    edges = hist_bin_edges_ms()
    out = [np.full(len(hist), np.nan) for _ in quantiles]
    chunk = 4096  # rows at a time: bounded memory for long runs
    for lo in range(0, len(hist), chunk):
        counts = hist[lo : lo + chunk]
        cum = np.cumsum(counts, axis=1, dtype=np.int64)
        total = cum[:, -1]
        rows = np.arange(len(counts))
        for result, q in zip(out, quantiles, strict=True):
            target = np.maximum(q * total, 1e-9)
            index = np.minimum((cum < target[:, None]).sum(axis=1), HIST_BINS - 1)
            in_bin = counts[rows, index].astype(np.float64)
            before = cum[rows, index] - in_bin
            fraction = np.clip((target - before) / np.maximum(in_bin, 1), 0.0, 1.0)
            value = edges[index] * HIST_RATIO**fraction
            result[lo : lo + chunk] = np.where(total > 0, value, np.nan)
    return out


def _series(seconds: SecondSeries, origin_t: float) -> Series:
    used = np.flatnonzero(seconds.requests)
    if seconds.base is None or len(used) == 0:
        empty = np.empty(0)
        return Series(empty, empty, empty, empty, empty, None)
    rows = slice(int(used[0]), int(used[-1]) + 1)
    hist = seconds.hist[rows]
    p50, p95 = hist_percentiles(hist, [0.5, 0.95])
    corrected = None
    if seconds.corrected_hist is not None:
        (corrected,) = hist_percentiles(seconds.corrected_hist[rows], [0.95])
    elapsed = seconds.base + np.arange(rows.start, rows.stop) + 0.5 - origin_t
    return Series(
        elapsed_s=elapsed,
        requests=seconds.requests[rows].copy(),
        errors=seconds.errors[rows].copy(),
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        corrected_latency_p95_ms=corrected,
    )


class _Utilization:
    """Utilization samples as arrays, for window means."""

    def __init__(self, samples: list[dict], origin_t: float) -> None:
        self.by_source: dict[str, dict[str, np.ndarray]] = {}
        self.series: list[UtilizationSeries] = []
        for source in SOURCES:
            rows = [s for s in samples if s.get("source") == source]
            if not rows:
                continue
            arrays = {"t": np.array([r["t"] for r in rows], dtype=np.float64)}
            hosts = np.array([str(r.get("host") or "?") for r in rows])
            for name in UTILIZATION_FIELDS:
                arrays[name] = np.array(
                    [np.nan if r.get(name) is None else r[name] for r in rows], dtype=np.float64
                )
            arrays["host"] = hosts
            self.by_source[source] = arrays
            for host in dict.fromkeys(hosts.tolist()):
                mine = hosts == host
                self.series.append(
                    UtilizationSeries(
                        source=source,
                        host=host,
                        elapsed_s=arrays["t"][mine] - origin_t,
                        values={f: arrays[f][mine] for f in UTILIZATION_FIELDS},
                    )
                )

    def count(self, source: str) -> int:
        arrays = self.by_source.get(source)
        return 0 if arrays is None else len(arrays["t"])

    def window_mean(self, source: str, start: float, end: float, host: str | None = None) -> dict:
        """Mean of each field over samples with start <= t < end (None where no value)."""
        arrays = self.by_source.get(source)
        result: dict = dict.fromkeys(UTILIZATION_FIELDS)
        result["samples"] = 0
        if arrays is None:
            return result
        inside = (arrays["t"] >= start) & (arrays["t"] < end)
        if host is not None:
            inside &= arrays["host"] == host
        result["samples"] = int(inside.sum())
        for name in UTILIZATION_FIELDS:
            values = arrays[name][inside]
            values = values[~np.isnan(values)]
            if len(values):
                result[name] = round(float(values.mean()), 2)
        return result

    def hosts(self, source: str) -> list[str]:
        arrays = self.by_source.get(source)
        return [] if arrays is None else list(dict.fromkeys(arrays["host"].tolist()))


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _step_windows(run: LogData) -> list[tuple[int, float, float, dict | None, StepData]]:
    """(index, start, end, step record, data) per step, in time order."""
    records: dict[int, dict] = {}
    for record in run.step_records:
        records.setdefault(record["step"], record)  # the first start of a step counts
    indices = set(records) | set(run.steps)
    starts = {i: (records[i]["t"] if i in records else run.steps[i].first_t) for i in indices}
    ordered = sorted(indices, key=lambda i: (starts[i], i))
    run_end = run.end["t"] if run.end is not None else run.last_t
    windows = []
    for k, index in enumerate(ordered):
        start = starts[index]
        data = run.steps.get(index) or StepData(index)
        if k + 1 < len(ordered):
            end = starts[ordered[k + 1]]
        else:
            end = max(run_end, data.last_t) if data.requests else run_end
        windows.append((index, start, end, records.get(index), data))
    return windows


def analyze(log: LogData) -> ScenarioAnalysis:
    """Everything the reports show, from a read log. Pure: no I/O."""
    origin = _origin(log)
    utilization = _Utilization(log.utilization, origin)
    steps, errors_total, generator_hot = _step_rows(log, origin, utilization)
    best = _maximum_steady_step(steps)
    summary = _summary(log, steps, best)
    utilization_summary = _utilization_summary(best, origin, utilization)
    status, reason, _signal = run_status(log)
    locust_count = log.end.get("locust_request_count") if log.end is not None else None
    warnings = _warnings(
        log, origin, status, reason, steps, best, utilization, utilization_summary, generator_hot
    )
    plot_data = Analysis(
        header=log.header,
        status=status,
        status_reason=reason,
        origin_t=origin,
        steps=steps,
        summary=summary,
        utilization_summary=utilization_summary,
        errors_by_category=_by_count(errors_total),
        warnings=warnings,
        workers_lost=[
            {
                "worker": w.get("worker"),
                "elapsed_s": _round(w["t"] - origin),
                "unreceived_requests": w.get("unreceived_requests"),
            }
            for w in log.workers_lost
        ],
        events=[
            {"elapsed_s": _round(e["t"] - origin), "name": e.get("name"), "detail": e.get("detail")}
            for e in log.events
        ],
        request_count=log.request_count,
        locust_request_count=locust_count,
        has_intended=log.has_intended,
        series=_series(log.seconds, origin),
        utilization_series=utilization.series,
    )
    return ScenarioAnalysis(
        outputs={
            "summary": summary,
            "steps": steps,
            "system_utilization_summary": utilization_summary,
            "errors_by_category": plot_data.errors_by_category,
            "workers_lost": plot_data.workers_lost,
            "events": plot_data.events,
            "request_records": log.request_count,
            "locust_request_count": locust_count,
        },
        checks=_checks(log, summary, locust_count),
        warnings=warnings,
        metrics=RUN_METRICS,
        plot_data=plot_data,
        definitions=DEFINITIONS,
    )


def _origin(log: LogData) -> float:
    """UNIX time of elapsed 0: the first step or request."""
    candidates = [r["t"] for r in log.step_records]
    candidates += [s.first_t for s in log.steps.values() if s.requests]
    if candidates:
        return min(candidates)
    return log.first_t if math.isfinite(log.first_t) else 0.0


def _step_rows(
    log: LogData, origin: float, utilization: _Utilization
) -> tuple[list[dict], Counter[str], list[str]]:
    """The per-step table, errors over all steps, and steps where the generator ran hot."""
    steps: list[dict] = []
    errors_total: Counter[str] = Counter()
    generator_hot: list[str] = []
    for index, start, end, record, data in _step_windows(log):
        row = _step_row(index, start, end, record, data, origin)
        for source in SOURCES:
            means = utilization.window_mean(source, start, end)
            for name in UTILIZATION_FIELDS:
                row[f"{source}_{name}"] = means[name]
        for host in utilization.hosts("generator"):
            cpu = utilization.window_mean("generator", start, end, host)["cpu_pct"]
            if cpu is not None and cpu > GENERATOR_CPU_LIMIT_PCT:
                generator_hot.append(f"step {index} on {host} ({cpu:.0f}%)")
        row["errors"] = _by_count(data.errors)
        errors_total.update(data.errors)
        steps.append(row)
    return steps, errors_total, generator_hot


def _step_row(
    index: int, start: float, end: float, record: dict | None, data: StepData, origin: float
) -> dict:
    duration = end - start
    duration = duration if duration > 0 else None
    expected = record.get("expected_rps") if record is not None else None
    expected = None if expected is None else float(expected)
    sent = data.requests - data.dropped
    achieved = sent / duration if duration else None
    successful = data.successes / duration if duration else None
    return {
        "step": index,
        "start_s": _round(start - origin),
        "duration_s": _round(duration),
        "clients": record["clients"] if record is not None else data.max_clients,
        "expected_rps": _round(expected),
        "achieved_rps": _round(achieved),
        "successful_rps": _round(successful),
        "requests": data.requests,
        "dropped": data.dropped,
        "successes": data.successes,
        "success_rate": round(data.successes / data.requests, 6) if data.requests else None,
        **latency_stats(data.latencies_ms(), "latency_"),
        **latency_stats(data.corrected_latencies_ms(), "corrected_latency_"),
        "steady": is_steady(data.requests, data.successes, achieved, expected),
    }


def _maximum_steady_step(steps: list[dict]) -> dict | None:
    steady = [s for s in steps if s["steady"]]
    return max(steady, key=lambda s: (s["achieved_rps"], s["clients"], s["step"]), default=None)


def _summary(log: LogData, steps: list[dict], best: dict | None) -> dict:
    """The headline figures (the metric table's SUMMARY_METRICS)."""
    with_rate = [s for s in steps if s["achieved_rps"] is not None]
    successes = sum(s["successes"] for s in steps)
    count = log.request_count
    summary: dict = {
        "maximum_rps": max((s["achieved_rps"] for s in with_rate), default=None),
        "maximum_steady_rps": best["achieved_rps"] if best else 0.0,
        "maximum_steady_clients": best["clients"] if best else 0,
        "maximum_steady_ramp": best["step"] if best else None,
        "requests": count,
        "dropped": sum(s["dropped"] for s in steps),
        "success_rate": round(successes / count, 6) if count else None,
    }
    for prefix in ("latency_", "corrected_latency_"):
        for key in (*(f"p{q}_ms" for q in LATENCY_PERCENTILES), "max_ms"):
            summary[prefix + key] = best[prefix + key] if best else None
    summary.update(_run_latencies(log))
    return summary


def _run_latencies(log: LogData) -> dict:
    """Latency percentiles over every request of the run, plain and corrected (no p90)."""
    chunks = [d.latencies_ms() for d in log.steps.values() if d.requests]
    stats = latency_stats(np.concatenate(chunks) if chunks else None, "run_latency_")
    corrected = None
    if log.has_intended:
        corrected = np.concatenate(
            [
                c if (c := d.corrected_latencies_ms()) is not None else d.latencies_ms()
                for d in log.steps.values()
                if d.requests
            ]
        )
    stats.update(latency_stats(corrected, "run_corrected_latency_"))
    return {k: v for k, v in stats.items() if "p90" not in k}


def _utilization_summary(best: dict | None, origin: float, utilization: _Utilization) -> dict:
    """Utilization per source averaged over the maximum steady step."""
    summary: dict = {
        "step": best["step"] if best else None,
        "window_s": [best["start_s"], _round(best["start_s"] + best["duration_s"])]
        if best
        else None,
    }
    for source in SOURCES:
        if best:
            start = origin + best["start_s"]
            means = utilization.window_mean(source, start, start + best["duration_s"])
        else:
            means = utilization.window_mean(source, 0.0, -1.0)  # nothing
        means["hosts"] = utilization.hosts(source)
        summary[source] = means
    return summary


def _checks(log: LogData, summary: dict, locust_count: int | None) -> list[Check]:
    """The run's checks: the measurement is whole, and requests were answered."""
    lost = sum(int(w.get("unreceived_requests") or 0) for w in log.workers_lost)
    counted = locust_count is None or locust_count == log.request_count
    return [
        check(
            "requests succeeded",
            None if not log.request_count else bool(summary["success_rate"]),
            "no request was made"
            if not log.request_count
            else f"success rate {summary['success_rate']:.2%} of {log.request_count} requests",
        ),
        check(
            "every request recorded",
            counted and not log.workers_lost,
            f"the log holds {log.request_count} requests"
            + ("" if locust_count is None else f", Locust counted {locust_count}")
            + (f"; {len(log.workers_lost)} worker(s) lost, ~{lost} requests" if lost else ""),
            kind=verdict.INTEGRITY,
        ),
    ]


def _warnings(
    log: LogData,
    origin: float,
    status: str,
    reason: str,
    steps: list[dict],
    best: dict | None,
    utilization: _Utilization,
    utilization_summary: dict,
    generator_hot: list[str],
) -> list[dict]:
    warnings = _log_warnings(log, origin, status, reason)
    warnings += _step_warnings(steps, best)
    if generator_hot:
        warnings.append(
            warning(
                "generator_cpu_high",
                f"load generator CPU averaged above {GENERATOR_CPU_LIMIT_PCT:.0f}% in "
                f"{', '.join(generator_hot)}: those steps measure the generator, not the "
                "endpoint; use more Locust processes or machines",
            )
        )
    for source in SOURCES:
        if utilization.count(source) == 0:
            warnings.append(
                warning(f"no_{source}_utilization", f"the log has no {source} utilization samples")
            )
        elif best is not None and utilization_summary[source]["samples"] == 0:
            warnings.append(
                warning(
                    f"no_{source}_utilization_in_steady_step",
                    f"no {source} utilization sample fell inside the maximum steady step "
                    f"(step {best['step']}, {best['duration_s']:.1f} s): sample more often",
                )
            )
    return warnings


def _log_warnings(log: LogData, origin: float, status: str, reason: str) -> list[dict]:
    """Warnings about the log and the run as a whole."""
    warnings = []
    if log.truncated_tail_bytes is not None:
        warnings.append(
            warning(
                "truncated_last_line",
                f"the log's last line was cut off ({log.truncated_tail_bytes} bytes, probably a "
                "crash) and was skipped",
            )
        )
    if status != verdict.STATUS_COMPLETED:
        warnings.append(
            warning(
                f"run_{status}",
                f"the run {'failed' if status == verdict.STATUS_FAILED else 'was ' + status}"
                + (f" ({reason})" if reason else "")
                + ": the results cover what was measured until then",
            )
        )
    for lost in log.workers_lost:
        warnings.append(
            warning(
                "worker_lost",
                f"worker {lost.get('worker')} was lost {lost['t'] - origin:.1f} s into the run; "
                f"{lost.get('unreceived_requests', 'an unknown number of')} of its requests "
                "never reached the log",
            )
        )
    locust_count = log.end.get("locust_request_count") if log.end is not None else None
    if locust_count is not None and locust_count != log.request_count:
        warnings.append(
            warning(
                "request_count_mismatch",
                f"the log holds {log.request_count} request records but Locust counted "
                f"{locust_count} requests",
            )
        )
    if log.request_count == 0:
        warnings.append(
            warning("no_requests", "the log holds no request records: nothing was measured")
        )
    if log.unknown_records:
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(log.unknown_records.items()))
        warnings.append(warning("unknown_records", f"skipped records of unknown type: {kinds}"))
    return warnings


def _step_warnings(steps: list[dict], best: dict | None) -> list[dict]:
    warnings = []
    empty = [s["step"] for s in steps if s["requests"] == 0]
    if empty:
        warnings.append(warning("empty_steps", f"steps {_list(empty)} had no requests"))
    few = [s["step"] for s in steps if 0 < s["requests"] < MIN_REQUESTS_FOR_PERCENTILES]
    if few:
        warnings.append(
            warning(
                "few_requests",
                f"steps {_list(few)} had fewer than {MIN_REQUESTS_FOR_PERCENTILES} requests: "
                "their latency percentiles (p95, p99 above all) are not reliable; hold steps "
                "longer",
            )
        )
    unknown_rate = [s["step"] for s in steps if s["steady"] is None]
    if unknown_rate:
        warnings.append(
            warning(
                "expected_rate_unknown",
                f"steps {_list(unknown_rate)} have no expected request rate, so they cannot be "
                "judged steady",
            )
        )
    if steps and best is None:
        warnings.append(
            warning(
                "no_steady_step",
                f"no step was steady (>= {STEADY_RATE_PERCENT}% of the expected rate and >= "
                f"{STEADY_SUCCESS_PERCENT}% success): maximum_steady_* are 0",
            )
        )
    return warnings


def _by_count(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _list(items: list) -> str:
    shown = ", ".join(str(i) for i in items[:20])
    return shown + (f" and {len(items) - 20} more" if len(items) > 20 else "")


# -- console summary ------------------------------------------------------------------------


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def summary_lines(results: dict) -> list[str]:
    """The step table and headline figures of a throughput results dict, for the console."""
    out = results["outputs"]
    summary = out["summary"]
    lines = [f"{_num(out['request_records'])} requests"]
    corrected = any(s.get("corrected_latency_p99_ms") is not None for s in out["steps"])
    columns = [
        ("step", 4),
        ("clients", 7),
        ("expected/s", 10),
        ("achieved/s", 10),
        ("success", 8),
        ("p50 ms", 8),
        ("p95 ms", 8),
        ("p99 ms", 8),
    ]
    if corrected:
        columns.append(("cor.p99", 8))
    columns.append(("steady", 6))
    lines.append("  ".join(f"{name:>{width}}" for name, width in columns))
    for s in out["steps"]:
        cells = [
            _num(s["step"]),
            _num(s["clients"]),
            _num(s["expected_rps"]),
            _num(s["achieved_rps"]),
            _pct(s["success_rate"]),
            _num(s["latency_p50_ms"]),
            _num(s["latency_p95_ms"]),
            _num(s["latency_p99_ms"]),
        ]
        if corrected:
            cells.append(_num(s["corrected_latency_p99_ms"]))
        cells.append({True: "yes", False: "no", None: "?"}[s["steady"]])
        lines.append("  ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, columns, strict=True)))
    best = summary.get("maximum_steady_ramp")
    lines.append(
        f"maximum_rps {_num(summary.get('maximum_rps'))} · maximum_steady_rps "
        f"{_num(summary.get('maximum_steady_rps'))}"
        + (
            f" (step {best}, {summary.get('maximum_steady_clients')} clients, p95 "
            f"{_num(summary.get('latency_p95_ms'))} ms)"
            if best is not None
            else " (no steady step)"
        )
    )
    util = out.get("system_utilization_summary") or {}
    if util.get("step") is not None:
        for source in ("endpoint", "generator"):
            u = util.get(source) or {}
            parts = [
                f"{name.split('_')[0].upper()} {u[name]:.0f}%"
                for name in ("gpu_pct", "cpu_pct", "ram_pct", "vram_pct")
                if u.get(name) is not None
            ]
            if parts:
                lines.append(f"{source} at the maximum steady step: " + ", ".join(parts))
    if out.get("errors_by_category"):
        lines.append(
            "errors: " + ", ".join(f"{k} {_num(v)}" for k, v in out["errors_by_category"].items())
        )
    return lines
