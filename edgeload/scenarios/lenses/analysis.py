"""Pure analysis of a lens sweep's log: per run per lens frames/s against the target, frame
latency percentiles, per-stage latency, errors; the knee across runs; the checks; the console
report; what the plots draw. Nothing here reads files or the network.

The log (session.py) holds a `step` record per run (its window: [t + warmup_s, t + warmup_s +
duration_s), cut short at its `run_end` when that says interrupted), every call as a request
(`detector` -> lens and stage through the `lens_detectors` sample, `step` = run) and every
frame in `frames` samples. A frame or a call counts in a run when it completed (start +
latency) inside the run's window, as upstream counts events by their end time: frames/s =
frames completed without error in the window / its length. Percentiles interpolate linearly
between closest ranks (numpy's default). The knee: `metrics.KNEE_DEFINITION`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeload import verdict
from edgeload.reporting.logreader import LogData
from edgeload.reporting.results import ScenarioAnalysis, warning
from edgeload.scenarios.lenses.frames import DETECTORS, FRAME_COLUMNS, FRAMES, RUN_END
from edgeload.scenarios.lenses.metrics import ALIASES as ALIASES  # noqa: F401 - for gates
from edgeload.scenarios.lenses.metrics import (
    FRAME_DEFINITION,
    GROWTH,
    KNEE_DEFINITION,
    MAX_ERROR_RATE,
    PACED_FRACTION,
    RUN_METRICS,
)
from edgeload.verdict import Check

KEEP_REQUESTS = True  # every call's columns: per-stage latency needs the detector of each
CSV_TABLES = ("runs",)  # runs.csv: one row per run and lens
STAGE_ORDER = ("bbox", "binary")


def _pct(values: np.ndarray, p: float) -> float | None:
    return round(float(np.percentile(values, p)), 3) if values.size else None


def _frames(log: LogData) -> dict[str, np.ndarray]:
    """Every frame's columns (from the `frames` samples), as arrays; `end` = completion."""
    columns: dict[str, list] = {name: [] for name in FRAME_COLUMNS}
    for record in log.samples_of(FRAMES):
        n = record.get("n")
        if not all(isinstance(record.get(c), list) and len(record[c]) == n for c in columns):
            continue  # a damaged batch: its frames are not counted
        for name in FRAME_COLUMNS:
            columns[name] += record[name]
    out = {
        "lens": np.asarray(columns["lens"], dtype=object),
        "run": np.asarray(columns["run"], dtype=np.int64),
        "start": np.asarray(columns["start"], dtype=np.float64),
        "latency_ms": np.asarray(columns["latency_ms"], dtype=np.float64),
        "ok": np.asarray(columns["ok"], dtype=bool),
    }
    out["end"] = out["start"] + out["latency_ms"] * 1e-3
    return out


def _calls(log: LogData) -> dict[str, np.ndarray]:
    """Every call's columns; `stage` and `lens` from the detector map."""
    stages: dict[str, tuple[str, str]] = {}
    for record in log.samples_of(DETECTORS):
        for d in record.get("detectors") or []:
            stages[str(d.get("id"))] = (str(d.get("lens")), str(d.get("stage")))
    req = log.requests or {}
    detectors = req.get("detector") or []
    t = np.asarray(req.get("t") or [], dtype=np.float64)
    latency = np.asarray(req.get("latency_ms") or [], dtype=np.float64)
    return {
        "lens": np.asarray([stages.get(str(d), ("?", "?"))[0] for d in detectors], dtype=object),
        "stage": np.asarray([stages.get(str(d), ("?", "?"))[1] for d in detectors], dtype=object),
        "run": np.asarray([-1 if s is None else s for s in req.get("step") or []], dtype=np.int64),
        "latency_ms": latency,
        "ok": np.asarray(req.get("ok") or [], dtype=bool),
        "end": t + latency * 1e-3,
    }


def _windows(log: LogData) -> dict[int, dict[str, Any]]:
    """run -> its step record and measured window (start, end, seconds)."""
    ends = {r.get("run"): r for r in log.samples_of(RUN_END)}
    windows = {}
    for record in sorted(log.step_records, key=lambda r: r["step"]):
        run = int(record["step"])
        start = float(record["t"]) + float(record.get("warmup_s") or 0.0)
        end = start + float(record.get("duration_s") or 0.0)
        ended = ends.get(run)
        if ended is None:  # the run never ended (the process died): up to the log's last time
            end = min(end, log.last_t)
        elif ended.get("status") != "completed":
            end = min(end, float(ended["t"]))
        windows[run] = {
            "record": record,
            "start": start,
            "end": end,
            "seconds": max(0.0, end - start),
        }
    return windows


def _row(run: int, window: dict, lens: str, params: dict, frames: dict, calls: dict) -> dict:
    """The figures of one lens in one run."""
    lo, hi, seconds = window["start"], window["end"], window["seconds"]
    mask = (frames["lens"] == lens) & (frames["run"] == run)
    mask &= (frames["end"] >= lo) & (frames["end"] < hi)
    ok = frames["ok"][mask]
    latencies = frames["latency_ms"][mask][ok]
    done, failed = int(ok.sum()), int((~ok).sum())
    users = int(params.get("users") or 0)
    target = float(params.get("target_fps") or 0.0)
    fps = done / seconds if seconds > 0 else None
    per_camera = fps / users if fps is not None and users else None
    row: dict[str, Any] = {
        "run": run,
        "label": window["record"].get("label") or f"run {run}",
        "lens": lens,
        "type": params.get("type"),
        "cameras": params.get("cameras"),
        "copies": params.get("copies"),
        "objects": params.get("objects"),
        "users": users,
        "target_fps": target,
        "window_s": round(seconds, 3),
        "frames": done,
        "failed_frames": failed,
        "error_rate": round(failed / (done + failed), 6) if done + failed else None,
        "fps": _round(fps),
        "fps_per_camera": _round(per_camera),
        "fps_vs_target": _round(per_camera / target) if per_camera is not None and target else None,
        "frame_budget_ms": round(1e3 / target, 3) if target else None,
        "frame_latency_p50_ms": _pct(latencies, 50),
        "frame_latency_p95_ms": _pct(latencies, 95),
        "frame_latency_p99_ms": _pct(latencies, 99),
    }
    cmask = (calls["lens"] == lens) & (calls["run"] == run)
    cmask &= (calls["end"] >= lo) & (calls["end"] < hi)
    for stage in STAGE_ORDER:
        smask = cmask & (calls["stage"] == stage)
        if not smask.any() and stage not in _stages_of(params.get("type")):
            continue
        good = calls["latency_ms"][smask & calls["ok"]]
        row[f"{stage}_calls"] = int(smask.sum())
        row[f"{stage}_failed"] = int((smask & ~calls["ok"]).sum())
        row[f"{stage}_p50_ms"] = _pct(good, 50)
        row[f"{stage}_p95_ms"] = _pct(good, 95)
    return row


def _stages_of(kind: Any) -> tuple[str, ...]:
    return {
        "single_binary": ("binary",),
        "single_bbox": ("bbox",),
        "bbox_to_binary": ("bbox", "binary"),
    }.get(str(kind), ())


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def lens_knee(rows: list[dict]) -> tuple[int | None, str]:
    """(run, why) of a lens's knee over its rows in run order (None: no knee in the sweep)."""
    previous = None
    for row in rows:
        if row["fps"] is None or not row["frames"]:
            continue
        target = row["target_fps"]
        if target:
            per_camera, p95 = row["fps_per_camera"], row["frame_latency_p95_ms"]
            if per_camera < PACED_FRACTION * target:
                return row["run"], (
                    f"{per_camera:.2f} frames/s per camera < {PACED_FRACTION:g} x target {target:g}"
                )
            if p95 is not None and p95 > row["frame_budget_ms"]:
                return row["run"], (
                    f"p95 frame latency {p95:.1f} ms > frame budget {row['frame_budget_ms']:.1f} ms"
                )
        elif previous is not None:
            grew = row["users"] > previous["users"]
            need = previous["fps"] * (1 + GROWTH if grew else 1 - GROWTH)
            if row["fps"] < need:
                how = "grew by less than" if grew else "fell by more than"
                return row["run"], (
                    f"{row['fps']:.2f} frames/s after {previous['fps']:.2f}: {how} {GROWTH:.0%}"
                )
        previous = row
    return None, "no knee in the sweep"


def analyze(log: LogData) -> ScenarioAnalysis:
    """The reporter's analysis of a lenses log: outputs, checks, warnings, plot data."""
    inputs = log.header.get("inputs") or {}
    lens_names = [str(lens.get("name")) for lens in inputs.get("lenses") or []]
    frames, calls, windows = _frames(log), _calls(log), _windows(log)
    rows = [
        _row(run, w, name, (w["record"].get("lenses") or {}).get(name) or {}, frames, calls)
        for run, w in windows.items()
        for name in lens_names
    ]
    knees = {}
    for name in lens_names:
        run, why = lens_knee([r for r in rows if r["lens"] == name])
        knees[name] = {"knee_run": run, "why": why}
    for row in rows:
        row["past_knee"] = knees[row["lens"]]["knee_run"] is not None and (
            row["run"] >= knees[row["lens"]]["knee_run"]
        )
    outputs = {
        "summary": _summary(rows, knees, windows),
        "runs": rows,
        "knees": [{"lens": n, **k} for n, k in knees.items()],
        "knee_definition": KNEE_DEFINITION,
    }
    return ScenarioAnalysis(
        outputs=outputs,
        checks=_checks(rows, windows, inputs),
        warnings=_warnings(knees),
        metrics=RUN_METRICS,
        plot_data=_plot_data(rows, lens_names, knees, windows),
        definitions={"knee": KNEE_DEFINITION, "frame": FRAME_DEFINITION},
    )


def _summary(rows: list[dict], knees: dict, windows: dict) -> dict[str, Any]:
    done = sum(r["frames"] for r in rows)
    failed = sum(r["failed_frames"] for r in rows)
    knee_runs = [k["knee_run"] for k in knees.values() if k["knee_run"] is not None]
    totals = [sum(r["fps"] or 0.0 for r in rows if r["run"] == run) for run in windows]
    p95s = [r["frame_latency_p95_ms"] for r in rows if r["frame_latency_p95_ms"] is not None]
    summary: dict[str, Any] = {
        "runs_measured": sum(1 for w in windows.values() if w["seconds"] > 0),
        "frames": done,
        "failed_frames": failed,
        "frame_error_rate": round(failed / (done + failed), 6) if done + failed else None,
        "total_fps_max": round(max(totals), 4) if totals else None,
        "frame_latency_p95_ms_max": max(p95s) if p95s else None,
    }
    if knee_runs:  # absent without a knee: a gate on it is then not observed
        summary["knee_run"] = min(knee_runs)
    return summary


def _checks(rows: list[dict], windows: dict, inputs: dict) -> list[Check]:
    planned = int(inputs.get("runs") or 0)
    missing = [f"run {run} never ran" for run in range(planned) if run not in windows]
    missing += [f"run {r['run']} {r['lens']}" for r in rows if not r["frames"] + r["failed_frames"]]
    name = "every lens made frames in every run"
    if not rows:
        seen = verdict.check(name, None, "no run was measured", kind=verdict.GOAL)
    elif missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        seen = verdict.check(name, None, f"no frames observed: {shown}", kind=verdict.GOAL)
    else:
        seen = verdict.check(
            name, True, f"{len(rows)} lens runs, each with frames", kind=verdict.GOAL
        )
    done = sum(r["frames"] for r in rows)
    failed = sum(r["failed_frames"] for r in rows)
    errors_name = f"failed frames at most {MAX_ERROR_RATE:.0%}"
    if done + failed == 0:
        errors = verdict.check(errors_name, None, "no frame completed in a measured window")
    else:
        rate = failed / (done + failed)
        worst = max(rows, key=lambda r: r["error_rate"] or 0.0)
        detail = f"{failed} of {done + failed} frames failed ({rate:.2%})"
        if failed:
            detail += f"; most in run {worst['run']} {worst['lens']} ({worst['error_rate']:.2%})"
        errors = verdict.check(errors_name, rate <= MAX_ERROR_RATE, detail)
    return [seen, errors]


def _warnings(knees: dict) -> list[dict]:
    return [
        warning(
            "knee_at_first_run",
            f"lens {name} is past its knee already in run 0 "
            f"({k['why']}): the sweep starts above its capacity",
        )
        for name, k in knees.items()
        if k["knee_run"] == 0
    ]


def _plot_data(rows: list[dict], names: list[str], knees: dict, windows: dict) -> dict:
    runs = sorted(windows)
    by = {(r["run"], r["lens"]): r for r in rows}
    lenses = []
    for name in names:
        mine = [by.get((run, name)) or {} for run in runs]
        stages = [s for s in STAGE_ORDER if any(f"{s}_calls" in r for r in mine)]
        lenses.append(
            {
                "name": name,
                "target_fps": (mine[0].get("target_fps") if mine else 0.0) or 0.0,
                "fps": [r.get("fps") for r in mine],
                "fps_per_camera": [r.get("fps_per_camera") for r in mine],
                "frame_p50": [r.get("frame_latency_p50_ms") for r in mine],
                "frame_p95": [r.get("frame_latency_p95_ms") for r in mine],
                "stages": {
                    s: {
                        "p50": [r.get(f"{s}_p50_ms") for r in mine],
                        "p95": [r.get(f"{s}_p95_ms") for r in mine],
                    }
                    for s in stages
                },
                "knee_run": knees[name]["knee_run"],
            }
        )
    labels = [str(windows[run]["record"].get("label") or f"run {run}") for run in runs]
    return {"runs": runs, "labels": labels, "lenses": lenses}


# -- the console report ------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def summary_lines(results: dict) -> list[str]:
    """A table of runs x lenses, then the knee."""
    outputs = results.get("outputs") or {}
    rows = outputs.get("runs") or []
    if not rows:
        return ["no run was measured"]
    head = (
        "run",
        "lens",
        "cams",
        "copies",
        "objs",
        "fps",
        "target",
        "fps/cam",
        "p50 ms",
        "p95 ms",
        "stage p50 ms",
        "errors",
    )
    table = [head]
    for r in rows:
        stages = " ".join(
            f"{s}={_fmt(r.get(f'{s}_p50_ms'))}" for s in STAGE_ORDER if f"{s}_calls" in r
        )
        table.append(
            (
                str(r["run"]) + ("*" if r.get("past_knee") else ""),
                r["lens"],
                _fmt(r["cameras"]),
                _fmt(r["copies"]),
                _fmt(r["objects"]),
                _fmt(r["fps"]),
                _fmt(r["target_fps"]) if r["target_fps"] else "unpaced",
                _fmt(r["fps_per_camera"], 2),
                _fmt(r["frame_latency_p50_ms"]),
                _fmt(r["frame_latency_p95_ms"]),
                stages,
                f"{r['failed_frames']}/{r['frames'] + r['failed_frames']}",
            )
        )
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    # which client sent the calls (logs from before --client were all the SDK's)
    client = (results.get("inputs") or {}).get("client") or "sdk"
    lines = [f"cameras submitted through the {client} client"]
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    for knee in outputs.get("knees") or []:
        where = f"run {knee['knee_run']}" if knee.get("knee_run") is not None else "none"
        lines.append(f"knee of {knee['lens']}: {where} ({knee.get('why')})")
    knee_run = (outputs.get("summary") or {}).get("knee_run")
    lines.append(
        "sweep knee: "
        + (
            f"run {knee_run} (* = past a lens's knee)"
            if knee_run is not None
            else "none: every lens kept up in every run"
        )
    )
    return lines
