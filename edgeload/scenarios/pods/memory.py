"""RAM and VRAM of the edge box over time, and whether VRAM is spread evenly across GPUs.

Samples come from the endpoint's `/status/resources.json` (through
`edgeload.samplers.EndpointSampler`): a `utilization` record body (RAM, VRAM, one entry per GPU)
plus, from the same answer, each detector's VRAM per pod and the kubelet's RAM eviction
threshold. Everything here is pure.

The evenness check ("check that GPU VRAM utilization is evenly spread across all available
GPUs", as the upstream load-testing README asks of `nvtop`): pods are whole units, so perfectly
equal use is usually impossible; a placement that always picks the GPU with the most free VRAM
keeps the gap between the most and the least used GPU within one pod's footprint. The bound is
therefore

    max(GPU VRAM used) - min(GPU VRAM used) <= largest inference pod's VRAM + 2 % of one GPU

checked on every sample taken after all inference pods were online (the steady state). Where
the endpoint does not report per-pod VRAM, the largest pod is taken as 10 % of one GPU's VRAM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

IMBALANCE_SLACK_FRACTION = 0.02  # of one GPU's VRAM: "other" usage and rounding
UNKNOWN_POD_FRACTION = 0.10  # of one GPU's VRAM, when pod footprints are not reported

BOUND_TEXT = (
    "max-min VRAM used across GPUs <= largest inference pod's VRAM + 2% of one GPU's VRAM, "
    "on every sample after all pods were online"
)


def detector_vram(raw: dict | None) -> dict[str, dict[str, int]]:
    """detector id -> {"primary": bytes, "oodd": bytes, "total": bytes} from resources.json."""
    out: dict[str, dict[str, int]] = {}
    for entry in (raw or {}).get("detectors") or []:
        if not isinstance(entry, dict) or not entry.get("detector_id"):
            continue
        vram = ((entry.get("gpu") or {}).get("vram_bytes")) or {}
        out[entry["detector_id"]] = {
            k: int(v) for k, v in vram.items() if isinstance(v, (int, float)) and v is not None
        }
    return out


def eviction_threshold_pct(raw: dict | None) -> float | None:
    value = (((raw or {}).get("system") or {}).get("ram_bytes") or {}).get("eviction_threshold_pct")
    return float(value) if isinstance(value, (int, float)) else None


def memory_sample(t: float, record: dict, raw: dict | None) -> dict[str, Any]:
    """One memory sample: the utilization record's memory fields plus pod VRAM footprints."""
    return {
        "t": t,
        "ram_used_bytes": record.get("ram_used_bytes"),
        "ram_pct": record.get("ram_pct"),
        "vram_used_bytes": record.get("vram_used_bytes"),
        "vram_total_bytes": record.get("vram_total_bytes"),
        "gpus": [
            {
                "index": g.get("index"),
                "name": g.get("name"),
                "vram_used_bytes": g.get("vram_used_bytes"),
                "vram_total_bytes": g.get("vram_total_bytes"),
            }
            for g in record.get("gpus") or []
        ],
        "detector_vram": detector_vram(raw),
        "eviction_threshold_pct": eviction_threshold_pct(raw),
    }


def largest_pod_vram(samples: Sequence[dict]) -> int | None:
    """The largest single pod's VRAM seen in any sample (primary or OODD), or None."""
    best = None
    for s in samples:
        for pods in (s.get("detector_vram") or {}).values():
            for role in ("primary", "oodd"):
                v = pods.get(role)
                if isinstance(v, int) and v > 0 and (best is None or v > best):
                    best = v
    return best


def vram_balance(samples: Sequence[dict], *, after_t: float | None = None) -> dict[str, Any]:
    """The evenness check across GPUs (see the module docstring for the bound)."""
    considered = [s for s in samples if after_t is None or s["t"] >= after_t]
    n_gpus = max((len(s.get("gpus") or []) for s in samples), default=0)
    base = {"gpus": n_gpus, "bound": BOUND_TEXT, "samples_checked": 0}
    if n_gpus < 2:
        return {**base, "ok": None, "detail": f"not applicable: {n_gpus} GPU(s) reported"}
    if not considered:
        return {**base, "ok": None, "detail": "no samples after all pods were online"}
    gpu_total = max(
        (g.get("vram_total_bytes") or 0 for s in considered for g in s.get("gpus") or []),
        default=0,
    )
    pod = largest_pod_vram(samples)
    pod_known = pod is not None
    if pod is None:
        pod = int(gpu_total * UNKNOWN_POD_FRACTION)
    bound = pod + int(gpu_total * IMBALANCE_SLACK_FRACTION)
    worst = None
    checked = 0
    for s in considered:
        used = [g.get("vram_used_bytes") for g in s.get("gpus") or []]
        if len(used) < 2 or any(u is None for u in used):
            continue
        checked += 1
        gap = max(used) - min(used)
        if worst is None or gap > worst["gap_bytes"]:
            worst = {"t": s["t"], "gap_bytes": gap, "vram_used_bytes": used}
    if worst is None:
        return {**base, "ok": None, "detail": "no sample with every GPU's VRAM"}
    ok = worst["gap_bytes"] <= bound
    return {
        **base,
        "samples_checked": checked,
        "ok": ok,
        "bound_bytes": bound,
        "largest_pod_vram_bytes": pod,
        "largest_pod_vram_known": pod_known,
        "worst": worst,
        "detail": (
            f"largest gap between GPUs {_gib(worst['gap_bytes'])} "
            f"{'<=' if ok else '>'} bound {_gib(bound)}"
        ),
    }


def summarize_memory(samples: Sequence[dict], *, steady_after_t: float | None) -> dict[str, Any]:
    """Peaks, final values, the RAM eviction threshold and the VRAM balance check."""
    if not samples:
        return {"samples": 0, "available": False}
    ram = [s["ram_used_bytes"] for s in samples if s.get("ram_used_bytes") is not None]
    ram_pct = [s["ram_pct"] for s in samples if s.get("ram_pct") is not None]
    threshold = next(
        (s["eviction_threshold_pct"] for s in samples if s.get("eviction_threshold_pct")), None
    )
    per_gpu: dict[Any, dict[str, Any]] = {}
    for s in samples:
        for g in s.get("gpus") or []:
            rec = per_gpu.setdefault(
                g["index"],
                {"name": g.get("name"), "total_bytes": g.get("vram_total_bytes"), "peak_bytes": 0},
            )
            used = g.get("vram_used_bytes")
            if used is not None:
                rec["peak_bytes"] = max(rec["peak_bytes"], used)
                rec["final_bytes"] = used
    peak_pct = max(ram_pct) if ram_pct else None
    return {
        "samples": len(samples),
        "available": True,
        "ram_peak_bytes": max(ram) if ram else None,
        "ram_final_bytes": ram[-1] if ram else None,
        "ram_peak_pct": peak_pct,
        "ram_eviction_threshold_pct": threshold,
        "ram_above_eviction_threshold": (
            None if threshold is None or peak_pct is None else peak_pct >= threshold
        ),
        "vram_per_gpu": {str(k): v for k, v in sorted(per_gpu.items(), key=lambda kv: str(kv[0]))},
        "vram_balance": vram_balance(samples, after_t=steady_after_t),
    }


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"
