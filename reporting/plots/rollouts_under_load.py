"""The rollouts-under-load plot, drawn headless; it returns a Figure and writes nothing. It
draws the analysis' plot data (`edgeload.scenarios.rollouts_under_load.analysis`): request
times, latencies and outcomes, the rollout windows, the spike threshold outside them.

    latency_over_time.png   latency of every image query (errors marked red), rollout windows
                            shaded; below it, requests and errors per second
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure


def latency_over_time(data: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.4))
    t = np.asarray(data.get("t") or [], dtype=float)
    lat = np.asarray(data.get("latency_ms") or [], dtype=float)
    ok = np.asarray(data.get("ok") or [], dtype=bool)
    unit = data.get("time_unit") or "s"
    for i, (start, end) in enumerate(data.get("windows") or []):
        for ax in (top, bottom):
            ax.axvspan(start, end, color="tab:orange", alpha=0.2,
                       label="rollout window" if i == 0 and ax is top else None)  # fmt: skip
    if t.size:
        top.scatter(t[ok], lat[ok], s=4, color="tab:blue", label="answered")
        if (~ok).any():
            top.scatter(t[~ok], lat[~ok], s=18, marker="x", color="tab:red", label="error")
        _rates(bottom, t, ok, float(data.get("time_scale") or 1.0))
    threshold = data.get("spike_threshold_ms")
    if threshold is not None:
        top.axhline(threshold, color="grey", ls="--", lw=1, label="spike threshold (outside)")
    top.set_ylabel("latency (ms)")
    top.set_title("Image queries during rollouts")
    if t.size and lat.max() > 20 * max(float(np.median(lat)), 1e-3):
        top.set_yscale("log")
    if top.get_legend_handles_labels()[0]:
        top.legend(fontsize="small", loc="upper left")
    if not t.size:
        top.text(0.5, 0.5, "no image query was sent", ha="center", transform=top.transAxes)
    bottom.set_xlabel(f"time since the endpoint first answered ({unit})")
    bottom.set_ylabel("per real second")
    return fig


def _rates(ax: Any, t: np.ndarray, ok: np.ndarray, scale: float) -> None:
    """Requests and errors per real second, in 10 to 200 bins over the load."""
    span = max(float(t.max() - t.min()), 1e-6)
    bins = int(min(max(span / max(scale, 1e-9), 10), 200))
    edges = np.linspace(t.min(), t.min() + span, bins + 1)
    per_real_s = (edges[1] - edges[0]) / max(scale, 1e-9)  # real seconds per bin
    sent, _ = np.histogram(t, edges)
    failed, _ = np.histogram(t[~ok], edges)
    ax.stairs(sent / per_real_s, edges, color="tab:blue", label="requests/s")
    if failed.any():
        ax.stairs(failed / per_real_s, edges, color="tab:red", label="errors/s")
    ax.legend(fontsize="small", loc="upper left")


PLOTS = {"latency_over_time.png": latency_over_time}
