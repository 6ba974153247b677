"""Pure analysis of a pod scenario log (memory pressure or repeated rollouts).

`analyze(log)` turns the `LogData` of a pod scenario log into the reporter's
`ScenarioAnalysis`: outputs (timings, answers, pods, memory, model versions, rollouts, labels,
and the headline figures in `outputs.summary`, declared in `metrics.RUN_METRICS`), checks and
warnings on the verdict model (`checks`), and what the plots draw. Nothing here reads files or
the network. Times are endpoint seconds (simulated seconds under a time scale) from the
endpoint's first answer.
"""

from __future__ import annotations

from typing import Any

from edgeload.reporting.logreader import LogData
from edgeload.reporting.results import ScenarioAnalysis
from edgeload.scenarios.pods import checks, memory
from edgeload.scenarios.pods.detector_loop import summarize_answers
from edgeload.scenarios.pods.metrics import RUN_METRICS
from edgeload.scenarios.pods.observed import Observed, observe
from edgeload.scenarios.pods.options import MEMORY_PRESSURE, ROLLOUTS
from edgeload.scenarios.pods.podtimeline import analyze_pods
from edgeload.scenarios.pods.versions import analyze_versions

__all__ = ["KEEP_REQUESTS", "RUN_METRICS", "analyze", "summary_lines"]

KEEP_REQUESTS = True  # a few thousand image queries: every answer is kept

DEFINITIONS = {
    "time origin": "the endpoint's first answer (times before it are negative)",
    "edge answer": "an answer with from_edge set: the detector's inference pod served it",
    "all pods online": "the first iteration in which every detector answered from the edge",
    "rollout": (
        "a detector's pods updated to a new model after its first one (pod surge or a new "
        "version starting), or a new deployment on the status page without a pod source"
    ),
    "VRAM balance": memory.BOUND_TEXT,
}


def analyze(log: LogData) -> ScenarioAnalysis:
    obs = observe(log)
    ans = summarize_answers(obs.answers, obs.detector_ids)
    pods = _pods(obs)
    mem, mem_series = _memory(obs, pods)
    vers = analyze_versions(obs.version_samples, obs.detector_ids, obs.t_end)
    timings = _timings(obs, ans, pods)
    outputs = {
        "time_unit": obs.time_unit,
        "time_scale": obs.time_scale,
        "time_origin": "the endpoint's first answer",
        "timings": timings,
        "detectors": obs.detectors,
        "answers": ans,
        "labels": obs.labels,
        "pods": pods,
        "memory": {**mem, "series": mem_series},
        "versions": vers,
        "rollouts": _rollouts(obs, pods, vers),
        "edge_config": obs.endpoint_config.get("note"),
        "endpoint_refresh_rate_s": obs.endpoint_config.get("endpoint_refresh_rate_s"),
        "duration_s": obs.endpoint_config.get("duration_s"),
        "notes": obs.notes,
    }
    outputs["summary"] = _summary(obs, outputs)
    return ScenarioAnalysis(
        outputs=outputs,
        checks=checks.checks(obs, ans, pods, mem, vers),
        warnings=checks.warnings(obs, ans),
        metrics=RUN_METRICS,
        plot_data={
            "pods": pods,
            "versions": vers,
            "memory_samples": obs.memory_samples,
            "detector_ids": obs.detector_ids,
            "time_unit": "simulated s" if obs.time_scale != 1.0 else "s",
        },
        definitions=DEFINITIONS,
    )


def _pods(obs: Observed) -> dict[str, Any]:
    source = obs.pod_source or {}
    if not source.get("available"):
        why = source.get("skipped_reason") or (
            "pod checks were skipped" if obs.up else "the endpoint never answered"
        )
        return {"skipped": why}
    pods = analyze_pods(obs.pod_events, obs.detector_ids, obs.t_end)
    pods["source"] = source.get("source")
    return pods


def _memory(obs: Observed, pods: dict) -> tuple[dict, list[dict]]:
    """The memory summary (steady state: after all pods were Ready, else after the goal) and
    the series in the results."""
    steady_after = pods.get("all_pods_ready_t")
    if steady_after is None:
        steady_after = obs.timings.get("goal")
    mem = memory.summarize_memory(obs.memory_samples, steady_after_t=steady_after)
    series = [
        {
            "t": round(s["t"], 3),
            "ram_used_bytes": s.get("ram_used_bytes"),
            "vram_used_bytes_per_gpu": [g.get("vram_used_bytes") for g in s.get("gpus") or []],
        }
        for s in obs.memory_samples
    ]
    return mem, series


def _timings(obs: Observed, ans: dict, pods: dict) -> dict[str, Any]:
    t = obs.timings
    first, goal = t.get("first_query"), t.get("goal")
    connect_start = t.get("connect_start")
    return {
        "connect_wait_s": _r(-connect_start) if obs.up and connect_start is not None else None,
        "connect_failed_attempts": obs.connect_failures,
        "first_query_s": _r(first),
        "goal_s": _r(goal),
        "goal_after_first_query_s": _r(goal - first)
        if goal is not None and first is not None
        else None,
        "all_edge_in_one_iteration_s": _r(ans["all_edge_iteration_t"]),
        "every_detector_got_edge_s": ans["every_detector_got_edge_t"],
        "all_pods_ready_s": pods.get("all_pods_ready_t"),
        "run_s": _r(obs.t_end),
    }


def _rollouts(obs: Observed, pods: dict, vers: dict) -> dict[str, dict]:
    per_pods = pods.get("per_detector") or {}
    return {
        d: {
            "from_pods": per_pods.get(d, {}).get("rollouts"),
            "version_changes_from_pods": len(per_pods.get(d, {}).get("version_changes") or []),
            "deployments_after_first_from_status": vers["per_detector"][d]["rollouts_after_first"],
        }
        for d in obs.detector_ids
    }


def _summary(obs: Observed, out: dict) -> dict[str, Any]:
    """The headline figures (metrics.RUN_METRICS), by metric name."""
    t, ans, pods, mem = out["timings"], out["answers"], out["pods"], out["memory"]
    watched = "skipped" not in pods and bool(pods.get("pods"))
    balance = mem.get("vram_balance") or {}
    vram_peaks = [g.get("peak_bytes") for g in (mem.get("vram_per_gpu") or {}).values()]
    return {
        "connect_wait_s": t["connect_wait_s"],
        "all_pods_online_s": t["all_edge_in_one_iteration_s"],
        "all_pods_ready_s": _r(t["all_pods_ready_s"]),
        "every_detector_got_edge_s": _r(t["every_detector_got_edge_s"]),
        "answers": ans["answers"],
        "edge_answers": ans["by_kind"]["edge"],
        "cloud_answers": ans["by_kind"]["cloud"],
        "error_answers": ans["by_kind"]["error"],
        "errors_after_first_edge": sum(checks.errors_after_first_edge(ans).values()),
        "non_edge_after_first_edge": ans["non_edge_after_first_edge"],
        "pod_restarts": sum(p["restarts"] for p in pods["pods"]) if watched else None,
        "oom_killed_pods": len(pods["oom_killed_pods"]) if watched else None,
        "pending_pods": len(pods["pending_pods"]) if watched else None,
        "max_pending_s": _r(pods["max_pending_s"]) if watched else None,
        "rollouts_seen": checks.rollouts_seen(pods, out["versions"]),
        "overlapping_updates": len(pods.get("update_overlaps") or [])
        + len(out["versions"]["updating_overlaps"]),
        "ram_peak_bytes": mem.get("ram_peak_bytes"),
        "ram_peak_pct": mem.get("ram_peak_pct"),
        "vram_peak_bytes": max((v for v in vram_peaks if v is not None), default=None),
        "vram_gap_bytes": (balance.get("worst") or {}).get("gap_bytes"),
        "labels_sent": obs.labels["sent"],
        "detectors": len(obs.detectors),
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# -- the console summary ---------------------------------------------------------------------


def summary_lines(results: dict) -> list[str]:
    """The scenario's lines of the console summary (edgeload.reporting.summary adds the
    target, the verdict, the checks and the warnings)."""
    out = results["outputs"]
    scale = out["time_scale"]
    unit = "s" if scale == 1 else f"simulated s (time x{scale:g})"
    t, a = out["timings"], out["answers"]
    lines = [
        f"times in {unit}, from the endpoint's first answer "
        f"(it answered after {_num(t['connect_wait_s'])} s of waiting)",
        f"detectors ready and first image queries sent at {_num(t['first_query_s'])} s",
    ]
    if results["scenario"] == MEMORY_PRESSURE:
        lines.append(
            f"all inference pods online (every detector answered from the edge in one "
            f"iteration): {_num(t['all_edge_in_one_iteration_s'])} s "
            f"({_num(t['goal_after_first_query_s'])} s after the first image query)"
        )
    lines.append(f"every detector had an edge answer: {_num(t['every_detector_got_edge_s'])} s")
    if t.get("all_pods_ready_s") is not None:
        lines.append(f"all inference pods Ready (Kubernetes): {_num(t['all_pods_ready_s'])} s")
    errs = checks.fmt_counts(a["errors_by_category"]) or "none"
    lines.append(
        f"answers: {a['answers']} ({a['by_kind']['edge']} edge, {a['by_kind']['cloud']} cloud, "
        f"{a['by_kind']['error']} errors: {errs}); labels sent {out['labels']['sent']}"
    )
    if results["scenario"] == ROLLOUTS:
        lines.append(
            "rollouts per detector (pod updates / status-page deployments): "
            + ", ".join(
                f"{d[-6:]}: {_num(v['from_pods'])}/{v['deployments_after_first_from_status']}"
                for d, v in out["rollouts"].items()
            )
        )
    return lines


def _num(v: Any) -> str:
    return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
