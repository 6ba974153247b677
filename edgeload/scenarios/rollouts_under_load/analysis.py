"""Pure analysis of a rollouts-under-load log.

`analyze(log)` reads what the run observed (the pod scenarios' `observed`: timings, detector,
pod events, labels; plus this scenario's `deployments` samples and its image queries), and
gives the reporter: rollouts counted (the rise of the detector's Deployments' highest revision,
as upstream; pod update windows where Deployments could not be read), each rollout window with
the requests, errors and latency spikes in it (`windows`), the same outside the windows, every
error and spike with its time (`incidents`), the longest error-free stretch, the checks and the
headline figures (`metrics.RUN_METRICS`). Nothing here reads files or the network. Times are
endpoint seconds (simulated seconds under a time scale) from the endpoint's first answer;
latencies are milliseconds.
"""

from __future__ import annotations

from typing import Any

from edgeload import verdict
from edgeload.reporting.logreader import LogData
from edgeload.reporting.results import ScenarioAnalysis, warning
from edgeload.scenarios.pods.detector_loop import CLOUD, EDGE
from edgeload.scenarios.pods.observed import Observed, endpoint_seconds, observe
from edgeload.scenarios.pods.podtimeline import analyze_pods
from edgeload.scenarios.rollouts_under_load import revisions
from edgeload.scenarios.rollouts_under_load import windows as win
from edgeload.scenarios.rollouts_under_load.metrics import RUN_METRICS
from edgeload.verdict import Check

__all__ = ["CSV_TABLES", "KEEP_REQUESTS", "RUN_METRICS", "analyze", "summary_lines"]

KEEP_REQUESTS = True  # every image query is placed in or outside a rollout window
CSV_TABLES = ("rollout_windows", "incidents")
ENOUGH_ROLLOUTS = "enough rollouts"
ZERO_ERRORS = "zero errors for error-free-s"
BEHIND_SCHEDULE = 0.9  # achieved below this share of the requested rate: a warning

DEFINITIONS = {
    "time origin": "the endpoint's first answer",
    "rollout": "a new revision of the detector's inference Deployments (upstream's count)",
    "rollout window": "from a new pod seen beside the detector's old one until the old pod is "
    "gone; requests up to --window-margin after it (never past the next window) count as its",
    "error": "an image query that failed: no answer, an HTTP error, or an answer that was not "
    "the edge's own for this detector (edgeload.runlog's error categories); no retries",
    "latency spike": f"an answered query slower than --spike-ms, else --spike-factor x the "
    f"median before the window and at least {win.SPIKE_MIN_EXCESS_MS:g} ms above it",
}


def analyze(log: LogData) -> ScenarioAnalysis:
    obs = observe(log)
    inputs = obs.inputs
    t_start = obs.timings.get("load_start")
    t_load_end = obs.timings.get("load_end", obs.t_end)
    requests = _requests(obs)
    pods = _pods(obs)
    per = (pods.get("per_detector") or {}).get(obs.detector_ids[0], {}) if obs.detectors else {}
    windows = win.windows_between(per.get("update_windows") or [], t_start or 0.0, t_load_end)
    rise = _revisions(log, t_load_end)
    found = win.analyze_windows(
        requests,
        windows,
        margin_s=float(inputs.get("window_margin_s") or 0.0),
        rule=win.SpikeRule(inputs.get("spike_ms"), float(inputs.get("spike_factor") or 3.0)),
        t_end=t_load_end,
        version_changes=per.get("version_changes") or [],
    )
    rollouts = rise["rollouts"] if rise["available"] else (len(windows) if per else None)
    load = _load(obs, requests, t_start, t_load_end)
    outputs = {
        "time_unit": obs.time_unit,
        "time_scale": obs.time_scale,
        "time_origin": "the endpoint's first answer",
        "detector": obs.detectors[0] if obs.detectors else None,
        "load": load,
        "rollouts": rollouts,
        "revisions": rise,
        "pod_source": pods.get("source") or pods.get("skipped"),
        # what --edge-config did (None: the box's own config, untouched) and the refresh
        # rate the box reported: rollouts come at most once per refresh period
        "edge_config": {
            "applied": obs.endpoint_config.get("note"),
            "endpoint_refresh_rate_s": obs.endpoint_config.get("endpoint_refresh_rate_s"),
        },
        "rollout_windows": found["windows"],
        "outside_rollouts": found["outside"],
        "incidents": found["incidents"],
        "labels": obs.labels,
        "notes": obs.notes,
    }
    outputs["summary"] = _summary(outputs, obs)
    return ScenarioAnalysis(
        outputs=outputs,
        checks=[_rollouts_check(obs, outputs, pods), _errors_check(obs, outputs)],
        warnings=_warnings(obs, outputs),
        metrics=RUN_METRICS,
        plot_data=_plot_data(obs, requests, found, t_start),
        definitions=DEFINITIONS,
    )


def _requests(obs: Observed) -> list[win.Request]:
    return [
        win.Request(
            t=a.t,
            latency_ms=a.latency_ms,
            ok=a.kind == EDGE,
            category="not_from_edge" if a.kind == CLOUD else a.category,
            status=a.status,
        )
        for a in obs.answers
    ]


def _pods(obs: Observed) -> dict[str, Any]:
    source = obs.pod_source or {}
    if not source.get("available"):
        return {"skipped": source.get("skipped_reason") or "pod checks were skipped"}
    pods = analyze_pods(obs.pod_events, obs.detector_ids, obs.t_end)
    pods["source"] = source.get("source")
    return pods


def _revisions(log: LogData, t_load_end: float) -> dict[str, Any]:
    """The revisions' rise while the load ran (a rollout that starts once it stopped is not
    counted)."""
    rel = endpoint_seconds(log)
    samples = [{**s, "t": rel(s["t"])} for s in log.samples_of(revisions.KIND)]
    samples = [s for s in samples if s["t"] <= t_load_end]
    rise = revisions.revision_rise(samples)
    rise["revision_rise_t"] = [round(t, 3) for t in rise.get("revision_rise_t") or []]
    return rise


def _load(obs: Observed, requests: list, t_start: float | None, t_end: float) -> dict[str, Any]:
    load_s = max(t_end - t_start, 0.0) if t_start is not None else 0.0
    real_s = load_s / obs.time_scale
    errors = [r for r in requests if not r.ok]
    return {
        "start_s": None if t_start is None else round(t_start, 3),
        "load_s": round(load_s, 3),
        "requests": len(requests),
        "errors": len(errors),
        "requested_rps": obs.inputs.get("requests_per_second"),
        "clients": obs.inputs.get("clients"),
        "achieved_rps": round(len(requests) / real_s, 3) if real_s > 0 else None,
        "longest_error_free_s": win.longest_error_free_s(requests, t_start, t_end)
        if t_start is not None
        else None,
    }


def _summary(out: dict, obs: Observed) -> dict[str, Any]:
    """The headline figures (metrics.RUN_METRICS), by metric name."""
    rows, outside, load = out["rollout_windows"], out["outside_rollouts"], out["load"]
    in_max = [r["latency_max_ms"] for r in rows if r["latency_max_ms"] is not None]
    in_p95 = [r["latency_p95_ms"] for r in rows if r["latency_p95_ms"] is not None]
    return {
        "rollouts": out["rollouts"],
        "rollout_windows": len(rows),
        "requests": load["requests"],
        "errors": load["errors"],
        "errors_in_rollouts": sum(r["errors"] for r in rows),
        "errors_outside_rollouts": outside["errors"],
        "latency_spikes_in_rollouts": sum(r["spikes"] for r in rows),
        "latency_spikes_outside_rollouts": outside["spikes"],
        "max_latency_in_rollouts_ms": max(in_max, default=None),
        "p95_latency_in_rollouts_ms": max(in_p95, default=None),  # the worst window's
        "p50_latency_outside_rollouts_ms": outside["latency_p50_ms"],
        "p95_latency_outside_rollouts_ms": outside["latency_p95_ms"],
        "max_latency_outside_rollouts_ms": outside["latency_max_ms"],
        "longest_rollout_window_s": max((r["duration_s"] for r in rows), default=None),
        "longest_error_free_s": load["longest_error_free_s"],
        "load_s": load["load_s"],
        "achieved_rps": load["achieved_rps"],
        "labels_sent": obs.labels["sent"],
        "min_rollouts": obs.inputs.get("min_rollouts"),
    }


# -- checks and warnings -------------------------------------------------------------------------


def _rollouts_check(obs: Observed, out: dict, pods: dict) -> Check:
    n, need = out["rollouts"], int(obs.inputs.get("min_rollouts") or 1)
    rise = out["revisions"]
    if n is None:
        why = pods.get("skipped") or "neither Deployments nor pods of the detector were seen"
        return verdict.check(ENOUGH_ROLLOUTS, None, f"rollouts could not be observed: {why}",
                             kind=verdict.GOAL)  # fmt: skip
    how = (
        f"Deployment revision {rise['before']} -> {rise['after']}"
        if rise["available"]
        else "pod update windows; Deployments could not be read"
    )
    if n >= need:
        detail = f"{n} rollouts ({how}), at least --min-rollouts {need}"
        return verdict.check(ENOUGH_ROLLOUTS, True, detail, kind=verdict.GOAL)
    detail = (
        f"only {n} of --min-rollouts {need} rollouts ({how}) in {out['load']['load_s']:.0f} s "
        "of load: inconclusive, as upstream; run longer (--timeout) or label more "
        "(--label-interval, --labels-per-batch)"
    )
    return verdict.check(ENOUGH_ROLLOUTS, None, detail, kind=verdict.GOAL)


def _errors_check(obs: Observed, out: dict) -> Check:
    load, summary = out["load"], out["summary"]
    need = float(obs.inputs.get("error_free_s") or 0.0)
    if not load["requests"]:
        return verdict.check(ZERO_ERRORS, None, "no image query was sent")
    if load["errors"]:
        cats = ", ".join(f"{k}: {v}" for k, v in sorted(_errors_by_category(out).items()))
        return verdict.check(
            ZERO_ERRORS,
            False,
            f"{load['errors']} of {load['requests']} image queries failed ({cats}); "
            f"{summary['errors_in_rollouts']} inside rollout windows; longest error-free "
            f"stretch {load['longest_error_free_s']:.1f} s of --error-free-s {need:g}",
        )
    if load["load_s"] < need:
        return verdict.check(
            ZERO_ERRORS,
            None,
            f"no error, but the load ran {load['load_s']:.1f} s of --error-free-s {need:g}",
        )
    return verdict.check(
        ZERO_ERRORS,
        True,
        f"{load['requests']} image queries over {load['load_s']:.1f} s, none failed",
    )


def _errors_by_category(out: dict) -> dict[str, int]:
    total: dict[str, int] = {}
    for group in [*out["rollout_windows"], out["outside_rollouts"]]:
        for cat, n in group["errors_by_category"].items():
            total[cat] = total.get(cat, 0) + n
    return total


def _warnings(obs: Observed, out: dict) -> list[dict[str, str]]:
    found = []
    load = out["load"]
    asked, got = load["requested_rps"], load["achieved_rps"]
    if asked and got is not None and got < BEHIND_SCHEDULE * asked:
        found.append(
            warning(
                "behind_schedule",
                f"the clients sent {got:.1f} image queries/s of the {asked:g} asked: answers "
                "were slower than the schedule (add --clients) or the load generator was short "
                "of CPU",
            )
        )
    rise, n_windows = out["revisions"], len(out["rollout_windows"])
    if (
        rise["available"]
        and out["rollouts"] != n_windows
        and "skipped" not in str(out["pod_source"])
    ):
        found.append(
            warning(
                "rollouts_windows_differ",
                f"{out['rollouts']} new Deployment revisions but {n_windows} pod update windows "
                "were seen: a rollout's pods may have come and gone between pod watch events",
            )
        )
    labels = obs.labels or {}
    if labels.get("failed") and not labels.get("sent"):
        found.append(
            warning(
                "labels_failed",
                f"no label reached the cloud ({labels['failed']} failed), so no new model was "
                "trained: an edge-only edge config refuses the async queries labels go "
                "through; give --cloud-endpoint to label in the cloud directly",
            )
        )
    return found


def _plot_data(obs: Observed, requests: list, found: dict, t_start: float | None) -> dict:
    return {
        "t": [r.t for r in requests],
        "latency_ms": [r.latency_ms for r in requests],
        "ok": [r.ok for r in requests],
        "windows": [[w["start_s"], w["end_s"]] for w in found["windows"]],
        "spike_threshold_ms": found["outside"]["spike_threshold_ms"],
        "load_start": t_start,
        "time_scale": obs.time_scale,
        "time_unit": "simulated s" if obs.time_scale != 1.0 else "s",
    }


# -- the console summary ---------------------------------------------------------------------


def summary_lines(results: dict) -> list[str]:
    """The scenario's lines of the console summary (the shared summary adds the target, the
    verdict, the checks and the warnings)."""
    out = results["outputs"]
    scale = out["time_scale"]
    unit = "s" if scale == 1 else f"simulated s (time x{scale:g})"
    load, rise = out["load"], out["revisions"]
    lines = [
        f"times in {unit}, from the endpoint's first answer; load from "
        f"{_num(load['start_s'])} s for {_num(load['load_s'])} s",
        f"image queries: {load['requests']} at {_num(load['achieved_rps'])}/s"
        + ("" if scale == 1 else " of wall-clock time")
        + f" (asked {_num(load['requested_rps'])}/s, {load['clients']} clients); "
        f"errors {load['errors']}; "
        f"longest error-free stretch {_num(load['longest_error_free_s'])} s",
        f"rollouts: {_num(out['rollouts'])}"
        + (f" (Deployment revision {rise['before']} -> {rise['after']})" if rise["available"]
           else "")
        + f"; rollout windows: {len(out['rollout_windows'])}; labels sent "
        f"{out['labels']['sent']}",
    ]  # fmt: skip
    lines += _window_table(out)
    lines += _incident_lines(out)
    return lines


def _window_table(out: dict) -> list[str]:
    head = ["window", "start s", "end s", "dur s", "requests", "errors", "spikes", "p50 ms",
            "max ms", "version"]  # fmt: skip
    rows = [head]
    for w in out["rollout_windows"]:
        version = f"{_num(w['from_version'])}->{_num(w['to_version'])}"
        rows.append(
            [str(w["index"]) + ("" if w["closed"] else " (open)"), _num(w["start_s"]),
             _num(w["end_s"]), _num(w["duration_s"]), str(w["requests"]), str(w["errors"]),
             str(w["spikes"]), _num(w["latency_p50_ms"]), _num(w["latency_max_ms"]), version]
        )  # fmt: skip
    o = out["outside_rollouts"]
    rows.append(["outside", "", "", "", str(o["requests"]), str(o["errors"]), str(o["spikes"]),
                 _num(o["latency_p50_ms"]), _num(o["latency_max_ms"]), ""])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]


def _incident_lines(out: dict, most: int = 12) -> list[str]:
    shown = out["incidents"][:most]
    lines = []
    for i in shown:
        where = f"window {i['window']}" if i["window"] else "outside windows"
        what = f"error {i['category']} (HTTP {i['status']})" if i["kind"] == "error" else "spike"
        lines.append(f"  t={i['t']:.1f} s  {what}, {i['latency_ms']:.0f} ms, {where}")
    more = len(out["incidents"]) - len(shown)
    if more > 0:
        lines.append(f"  ... {more} more errors and spikes in the results (incidents.csv)")
    return lines


def _num(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if isinstance(v, float) else str(v)
