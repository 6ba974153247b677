"""Model versions per detector over time, from `/status/metrics.json` `detector_details`.

The status page says, per detector, its status (ready, updating, update_failed, initializing,
error), the pipeline config it runs, and when it was deployed. A change of what is deployed
(model version where the endpoint reports one, else pipeline config or deploy time) is a
rollout seen from the status page; a detector in status `updating` is being rolled. These
complement the pod annotations (podwatch), and work where there is no Kubernetes access.
Pure functions; the sampling is in the scenario runner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from edgeload.scenarios.pods.podtimeline import overlaps

UPDATING_STATUSES = ("updating", "initializing")


def deployed_identity(details: dict) -> str | None:
    """What a detector has deployed, as a short stable string (None when nothing is said)."""
    for key in ("model_version", "model_binary_id"):
        if details.get(key) not in (None, ""):
            return str(details[key])
    parts = [str(details.get("deploy_time") or "")]
    config = details.get("pipeline_config")
    if isinstance(config, str) and config:
        parts.append(hashlib.sha1(config.encode()).hexdigest()[:10])
    text = "|".join(p for p in parts if p)
    return text or None


def details_sample(t: float, detector_details: dict, detector_ids: Sequence[str]) -> dict:
    """One sample: {t, detectors: {id: {status, deployed}}} for our detectors."""
    out = {}
    for det in detector_ids:
        d = detector_details.get(det)
        if isinstance(d, dict):
            out[det] = {"status": d.get("status"), "deployed": deployed_identity(d)}
    return {"t": t, "detectors": out}


def analyze_versions(
    samples: Sequence[dict], detector_ids: Sequence[str], t_end: float
) -> dict[str, Any]:
    """Per detector: status changes, deployments (first and later), updating windows; and
    windows in which two detectors were updating at once."""
    per: dict[str, dict[str, Any]] = {}
    windows: dict[str, list[list[float]]] = {}
    for det in detector_ids:
        statuses: list[dict] = []
        deployments: list[dict] = []
        win: list[list[float]] = []
        start = None
        for s in samples:
            d = (s.get("detectors") or {}).get(det)
            if d is None:
                continue
            if not statuses or statuses[-1]["status"] != d["status"]:
                statuses.append({"t": s["t"], "status": d["status"]})
            if d["deployed"] and (not deployments or deployments[-1]["deployed"] != d["deployed"]):
                deployments.append({"t": s["t"], "deployed": d["deployed"]})
            # "initializing" before the first deployment is start-up, not an update
            updating = d["status"] in UPDATING_STATUSES and bool(deployments)
            if updating and start is None:
                start = s["t"]
            elif not updating and start is not None:
                win.append([start, s["t"]])
                start = None
        if start is not None:
            win.append([start, t_end])
        windows[det] = win
        per[det] = {
            "statuses": statuses,
            "deployments": deployments,
            "rollouts_after_first": max(len(deployments) - 1, 0),
            "update_failed": any(x["status"] == "update_failed" for x in statuses),
            "updating_windows": win,
        }
    return {
        "samples": len(samples),
        "per_detector": per,
        "updating_overlaps": overlaps(windows),
    }
