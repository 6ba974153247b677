"""Pure analysis of a throughput log: per-step table, headline figures, utilization, checks,
warnings and the series the plots draw.

Nothing here reads files or the network: `analyze(log)` turns the `LogData` of a throughput
log into the reporter's `ScenarioAnalysis` (outputs, checks, warnings), with an `Analysis` as
what the plots draw. The per-step measurement is `steps.py`, the time series `series.py`.

Definitions (as the upstream load-testing scripts define them, sharpened):
- a step is measured from when all its clients run plus a settle time, to its end (steps.py);
  its achieved rate is the requests sent in that window divided by the window;
- a step is steady when it achieved at least 95% of its expected rate and at least 99% of its
  requests succeeded (and, with --latency-slo, met the SLO); without a known expected rate
  it is neither (steady: null);
- the maximum steady step is the steady step with the highest achieved rate; the headline
  latencies are its latencies, or those of the highest-throughput step when no step was
  steady (said so in `latency_basis` and a warning);
- latency is measured from the actual send to the answer; corrected latency from the intended
  send time of a paced request (coordinated omission: a client stuck on a slow answer sends
  late, and latency from the late send hides the stall). Percentiles are numpy's linear
  interpolation over the raw per-request values;
- an open-model arrival that found no free in-flight slot (error category `dropped`) is a
  request and a failure, but was never sent: it has no latency (left out of the percentiles)
  and is not part of the achieved rate;
- the endpoint stopped answering when, for at least `endpoint_down_seconds`, every request
  started failed without an HTTP answer (connection refused or reset, timeout).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edgeload import verdict
from edgeload.reporting.logreader import LogData, SecondSeries
from edgeload.reporting.metrics import LATENCY_PERCENTILES
from edgeload.reporting.results import ScenarioAnalysis, run_status, warning
from edgeload.scenarios.throughput.metrics import ALIASES as ALIASES  # noqa: F401 - for gates
from edgeload.scenarios.throughput.metrics import RUN_METRICS, UTILIZATION_FIELDS
from edgeload.scenarios.throughput.series import (
    SOURCES,
    Series,
    Utilization,
    UtilizationSeries,
    second_series,
)
from edgeload.scenarios.throughput.steps import (
    DEFAULT_SETTLE_S,
    STABILITY_P95_PCT,
    STABILITY_RATE_PCT,
    STEADY_RATE_PERCENT,
    STEADY_SUCCESS_PERCENT,
    StepWindow,
    latency_stats,
    parse_slo,
    step_row,
    step_windows,
)
from edgeload.verdict import Check, check

GENERATOR_CPU_LIMIT_PCT = 90.0  # above this the numbers measure the load generator
MIN_REQUESTS_FOR_PERCENTILES = 100  # fewer, and a step's p99 is one or two requests
DEFAULT_ENDPOINT_DOWN_S = 3.0
KEEP_REQUESTS = False  # a million requests: the reader keeps compact per-step data only

DEFINITIONS = {
    "measured window": (
        "a step is measured from when all its clients run (plus a settle time) to its end"
    ),
    "achieved_rps": "requests sent in the step's measured window divided by the window",
    "dropped": (
        "open-model arrivals that found every in-flight slot busy and were never sent: counted "
        "as requests and failures, left out of latency percentiles and of achieved_rps"
    ),
    "steady": (
        f"achieved_rps >= {STEADY_RATE_PERCENT}% of expected_rps and success_rate >= "
        f"{STEADY_SUCCESS_PERCENT}% (and within the latency SLO when one is given)"
    ),
    "within_slo": (
        f"the step's latency at the SLO's percentile is at most its limit and >= "
        f"{STEADY_SUCCESS_PERCENT}% of its requests succeeded"
    ),
    "stable": (
        f"the achieved rate of each third of the measured window is within "
        f"{STABILITY_RATE_PCT:g}% of their mean, and its p95 within {STABILITY_P95_PCT:g}%"
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
    "step numbers": (
        "messages and the console count steps from 1 (step 1 is the first); the `step` fields "
        "of this file are 0-based indexes"
    ),
    "endpoint down": (
        "every request started for the given seconds failed with no HTTP answer "
        "(connection refused or reset, timeout)"
    ),
}


@dataclass
class Analysis:
    """What the throughput plots draw (and the tests inspect)."""

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
    outages: list[dict]
    request_count: int
    locust_request_count: int | None
    has_intended: bool
    series: Series
    utilization_series: list[UtilizationSeries] = field(default_factory=list)


@dataclass(frozen=True)
class _Context:
    """The inputs the analysis needs, read once from the header."""

    settle_s: float
    slo: object  # LatencySlo | None
    down_after_s: float
    gate_failed_requests: bool

    @classmethod
    def of(cls, header: dict) -> _Context:
        inputs = header.get("inputs") or {}
        settle = inputs.get("step_settle_seconds")
        down = inputs.get("endpoint_down_seconds")
        return cls(
            settle_s=float(DEFAULT_SETTLE_S if settle is None else settle),
            slo=parse_slo(inputs.get("latency_slo")),
            down_after_s=float(DEFAULT_ENDPOINT_DOWN_S if down is None else down),
            # Locust's convention: failed requests fail the run, unless the user gave gates
            # of their own or --exit-code-on-error 0
            gate_failed_requests=not inputs.get("fail_if")
            and inputs.get("exit_code_on_error", 1) != 0,
        )


def analyze(log: LogData) -> ScenarioAnalysis:
    """Everything the reports show, from a read log. Pure: no I/O."""
    context = _Context.of(log.header)
    origin = _origin(log)
    utilization = Utilization(log.utilization, origin)
    steps, errors_total, generator_hot = _step_rows(log, origin, utilization, context)
    best = _maximum_steady_step(steps)
    summary = _summary(log, steps, best, context)
    utilization_summary = _utilization_summary(best, origin, utilization)
    outages = endpoint_outages(log.seconds, context.down_after_s, origin)
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
        outages=outages,
        request_count=log.request_count,
        locust_request_count=locust_count,
        has_intended=log.has_intended,
        series=second_series(log.seconds, origin),
        utilization_series=utilization.series,
    )
    return ScenarioAnalysis(
        outputs=_outputs(plot_data, log),
        checks=_checks(log, plot_data, context, utilization),
        warnings=warnings,
        metrics=RUN_METRICS,
        plot_data=plot_data,
        definitions=DEFINITIONS,
    )


def _outputs(a: Analysis, log: LogData) -> dict:
    return {
        "summary": a.summary,
        "steps": a.steps,
        "system_utilization_summary": a.utilization_summary,
        "errors_by_category": a.errors_by_category,
        "endpoint_outages": a.outages,
        "workers_lost": a.workers_lost,
        "events": a.events,
        "request_records": log.request_count,
        "locust_request_count": a.locust_request_count,
    }


def _origin(log: LogData) -> float:
    """UNIX time of elapsed 0: the first step or request."""
    candidates = [r["t"] for r in log.step_records]
    candidates += [s.first_t for s in log.steps.values() if s.requests]
    if candidates:
        return min(candidates)
    return log.first_t if math.isfinite(log.first_t) else 0.0


def _step_rows(
    log: LogData, origin: float, utilization: Utilization, context: _Context
) -> tuple[list[dict], Counter[str], list[str]]:
    """The per-step table, errors over all steps, and steps where the generator ran hot."""
    steps: list[dict] = []
    errors_total: Counter[str] = Counter()
    generator_hot: list[str] = []
    for window in step_windows(log, context.settle_s):
        steps.append(_table_row(window, origin, utilization, context))
        start, end = window.measured_from, window.end
        for where, cpu in generator_cpu(log.utilization, utilization, start, end):
            if cpu > GENERATOR_CPU_LIMIT_PCT:
                generator_hot.append(f"step {window.index + 1} on {where} ({cpu:.0f}%)")
        errors_total.update(window.data.errors)
    return steps, errors_total, generator_hot


def _table_row(
    window: StepWindow,
    origin: float,
    utilization: Utilization,
    context: _Context,
    figures: dict | None = None,
) -> dict:
    """One row of the per-step table: the step's figures (`steps.step_row`, or `figures` when
    the caller has them already), utilization means over its measured window, and its errors
    by category."""
    row = dict(figures) if figures is not None else step_row(window, origin, context.slo)
    for source in SOURCES:
        means = utilization.window_mean(source, window.measured_from, window.end)
        for name in UTILIZATION_FIELDS:
            row[f"{source}_{name}"] = means[name]
    row["errors"] = _by_count(window.data.errors)
    return row


def live_step_rows(log: LogData, cache: dict | None = None) -> tuple[float, list[dict]]:
    """(origin, the per-step table) of a log still being written, for the live web UI: the
    rows of `outputs.steps`, computed by the same code as the report (the last step ends at
    the latest time seen so far). `cache`, a dict the caller keeps between calls, spares
    recomputing the percentiles of steps whose requests and window have not changed."""
    context = _Context.of(log.header)
    origin = _origin(log)
    utilization = Utilization(log.utilization, origin)
    rows = []
    for window in step_windows(log, context.settle_s):
        key = (origin, window.start, window.end, window.measured_from, window.data.requests)
        cached = None if cache is None else cache.get(window.index)
        if cached is not None and cached[0] == key:
            figures = cached[1]
        else:
            figures = step_row(window, origin, context.slo)
            if cache is not None:
                cache[window.index] = (key, figures)
        rows.append(_table_row(window, origin, utilization, context, figures))
    return origin, rows


def _maximum_steady_step(steps: list[dict]) -> dict | None:
    steady = [s for s in steps if s["steady"]]
    return max(steady, key=lambda s: (s["achieved_rps"], s["clients"], s["step"]), default=None)


def _summary(log: LogData, steps: list[dict], best: dict | None, context: _Context) -> dict:
    """The headline figures (the metric table's SUMMARY_METRICS)."""
    with_rate = [s for s in steps if s["achieved_rps"] is not None]
    count = log.request_count
    successes = sum(int(d.ok().sum()) for d in log.steps.values())
    failed = count - successes
    within = [s for s in with_rate if s.get("within_slo")]
    best_within = max(within, key=lambda s: (s["achieved_rps"], s["clients"]), default=None)
    fastest = max(with_rate, key=lambda s: (s["achieved_rps"], s["clients"]), default=None)
    basis = best or fastest
    summary: dict = {
        "maximum_rps": fastest["achieved_rps"] if fastest else None,
        "maximum_steady_rps": best["achieved_rps"] if best else 0.0,
        "maximum_steady_clients": best["clients"] if best else 0,
        "maximum_steady_ramp": best["step"] if best else None,
        "latency_slo": context.slo.text if context.slo else None,
        "maximum_rps_within_slo": (best_within["achieved_rps"] if best_within else 0.0)
        if context.slo
        else None,
        "maximum_clients_within_slo": (best_within["clients"] if best_within else 0)
        if context.slo
        else None,
        "requests": count,
        "failed_requests": max(0, failed),
        "dropped": sum(d.dropped for d in log.steps.values()),
        "success_rate": round(successes / count, 6) if count else None,
        "latency_basis": None
        if basis is None
        else "maximum steady step"
        if best
        else "highest-throughput step (no step was steady)",
        "latency_basis_step": basis["step"] if basis else None,
    }
    for prefix in ("latency_", "corrected_latency_"):
        for key in (*(f"p{q}_ms" for q in LATENCY_PERCENTILES), "max_ms"):
            summary[prefix + key] = basis[prefix + key] if basis else None
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


def _utilization_summary(best: dict | None, origin: float, utilization: Utilization) -> dict:
    """Utilization per source averaged over the maximum steady step's measured window."""
    summary: dict = {
        "step": best["step"] if best else None,
        "window_s": [best["measured_from_s"], _round(best["measured_from_s"] + best["duration_s"])]
        if best
        else None,
    }
    for source in SOURCES:
        if best:
            start = origin + best["measured_from_s"]
            means = utilization.window_mean(source, start, start + best["duration_s"])
        else:
            means = utilization.window_mean(source, 0.0, -1.0)  # nothing
        means["hosts"] = utilization.hosts(source)
        summary[source] = means
    return summary


def endpoint_outages(seconds: SecondSeries, down_after_s: float, origin: float) -> list[dict]:
    """Spans of at least `down_after_s` seconds in which every request started failed with no
    HTTP answer (seconds without requests do not break a span: clients may be stuck)."""
    if seconds.base is None or not seconds.size:
        return []
    outages, begin, last = [], None, None
    for i in range(seconds.size):
        n, silent = int(seconds.requests[i]), int(seconds.unanswered[i])
        if n == 0:
            continue
        if silent == n:
            begin = i if begin is None else begin
            last = i
            continue
        if begin is not None and last - begin + 1 >= down_after_s:
            outages.append(_outage(seconds.base, begin, last, origin))
        begin = None
    if begin is not None and last - begin + 1 >= down_after_s:
        outages.append(_outage(seconds.base, begin, last, origin, ongoing=True))
    return outages


def _outage(base: int, begin: int, last: int, origin: float, ongoing: bool = False) -> dict:
    return {
        "start_t": float(base + begin),
        "start_s": _round(base + begin - origin),
        "duration_s": float(last - begin + 1),
        "until_the_end": ongoing,
    }


def _checks(log: LogData, a: Analysis, context: _Context, utilization: Utilization) -> list[Check]:
    """The run's checks: requests answered (Locust's convention), the measurement whole."""
    checks = []
    if context.gate_failed_requests:
        failed = a.summary["failed_requests"]
        checks.append(
            check(
                "no failed requests",
                None if not log.request_count else failed == 0,
                "no request was made"
                if not log.request_count
                else f"{failed} of {log.request_count} requests failed"
                + (f" ({_categories(a.errors_by_category)})" if failed else ""),
                kind=verdict.GATE,
            )
        )
    checks.append(_recorded_check(log, a))
    checks.append(_liveness_check(log, a, context))
    checks.append(_generator_check(a, utilization))
    return checks


def _recorded_check(log: LogData, a: Analysis) -> Check:
    count, locust = log.request_count, a.locust_request_count
    lost = sum(int(w.get("unreceived_requests") or 0) for w in log.workers_lost)
    foreign = int((log.end or {}).get("foreign_requests") or 0)
    counted = locust is None or locust - foreign == count
    detail = f"the log holds {count} requests" + (
        "" if locust is None else f", Locust counted {locust}"
    )
    if foreign:
        detail += f" (of them {foreign} sent by a worker of another run, kept out of the log)"
    if log.workers_lost:
        detail += f"; {len(log.workers_lost)} load worker(s) lost with ~{lost} requests"
    return check(
        "every request recorded", counted and not log.workers_lost, detail, kind=verdict.INTEGRITY
    )


def _liveness_check(log: LogData, a: Analysis, context: _Context) -> Check:
    if not log.request_count:
        return check(
            "endpoint answered throughout", None, "no request was made", kind=verdict.INTEGRITY
        )
    if not a.outages:
        return check(
            "endpoint answered throughout",
            True,
            f"no span of {context.down_after_s:g} s without an answer",
            kind=verdict.INTEGRITY,
        )
    spans = "; ".join(
        f"from {o['start_s']:.1f} s into the run ({_utc(o['start_t'])}) for {o['duration_s']:g} s"
        + (" until the end" if o["until_the_end"] else "")
        for o in a.outages
    )
    return check(
        "endpoint answered throughout",
        False,
        f"the endpoint stopped answering {spans}",
        kind=verdict.INTEGRITY,
    )


def _generator_check(a: Analysis, utilization: Utilization) -> Check:
    if utilization.count("generator") == 0:
        return check(
            "load generator kept up",
            None,
            "no load-generator CPU samples",
            kind=verdict.INTEGRITY,
            required=False,
        )
    hot = [w["message"] for w in a.warnings if w["code"] == "generator_cpu_high"]
    return check(
        "load generator kept up",
        not hot,
        hot[0]
        if hot
        else f"load-generator CPU stayed below {GENERATOR_CPU_LIMIT_PCT:g}% in every step",
        kind=verdict.INTEGRITY,
        required=False,
    )


def _categories(errors: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in errors.items())


def _utc(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S UTC")


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _warnings(
    log: LogData,
    origin: float,
    status: str,
    reason: str,
    steps: list[dict],
    best: dict | None,
    utilization: Utilization,
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
                    f"(step {best['step'] + 1}, {best['duration_s']:.1f} s): sample more often",
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
    foreign = int((log.end or {}).get("foreign_requests") or 0)
    if foreign:
        warnings.append(
            warning(
                "foreign_records",
                f"a worker of another run sent {foreign} request records to this master; they "
                "were kept out of the log (Locust's own counts include them)",
            )
        )
    if locust_count is not None and locust_count - foreign != log.request_count:
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
    empty = [s["step"] + 1 for s in steps if s["requests"] == 0]
    if empty:
        warnings.append(warning("empty_steps", f"{_steps(empty)} had no requests"))
    few = [s["step"] + 1 for s in steps if 0 < s["requests"] < MIN_REQUESTS_FOR_PERCENTILES]
    if few:
        warnings.append(
            warning(
                "few_requests",
                f"{_steps(few)} had fewer than {MIN_REQUESTS_FOR_PERCENTILES} requests: "
                "their latency percentiles (p95, p99 above all) are not reliable; hold steps "
                "longer",
            )
        )
    unknown_rate = [s["step"] + 1 for s in steps if s["steady"] is None]
    if unknown_rate:
        warnings.append(
            warning(
                "expected_rate_unknown",
                f"{_steps(unknown_rate)} {'has' if len(unknown_rate) == 1 else 'have'} no "
                "expected request rate, so cannot be judged steady",
            )
        )
    if steps and best is None:
        warnings.append(
            warning(
                "no_steady_step",
                f"no step was steady (>= {STEADY_RATE_PERCENT}% of the expected rate and >= "
                f"{STEADY_SUCCESS_PERCENT}% success): maximum_steady_* are 0, and the headline "
                "latencies are those of the highest-throughput step",
            )
        )
    unstable = [s["step"] + 1 for s in steps if s.get("stable") is False]
    if unstable:
        warnings.append(
            warning(
                "unstable_steps",
                f"{_steps(unstable)} did not hold a stable rate and p95 across their "
                "measured window: hold steps longer, or the endpoint drifts under that load",
            )
        )
    return warnings


def generator_cpu(
    samples: list[dict], utilization: Utilization, start: float, end: float
) -> list[tuple[str, float]]:
    """(where, mean CPU %) of each load process in [start, end): its own CPU where the
    samples carry it (`process_cpu_pct`), else its host's (logs written before that field)."""
    by_process: dict[str, list[float]] = {}
    for s in samples:
        if s.get("source") != "generator" or not start <= s.get("t", -1.0) < end:
            continue
        if s.get("process_cpu_pct") is not None:
            where = f"{s.get('host') or '?'} (pid {s.get('pid')})"
            by_process.setdefault(where, []).append(float(s["process_cpu_pct"]))
    if by_process:
        return [(where, sum(v) / len(v)) for where, v in by_process.items()]
    found = []
    for host in utilization.hosts("generator"):
        cpu = utilization.window_mean("generator", start, end, host)["cpu_pct"]
        if cpu is not None:
            found.append((host, cpu))
    return found


def _by_count(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _steps(numbers: list) -> str:
    """'step 3' or 'steps 3, 4'."""
    return f"step {numbers[0]}" if len(numbers) == 1 else f"steps {_list(numbers)}"


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
            _num(s["step"] + 1),
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
            f" (step {best + 1}, {summary.get('maximum_steady_clients')} clients, p95 "
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
