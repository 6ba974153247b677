"""The checks and warnings of a pod scenario run, on the verdict model (pure).

A check whose subject was never observed (no pod source, no rollout, no edge answer) is
`not_observed`; the scenario's goal not observed in a run that did not run its course is
`not_observed` too, so the verdict is inconclusive, never pass.
"""

from __future__ import annotations

from typing import Any

from edgeload import verdict
from edgeload.reporting.results import warning
from edgeload.scenarios.pods.observed import Observed
from edgeload.scenarios.pods.options import MEMORY_PRESSURE, ROLLOUTS
from edgeload.verdict import Check


def checks(obs: Observed, ans: dict, pods: dict, mem: dict, vers: dict) -> list[Check]:
    found = goal_checks(obs, ans, pods, vers)
    found += pod_checks(pods)
    found += memory_checks(obs, mem)
    found += answer_checks(obs, ans)
    if obs.scenario == ROLLOUTS:
        found.append(one_at_a_time_check(pods, vers))
    return found


def warnings(obs: Observed, ans: dict) -> list[dict[str, str]]:
    found = []
    if obs.scenario != MEMORY_PRESSURE and ans["all_edge_on_first_iteration"]:
        found.append(
            warning(
                "pods_existed_before",
                "every detector answered from the edge on the very first iteration: their "
                "inference pods already existed, so this run says nothing about rollouts from "
                "scratch; do a fresh install of the edge endpoint (helm uninstall, then "
                "install) and run again",
            )
        )
    hint = obs.inputs.get("refresh_rate_hint")
    endpoint_rate = obs.endpoint_config.get("endpoint_refresh_rate_s")
    if hint and endpoint_rate is not None and abs(endpoint_rate - hint) > 1e-6:
        found.append(
            warning(
                "refresh_rate_differs",
                f"--refresh-rate-hint {hint:g} s, but the endpoint's edge config says "
                f"refresh_rate {endpoint_rate:g} s",
            )
        )
    return found


def rollouts_seen(pods: dict, vers: dict) -> int:
    """Rollouts observed after each detector's first model: pod updates (Kubernetes) or, without
    a pod source, deployments on the status page."""
    from_pods = sum(
        len(v.get("update_windows") or []) for v in (pods.get("per_detector") or {}).values()
    )
    from_status = sum(v.get("rollouts_after_first") or 0 for v in vers["per_detector"].values())
    return max(from_pods, from_status)


def _goal_ok(obs: Observed, t: float | None) -> bool | None:
    """Reached (True), not reached in a run that ran its course (False), never observed."""
    if t is not None:
        return True
    return False if obs.status == verdict.STATUS_COMPLETED else None


def goal_checks(obs: Observed, ans: dict, pods: dict, vers: dict) -> list[Check]:
    if obs.scenario == MEMORY_PRESSURE:
        t = ans["all_edge_iteration_t"]
        return [
            verdict.check(
                "all inference pods online",
                _goal_ok(obs, t),
                f"every detector answered from the edge within one iteration after {t:.1f} s"
                if t is not None
                else f"no iteration in which every detector answered from the edge ({obs.status})",
                kind=verdict.GOAL,
            )
        ]
    t = ans["every_detector_got_edge_t"]
    n = rollouts_seen(pods, vers)
    return [
        verdict.check(
            "every detector received an edge answer",
            _goal_ok(obs, t),
            f"after {t:.1f} s" if t is not None else f"not every detector ({obs.status})",
            kind=verdict.GOAL,
        ),
        verdict.check(
            "model rollouts observed",
            True if n else None,
            f"{n} rollouts after the first models"
            if n
            else "no rollout was seen (neither a pod update nor a new deployment on the status "
            "page): run longer (--duration) or label more (--label-interval)",
            kind=verdict.GOAL,
        ),
    ]


def pod_checks(pods: dict) -> list[Check]:
    names = ("no pod restarts", "no OOMKilled pods", "no Pending pods")
    if "skipped" in pods:
        return [verdict.check(name, None, pods["skipped"]) for name in names]
    if not pods.get("per_detector") or not pods.get("pods"):
        why = "no inference pod of these detectors was seen in namespace edge"
        return [verdict.check(name, None, why) for name in names]
    r, o, p = pods["restarted_pods"], pods["oom_killed_pods"], pods["pending_pods"]
    return [
        verdict.check(
            names[0],
            not r,
            f"{len(r)} restarted: {', '.join(r)}" if r else "no inference pod restarted",
        ),
        verdict.check(
            names[1],
            not o,
            f"{len(o)} OOMKilled: {', '.join(o)}" if o else "no OOMKilled termination",
        ),
        verdict.check(
            names[2],
            not p,
            f"{len(p)} unschedulable or still Pending at the end: {', '.join(p)}"
            if p
            else f"every pod was scheduled (longest Pending {pods['max_pending_s']:.1f} s)",
        ),
    ]


def memory_checks(obs: Observed, mem: dict) -> list[Check]:
    # optional: a one-GPU box has no spread, and not every endpoint publishes its resources
    if not mem.get("available"):
        note = "; ".join(obs.notes) or "no /status/resources.json samples"
        return [verdict.check("VRAM spread evenly across GPUs", None, note, required=False)]
    bal = mem["vram_balance"]
    above = mem.get("ram_above_eviction_threshold")
    return [
        verdict.check("VRAM spread evenly across GPUs", bal["ok"], bal["detail"], required=False),
        verdict.check(
            "RAM below the eviction threshold",
            None if above is None else not above,
            f"peak RAM {mem.get('ram_peak_pct') or 0:.1f}% (threshold "
            f"{mem.get('ram_eviction_threshold_pct')}%)",
            required=False,
        ),
    ]


def errors_after_first_edge(ans: dict) -> dict[str, int]:
    """Errors by category after each detector's first edge answer, summed over detectors."""
    out: dict[str, int] = {}
    for p in ans["per_detector"].values():
        for cat, n in p["errors_after_first_edge"].items():
            out[cat] = out.get(cat, 0) + n
    return out


def answer_checks(obs: Observed, ans: dict) -> list[Check]:
    # before a detector's first edge answer, cloud answers and 503s are the pods coming up
    seen = bool(ans["by_kind"]["edge"])
    errs_after = errors_after_first_edge(ans)
    if obs.scenario == ROLLOUTS:
        after = ans["non_edge_after_first_edge"]
        return [
            verdict.check(
                "only edge answers after a detector's first edge answer",
                after == 0 if seen else None,
                f"{after} non-edge answers after first edge answers"
                + (f" (errors: {fmt_counts(errs_after)})" if errs_after else "")
                if seen
                else "no detector answered from the edge",
            )
        ]
    return [
        verdict.check(
            "no errors after a detector's first edge answer",
            not errs_after if seen else None,
            (fmt_counts(errs_after) if errs_after else "none")
            if seen
            else "no detector answered from the edge",
        )
    ]


def one_at_a_time_check(pods: dict, vers: dict) -> Check:
    name = "pods updated one detector at a time"
    overlaps = (pods.get("update_overlaps") or []) + vers["updating_overlaps"]
    if overlaps:
        return verdict.check(
            name,
            False,
            f"{len(overlaps)} overlapping updates: "
            + "; ".join(
                f"{o['detectors'][0]} & {o['detectors'][1]} at {o['start_t']:.0f}-"
                f"{o['end_t']:.0f} s"
                for o in overlaps[:5]
            ),
        )
    n = rollouts_seen(pods, vers)
    if not n:
        return verdict.check(name, None, pods.get("skipped") or "no rollout was seen")
    return verdict.check(name, True, f"{n} updates seen, never two detectors at once")


def fmt_counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
