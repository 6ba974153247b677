"""The lens sweep's plots, drawn headless; each returns a Figure, writes nothing.

    lenses_fps.png            frames/s of each lens across the runs (x: the run and its swept
                              values): all its cameras together, and per camera with each
                              paced lens's target dashed; the knee of each lens ringed
    lenses_stage_latency.png  per lens, per run: each stage's p50 (bar) and p95 (tick) call
                              latency and the frame's p95 latency (line), the knee marked

Built on `matplotlib.figure.Figure` directly (no pyplot).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

_DPI = 100
_STAGE_COLORS = {"bbox": "#1f77b4", "binary": "#ff7f0e"}
_KNEE = "#d62728"


def _values(series: list) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in series], dtype=float)


def _x_labels(plot_data: dict) -> list[str]:
    # "run 1 (door_lens cameras=2, ...)" -> two lines, so that long labels stay readable
    return [label.replace(" (", "\n(").replace(", ", ",\n") for label in plot_data["labels"]]


def fps_per_lens(plot_data: dict) -> Figure:
    """Frames/s of each lens across runs: all its cameras together (top) and per camera
    against its target (bottom), the knees ringed."""
    fig = Figure(figsize=(11, 9), dpi=_DPI)
    total_ax, camera_ax = fig.subplots(2, 1, sharex=True)
    runs = plot_data.get("runs") or []
    x = np.arange(len(runs))
    for ax, key, ylabel in (
        (total_ax, "fps", "frames/s of the lens (all cameras)"),
        (camera_ax, "fps_per_camera", "frames/s per camera"),
    ):
        if not runs:
            ax.text(0.5, 0.5, "no run was measured", ha="center", va="center")
        for i, lens in enumerate(plot_data.get("lenses") or []):
            _fps_line(ax, x, runs, lens, key, f"C{i % 10}", targets=key == "fps_per_camera")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if runs:
            ax.legend(fontsize=8)
    camera_ax.set_xticks(x, _x_labels(plot_data) if runs else [], fontsize=8)
    total_ax.set_title("Frames/s per lens across the sweep (ring: the lens's knee; dashed: target)")
    fig.tight_layout()
    return fig


def _fps_line(ax, x, runs: list, lens: dict, key: str, color: str, *, targets: bool) -> None:
    y = _values(lens[key])
    ax.plot(x, y, marker="o", color=color, label=lens["name"])
    if targets and lens["target_fps"]:
        ax.axhline(
            lens["target_fps"],
            color=color,
            linestyle="--",
            alpha=0.6,
            label=f"{lens['name']} target {lens['target_fps']:g}",
        )
    knee = lens.get("knee_run")
    if knee is not None and knee in runs:
        k = runs.index(knee)
        ax.plot(
            [k],
            [y[k]],
            marker="o",
            markersize=16,
            markerfacecolor="none",
            markeredgecolor=_KNEE,
            markeredgewidth=2,
        )
        ax.annotate(
            f"knee {lens['name']}",
            (k, y[k]),
            textcoords="offset points",
            xytext=(8, 10),
            color=_KNEE,
            fontsize=8,
        )


def stage_latency(plot_data: dict) -> Figure:
    """A panel per lens: per run, each stage's p50/p95 and the frame's p95 latency."""
    lenses = plot_data.get("lenses") or []
    runs = plot_data.get("runs") or []
    fig = Figure(figsize=(11, 3.8 * max(1, len(lenses))), dpi=_DPI)
    axes = fig.subplots(max(1, len(lenses)), 1, squeeze=False)[:, 0]
    if not lenses or not runs:
        axes[0].text(0.5, 0.5, "no run was measured", ha="center", va="center")
    x = np.arange(len(runs))
    for ax, lens in zip(axes, lenses, strict=False):
        stages = list(lens["stages"])
        width = 0.8 / max(1, len(stages))
        for j, stage in enumerate(stages):
            offset = (j - (len(stages) - 1) / 2) * width
            p50 = _values(lens["stages"][stage]["p50"])
            p95 = _values(lens["stages"][stage]["p95"])
            color = _STAGE_COLORS.get(stage, f"C{j}")
            ax.bar(
                x + offset, np.nan_to_num(p50), width * 0.9, color=color, label=f"{stage} call p50"
            )
            ax.scatter(
                x + offset,
                p95,
                marker="_",
                s=300,
                color="black",
                label=f"{stage} call p95" if j == 0 else None,
            )
        ax.plot(x, _values(lens["frame_p95"]), marker="o", color="#444444", label="frame p95")
        knee = lens.get("knee_run")
        if knee is not None and knee in runs:
            ax.axvline(runs.index(knee) - 0.5, color=_KNEE, linestyle=":", label="knee")
        ax.set_xticks(x, _x_labels(plot_data), fontsize=7)
        ax.set_ylabel("latency (ms)")
        target = lens["target_fps"]
        budget = f" · frame budget {1e3 / target:.0f} ms" if target else " · unpaced"
        ax.set_title(f"{lens['name']}: per-stage and frame latency per run{budget}", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


PLOTS = {"lenses_fps.png": fps_per_lens, "lenses_stage_latency.png": stage_latency}
