"""The throughput test's plots, drawn headless (Agg); each returns a Figure, writes nothing.

Built on `matplotlib.figure.Figure` directly (no pyplot): no global state, no GUI backend, and
figures are freed as soon as they are dropped. Labels and units come from the metric table.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from edgeload.scenarios.throughput.analysis import Analysis
from edgeload.scenarios.throughput.metrics import STEP_METRICS_BY_NAME

_SIZE = (14, 7.5)  # inches at 100 dpi: 1400 x 750 px, readable for 50 steps / 10 minutes
_DPI = 100

# One colour per quantity, the same in every plot.
_COLORS = {
    "throughput": "#1f77b4",
    "step_mean": "#0b3d6b",
    "expected": "#222222",
    "errors": "#d62728",
    "max_steady": "#2ca02c",
    "gpu_pct": "#9467bd",
    "cpu_pct": "#ff7f0e",
    "ram_pct": "#8c564b",
    "vram_pct": "#e377c2",
    "clients": "#7f7f7f",
    "p50": "#1f77b4",
    "p90": "#17becf",
    "p95": "#ff7f0e",
    "p99": "#d62728",
}


def _title(a: Analysis, what: str) -> str:
    header = a.header
    target = header.get("target") or {}
    inputs = header.get("inputs") or {}
    parts = [what]
    mode = inputs.get("detector_mode") or inputs.get("mode")
    if mode:
        parts.append(str(mode))
    if target:
        parts.append(f"{target.get('kind', '?')} endpoint {target.get('url', '')}".strip())
    if a.status != "completed":
        parts.append(a.status.upper())
    return " · ".join(parts)


def _new_figure() -> Figure:
    return Figure(figsize=_SIZE, dpi=_DPI)


def _step_line(a: Analysis, key: str) -> tuple[np.ndarray, np.ndarray]:
    """x, y of a per-step value drawn as a staircase over the steps (tick to tick; the last
    one to its end)."""
    rows = [s for s in a.steps if s["duration_s"] is not None]
    if not rows:
        return np.empty(0), np.empty(0)
    x = [s["start_s"] for s in rows] + [rows[-1]["measured_from_s"] + rows[-1]["duration_s"]]
    y = [np.nan if s[key] is None else s[key] for s in rows]
    return np.asarray(x, dtype=float), np.asarray(y + y[-1:], dtype=float)


def _legend_below(fig: Figure, handles: list, ncol: int) -> None:
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=ncol,
        frameon=False,
        fontsize=9,
        bbox_to_anchor=(0.5, 0.0),
    )


def throughput_and_system_utilization_over_time(a: Analysis) -> Figure:
    """Throughput, errors and expected rate over time; utilization % and clients on more axes."""
    fig = _new_figure()
    fig.subplots_adjust(left=0.06, right=0.86, top=0.93, bottom=0.2)
    ax = fig.add_subplot()
    handles = _plot_throughput(ax, a)
    handles += _mark_steady_windows_and_lost_workers(ax, a)
    ax.set_xlabel("elapsed time (s)")
    ax.set_ylabel(STEP_METRICS_BY_NAME["achieved_rps"].label)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    handles += _plot_utilization(ax.twinx(), a)
    # a third y axis, outside the utilization axis
    handles += _plot_clients(ax, a, lw=1.2, outward=55)
    ax.set_title(_title(a, "Throughput and system utilization"), fontsize=11)
    _legend_below(fig, handles, ncol=5)
    return fig


def _plot_throughput(ax: Axes, a: Analysis) -> list:
    """Achieved requests per second and per step, the expected rate, errors, the best steady
    rate; returns the legend handles."""
    s = a.series
    handles = []
    handles += ax.plot(
        s.elapsed_s,
        s.requests,
        color=_COLORS["throughput"],
        lw=0.8,
        alpha=0.6,
        label="achieved (per second)",
    )
    x, y = _step_line(a, "achieved_rps")
    handles += ax.plot(
        x,
        y,
        drawstyle="steps-post",
        color=_COLORS["step_mean"],
        lw=2,
        label="achieved (step mean)",
    )
    x, y = _step_line(a, "expected_rps")
    if len(y) and not np.isnan(y).all():
        handles += ax.plot(
            x,
            y,
            drawstyle="steps-post",
            color=_COLORS["expected"],
            lw=1.5,
            ls="--",
            label="expected",
        )
    if s.errors.any():
        handles += ax.plot(
            s.elapsed_s, s.errors, color=_COLORS["errors"], lw=1, label="errors (per second)"
        )
    best = a.summary.get("maximum_steady_rps")
    if best:
        handles.append(
            ax.axhline(
                best,
                color=_COLORS["max_steady"],
                lw=1.5,
                ls=":",
                label=f"max steady {best:.1f} req/s",
            )
        )
    return handles


def _mark_steady_windows_and_lost_workers(ax: Axes, a: Analysis) -> list:
    """Shade the measured window of each steady step; a vertical line where a worker was lost."""
    for step in a.steps:
        if step["steady"] and step["duration_s"]:
            ax.axvspan(
                step["measured_from_s"],
                step["measured_from_s"] + step["duration_s"],
                color=_COLORS["max_steady"],
                alpha=0.07,
                lw=0,
            )
    for lost in a.workers_lost:
        ax.axvline(lost["elapsed_s"], color=_COLORS["errors"], lw=1, ls="-.")
    if a.workers_lost:
        return [Line2D([], [], color=_COLORS["errors"], ls="-.", label="worker lost")]
    return []


def _plot_utilization(util: Axes, a: Analysis) -> list:
    """Endpoint CPU/RAM/GPU/VRAM % and each generator's CPU % (series without data left out)."""
    handles = []
    for series in a.utilization_series:
        if series.source == "endpoint":
            for name, values in series.values.items():
                if not np.isnan(values).all():
                    handles += util.plot(
                        series.elapsed_s,
                        values,
                        color=_COLORS[name],
                        lw=1.2,
                        label=f"endpoint {name.split('_')[0].upper()} %",
                    )
        else:
            cpu = series.values["cpu_pct"]
            if not np.isnan(cpu).all():
                handles += util.plot(
                    series.elapsed_s,
                    cpu,
                    color=_COLORS["cpu_pct"],
                    lw=1,
                    ls=":",
                    label=f"generator CPU % ({series.host})",
                )
    util.set_ylim(0, 105)
    util.set_ylabel("utilization (%)")
    return handles


def _plot_clients(ax: Axes, a: Analysis, lw: float, outward: float | None = None) -> list:
    """The client count per step, on its own y axis at the right (`outward`: points away from
    the plot, beside another right axis); returns its legend handles."""
    clients = ax.twinx()
    if outward is not None:
        clients.spines["right"].set_position(("outward", outward))
    x, y = _step_line(a, "clients")
    handles = clients.plot(
        x, y, drawstyle="steps-post", color=_COLORS["clients"], lw=lw, label="clients"
    )
    clients.set_ylabel("clients")
    clients.set_ylim(bottom=0)
    clients.yaxis.get_major_locator().set_params(integer=True)
    return handles


def time_vs_latency(a: Analysis) -> Figure:
    """Latency over time (p50 and p95 per second) with the client count."""
    fig = _new_figure()
    fig.subplots_adjust(left=0.07, right=0.92, top=0.93, bottom=0.16)
    ax = fig.add_subplot()
    s = a.series
    handles = []
    handles += ax.plot(s.elapsed_s, s.latency_p50_ms, color=_COLORS["p50"], lw=1, label="p50")
    handles += ax.plot(s.elapsed_s, s.latency_p95_ms, color=_COLORS["p95"], lw=1, label="p95")
    if s.corrected_latency_p95_ms is not None:
        handles += ax.plot(
            s.elapsed_s,
            s.corrected_latency_p95_ms,
            color=_COLORS["p99"],
            lw=1,
            ls="--",
            label="p95 from intended send (corrected)",
        )
    _maybe_log_scale(ax, [s.latency_p50_ms, s.latency_p95_ms, s.corrected_latency_p95_ms])
    ax.set_xlabel("elapsed time (s)")
    ax.set_ylabel("latency of the requests started each second (ms)")
    ax.grid(True, alpha=0.3)
    handles += _plot_clients(ax, a, lw=1.5)
    ax.set_title(_title(a, "Latency over time"), fontsize=11)
    _legend_below(fig, handles, ncol=4)
    return fig


def latency_vs_throughput(a: Analysis) -> Figure:
    """The knee: latency percentiles of each step against its achieved throughput."""
    fig = _new_figure()
    fig.subplots_adjust(left=0.07, right=0.97, top=0.93, bottom=0.16)
    ax = fig.add_subplot()
    rows = [s for s in a.steps if s["achieved_rps"] is not None and s["latency_p50_ms"] is not None]
    x = np.array([s["achieved_rps"] for s in rows], dtype=float)
    steady = np.array([bool(s["steady"]) for s in rows], dtype=bool)
    handles = []
    curves = []
    for q in ("p50", "p90", "p95", "p99"):
        y = np.array([s[f"latency_{q}_ms"] for s in rows], dtype=float)
        curves.append(y)
        color = _COLORS[q]
        handles += ax.plot(x, y, color=color, lw=1.2, label=f"{q}")
        ax.scatter(x[steady], y[steady], color=color, s=28, zorder=3)
        ax.scatter(x[~steady], y[~steady], facecolors="white", edgecolors=color, s=28, zorder=3)
    if a.has_intended:
        y = np.array(
            [
                np.nan if s["corrected_latency_p99_ms"] is None else s["corrected_latency_p99_ms"]
                for s in rows
            ],
            dtype=float,
        )
        curves.append(y)
        handles += ax.plot(
            x, y, color=_COLORS["p99"], lw=1, ls="--", label="p99 from intended send (corrected)"
        )
    handles += _steadiness_legend()
    best = a.summary.get("maximum_steady_rps")
    if best:
        handles.append(
            ax.axvline(
                best,
                color=_COLORS["max_steady"],
                ls=":",
                lw=1.5,
                label=f"max steady {best:.1f} req/s",
            )
        )
    if len(rows):
        _label_client_counts(ax, rows, x, curves[3])
    _maybe_log_scale(ax, curves)
    ax.set_xlabel(STEP_METRICS_BY_NAME["achieved_rps"].label + " per step")
    ax.set_ylabel("latency per step (ms)")
    ax.grid(True, alpha=0.3)
    ax.set_title(_title(a, "Latency vs throughput (one point per step)"), fontsize=11)
    _legend_below(fig, handles, ncol=4)
    return fig


def _steadiness_legend() -> list:
    """Legend entries for the filled (steady) and hollow (not steady) step markers."""
    return [
        Line2D([], [], color="#444", marker="o", ls="", label="steady step (filled)"),
        Line2D(
            [],
            [],
            color="#444",
            marker="o",
            ls="",
            markerfacecolor="white",
            label="not steady (hollow)",
        ),
    ]


def _label_client_counts(ax: Axes, rows: list[dict], x: np.ndarray, p99: np.ndarray) -> None:
    """Client counts beside the p99 points; every k-th one so that 50 steps stay legible."""
    every = max(1, len(rows) // 12)
    for i in range(0, len(rows), every):
        if not np.isnan(p99[i]):
            ax.annotate(
                f"{rows[i]['clients']}c",
                (x[i], p99[i]),
                textcoords="offset points",
                xytext=(3, 5),
                fontsize=7,
                color="#555",
            )


def _maybe_log_scale(ax, arrays: list) -> None:
    """Log latency axis when values span more than 30x (an overloaded step dwarfs the rest)."""
    values = [v[np.isfinite(v) & (v > 0)] for v in arrays if v is not None and len(v)]
    values = [v for v in values if len(v)]
    if not values:
        return
    joined = np.concatenate(values)
    if joined.max() / joined.min() > 30:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)


PLOTS = {
    "throughput_and_system_utilization_over_time.png": throughput_and_system_utilization_over_time,
    "time_vs_latency.png": time_vs_latency,
    "latency_vs_throughput.png": latency_vs_throughput,
}
