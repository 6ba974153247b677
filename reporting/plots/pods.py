"""The pod scenarios' plots (memory pressure, repeated rollouts), drawn headless; each returns a
Figure and writes nothing. They draw the analysis' plot data (`edgeload.scenarios.pods.
analysis`): {"pods", "versions", "memory_samples", "detector_ids", "time_unit"}.

    pods_ready_over_time.png       ready inference pods per detector, restarts/OOM/Pending marked
    memory_over_time.png           RAM used and VRAM used per GPU over time
    model_versions_over_time.png   per detector: model version changes and update windows
                                   (overlapping updates of two detectors shaded red)
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

GIB = 2**30


def _short(det: str) -> str:
    return det if len(det) <= 14 else det[:8] + "…" + det[-5:]


def plot_pods_ready(pods: dict[str, Any], *, time_unit: str = "s") -> Figure:
    """Ready inference pods over time, one step line per detector."""
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax = fig.subplots()
    per = pods.get("per_detector") or {}
    for det, info in per.items():
        series = info.get("ready_pods_over_time") or []
        if not series:
            continue
        ts = [p[0] for p in series]
        ns = [p[1] for p in series]
        if pods.get("t_end") is not None and pods["t_end"] > ts[-1]:
            ts.append(pods["t_end"])  # the last state holds until the end of the run
            ns.append(ns[-1])
        ax.step(ts, ns, where="post", label=_short(det))
    marks = [
        ("restarted", "restarted_pods", "x", "tab:red"),
        ("OOMKilled", "oom_killed_pods", "v", "black"),
        ("Pending", "pending_pods", "s", "tab:orange"),
    ]
    by_name = {p["name"]: p for p in pods.get("pods") or []}
    for label, key, marker, colour in marks:
        names = pods.get(key) or []
        xs = [by_name[n]["first_seen_t"] for n in names if n in by_name]
        if xs:
            ax.scatter(xs, [0] * len(xs), marker=marker, color=colour, label=label, zorder=3)
    if pods.get("all_pods_ready_t") is not None:
        ax.axvline(pods["all_pods_ready_t"], color="green", ls="--", label="all pods ready")
    ax.set_xlabel(f"time since the endpoint first answered ({time_unit})")
    ax.set_ylabel("ready inference pods")
    ax.set_title("Inference pods ready per detector")
    ax.yaxis.get_major_locator().set_params(integer=True)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", ncols=2)
    if not per:
        ax.text(0.5, 0.5, pods.get("skipped") or "no pod data", ha="center", transform=ax.transAxes)
    return fig


def plot_memory(samples: list[dict], *, time_unit: str = "s") -> Figure:
    """RAM used (top) and VRAM used per GPU (bottom) over time, in GiB."""
    fig = Figure(figsize=(10, 6), layout="constrained")
    ax_ram, ax_vram = fig.subplots(2, 1, sharex=True)
    ts = [s["t"] for s in samples]
    ram = [
        (s["ram_used_bytes"] or 0) / GIB if s.get("ram_used_bytes") is not None else None
        for s in samples
    ]
    if any(r is not None for r in ram):
        ax_ram.plot(ts, ram, color="tab:blue", label="RAM used")
        ax_ram.legend(fontsize="small")
    ax_ram.set_ylabel("RAM used (GiB)")
    ax_ram.set_title("Edge endpoint memory")
    gpu_ids = sorted({g["index"] for s in samples for g in s.get("gpus") or []}, key=str)
    for gid in gpu_ids:
        xs, ys, total = [], [], None
        for s in samples:
            for g in s.get("gpus") or []:
                if g["index"] == gid and g.get("vram_used_bytes") is not None:
                    xs.append(s["t"])
                    ys.append(g["vram_used_bytes"] / GIB)
                    total = g.get("vram_total_bytes") or total
        (line,) = ax_vram.plot(xs, ys, label=f"GPU {gid} VRAM used")
        if total:
            ax_vram.axhline(total / GIB, color=line.get_color(), ls=":", lw=1)
    ax_vram.set_ylabel("VRAM used (GiB); dotted: total")
    ax_vram.set_xlabel(f"time since the endpoint first answered ({time_unit})")
    if gpu_ids:
        ax_vram.legend(fontsize="small")
    if not samples:
        ax_ram.text(
            0.5,
            0.5,
            "no memory samples (resources.json unavailable)",
            ha="center",
            transform=ax_ram.transAxes,
        )
    return fig


def plot_model_versions(
    pods: dict[str, Any], versions: dict[str, Any], detector_ids: list[str], *, time_unit: str = "s"
) -> Figure:
    """One row per detector: update windows (bars), version changes (markers), overlaps (red)."""
    fig = Figure(figsize=(10, 1.2 + 0.6 * max(len(detector_ids), 1)), layout="constrained")
    ax = fig.subplots()
    pod_per = pods.get("per_detector") or {}
    ver_per = versions.get("per_detector") or {}
    for row, det in enumerate(detector_ids):
        p = pod_per.get(det) or {}
        windows = p.get("update_windows") or (ver_per.get(det) or {}).get("updating_windows") or []
        initial = p.get("initial_windows") or []
        ax.broken_barh(
            [(s, max(e - s, 1e-9)) for s, e in initial],
            (row - 0.3, 0.6),
            color="lightgrey",
            label="start-up" if row == 0 else None,
        )
        ax.broken_barh(
            [(s, max(e - s, 1e-9)) for s, e in windows],
            (row - 0.3, 0.6),
            color="tab:blue",
            alpha=0.6,
            label="updating" if row == 0 else None,
        )
        served = p.get("versions_served") or []
        if not served:
            served = [
                {"t": d["t"], "version": d["deployed"]}
                for d in (ver_per.get(det) or {}).get("deployments") or []
            ]
        for i, v in enumerate(served):
            ax.plot(v["t"], row, marker="|" if i == 0 else "o", color="black", ms=10)
            ax.annotate(str(v["version"])[:12], (v["t"], row + 0.32), fontsize=7, ha="center")
    overlaps = (pods.get("update_overlaps") or []) + (versions.get("updating_overlaps") or [])
    for i, o in enumerate(overlaps):
        ax.axvspan(
            o["start_t"],
            o["end_t"],
            color="red",
            alpha=0.25,
            label="two detectors updating" if i == 0 else None,
        )
    ax.set_yticks(range(len(detector_ids)), [_short(d) for d in detector_ids])
    ax.set_ylim(-0.7, max(len(detector_ids), 1) - 0.3)
    ax.set_xlabel(f"time since the endpoint first answered ({time_unit})")
    ax.set_title("Model versions served per detector (markers: new version Ready)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="upper left")
    return fig


def pods_ready_over_time(data: dict[str, Any]) -> Figure:
    return plot_pods_ready(data["pods"], time_unit=data["time_unit"])


def memory_over_time(data: dict[str, Any]) -> Figure:
    return plot_memory(data["memory_samples"], time_unit=data["time_unit"])


def model_versions_over_time(data: dict[str, Any]) -> Figure:
    return plot_model_versions(
        data["pods"], data["versions"], data["detector_ids"], time_unit=data["time_unit"]
    )


PLOTS = {
    "pods_ready_over_time.png": pods_ready_over_time,
    "memory_over_time.png": memory_over_time,
    "model_versions_over_time.png": model_versions_over_time,
}
