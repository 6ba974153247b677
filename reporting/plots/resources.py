"""`edgeload resources`' plot, drawn headless; returns a Figure, writes nothing.

Two panels side by side, RAM and VRAM: one horizontal bar per combination (MODE/pipeline/n/
size), stacked primary + OODD pod where the endpoint splits them, one bar of the total
otherwise; on the VRAM panel a black mark where NVML gave the combination a figure (the GPUs'
used memory before and after its batch of one). Combinations without a figure are labelled
with their status, never drawn as 0.
Built on `matplotlib.figure.Figure` directly (no pyplot).
"""

from __future__ import annotations

from matplotlib.figure import Figure

_DPI = 100
_ROW_INCHES = 0.4
_PRIMARY, _OODD, _TOTAL = "#4C72B0", "#DD8452", "#55A868"
_MIB = 2**20


def resource_breakdown(plot_data: dict) -> Figure:
    """RAM and VRAM per combination (`plot_data` from resources `analyze`)."""
    rows = list(reversed(plot_data.get("rows") or []))  # the matrix's first row on top
    height = max(3.0, 1.5 + _ROW_INCHES * len(rows))
    fig = Figure(figsize=(13, height), dpi=_DPI)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, what in zip(axes, ("ram", "vram"), strict=True):
        _panel(ax, rows, what)
    if rows:
        axes[0].set_yticks(range(len(rows)), [r.get("key") or "?" for r in rows], fontsize=8)
    else:
        axes[0].text(0.5, 0.5, "no combination", ha="center", va="center")
    fig.suptitle("Memory per detector (its inference pods)")
    handles: dict = {}
    for ax in axes:  # one legend for both panels, below them
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.06 if handles else 0, 1, 1))
    return fig


def _panel(ax, rows: list[dict], what: str) -> None:
    labelled = set()
    for y, row in enumerate(rows):
        primary = row.get(f"endpoint_{what}_primary_bytes")
        oodd = row.get(f"endpoint_{what}_oodd_bytes")
        total = row.get(f"{what}_bytes")
        if primary is not None and oodd is not None:
            for left, value, color, name in (
                (0, primary, _PRIMARY, "primary pod"),
                (primary, oodd, _OODD, "OODD pod"),
            ):
                label = None if name in labelled else name
                labelled.add(name)
                ax.barh(y, value / _MIB, left=left / _MIB, color=color, label=label)
        elif total is not None:
            label = None if "total" in labelled else "total (not split by pod)"
            labelled.add("total")
            ax.barh(y, total / _MIB, color=_TOTAL, label=label)
        else:
            ax.text(
                0,
                y,
                f"  {row.get('status') or 'not measured'}",
                va="center",
                fontsize=8,
                color="#888888",
            )
        if total is not None:
            ax.text(total / _MIB, y, f" {total / _MIB:.0f}", va="center", fontsize=7)
        nvml = row.get("nvml_vram_delta_bytes") if what == "vram" else None
        if nvml is not None:
            label = None if "nvml" in labelled else "NVML: GPU memory growth (this machine)"
            labelled.add("nvml")
            ax.plot([nvml / _MIB], [y], marker="D", color="black", linestyle="", label=label)
    ax.set_xlabel(f"{what.upper()} (MiB)")
    ax.set_title(what.upper())
    ax.set_ylim(-0.6, max(0, len(rows) - 1) + 0.6)
    ax.grid(axis="x", alpha=0.3)
    # room for the totals' labels; an NVML figure that went down stays in view
    lowest = min([0.0] + [r.get("nvml_vram_delta_bytes") or 0.0 for r in rows if what == "vram"])
    ax.set_xlim(lowest / _MIB * 1.1, ax.get_xlim()[1] * 1.1)


PLOTS = {"resource_breakdown.png": resource_breakdown}
