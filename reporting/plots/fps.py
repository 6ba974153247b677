"""The FPS test's plot, drawn headless; returns a Figure, writes nothing.

One latency histogram per image size (a panel each, one above the other), with p50/p95/p99
marked. Built on `matplotlib.figure.Figure` directly (no pyplot).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

_DPI = 100
_PANEL_HEIGHT = 4.5  # inches per image size
_BAR = "#4C72B0"
_MARK = "#C44E52"


def latency_histograms(plot_data: dict) -> Figure:
    """A latency histogram per image size (`plot_data` from fps `analyze`)."""
    sizes = plot_data.get("sizes") or []
    panels = max(1, len(sizes))
    fig = Figure(figsize=(8, _PANEL_HEIGHT * panels), dpi=_DPI)
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    if not sizes:
        axes[0].text(0.5, 0.5, "no image size was measured", ha="center", va="center")
    for ax, size in zip(axes, sizes, strict=False):
        _histogram(ax, size.get("latencies_ms") or [], size.get("title") or "")
    fig.tight_layout()
    return fig


def _histogram(ax, latencies_ms: list[float], title: str) -> None:
    values = np.asarray(latencies_ms, dtype=float)
    if values.size:
        ax.hist(values, bins=min(60, max(10, int(np.sqrt(values.size)))), color=_BAR)
        for p, style in ((50, "-"), (95, "--"), (99, ":")):
            v = float(np.percentile(values, p))
            ax.axvline(v, color=_MARK, linestyle=style, label=f"p{p} {v:.2f} ms")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no completed submissions", ha="center", va="center")
    ax.set_xlabel("end-to-end latency per submission (ms)")
    ax.set_ylabel("submissions")
    ax.set_title(title)


PLOTS = {"latency_histogram.png": latency_histograms}
