"""A detector's RAM and VRAM from what the endpoint and Kubernetes report (pure).

    endpoint  `/status/resources.json` `detectors[]`: `ram_bytes` and `gpu.vram_bytes`, each
              {"primary", "oodd", "total"} (the edge's status monitor sums its pods)
    pods      metrics.k8s.io PodMetrics of the detector's inference pods
              (`inferencemodel-{primary,oodd}-<detector id, k8s-spelled>-...`): the memory
              working set of their containers; Kubernetes reports no GPU memory

A figure that is not reported is None with the reason, never 0: an endpoint outside a cluster
answers `{"error": ...}`, one that does not list the detector has not loaded it (yet).
"""

from __future__ import annotations

import re
from typing import Any

ENDPOINT = "endpoint"
PODS = "pods"
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE]i?|[kmu]|n)?\s*$")
_FACTORS = {
    None: 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5,
    "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "m": 1e-3, "u": 1e-6, "n": 1e-9,
}  # fmt: skip


def k8s_name(detector_id: str) -> str:
    """det_2UOx... -> det-2uox... (how the edge names a detector's Kubernetes objects)."""
    return detector_id.lower().replace("_", "-")


def endpoint_figures(body: Any, detector_id: str) -> dict[str, Any]:
    """{"ram_bytes", "vram_bytes" (totals), "ram_primary_bytes", "ram_oodd_bytes",
    "vram_primary_bytes", "vram_oodd_bytes", "note"} of one detector from a resources.json
    answer; every figure None (and a note saying why) when it is not there."""
    out: dict[str, Any] = {
        "ram_bytes": None,
        "vram_bytes": None,
        "ram_primary_bytes": None,
        "ram_oodd_bytes": None,
        "vram_primary_bytes": None,
        "vram_oodd_bytes": None,
        "note": None,
    }
    if not isinstance(body, dict):
        out["note"] = "resources.json is not a JSON object"
        return out
    if "error" in body and "detectors" not in body:
        out["note"] = f"resources.json: {str(body['error'])[:120]}"
        return out
    entry = next(
        (
            d
            for d in body.get("detectors") or []
            if isinstance(d, dict) and d.get("detector_id") == detector_id
        ),
        None,
    )
    if entry is None:
        out["note"] = "resources.json does not list the detector"
        return out
    ram = entry.get("ram_bytes")
    vram = (
        (entry.get("gpu") or {}).get("vram_bytes") if isinstance(entry.get("gpu"), dict) else None
    )
    for name, figures in (("ram", ram), ("vram", vram)):
        if not isinstance(figures, dict):
            continue
        out[f"{name}_bytes"] = _bytes(figures.get("total"))
        out[f"{name}_primary_bytes"] = _bytes(figures.get("primary"))
        out[f"{name}_oodd_bytes"] = _bytes(figures.get("oodd"))
    if out["ram_bytes"] is None and out["vram_bytes"] is None:
        out["note"] = "resources.json lists the detector without memory figures"
    return out


def pod_figures(body: Any, detector_id: str) -> dict[str, Any]:
    """{"ram_bytes": summed memory of the detector's inference pods, "pods": how many,
    "note"} from a PodMetricsList; None (with a note) when no pod of it is listed."""
    marker = f"-{k8s_name(detector_id)}-"
    total, pods = 0, 0
    for item in (body or {}).get("items") or [] if isinstance(body, dict) else []:
        name = str(((item or {}).get("metadata") or {}).get("name") or "")
        if not name.startswith("inferencemodel-") or marker not in name + "-":
            continue
        memory = [
            quantity((c.get("usage") or {}).get("memory")) for c in item.get("containers") or []
        ]
        known = [m for m in memory if m is not None]
        if known:
            total += int(sum(known))
            pods += 1
    if not pods:
        return {"ram_bytes": None, "pods": 0, "note": "the metrics API lists no pod of it"}
    return {"ram_bytes": total, "pods": pods, "note": None}


def quantity(text: Any) -> float | None:
    """A Kubernetes quantity ("1536000Ki", "1.5Gi", "250m") as a number; None if not one."""
    match = _QUANTITY.match(str(text)) if text is not None else None
    if not match:
        return None
    return float(match.group(1)) * _FACTORS[match.group(2)]


def _bytes(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
