"""The machine-readable figures of a benchmark, for `bench/run_all.py`.

Every benchmark script keeps its own printed report and, given `--json PATH`, also writes its
figures there:

    {"schema_version": 1, "benchmark": "sim_throughput",
     "figures": [{"name": "image queries/s", "value": 2712.0, "unit": "1/s",
                  "target": ">= 2000", "met": true}, ...],
     "notes": ["machine: 2 CPUs"]}

`met` is None for a figure without a target (shown for context). Scripts import this module
as `_figures` (a script's own folder is first on sys.path).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        metavar="PATH",
        default=None,
        help="also write the figures as JSON to PATH (read by bench/run_all.py)",
    )


def figure(
    name: str, value: float, unit: str, target: str | None = None, met: bool | None = None
) -> dict[str, Any]:
    """One figure; `target` is text such as '>= 2000' and `met` whether the value meets it."""
    number = float(value)
    return {
        "name": name,
        "value": number if math.isfinite(number) else None,
        "unit": unit,
        "target": target,
        "met": None if target is None else bool(met),
    }


def write_figures(
    path: str | Path | None,
    benchmark: str,
    figures: list[dict[str, Any]],
    notes: list[str] | None = None,
) -> None:
    """Write the figures to `path` (nothing when `path` is None)."""
    if path is None:
        return
    document = {
        "schema_version": SCHEMA_VERSION,
        "benchmark": benchmark,
        "figures": figures,
        "notes": list(notes or []),
    }
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
