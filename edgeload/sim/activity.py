"""Image-query activity as the real edge app records it for `/status/metrics.json`.

The real app counts, per detector and per hour (one counter file per process and hour), image
queries, escalations, audits and answers below the threshold (the last two by class too), keeps
the time of the last one of each, and a histogram of edge confidences in 5 % buckets. The status
monitor reports the *previous* hour: `activity_hour` is that hour in UTC written
`YYYY-MM-DD_HH`, and `detector_activity_previous_hour` (a JSON string) lists the detectors with
image queries in it. Times are simulated; the box's clock runs in UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

KINDS = ("iqs", "escalations", "audits", "below_threshold_iqs")
PER_CLASS_KINDS = ("escalations", "below_threshold_iqs")
BUCKET_WIDTH = 5
NUM_BUCKETS = 100 // BUCKET_WIDTH
HISTOGRAM_VERSION = 2
_KEEP_HOURS = 3  # the real app deletes hourly files older than two hours


def local_iso(wall: float) -> str:
    """A naive ISO timestamp, as the real app writes `datetime.now().isoformat()` (UTC box)."""
    return datetime.fromtimestamp(wall, UTC).replace(tzinfo=None).isoformat()


def hour_name(hour: int) -> str:
    """Hour number (UNIX seconds // 3600) -> `2026-12-01_07`."""
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%d_%H")


def _bucket(confidence: float) -> int:
    if confidence >= 1.0:
        return NUM_BUCKETS - 1
    return max(0, int(confidence * 100) // BUCKET_WIDTH)


class Activity:
    """Counters per hour and detector; `record*` are on the hot path (a few dict updates)."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        # hour -> detector -> counter name -> count ("iqs", "escalations_class_1", ...)
        self._hours: dict[int, dict[str, dict[str, int]]] = {}
        # hour -> detector -> [aggregate histogram, {class index: histogram}]
        self._histograms: dict[int, dict[str, list]] = {}
        self._last: dict[str, dict[str, float]] = {}  # detector -> kind -> wall time
        self._last_iq: float | None = None
        self._hour = -1
        self._current: dict[str, dict[str, int]] = {}

    def _counters(self, detector_id: str, wall: float) -> dict[str, int]:
        hour = int(wall // 3600)
        if hour != self._hour:
            self._hour = hour
            self._current = self._hours.setdefault(hour, {})
            for old in [h for h in self._hours if h < hour - _KEEP_HOURS]:
                del self._hours[old]
                self._histograms.pop(old, None)
        counters = self._current.get(detector_id)
        if counters is None:
            counters = self._current[detector_id] = {}
        return counters

    def record(self, detector_id: str, kind: str, class_index: int | None = None) -> None:
        """One activity of `kind` (iqs, escalations, audits, below_threshold_iqs)."""
        wall = self.clock.wall()
        counters = self._counters(detector_id, wall)
        counters[kind] = counters.get(kind, 0) + 1
        if class_index is not None and kind in PER_CLASS_KINDS:
            key = f"{kind}_class_{class_index}"
            counters[key] = counters.get(key, 0) + 1
        last = self._last.get(detector_id)
        if last is None:
            last = self._last[detector_id] = {}
        last[kind] = wall
        if kind == "iqs":
            self._last_iq = wall

    def record_confidence(self, detector_id: str, confidence: float, class_index: int) -> None:
        """An edge answer's confidence, for the histogram (aggregate and per class)."""
        hour = int(self.clock.wall() // 3600)
        per_hour = self._histograms.setdefault(hour, {})
        entry = per_hour.get(detector_id)
        if entry is None:
            entry = per_hour[detector_id] = [[0] * NUM_BUCKETS, {}]
        index = _bucket(confidence)
        entry[0][index] += 1
        by_class = entry[1].get(class_index)
        if by_class is None:
            by_class = entry[1][class_index] = [0] * NUM_BUCKETS
        by_class[index] += 1

    # -- what metrics.json reports -----------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        """The `activity_metrics` section."""
        wall = self.clock.wall()
        previous = int(wall // 3600) - 1
        return {
            "activity_hour": hour_name(previous),
            "last_activity_time": local_iso(self._last_iq) if self._last_iq else None,
            "num_detectors_lifetime": len(self._last),
            "num_detectors_active_1h": self._active_since(wall - 3600),
            "num_detectors_active_24h": self._active_since(wall - 86400),
            "detector_activity_previous_hour": json.dumps(self._previous_hour(previous)),
        }

    def _active_since(self, since: float) -> int:
        return sum(1 for last in self._last.values() if last.get("iqs", 0.0) > since)

    def _previous_hour(self, hour: int) -> dict[str, dict[str, Any]]:
        out = {}
        for det_id, counters in self._hours.get(hour, {}).items():
            if counters.get("iqs", 0) <= 0:
                continue
            last = self._last.get(det_id, {})
            entry: dict[str, Any] = {}
            for kind in KINDS:
                entry[f"hourly_total_{kind}"] = counters.get(kind, 0)
                when = last.get(kind)
                entry[f"last_{kind[:-1]}"] = local_iso(when) if when else None
                if kind in PER_CLASS_KINDS:
                    prefix = f"{kind}_class_"
                    by_class = {
                        k[len(prefix) :]: v for k, v in counters.items() if k.startswith(prefix)
                    }
                    if by_class:
                        entry[f"{kind}_by_class"] = by_class
            histogram = self._histograms.get(hour, {}).get(det_id)
            counts = list(histogram[0]) if histogram else [0] * NUM_BUCKETS
            classes = {str(k): list(v) for k, v in histogram[1].items()} if histogram else {}
            entry["confidence_histogram"] = {
                "version": HISTOGRAM_VERSION,
                "bucket_width": BUCKET_WIDTH,
                "counts": counts,
                "by_class": classes,
            }
            out[det_id] = entry
        return out
