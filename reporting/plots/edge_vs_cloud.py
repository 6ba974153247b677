"""The edge-vs-cloud comparison's plot, drawn headless; returns a Figure, writes nothing.

Left: the edge's confidence against the cloud's, one point per compared image, coloured by
whether the answers agree (the diagonal: equal confidence). Right: the agreement rate per
label (the cloud's answer), with the images behind each bar. Built on
`matplotlib.figure.Figure` directly (no pyplot).
"""

from __future__ import annotations

from matplotlib.figure import Figure

_DPI = 100
_AGREE = "#4C72B0"
_DISAGREE = "#C44E52"


def confidence_and_agreement(plot_data: dict) -> Figure:
    """Confidence scatter and per-label agreement (`plot_data` from the analysis)."""
    fig = Figure(figsize=(12, 5), dpi=_DPI)
    scatter, bars = fig.subplots(1, 2)
    _scatter(scatter, plot_data.get("points") or [])
    _bars(bars, plot_data.get("per_label") or [])
    fig.suptitle(plot_data.get("title") or "")
    fig.tight_layout()
    return fig


def _scatter(ax, points: list) -> None:
    if not points:
        ax.text(0.5, 0.5, "no image was answered by both sides", ha="center", va="center")
    for agree, colour, name in ((True, _AGREE, "same answer"), (False, _DISAGREE, "different")):
        chosen = [(e, c) for e, c, a in points if bool(a) is agree]
        if chosen:
            xs, ys = zip(*chosen, strict=True)
            ax.scatter(xs, ys, s=24, color=colour, alpha=0.8, label=f"{name} ({len(chosen)})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("edge confidence")
    ax.set_ylabel("cloud confidence")
    ax.set_title("confidence per image")
    if points:
        ax.legend(loc="lower right")


def _bars(ax, per_label: list) -> None:
    if not per_label:
        ax.text(0.5, 0.5, "no label to show", ha="center", va="center")
    labels = [str(label) for label, _, _ in per_label]
    rates = [rate for _, rate, _ in per_label]
    drawn = ax.bar(labels, rates, color=_AGREE)
    for bar, (_, rate, n) in zip(drawn, per_label, strict=True):
        ax.annotate(f"{rate:.0%} of {n}", (bar.get_x() + bar.get_width() / 2, rate),
                    ha="center", va="bottom", fontsize=9)  # fmt: skip
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("cloud answer")
    ax.set_ylabel("edge agrees (share of images)")
    ax.set_title("agreement per label")


PLOTS = {"edge_vs_cloud.png": confidence_and_agreement}
