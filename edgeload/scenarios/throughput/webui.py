"""The throughput run live in Locust's web UI: an edgeload tab with the per-step table, a page
with live charts of the endpoint's and the generator's CPU, RAM, GPU and VRAM, and the
per-step table as a CSV download.

The data are the run's own records: every record the log sink writes (on a local process, or
on a distributed master, which receives the workers' requests and samples) is read into a
`LogData` by the reporter's own reader (`reporting.logreader.LogFeed`), and the table rows
come from `analysis.live_step_rows`, the code of the final report's per-step table. Nothing
here defines a figure.

Through Locust's extension points (`environment.web_ui`):

    /edgeload/live.json     the run, its step rows, per-second requests and latency, and the
                            utilization series (JSON; what the page draws)
    /edgeload/              the live page: step table and SVG charts, one self-contained file
                            (inline script, no network fetch but live.json)
    /edgeload/steps.csv     the per-step table (Locust's extended CSV downloads)
    the "edgeload" tab      Locust's extended tab and table, its rows riding on Locust's own
                            `/stats/requests` poll (`extendedStats`)

and a small link to the live page on Locust's own page.

Only a process with a web UI keeps this copy of the run (the per-step request columns the
report keeps too, ~18 bytes a request, and per-second histograms); headless runs do not.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import time
from importlib.resources import files
from typing import Any

import numpy as np

from edgeload import runlog
from edgeload.reporting.logreader import LogFeed
from edgeload.scenarios.throughput.analysis import live_step_rows
from edgeload.scenarios.throughput.metrics import UTILIZATION_FIELDS
from edgeload.scenarios.throughput.series import Utilization, gpu_series, second_series

logger = logging.getLogger(__name__)

TAB_KEY = "edgeload"
PAGE_PATH = "/edgeload/"
JSON_PATH = "/edgeload/live.json"
CSV_PATH = "/edgeload/steps.csv"
MIN_REFRESH_S = 1.0  # the figures are computed again at most this often, however many pollers
MAX_POINTS = 600  # per chart series: longer series are averaged down to this many points

# The per-step table of the tab and the page: (key of the live row, title)
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("step", "Step"),
    ("state", "State"),
    ("clients", "Clients"),
    ("expected_rps", "Expected RPS"),
    ("achieved_rps", "Achieved RPS"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("latency_p99_ms", "p99 ms"),
    ("corrected_latency_p99_ms", "Corrected p99 ms"),
    ("errors", "Errors"),
    ("steady", "Steady"),
)


class LiveRun:
    """What the web UI shows of the run: every record the run's log gets, read as the reporter
    reads a log, and the figures computed from it on demand (at most every MIN_REFRESH_S).

    `run` (optional): the ThroughputRun, for its run folder; `environment`: for the runner's
    state."""

    def __init__(
        self, environment: Any = None, run: Any = None, *, min_refresh_s: float = MIN_REFRESH_S
    ) -> None:
        self.environment = environment
        self.run = run
        self.min_refresh_s = min_refresh_s
        self.feed: LogFeed | None = None
        self.bad_records = 0
        self._cache: dict = {}
        self._snapshot: dict | None = None
        self._snapshot_at = -math.inf
        self._changed = True

    # -- the records ---------------------------------------------------------------------
    def add(self, record: dict) -> None:
        """One record as the log gets it (the log sink's `on_record`); a header starts anew."""
        kind = record.get("type")
        self._changed = True
        if kind == runlog.HEADER:
            self.feed = LogFeed(record)
            self._cache.clear()
            self._snapshot = None  # a new run: never the last run's rows, even for a moment
            return
        if self.feed is None:
            return
        if kind == runlog.UTILIZATION:
            # kept aside from the reader: a sample is taken now while a distributed master's
            # requests arrive seconds late, and the running step ends at the latest request
            # seen, not at the latest sample
            self.feed.data.utilization.append(record)
            return
        try:
            self.feed.add(record)
        except Exception:  # a live view never stops a run; the report reads the log itself
            self.bad_records += 1
        if kind == runlog.END:
            # the final figures at once: a page that says "completed" shows the report's rows,
            # not a snapshot taken up to MIN_REFRESH_S before the end
            self._snapshot = None

    # -- the figures ---------------------------------------------------------------------
    def snapshot(self, now: float | None = None) -> dict:
        """The run as the page and the tab show it (JSON-ready), recomputed when records came
        in and MIN_REFRESH_S has passed."""
        clock = time.monotonic()
        if self._snapshot is None or (
            self._changed and clock - self._snapshot_at >= self.min_refresh_s
        ):
            self._changed = False
            self._snapshot_at = clock
            self._snapshot = self._compute()
        snapshot = dict(self._snapshot)
        snapshot["run"] = {**snapshot["run"], **self._state()}
        end = self.feed.data.end if self.feed is not None else None
        if end is not None:  # the run's length, not the time since
            now = end["t"]
        elif now is None:
            now = time.time()
        origin = snapshot.get("origin_t")
        snapshot["elapsed_s"] = None if origin is None else round(now - origin, 3)
        return snapshot

    def _state(self) -> dict:
        feed = self.feed
        if feed is not None and feed.data.end is not None:
            return {"status": feed.data.end.get("status"), "reason": feed.data.end.get("reason")}
        runner = getattr(self.environment, "runner", None)
        state = getattr(runner, "state", None)
        if feed is None:
            return {"status": "setting up", "reason": "the run has not written its log yet"}
        if state in ("spawning", "running"):
            return {"status": "running", "reason": f"Locust is {state}"}
        if state in ("stopping", "stopped", "cleanup"):
            return {"status": "finishing", "reason": "the run is writing its report"}
        return {"status": "waiting", "reason": "start a ramp from the form"}

    def _compute(self) -> dict:
        feed = self.feed
        run_dir = getattr(self.run, "run_dir", None)
        if feed is None:
            return {
                "run": {"run_id": None, "run_dir": None},
                "origin_t": None,
                "inputs": {},
                "steps": [],
                "table": [],
                "throughput": empty_throughput(),
                "utilization": [],
                "columns": [list(c) for c in TABLE_COLUMNS],
            }
        log = feed.data
        origin, rows = live_step_rows(log, self._cache)
        ended = log.end is not None
        for position, row in enumerate(rows):
            last = position == len(rows) - 1
            row["state"] = "running" if last and not ended else "done"
        inputs = log.header.get("inputs") or {}
        steps = [clean(row) for row in rows]
        return {
            "run": {"run_id": log.header.get("run_id"), "run_dir": str(run_dir or "") or None},
            "origin_t": origin if rows or log.request_count else None,
            "inputs": {
                key: inputs.get(key)
                for key in (
                    "max_clients",
                    "step_size",
                    "time_between_ramp",
                    "requests_per_second",
                    "arrival_rate",
                    "client",
                    "latency_slo",
                )
            },
            "requests": log.request_count,
            "skipped_records": self.bad_records,  # records the reader refused (none expected)
            "steps": steps,
            "table": [display_row(row) for row in steps],
            "throughput": throughput_payload(log, origin, complete=ended),
            "utilization": utilization_payload(log.utilization, origin),
            "columns": [list(c) for c in TABLE_COLUMNS],
        }

    # -- the views -----------------------------------------------------------------------
    def table_rows(self) -> list[dict]:
        """The step rows as Locust's extended table shows them (text cells)."""
        return self.snapshot()["table"]

    def csv_text(self) -> str:
        """The per-step table as CSV: every column of the report's per-step table."""
        rows = self.snapshot()["steps"]
        out = io.StringIO()
        if not rows:
            out.write(",".join(key for key, _ in TABLE_COLUMNS) + "\n")
            return out.getvalue()
        keys = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(row.get(k)) for k in keys})
        return out.getvalue()


# -- payload pieces (pure) -------------------------------------------------------------------


def clean(value: Any) -> Any:
    """JSON-safe: numpy numbers as Python ones, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def thin(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> list[list]:
    """[[x, y], ...] sorted by x, at most max_points (means of consecutive points), y None
    where unknown."""
    order = np.argsort(x, kind="stable")
    x, y = np.asarray(x, dtype=np.float64)[order], np.asarray(y, dtype=np.float64)[order]
    if len(x) > max_points:
        edges = np.linspace(0, len(x), max_points + 1).astype(int)
        xs, ys = [], []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            if hi <= lo:
                continue
            xs.append(float(x[lo:hi].mean()))
            part = y[lo:hi][~np.isnan(y[lo:hi])]
            ys.append(float(part.mean()) if len(part) else math.nan)
        x, y = np.array(xs), np.array(ys)
    return [
        [round(float(a), 3), None if math.isnan(b) else round(float(b), 3)]
        for a, b in zip(x, y, strict=True)
    ]


def empty_throughput() -> dict:
    return {"requests_per_s": [], "errors_per_s": [], "latency_p50_ms": [], "latency_p95_ms": []}


def throughput_payload(log: Any, origin: float, complete: bool = True) -> dict:
    """Requests, errors and latency per second of the run (the report's time series); while
    the run goes on (`complete` False) without its last second, still filling up."""
    series = second_series(log.seconds, origin)
    n = len(series.elapsed_s) - (0 if complete else 1)
    if n <= 0:
        return empty_throughput()
    x = series.elapsed_s[:n]
    return {
        "requests_per_s": thin(x, series.requests[:n]),
        "errors_per_s": thin(x, series.errors[:n]),
        "latency_p50_ms": thin(x, series.latency_p50_ms[:n]),
        "latency_p95_ms": thin(x, series.latency_p95_ms[:n]),
    }


def utilization_payload(samples: list[dict], origin: float) -> list[dict]:
    """One entry per source, host, metric (and GPU, where a host has several): its points."""
    out = []
    for series in Utilization(samples, origin).series:
        for metric in UTILIZATION_FIELDS:
            values = series.values[metric]
            if np.isnan(values).all():
                continue
            out.append(
                {
                    "source": series.source,
                    "host": series.host,
                    "metric": metric,
                    "gpu": None,
                    "label": f"{series.source} {series.host}"
                    + (" (all GPUs)" if metric in ("gpu_pct", "vram_pct") else ""),
                    "points": thin(series.elapsed_s, values),
                }
            )
    gpus = gpu_series(samples, origin)
    per_host: dict[tuple[str, str], int] = {}
    for gpu in gpus:
        per_host[(gpu.source, gpu.host)] = per_host.get((gpu.source, gpu.host), 0) + 1
    for gpu in gpus:
        if per_host[(gpu.source, gpu.host)] < 2:
            continue  # one GPU: the host's figures are that GPU's
        name = f" {gpu.name}" if gpu.name else ""
        for metric, values in (("gpu_pct", gpu.gpu_pct), ("vram_pct", gpu.vram_pct)):
            if np.isnan(values).all():
                continue
            out.append(
                {
                    "source": gpu.source,
                    "host": gpu.host,
                    "metric": metric,
                    "gpu": gpu.index,
                    "label": f"{gpu.source} {gpu.host} GPU {gpu.index}{name}",
                    "points": thin(gpu.elapsed_s, values),
                }
            )
    return out


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.{digits}f}"


def errors_text(row: dict) -> str:
    """Failed requests of the step, with their categories: '3 (timeout 2, http_5xx 1)'."""
    errors = row.get("errors") or {}
    total = sum(errors.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{k} {v}" for k, v in errors.items()) + ")"


def display_row(row: dict) -> dict:
    """A step row with text cells, keyed as TABLE_COLUMNS."""
    return {
        "step": str(row["step"]),
        "state": row.get("state", ""),
        "clients": _number(row.get("clients")),
        "expected_rps": _number(row.get("expected_rps")),
        "achieved_rps": _number(row.get("achieved_rps")),
        "latency_p50_ms": _number(row.get("latency_p50_ms")),
        "latency_p95_ms": _number(row.get("latency_p95_ms")),
        "latency_p99_ms": _number(row.get("latency_p99_ms")),
        "corrected_latency_p99_ms": _number(row.get("corrected_latency_p99_ms")),
        "errors": errors_text(row),
        "steady": {True: "yes", False: "no"}.get(row.get("steady"), "?"),
    }


def csv_cell(value: Any) -> Any:
    if isinstance(value, dict):
        return ";".join(f"{k}:{v}" for k, v in value.items())
    if value is None:
        return ""
    return value


def page_html() -> str:
    """The live page (edgeload/scenarios/throughput/webui.html, shipped in the package)."""
    return files(__package__).joinpath("webui.html").read_text(encoding="utf-8")


LINK_SNIPPET = (
    '<a id="edgeload-live-link" href="./edgeload/" target="_blank" rel="noopener" '
    'style="position:fixed;right:16px;bottom:48px;z-index:2000;padding:8px 14px;'
    "border-radius:18px;background:#1f6feb;color:#fff;font:600 13px sans-serif;"
    'text-decoration:none;box-shadow:0 2px 8px rgba(0,0,0,.3)">'
    "edgeload live charts &#8599;</a>"
)


# -- Locust ------------------------------------------------------------------------------------


def mount(web_ui: Any, live: LiveRun, base_path: str = "") -> None:
    """The routes, the tab, the table and the CSV download on Locust's web UI."""
    from flask import Blueprint, Response, request

    base = (base_path or "").rstrip("/")
    blueprint = Blueprint("edgeload", __name__, url_prefix=base or None)
    guard = web_ui.auth_required_if_enabled

    @blueprint.route(JSON_PATH)
    @guard
    def live_json() -> Response:
        try:
            body, status = json.dumps(live.snapshot(), allow_nan=False), 200
        except Exception as exc:  # said to the page; the run goes on
            logger.exception("the edgeload live view failed")
            body, status = json.dumps({"error": f"{type(exc).__name__}: {exc}"}), 500
        return Response(
            body, status, mimetype="application/json", headers={"Cache-Control": "no-store"}
        )

    @blueprint.route(PAGE_PATH)
    @guard
    def live_page() -> Response:
        return Response(page_html(), mimetype="text/html")

    @blueprint.route(CSV_PATH)
    @guard
    def steps_csv() -> Response:
        return Response(
            live.csv_text(),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=edgeload_steps.csv"},
        )

    web_ui.app.register_blueprint(blueprint)

    args = web_ui.template_args
    args["extendedTabs"] = [
        *(args.get("extendedTabs") or []),
        {"title": "edgeload", "key": TAB_KEY},
    ]
    args["extendedTables"] = [
        *(args.get("extendedTables") or []),
        {"key": TAB_KEY, "structure": [{"key": k, "title": t} for k, t in TABLE_COLUMNS]},
    ]
    args["extendedCsvFiles"] = [
        *(args.get("extendedCsvFiles") or []),
        {"href": f".{CSV_PATH}", "title": "Download edgeload per-step CSV"},
        {"href": f".{PAGE_PATH}", "title": "edgeload live page (step table and charts)"},
    ]

    @web_ui.app.after_request
    def extend(response: Response) -> Response:
        if request.endpoint == "locust.request_stats" and response.is_json:
            try:
                body = response.get_json()
                extended = [s for s in body.get("extendedStats") or [] if s.get("key") != TAB_KEY]
                extended.append({"key": TAB_KEY, "data": live.table_rows()})
                body["extendedStats"] = extended
                response.set_data(json.dumps(body))
            except Exception:  # Locust's own figures must get through whatever happens here
                logger.debug("the edgeload tab's rows failed", exc_info=True)
        elif request.endpoint == "locust.index" and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            if "</body>" in page and "edgeload-live-link" not in page:
                response.set_data(page.replace("</body>", LINK_SNIPPET + "</body>", 1))
        return response


def install(environment: Any, run: Any) -> LiveRun | None:
    """The run's extension (`run.register(events, webui.install)`): with a web UI on this
    process (local or master), follow the run's records and serve them."""
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is None:
        return None
    live = LiveRun(environment, run)
    run.record_listeners.append(live.add)
    options = environment.parsed_options
    mount(web_ui, live, getattr(options, "web_base_path", "") or "")
    return live
