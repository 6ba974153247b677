"""The edge-vs-cloud comparison's metric table: its headline figures, defined once, as data.

They live in `outputs.summary`; `edgeload compare`, `--fail-if` and `history` read RUN_METRICS.
The confidence gap of an image is the cloud's confidence minus the edge's (positive: the cloud
is surer); agreement compares the answers' labels (COUNT: the counts).
"""

from __future__ import annotations

from edgeload.reporting.metrics import MEAN, PERCENTILE, RATIO, SUM, VALUE, Metric

AGREEMENT_DEFINITION = (
    "agreement_rate = images whose edge and cloud answers have the same label (COUNT: count) / "
    "images answered by both (the edge answer from the edge's own model, the cloud answer from "
    "the cloud); confidence gap = cloud confidence - edge confidence"
)

_MS = "ms"
_CONF = "confidence"

# (name, unit, aggregation, higher is better, description)
_ROWS: list[tuple] = [
    ("agreement_rate", "ratio", RATIO, True, "share of compared images with the same answer"),
    ("compared_images", "images", SUM, True, "images answered by both the edge and the cloud"),
    ("disagreements", "images", SUM, False, "compared images whose answers differ"),
    ("failed_images", "images", SUM, False, "listed images without both answers"),
    ("mean_confidence_gap", _CONF, MEAN, None, "mean of cloud - edge confidence"),
    ("median_confidence_gap", _CONF, PERCENTILE, None, "median of cloud - edge confidence"),
    ("mean_abs_confidence_gap", _CONF, MEAN, False, "mean of |cloud - edge confidence|"),
    ("edge_confidence_mean", _CONF, MEAN, True, "mean confidence of the edge's answers"),
    ("cloud_confidence_mean", _CONF, MEAN, None, "mean confidence of the cloud's answers"),
    ("edge_latency_ms_p50", _MS, PERCENTILE, False, "median latency of an edge answer"),
    ("edge_latency_ms_p95", _MS, PERCENTILE, False, "p95 latency of an edge answer"),
    ("cloud_latency_ms_p50", _MS, PERCENTILE, False, "median time to a cloud answer (polled)"),
    ("cloud_latency_ms_p95", _MS, PERCENTILE, False, "p95 time to a cloud answer (polled)"),
    ("listed_images", "images", VALUE, None, "recent image queries found for the detector"),
]

RUN_METRICS: tuple[Metric, ...] = tuple(Metric(*row) for row in _ROWS)
ALIASES: dict[str, str] = {"agreement": "agreement_rate", "confidence_gap": "mean_confidence_gap"}
