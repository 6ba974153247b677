"""The tables of a scenario's outputs, and CSV files of them (pure, from the envelope alone).

A table is any value of `outputs` that is a non-empty list of rows (dicts): throughput's per-step
table `outputs.steps`, a per-size table, the workers lost, ... `report.html` shows them all;
`write_reports` writes the scenario's main tables as CSV beside the JSON (`steps.csv`): the
ones its analysis module names in `CSV_TABLES`, by default `steps`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_CSV_TABLES = ("steps",)
# shown first in the report where present: the per-step or per-size table of a scenario
_FIRST = ("steps", "sizes", "per_size")


def is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def tables(outputs: Mapping[str, Any]) -> dict[str, list[dict]]:
    """Every table of a scenario's outputs, in the outputs' order, a per-step or per-size
    table first."""
    found = {k: list(v) for k, v in outputs.items() if k != "summary" and is_table(v)}
    first = [k for k in _FIRST if k in found]
    return {k: found[k] for k in [*first, *(k for k in found if k not in first)]}


def table_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The union of the rows' keys, in the order they first appear."""
    columns: dict[str, None] = {}
    for row in rows:
        for key in row:
            columns.setdefault(str(key), None)
    return list(columns)


def flat_row(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A row with nested dicts spread into `outer.inner` columns (one CSV cell per value)."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flat_row(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def table_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as CSV text: a header of every column, nested dicts as `outer.inner` columns,
    None as an empty cell, lists and empty dicts as JSON."""
    flat = [flat_row(r) for r in rows]
    columns = table_columns(flat)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in flat:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def csv_files(outputs: Mapping[str, Any], names: Iterable[str] = DEFAULT_CSV_TABLES) -> dict:
    """{file name: CSV text} of the named tables that the outputs hold (`steps` -> steps.csv)."""
    found = tables(outputs) if isinstance(outputs, Mapping) else {}
    return {f"{name}.csv": table_csv(found[name]) for name in names if name in found}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(value, default=str)
    return value
