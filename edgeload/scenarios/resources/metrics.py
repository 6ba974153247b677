"""`edgeload resources`' metric table: its headline figures, defined once, as data.

Per-combination figures are rows of `outputs.results` (results.csv); the run-level figures
in `outputs.summary` are what `compare`, `--fail-if` and `history` read.
"""

from __future__ import annotations

from edgeload.reporting.metrics import MAX, SUM, VALUE, Metric

_B = "bytes"
_C = "combinations"

# (name, unit, aggregation, higher is better, description)
_ROWS: list[tuple] = [
    ("combinations", _C, VALUE, None, "combinations of the matrix"),
    ("combinations_measured", _C, SUM, True, "combinations whose memory was read"),
    ("combinations_failed", _C, SUM, False, "combinations whose detector did not come up"),
    ("combinations_missing", _C, SUM, False, "combinations not measured (yet) or not reported"),
    ("peak_detector_ram_bytes", _B, MAX, False, "largest RAM of one detector (its pods)"),
    ("peak_detector_vram_bytes", _B, MAX, False, "largest VRAM of one detector (its pods)"),
    ("total_detector_ram_bytes", _B, SUM, False, "RAM of every measured detector together"),
    ("total_detector_vram_bytes", _B, SUM, False, "VRAM of every measured detector together"),
    ("peak_detector_nvml_vram_bytes", _B, MAX, False, "largest NVML VRAM of one detector"),
]
RUN_METRICS: tuple[Metric, ...] = tuple(Metric(*row) for row in _ROWS)

ALIASES: dict[str, str] = {
    "peak_vram_bytes": "peak_detector_vram_bytes",
    "peak_ram_bytes": "peak_detector_ram_bytes",
}
