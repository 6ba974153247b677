"""Pure analysis of a resources log: one row per combination of the matrix, the check, the
console report, and what the plot draws.

The header's `inputs.combinations` lists every combination; each `combination` sample (see
`session.py`) is one reading, the last one of a key counting. A combination with no sample is
`not_measured` (the run stopped, or `--max-combinations` left it for `--resume`).

RAM of a detector is the endpoint's figure (resources.json, its pods summed) where it reports
one, else the pods' memory from the Kubernetes metrics API; VRAM only the endpoint's. Where
neither reports a figure it stays None (empty in results.csv), with the reason in `note`:
a figure that was not available is never 0.

NVML (`nvml.py`): the difference of this machine's GPUs' used memory around a batch is a row's
`nvml_vram_delta_bytes` only with a batch of one, on a real endpoint on this machine; every
other row has it empty with the reason in `nvml_vram_note`. Each batch's own difference is in
`outputs.batches` (batches.csv). It is a reading, not a check: the verdict ignores it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from edgeload import verdict
from edgeload.reporting.logreader import LogData
from edgeload.reporting.results import ScenarioAnalysis, warning
from edgeload.scenarios.resources.metrics import ALIASES as ALIASES  # noqa: F401 - for gates
from edgeload.scenarios.resources.metrics import RUN_METRICS
from edgeload.verdict import Check

KEEP_REQUESTS = False
CSV_TABLES = ("results", "batches")  # results.csv: one row per combination; batches.csv
COMBINATION = "combination"  # the sample kind of one combination's reading
BATCH = "batch"  # the sample kind written after each batch (its NVML figures)
NVML_SOURCE = "nvml"
MEASURED_STATUSES = ("measured",)  # kept on --resume; the others are measured again
NOT_MEASURED = "not_measured"
FAILED = "failed"
_ENDPOINT, _PODS = "endpoint", "pods"
_PLOTTED = (
    "key",
    "status",
    "ram_bytes",
    "vram_bytes",
    "endpoint_ram_primary_bytes",
    "endpoint_ram_oodd_bytes",
    "endpoint_vram_primary_bytes",
    "endpoint_vram_oodd_bytes",
    "nvml_vram_delta_bytes",
)


def _readings(log: LogData) -> dict[str, dict]:
    """combination key -> its last reading."""
    return {str(s.get("key")): s for s in log.samples_of(COMBINATION)}


def result_rows(log: LogData) -> list[dict[str, Any]]:
    """One row per combination of the matrix, in matrix order."""
    combos = (log.header.get("inputs") or {}).get("combinations") or []
    readings = _readings(log)
    return [_row(c, readings.get(str(c.get("key")))) for c in combos]


def _row(combo: dict, reading: dict | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "key": combo.get("key"),
        "mode": combo.get("mode"),
        "pipeline": combo.get("pipeline"),
        "n": combo.get("n"),
        "image_size": combo.get("image_size"),
    }
    if reading is None:
        empty = dict.fromkeys(("detector_id", "ram_bytes", "vram_bytes", "ram_source"))
        note = "not measured (yet): resume the run to measure it"
        nvml = _nvml_columns({"note": "not measured (yet)"})
        return {**row, "status": NOT_MEASURED, **empty, "vram_source": None, **nvml, "note": note}
    endpoint = reading.get("endpoint") or {}
    pods = reading.get("pods") or {}
    ram, ram_source = endpoint.get("ram_bytes"), _ENDPOINT
    if ram is None and pods.get("ram_bytes") is not None:
        ram, ram_source = pods.get("ram_bytes"), _PODS
    vram = endpoint.get("vram_bytes")
    notes = [n for n in (endpoint.get("note"), pods.get("note")) if n]
    return {
        **row,
        "status": reading.get("status"),
        "detector_id": reading.get("detector_id"),
        "detector_name": reading.get("detector_name"),
        "ram_bytes": ram,
        "vram_bytes": vram,
        "ram_source": ram_source if ram is not None else None,
        "vram_source": _ENDPOINT if vram is not None else None,
        "ram_mib": _mib(ram),
        "vram_mib": _mib(vram),
        "endpoint_ram_bytes": endpoint.get("ram_bytes"),
        "endpoint_vram_bytes": vram,
        "endpoint_ram_primary_bytes": endpoint.get("ram_primary_bytes"),
        "endpoint_ram_oodd_bytes": endpoint.get("ram_oodd_bytes"),
        "endpoint_vram_primary_bytes": endpoint.get("vram_primary_bytes"),
        "endpoint_vram_oodd_bytes": endpoint.get("vram_oodd_bytes"),
        "pods_ram_bytes": pods.get("ram_bytes"),
        "pods_counted": pods.get("pods"),
        **_nvml_columns(reading.get("nvml")),
        "pipeline_config": reading.get("pipeline_config"),
        "pipeline_config_confirmed": reading.get("pipeline_config_confirmed"),
        "queries_sent": reading.get("queries_sent"),
        "queries_from_edge": reading.get("queries_from_edge"),
        "batch": reading.get("batch"),
        "bring_up_s": _round(reading.get("bring_up_s")),
        "carried": bool(reading.get("carried")),
        "measured_at": _iso(reading.get("t")),
        "error": reading.get("error") or reading.get("query_error"),
        "note": "; ".join(notes) or None,
    }


def _nvml_columns(nvml: Any) -> dict[str, Any]:
    """A row's NVML columns; a reading without them (an older edgeload's) says so."""
    if not isinstance(nvml, dict):
        nvml = {"note": "not recorded by this run"}
    delta = nvml.get("vram_delta_bytes")
    return {
        "nvml_vram_delta_bytes": delta,
        "nvml_vram_delta_mib": _mib(delta),
        "nvml_vram_source": NVML_SOURCE if delta is not None else None,
        "nvml_vram_note": None if delta is not None else nvml.get("note"),
        "nvml_vram_before_bytes": nvml.get("before_bytes"),
        "nvml_vram_after_bytes": nvml.get("after_bytes"),
    }


def batch_rows(log: LogData) -> list[dict[str, Any]]:
    """One row per batch of this log (a resumed log's earlier batches are in its earlier
    logs): its combinations and the NVML difference around it."""
    rows = []
    for sample in log.samples_of(BATCH):
        keys = list(sample.get("keys") or [])
        rows.append(
            {
                "batch": sample.get("batch"),
                "combinations": len(keys),
                "keys": " ".join(keys),
                **_nvml_columns(sample.get("nvml")),
                "measured_at": _iso(sample.get("t")),
            }
        )
    return rows


def _mib(value: Any) -> float | None:
    return None if value is None else round(value / 2**20, 1)


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _iso(t: Any) -> str | None:
    if not isinstance(t, int | float):
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def summary(rows: list[dict]) -> dict[str, Any]:
    measured = [r for r in rows if r["status"] in MEASURED_STATUSES]
    rams = [r["ram_bytes"] for r in measured if r["ram_bytes"] is not None]
    vrams = [r["vram_bytes"] for r in measured if r["vram_bytes"] is not None]
    nvml = [r["nvml_vram_delta_bytes"] for r in measured if r["nvml_vram_delta_bytes"] is not None]
    return {
        "combinations": len(rows),
        "combinations_measured": len(measured),
        "combinations_failed": sum(1 for r in rows if r["status"] == FAILED),
        "combinations_missing": sum(
            1 for r in rows if r["status"] not in (*MEASURED_STATUSES, FAILED)
        ),
        "peak_detector_ram_bytes": max(rams) if rams else None,
        "peak_detector_vram_bytes": max(vrams) if vrams else None,
        "total_detector_ram_bytes": sum(rams) if rams else None,
        "total_detector_vram_bytes": sum(vrams) if vrams else None,
        "peak_detector_nvml_vram_bytes": max(nvml) if nvml else None,
    }


def analyze(log: LogData) -> ScenarioAnalysis:
    """The reporter's analysis of a resources log."""
    rows = result_rows(log)
    resumed = (log.header.get("metadata") or {}).get("resumed")
    outputs: dict[str, Any] = {"summary": summary(rows), "results": rows}
    batches = batch_rows(log)
    if batches:
        outputs["batches"] = batches
    if resumed:
        outputs["resumed"] = resumed
    plot_data = {"rows": [{k: r.get(k) for k in _PLOTTED} for r in rows]}
    return ScenarioAnalysis(
        outputs=outputs,
        checks=[_measured_check(rows)],
        warnings=_warnings(rows) + _nvml_warnings(rows, batches),
        metrics=RUN_METRICS,
        plot_data=plot_data,
    )


def _measured_check(rows: list[dict]) -> Check:
    name = "every combination measured"
    failed = [r for r in rows if r["status"] == FAILED]
    if failed:
        detail = "; ".join(f"{r['key']}: {r.get('error')}" for r in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        return verdict.check(name, False, detail + more, kind=verdict.GOAL)
    missing = [r for r in rows if r["status"] not in MEASURED_STATUSES]
    if missing or not rows:
        shown = ", ".join(f"{r['key']} ({r['status']})" for r in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        detail = f"{len(missing)} of {len(rows)} combinations have no memory figure: {shown}{more}"
        return verdict.check(name, None, detail, kind=verdict.GOAL)
    return verdict.check(name, True, f"all {len(rows)} combinations", kind=verdict.GOAL)


def _warnings(rows: list[dict]) -> list[dict]:
    out = []
    cloudy = [
        r["key"] for r in rows if (r.get("queries_from_edge") or 0) < (r.get("queries_sent") or 0)
    ]
    if cloudy:
        text = (
            "some image queries before the reading were not answered by the edge, so the "
            f"pods may not have seen that image size: {', '.join(cloudy)}"
        )
        out.append(warning("queries_not_from_edge", text))
    no_vram = [r["key"] for r in rows if r["status"] == "measured" and r["vram_bytes"] is None]
    if no_vram:
        text = (
            f"the endpoint reported no VRAM for {', '.join(no_vram)} (Kubernetes does not "
            "report GPU memory): those VRAM cells are empty, not 0"
        )
        out.append(warning("vram_not_reported", text))
    return out


def _nvml_warnings(rows: list[dict], batches: list[dict]) -> list[dict]:
    fell = [r["key"] for r in rows if (r.get("nvml_vram_delta_bytes") or 0) < 0]
    fell += [f"batch {b['batch']}" for b in batches if (b.get("nvml_vram_delta_bytes") or 0) < 0]
    if not fell:
        return []
    text = (
        f"the GPUs' used memory (NVML) fell across {', '.join(fell)}: something else on the "
        "GPU freed memory meanwhile, so that difference is not the detector's VRAM alone"
    )
    return [warning("nvml_vram_fell", text)]


# -- the console report --------------------------------------------------------------------------


_TABLE_COLUMNS = (
    ("mode", "mode"),
    ("pipeline", "pipeline"),
    ("n", "n"),
    ("image_size", "size"),
    ("status", "status"),
    ("ram_mib", "RAM MiB"),
    ("vram_mib", "VRAM MiB"),
    ("ram_source", "RAM from"),
)


_NVML_COLUMN = ("nvml_vram_delta_mib", "NVML VRAM MiB")


def format_table(rows: list[dict]) -> str:
    cols = _TABLE_COLUMNS
    if any(r.get("nvml_vram_delta_bytes") is not None for r in rows):  # only where measured
        cols = (*cols[:-1], _NVML_COLUMN, cols[-1])
    table = [[title for _, title in cols]]
    for row in rows:
        table.append(["-" if row.get(k) is None else str(row.get(k)) for k, _ in cols])
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table)
    return "\n".join(line.rstrip() for line in lines)


def summary_lines(results: dict) -> list[str]:
    outputs = results.get("outputs") or {}
    rows = outputs.get("results") or []
    s = outputs.get("summary") or {}
    lines = [format_table(rows)] if rows else ["the matrix has no combinations"]
    lines.append(
        f"combinations: {s.get('combinations_measured', 0)} of {s.get('combinations', 0)} "
        f"measured, {s.get('combinations_failed', 0)} failed; peak per detector: RAM "
        f"{_mib_text(s.get('peak_detector_ram_bytes'))}, VRAM "
        f"{_mib_text(s.get('peak_detector_vram_bytes'))}"
    )
    lines.extend(_nvml_lines(rows, outputs.get("batches") or []))
    return lines


def _nvml_lines(rows: list[dict], batches: list[dict]) -> list[str]:
    """Per-detector VRAM as NVML saw it, or once why there is none; each larger batch's."""
    if any(r.get("nvml_vram_delta_bytes") is not None for r in rows):
        lines = ["NVML VRAM: this machine's GPUs' used memory before and after each batch of one"]
    else:
        notes = [r.get("nvml_vram_note") for r in rows if r.get("status") != NOT_MEASURED]
        distinct = list(dict.fromkeys(n for n in notes if n))
        lines = [f"NVML VRAM per detector: {'; '.join(distinct)}"] if distinct else []
    for b in batches:
        if b.get("combinations", 0) > 1 and b.get("nvml_vram_delta_bytes") is not None:
            lines.append(
                f"NVML VRAM of batch {b['batch']} ({b['combinations']} combinations): "
                f"{b['nvml_vram_delta_bytes'] / 2**20:+.0f} MiB"
            )
    return lines


def _mib_text(value: Any) -> str:
    return "n/a" if value is None else f"{value / 2**20:.0f} MiB"
