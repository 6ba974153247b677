"""Run history: many run folders as one pandas table, regressions between comparable runs, and
the headline figures over time (`edgeload history DIR...`).

Everything comes from the results envelope (`load_test_results.json`), so any scenario's runs
go in: one row per run with its scenario, date (`metadata.created_at`), verdict, target, endpoint
images, key inputs (`input.<name>`) and every headline figure of `outputs.summary` (a column per
figure, named as the figure).

Comparable runs: the same scenario, target (kind, and the URL of a real endpoint: an embedded
simulator gets a new port every run) and key inputs (every input but those that do not change
what is measured, `IGNORED_INPUTS`). Each group is numbered per scenario (`throughput#1`).

A regression: a headline figure that moved from the previous comparable run that has it, in its
metric's worse direction (the `metrics` table's `higher_is_better`), by more than the tolerance
(percent of the previous value; any worsening from 0 counts). A figure with no direction
(utilization, a step index, a request count) never regresses.

pandas is imported here, and this module is imported only by `edgeload history`; matplotlib
only when plots are drawn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from edgeload.errors import ResultsError
from edgeload.reporting.results import RESULTS_FILENAME, load_results
from edgeload.runlog import LOG_FILENAME

CSV_FILENAME = "history.csv"
PARQUET_FILENAME = "history.parquet"
DEFAULT_TOLERANCE_PCT = 10.0

# Inputs that do not change what a run measures: runs differing only in these are comparable.
IGNORED_INPUTS = frozenset(
    {
        "output_dir",
        "ca_bundle",
        "provision_timeout",
        "fail_if",
        "exit_code_on_error",
        "detector_id",
        "detector_ids",
        "system_sample_interval_seconds",
        "config",
    }
)
# The table's fixed columns, before the inputs and the figures.
BASE_COLUMNS = (
    "date",
    "scenario",
    "group",
    "verdict",
    "status",
    "exit_code",
    "target_kind",
    "target_url",
    "endpoint_images",
    "run_id",
    "run_dir",
)
INPUT_PREFIX = "input."


@dataclass(frozen=True)
class Run:
    path: Path  # the run folder
    results: dict


@dataclass(frozen=True)
class Regression:
    run_dir: str
    date: pd.Timestamp
    scenario: str
    group: str
    metric: str
    previous: float
    value: float
    change_pct: float | None  # None when the previous value was 0
    previous_run_dir: str
    unit: str

    def describe(self, tolerance_pct: float) -> str:
        change = "from 0" if self.change_pct is None else f"{self.change_pct:+.1f}%"
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"{_when(self.date)} {self.group} {self.metric}: {_num(self.previous)} -> "
            f"{_num(self.value)}{unit} ({change}, worse by more than {tolerance_pct:g}%) "
            f"in {self.run_dir}"
        )


@dataclass
class History:
    table: pd.DataFrame  # one row per run, oldest first
    regressions: list[Regression]
    directions: dict[str, dict[str, bool | None]]  # scenario -> metric -> higher_is_better
    units: dict[str, dict[str, str]]  # scenario -> metric -> unit
    metrics: dict[str, list[str]]  # scenario -> the headline figures checked, in table order
    groups: dict[str, str]  # group -> what sets it apart from the scenario's other groups
    tolerance_pct: float

    def newest_regressed(self) -> list[Regression]:
        """The regressions of the newest run of all (what a CI job just ran)."""
        if self.table.empty:
            return []
        newest = self.table.iloc[-1]["run_dir"]
        return [r for r in self.regressions if r.run_dir == newest]


# ---- finding and reading run folders --------------------------------------------------------


def find_run_dirs(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """The run folders under `paths` (each a run folder, its results file, or a folder of run
    folders), each once; and a warning for each path that holds none."""
    found: dict[Path, None] = {}
    warnings = []
    for given in paths:
        path = Path(given)
        if path.is_file() and path.name == RESULTS_FILENAME:
            path = path.parent
        if not path.exists():
            warnings.append(f"{given}: no such folder, skipped")
        elif not path.is_dir():
            warnings.append(f"{given}: not a run folder, skipped")
        elif _is_run_dir(path):
            found.setdefault(path.resolve(), None)
        else:
            try:
                children = sorted(c for c in path.iterdir() if c.is_dir() and _is_run_dir(c))
            except OSError as exc:
                warnings.append(f"{given}: cannot be listed ({exc.strerror or exc}), skipped")
                continue
            if not children:
                warnings.append(f"{given}: no run folder in it, skipped")
            for child in children:
                found.setdefault(child.resolve(), None)
    return list(found), warnings


def _is_run_dir(path: Path) -> bool:
    """A run folder: it holds the results envelope or a log, or another results file (an
    older format: read_runs says why it is skipped rather than passing over it silently)."""
    return (
        (path / RESULTS_FILENAME).exists()
        or (path / LOG_FILENAME).exists()
        or bool(_other_results(path))
    )


def _other_results(path: Path) -> list[str]:
    try:
        return sorted(p.name for p in path.glob("*results*.json") if p.name != RESULTS_FILENAME)
    except OSError:
        return []


def read_runs(run_dirs: Iterable[Path]) -> tuple[list[Run], list[str]]:
    """Each folder's results; a warning (the one-line reason) for each unreadable one."""
    runs, warnings = [], []
    seen: dict[str, Path] = {}
    for run_dir in run_dirs:
        others = _other_results(run_dir)
        if others and not (run_dir / RESULTS_FILENAME).exists():
            if not (run_dir / LOG_FILENAME).exists():
                warnings.append(
                    f"{run_dir}: skipped: it holds {', '.join(others)}, not {RESULTS_FILENAME} "
                    "(a format from before its scenario wrote the shared results envelope)"
                )
                continue
        try:
            results = load_results(run_dir)
        except ResultsError as exc:
            warnings.append(f"{run_dir}: skipped: {exc}")
            continue
        if not isinstance(results.get("outputs"), dict):
            warnings.append(f"{run_dir}: skipped: its results have no outputs")
            continue
        run_id = results.get("run_id")
        if run_id and run_id in seen:  # a copy of a run folder: one row per run
            warnings.append(f"{run_dir}: skipped: the same run as {seen[run_id]} (a copy)")
            continue
        if run_id:
            seen[str(run_id)] = run_dir
        runs.append(Run(run_dir, results))
    return runs, warnings


# ---- the table ------------------------------------------------------------------------------


def key_inputs(inputs: dict) -> dict[str, Any]:
    """The inputs that decide what a run measures (all but IGNORED_INPUTS)."""
    return {k: v for k, v in sorted(inputs.items()) if k not in IGNORED_INPUTS}


def run_row(run: Run) -> dict[str, Any]:
    """One run's row: fixed columns, key inputs, headline figures."""
    r = run.results
    target = r.get("target") if isinstance(r.get("target"), dict) else {}
    metadata = r.get("metadata") if isinstance(r.get("metadata"), dict) else {}
    row: dict[str, Any] = {
        "date": _date(metadata.get("created_at"), run.path),
        "scenario": str(r.get("scenario")),
        "group": None,
        "verdict": r.get("verdict"),
        "status": r.get("status"),
        "exit_code": r.get("exit_code"),
        "target_kind": target.get("kind"),
        "target_url": target.get("url"),
        "endpoint_images": _images(metadata.get("endpoint_images")),
        "run_id": r.get("run_id"),
        "run_dir": str(run.path),
    }
    inputs = r.get("inputs") if isinstance(r.get("inputs"), dict) else {}
    for key, value in key_inputs(inputs).items():
        row[INPUT_PREFIX + key] = _cell(value)
    summary = r["outputs"].get("summary")
    for name, value in (summary if isinstance(summary, dict) else {}).items():
        column = name if name not in row else f"summary.{name}"
        row[column] = _cell(value)
    return row


def group_key(run: Run) -> str:
    """What makes runs comparable: scenario, target kind (and a real endpoint's URL), key
    inputs."""
    r = run.results
    target = r.get("target") if isinstance(r.get("target"), dict) else {}
    kind = target.get("kind")
    url = target.get("url") if kind == "real" else None
    inputs = r.get("inputs") if isinstance(r.get("inputs"), dict) else {}
    return json.dumps(
        [r.get("scenario"), kind, url, key_inputs(inputs)], sort_keys=True, default=str
    )


def build_history(
    runs: Sequence[Run],
    *,
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT,
    metrics: Sequence[str] | None = None,
) -> History:
    """The history of `runs`: the table (oldest first), regressions, metric directions.

    metrics: the headline figures to check for regressions (default: every one with a
    direction)."""
    ordered = sorted(runs, key=lambda run: (_date(_created(run), run.path), str(run.path)))
    rows = [run_row(run) for run in ordered]
    keys = [group_key(run) for run in ordered]
    names: dict[str, str] = {}
    counters: dict[str, int] = {}
    for row, key in zip(rows, keys, strict=True):
        if key not in names:
            counters[row["scenario"]] = counters.get(row["scenario"], 0) + 1
            names[key] = f"{row['scenario']}#{counters[row['scenario']]}"
        row["group"] = names[key]
    table = pd.DataFrame(rows)
    if table.empty:
        table = pd.DataFrame(columns=list(BASE_COLUMNS))
    directions, units, order = _metric_tables(ordered)
    checked = {
        scenario: [
            m
            for m in names_in_order
            if directions[scenario].get(m) is not None and (not metrics or m in metrics)
        ]
        for scenario, names_in_order in order.items()
    }
    history = History(
        table=table,
        regressions=[],
        directions=directions,
        units=units,
        metrics=checked,
        groups=_group_descriptions(ordered, keys, names),
        tolerance_pct=tolerance_pct,
    )
    history.regressions = find_regressions(history)
    table["regressions"] = [
        ",".join(r.metric for r in history.regressions if r.run_dir == run_dir)
        for run_dir in table["run_dir"]
    ]
    table["regressed"] = table["regressions"] != ""
    return history


def find_regressions(history: History) -> list[Regression]:
    """Each headline figure of each run against the previous comparable run that has it."""
    table, tolerance = history.table, history.tolerance_pct
    found = []
    for group, rows in table.groupby("group", sort=False):
        scenario = rows["scenario"].iloc[0]
        for metric in history.metrics.get(scenario, []):
            if metric not in rows.columns:
                continue
            higher = history.directions[scenario].get(metric)
            previous: tuple[float, str] | None = None
            for _, row in rows.iterrows():
                value = _number(row[metric])
                if value is None:
                    continue
                if previous is not None:
                    before, before_dir = previous
                    change = value - before
                    worse = change < 0 if higher else change > 0
                    pct = change / abs(before) * 100 if before != 0 else None
                    if worse and (pct is None or abs(pct) > tolerance):
                        found.append(
                            Regression(
                                run_dir=row["run_dir"],
                                date=row["date"],
                                scenario=scenario,
                                group=str(group),
                                metric=metric,
                                previous=before,
                                value=value,
                                change_pct=pct,
                                previous_run_dir=before_dir,
                                unit=history.units[scenario].get(metric, ""),
                            )
                        )
                previous = (value, row["run_dir"])
    return sorted(found, key=lambda r: (r.date, r.group, r.metric))


def _metric_tables(
    runs: Sequence[Run],
) -> tuple[dict[str, dict[str, bool | None]], dict[str, dict[str, str]], dict[str, list[str]]]:
    """Per scenario: each figure's direction and unit (the newest run's table wins), and the
    figures in their table order."""
    directions: dict[str, dict[str, bool | None]] = {}
    units: dict[str, dict[str, str]] = {}
    order: dict[str, list[str]] = {}
    for run in runs:  # oldest first: a newer run's table overrides
        scenario = str(run.results.get("scenario"))
        table = run.results.get("metrics")
        summary = run.results["outputs"].get("summary")
        d, u = directions.setdefault(scenario, {}), units.setdefault(scenario, {})
        names = order.setdefault(scenario, [])
        for name, record in (table if isinstance(table, dict) else {}).items():
            if not isinstance(record, dict):
                continue
            hib = record.get("higher_is_better")
            d[name] = hib if isinstance(hib, bool) else None
            u[name] = str(record.get("unit") or "")
        for name in summary if isinstance(summary, dict) else {}:
            if name not in names:
                names.append(name)
    return directions, units, order


def _group_descriptions(
    runs: Sequence[Run], keys: Sequence[str], names: dict[str, str]
) -> dict[str, str]:
    """For each group, the inputs and target that set it apart from its scenario's others."""
    by_scenario: dict[str, dict[str, dict]] = {}
    for run, key in zip(runs, keys, strict=True):
        _, kind, url, inputs = json.loads(key)
        facts = {"target": kind if url is None else f"{kind} {url}", **inputs}
        by_scenario.setdefault(str(run.results.get("scenario")), {})[names[key]] = facts
    described = {}
    for groups in by_scenario.values():
        if len(groups) == 1:
            (name,) = groups
            described[name] = "all runs of the scenario"
            continue
        every = set().union(*(facts.keys() for facts in groups.values()))
        differing = sorted(
            k
            for k in every
            if len({json.dumps(f.get(k), default=str) for f in groups.values()}) > 1
        )
        for name, facts in groups.items():
            described[name] = ", ".join(f"{k}={_short(facts.get(k))}" for k in differing)
    return described


# ---- writing ----------------------------------------------------------------------------------


def parquet_ready(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every column of mixed value types as text (Parquet wants one type a
    column; numbers and booleans stay as they are where they are alone)."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype != object:
            continue
        kinds = {_kind(v) for v in out[column] if not _missing(v)}
        if len(kinds) > 1:
            out[column] = [None if _missing(v) else str(v) for v in out[column]]
    return out


def write_table(history: History, output_dir: Path) -> list[Path]:
    """history.csv and history.parquet in output_dir (each written atomically)."""
    import io

    from edgeload.runfolder import write_atomic

    table = history.table
    csv_text = table.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    written = [write_atomic(output_dir / CSV_FILENAME, csv_text.encode())]
    buffer = io.BytesIO()
    parquet_ready(table).to_parquet(buffer, index=False)
    written.append(write_atomic(output_dir / PARQUET_FILENAME, buffer.getvalue()))
    return written


# ---- printing ----------------------------------------------------------------------------------


def format_history(history: History, *, columns_per_scenario: int = 4) -> str:
    """The table, compactly: per scenario its runs with the first figures checked, and every
    regression."""
    table = history.table
    lines = []
    for scenario, rows in table.groupby("scenario", sort=False):
        groups = list(dict.fromkeys(rows["group"]))
        lines.append(
            f"{scenario}: {len(rows)} run{'s' if len(rows) != 1 else ''} in {len(groups)} "
            f"comparable group{'s' if len(groups) != 1 else ''}"
        )
        for group in groups:
            lines.append(f"  {group}: {history.groups.get(group, '')}")
        shown = [
            m
            for m in history.metrics.get(scenario, [])
            if m in rows.columns and any(_number(v) is not None for v in rows[m])
        ][:columns_per_scenario]
        view = pd.DataFrame(
            {
                "date": [_when(d) for d in rows["date"]],
                "group": rows["group"],
                "verdict": rows["verdict"],
                **{m: [_num(_number(v)) for v in rows[m]] for m in shown},
                "regressed": [r or "-" for r in rows["regressions"]],
            }
        )
        lines += ["  " + line for line in view.to_string(index=False).splitlines()]
    if history.regressions:
        lines.append(
            f"{len(history.regressions)} regression(s) beyond {history.tolerance_pct:g}% "
            "from the previous comparable run:"
        )
        lines += [f"  {r.describe(history.tolerance_pct)}" for r in history.regressions]
    else:
        lines.append(f"no regression beyond {history.tolerance_pct:g}%")
    return "\n".join(lines)


# ---- plots ----------------------------------------------------------------------------------


def plot_history(history: History, output_dir: Path) -> list[Path]:
    """One PNG per comparable group (`history-<scenario>-<n>.png`): each figure checked over
    time, regressions marked in red."""
    import io

    from edgeload.runfolder import write_atomic

    written = []
    for group, rows in history.table.groupby("group", sort=False):
        scenario = rows["scenario"].iloc[0]
        figure = group_figure(history, str(group), rows)
        if figure is None:
            continue
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        name = f"history-{_safe(scenario)}-{str(group).rsplit('#', 1)[-1]}.png"
        written.append(write_atomic(output_dir / name, buffer.getvalue()))
    return written


def group_figure(history: History, group: str, rows: pd.DataFrame) -> Any:
    """The figure of one group, or None when it has no figure to draw."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    scenario = rows["scenario"].iloc[0]
    metrics = [
        m
        for m in history.metrics.get(scenario, [])
        if m in rows.columns and any(_number(v) is not None for v in rows[m])
    ]
    if not metrics:
        return None
    columns = min(3, len(metrics))
    lines = math.ceil(len(metrics) / columns)
    figure = Figure(figsize=(5.2 * columns, 2.7 * lines + 0.9), dpi=100, layout="constrained")
    title = f"{group}: {history.groups.get(group, '')}"
    figure.suptitle(_short(title, 160), fontsize=11)
    regressed = {(r.run_dir, r.metric): r for r in history.regressions if r.group == group}
    dates = [d.to_pydatetime() if hasattr(d, "to_pydatetime") else d for d in rows["date"]]
    for i, metric in enumerate(metrics):
        ax = figure.add_subplot(lines, columns, i + 1)
        points = [
            (d, _number(v), run_dir)
            for d, v, run_dir in zip(dates, rows[metric], rows["run_dir"], strict=True)
            if _number(v) is not None
        ]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        ax.plot(xs, ys, marker="o", markersize=4, color="#1f77b4", linewidth=1.2)
        bad = [(d, y, regressed[(run_dir, metric)]) for d, y, run_dir in points
               if (run_dir, metric) in regressed]  # fmt: skip
        if bad:
            ax.scatter(
                [b[0] for b in bad], [b[1] for b in bad], s=70, color="#d62728", zorder=3,
                label="regression",
            )  # fmt: skip
            for d, y, r in bad:
                text = "from 0" if r.change_pct is None else f"{r.change_pct:+.0f}%"
                ax.annotate(text, (d, y), textcoords="offset points", xytext=(4, 6),
                            color="#d62728", fontsize=8)  # fmt: skip
        unit = history.units.get(scenario, {}).get(metric, "")
        arrow = {True: " ↑ better", False: " ↓ better"}.get(
            history.directions[scenario].get(metric), ""
        )
        ax.set_title(f"{metric}{f' ({unit})' if unit else ''}{arrow}", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.08, y=0.15)  # room for the marks' labels
        ax.tick_params(labelsize=8)
        if len(set(xs)) == 1:  # one point in time: an hour either side, not years
            ax.set_xlim(xs[0] - timedelta(hours=1), xs[0] + timedelta(hours=1))
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return figure


# ---- values ------------------------------------------------------------------------------------


def _created(run: Run) -> Any:
    metadata = run.results.get("metadata")
    return metadata.get("created_at") if isinstance(metadata, dict) else None


def _date(text: Any, path: Path) -> pd.Timestamp:
    """A run's time (UTC): its created_at, else its results file's modification time."""
    if isinstance(text, str) and text:
        try:
            stamp = pd.Timestamp(text)
        except (ValueError, TypeError):
            stamp = None
        if stamp is not None and stamp is not pd.NaT:
            return stamp.tz_convert(UTC) if stamp.tzinfo else stamp.tz_localize(UTC)
    try:
        mtime = (path / RESULTS_FILENAME).stat().st_mtime
    except OSError:
        mtime = 0.0
    return pd.Timestamp(datetime.fromtimestamp(mtime, UTC))


def _images(images: Any) -> str | None:
    if isinstance(images, dict):
        shown = [f"{k}={v}" for k, v in sorted(images.items()) if v]
        return "; ".join(shown) or None
    return str(images) if images else None


def _cell(value: Any) -> Any:
    """A value as one table cell: lists and dicts as JSON text."""
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def _when(date: Any) -> str:
    try:
        return pd.Timestamp(date).strftime("%Y-%m-%d %H:%M")
    except (ValueError, TypeError):
        return str(date)


def _short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
