"""Pure analysis of an edge-vs-cloud log: the side-by-side table, agreement, confidence gaps,
confusion counts, checks, the console report and what the plots draw.

Nothing here reads files or the network: `analyze(log)` turns the `LogData` of the log (its
`detector`, `listed` and `comparison` samples, see `session.py`) into the reporter's
`ScenarioAnalysis`. An image counts as compared when the edge answered it with its own model
(no error, from the edge) and the cloud answered it (no error); only compared images enter the
agreement rate and the confidence gaps. Percentiles interpolate linearly (numpy's default).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeload import verdict
from edgeload.reporting.logreader import LogData
from edgeload.reporting.results import ScenarioAnalysis, warning
from edgeload.scenarios.edge_vs_cloud.metrics import AGREEMENT_DEFINITION, RUN_METRICS
from edgeload.scenarios.edge_vs_cloud.metrics import ALIASES as ALIASES  # noqa: F401 - gates
from edgeload.verdict import Check

KEEP_REQUESTS = False  # the comparisons are `sample` records, not requests
CSV_TABLES = ("comparisons", "per_label", "confusion")  # comparisons.csv, ...
DETECTOR = "detector"
LISTED = "listed"
COMPARISON = "comparison"

_SIDES = ("edge", "cloud")
_ANSWER_FIELDS = ("iq_id", "label", "confidence", "latency_ms", "source", "from_edge", "error")
_ROW_FIELDS = (
    "index", "source_iq_id", "source_created_at", "source_label", "source_confidence",
    "source_source", "image_bytes", "image_error",
    *(f"{side}_{name}" for side in _SIDES for name in _ANSWER_FIELDS),
)  # fmt: skip


def comparison_rows(samples: Sequence[dict]) -> list[dict[str, Any]]:
    """One row per image in log order, with `compared`, `agree` and `confidence_gap`."""
    rows = []
    for sample in samples:
        row = {name: sample.get(name) for name in _ROW_FIELDS}
        compared = _answered(row)
        row["compared"] = compared
        row["agree"] = (row["edge_label"] == row["cloud_label"]) if compared else None
        row["confidence_gap"] = (
            row["cloud_confidence"] - row["edge_confidence"]
            if compared and row["edge_confidence"] is not None
            and row["cloud_confidence"] is not None else None
        )  # fmt: skip
        rows.append(row)
    return rows


def _answered(row: dict) -> bool:
    edge_ok = not row["edge_error"] and row["edge_from_edge"] is True and row["edge_label"]
    cloud_ok = not row["cloud_error"] and row["cloud_label"] is not None
    return bool(not row["image_error"] and edge_ok and cloud_ok)


def _pct(values: Sequence[float], p: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), p)) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(np.asarray(values, dtype=float))) if values else None


def summary_figures(rows: Sequence[dict], listed: int | None) -> dict[str, Any]:
    """The headline figures (RUN_METRICS) of the rows."""
    done = [r for r in rows if r["compared"]]
    gaps = [r["confidence_gap"] for r in done if r["confidence_gap"] is not None]
    agree = sum(1 for r in done if r["agree"])

    def values(side: str, name: str) -> list[float]:
        return [r[f"{side}_{name}"] for r in done if r[f"{side}_{name}"] is not None]

    return {
        "agreement_rate": agree / len(done) if done else None,
        "compared_images": len(done),
        "disagreements": len(done) - agree,
        "failed_images": len(rows) - len(done),
        "mean_confidence_gap": _mean(gaps),
        "median_confidence_gap": _pct(gaps, 50),
        "mean_abs_confidence_gap": _mean([abs(g) for g in gaps]),
        "edge_confidence_mean": _mean(values("edge", "confidence")),
        "cloud_confidence_mean": _mean(values("cloud", "confidence")),
        "edge_latency_ms_p50": _pct(values("edge", "latency_ms"), 50),
        "edge_latency_ms_p95": _pct(values("edge", "latency_ms"), 95),
        "cloud_latency_ms_p50": _pct(values("cloud", "latency_ms"), 50),
        "cloud_latency_ms_p95": _pct(values("cloud", "latency_ms"), 95),
        "listed_images": listed,
    }


def per_label(rows: Sequence[dict]) -> list[dict[str, Any]]:
    """Agreement per label, the cloud's answer taken as the reference."""
    by_label: dict[str, list[dict]] = {}
    for row in rows:
        if row["compared"]:
            by_label.setdefault(str(row["cloud_label"]), []).append(row)
    table = []
    for label in sorted(by_label):
        group = by_label[label]
        agree = sum(1 for r in group if r["agree"])
        gaps = [r["confidence_gap"] for r in group if r["confidence_gap"] is not None]
        table.append({
            "cloud_label": label,
            "images": len(group),
            "agreements": agree,
            "agreement_rate": agree / len(group),
            "edge_confidence_mean": _mean([r["edge_confidence"] for r in group
                                           if r["edge_confidence"] is not None]),
            "mean_confidence_gap": _mean(gaps),
        })  # fmt: skip
    return table


def confusion(rows: Sequence[dict]) -> list[dict[str, Any]]:
    """Counts of (cloud label, edge label) pairs over the compared images."""
    pairs = Counter((str(r["cloud_label"]), str(r["edge_label"])) for r in rows if r["compared"])
    return [
        {"cloud_label": cloud, "edge_label": edge, "images": n, "agree": cloud == edge}
        for (cloud, edge), n in sorted(pairs.items())
    ]


def analyze(log: LogData) -> ScenarioAnalysis:
    """The reporter's analysis of an edge-vs-cloud log: outputs, checks, warnings, plot data."""
    rows = comparison_rows(log.samples_of(COMPARISON))
    listed_samples = log.samples_of(LISTED)
    listed = listed_samples[-1].get("found") if listed_samples else None
    detectors = log.samples_of(DETECTOR)
    detector = {k: v for k, v in detectors[-1].items() if k not in ("type", "t", "kind")} if (
        detectors) else None  # fmt: skip
    inputs = log.header.get("inputs") or {}
    summary = summary_figures(rows, listed)
    labels = per_label(rows)
    outputs = {
        "summary": summary,
        "detector": detector,
        "paths": (log.header.get("metadata") or {}).get("paths"),
        "comparisons": rows,
        "per_label": labels,
        "confusion": confusion(rows),
    }
    plot_data = {
        "points": [
            (r["edge_confidence"], r["cloud_confidence"], bool(r["agree"]))
            for r in rows
            if r["compared"] and r["edge_confidence"] is not None
            and r["cloud_confidence"] is not None
        ],
        "per_label": [(r["cloud_label"], r["agreement_rate"], r["images"]) for r in labels],
        "title": _title(detector, summary),
    }  # fmt: skip
    return ScenarioAnalysis(
        outputs=outputs,
        checks=_checks(rows, summary, inputs.get("min_agreement")),
        warnings=_warnings(rows, listed, inputs.get("sample")),
        metrics=RUN_METRICS,
        plot_data=plot_data,
        definitions={"agreement": AGREEMENT_DEFINITION},
    )


def _title(detector: dict | None, summary: dict) -> str:
    det = (detector or {}).get("id") or "?"
    rate = summary["agreement_rate"]
    shown = "n/a" if rate is None else f"{rate:.1%}"
    return f"{det} · n={summary['compared_images']} · agreement {shown}"


def _checks(rows: list[dict], summary: dict, min_agreement: float | None) -> list[Check]:
    checks = [_answers_check(rows)]
    if min_agreement is not None:
        rate = summary["agreement_rate"]
        name = f"agreement >= {min_agreement:g}"
        if rate is None:
            checks.append(verdict.check(name, None, "no image was answered by both sides",
                                        kind=verdict.GATE))  # fmt: skip
        else:
            detail = (f"{rate:.1%} of {summary['compared_images']} images "
                      f"({summary['disagreements']} disagreements)")  # fmt: skip
            checks.append(verdict.check(name, rate >= min_agreement, detail, kind=verdict.GATE))
    return checks


def _answers_check(rows: list[dict]) -> Check:
    """The goal: every listed image answered by the edge's own model and by the cloud."""
    name = "answers from both the edge and the cloud"
    if not rows:
        return verdict.check(name, None, "no image was compared", kind=verdict.GOAL)
    failed = [r for r in rows if not r["compared"]]
    if failed:
        reasons = Counter(_why_not(r) for r in failed)
        detail = "; ".join(f"{n} image(s): {why}" for why, n in reasons.most_common(3))
        return verdict.check(name, False, f"{len(failed)} of {len(rows)} images not compared: "
                             + detail, kind=verdict.GOAL)  # fmt: skip
    return verdict.check(name, True, f"all {len(rows)} images answered on both sides",
                         kind=verdict.GOAL)  # fmt: skip


def _why_not(row: dict) -> str:
    if row["image_error"]:
        return f"no image ({_category(row['image_error'])})"
    if row["edge_error"] or row["edge_from_edge"] is not True:
        return f"edge: {_category(row['edge_error'] or 'no edge answer')}"
    return f"cloud: {_category(row['cloud_error'] or 'no answer')}"


def _category(error: str) -> str:
    return str(error).split(":", 1)[0]


def _warnings(rows: list[dict], listed: int | None, asked: int | None) -> list[dict]:
    out = []
    if listed is not None and asked is not None and listed < asked:
        out.append(warning("fewer_images", f"the detector has only {listed} recent image "
                           f"queries (--sample {asked})"))  # fmt: skip
    if listed == 0:
        out.append(warning("no_images", "the detector has no recent image queries to compare"))
    return out


# -- the console report --------------------------------------------------------------------------

_COLUMNS = (
    ("source_iq_id", "source_iq"),
    ("source_created_at", "created_at (UTC)"),
    ("edge_label", "edge_label"),
    ("edge_confidence", "edge_conf"),
    ("cloud_label", "cloud_label"),
    ("cloud_confidence", "cloud_conf"),
    ("agree", "agree"),
)


def _cell(key: str, row: dict) -> str:
    value = row.get(key)
    if key.endswith("_label") and value is None:
        error = row.get(key.replace("_label", "_error")) or row.get("image_error")
        return f"({_category(error)})" if error else ""
    if value is None:
        return ""
    if key.endswith("confidence"):
        return f"{value:.3f}"
    if key == "agree":
        return "yes" if value else "NO"
    if key == "source_created_at":
        return str(value)[:19].replace("T", " ")
    return str(value)


def format_table(rows: Sequence[dict]) -> str:
    """The upstream script's side-by-side table, plus whether the answers agree."""
    table = [[title for _, title in _COLUMNS]]
    table += [[_cell(key, row) for key, _ in _COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in table]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any, pattern: str = "{:.3f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def summary_lines(results: dict) -> list[str]:
    """The console report: the detector, how answers were fetched, the table, the figures."""
    outputs = results["outputs"]
    s = outputs.get("summary") or {}
    det = outputs.get("detector") or {}
    lines = [f"detector: {det.get('id')} ({det.get('name')!r}, {det.get('mode')})"]
    lines += list((outputs.get("paths") or {}).values())
    rows = outputs.get("comparisons") or []
    lines.append(format_table(rows) if rows else "no image was compared")
    lines.append(
        f"agreement: {_fmt(s.get('agreement_rate'), '{:.1%}')} of {s.get('compared_images')} "
        f"compared images ({_count(s.get('disagreements'), 'disagreement')}, "
        f"{s.get('failed_images')} not compared)"
    )
    lines.append(
        f"confidence gap (cloud - edge): mean {_fmt(s.get('mean_confidence_gap'), '{:+.3f}')}, "
        f"median {_fmt(s.get('median_confidence_gap'), '{:+.3f}')}, mean |gap| "
        f"{_fmt(s.get('mean_abs_confidence_gap'))}"
    )
    lines.append(
        f"latency p50/p95: edge {_fmt(s.get('edge_latency_ms_p50'), '{:.1f}')}/"
        f"{_fmt(s.get('edge_latency_ms_p95'), '{:.1f}')} ms, cloud "
        f"{_fmt(s.get('cloud_latency_ms_p50'), '{:.1f}')}/"
        f"{_fmt(s.get('cloud_latency_ms_p95'), '{:.1f}')} ms"
    )
    for row in outputs.get("per_label") or []:
        lines.append(
            f"  cloud {row['cloud_label']}: edge agrees on {row['agreements']}/{row['images']} "
            f"({row['agreement_rate']:.1%})"
        )
    return lines


def _count(n: object, noun: str) -> str:
    """'1 disagreement', '3 disagreements'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
