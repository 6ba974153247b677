"""`report.html`: one self-contained page of any run, to open anywhere and share (pure).

`render_report(results, plots)` turns a results envelope (`edgeload.reporting.results`) and the
run's plot images into one HTML document: the verdict and status with their reasons, every check,
the headline figures (`outputs.summary`) with the units and directions of the `metrics` table,
every table of the scenario's outputs (a list of rows, such as throughput's per-step table), its
other outputs, the plots (PNG embedded as base64 data URIs), warnings, the target, the inputs,
the metadata and the definitions.

The page needs nothing else: inline CSS, no script, no font, no image or style fetched from
anywhere. Everything from the results is HTML-escaped, keys that name a secret are dropped
(`edgeload.redaction.scrub`) and anything shaped like a Groundlight API token is masked, so a
report can be mailed or attached to a ticket as it is.

Built from the envelope alone (no scenario module is imported), so it renders every scenario's
results the same way.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from edgeload.redaction import scrub
from edgeload.reporting.tables import is_table, table_columns, tables

REPORT_FILENAME = "report.html"

# A Groundlight API token (api_ + a long run of letters and digits) anywhere in a string.
_TOKEN = re.compile(r"api_[A-Za-z0-9_\-]{16,}")
_MARKS = {"passed": "passed", "failed": "FAILED", "not_observed": "not observed"}
_MAX_DEPTH = 4  # nested values deeper than this are shown as JSON

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1500px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;
  border-bottom:1px solid #d5d9e0;padding-bottom:4px}h3{font-size:14px;margin:16px 0 6px}
.sub{color:#5b6475}.verdict{display:inline-block;padding:6px 14px;border-radius:6px;
  font-weight:700;font-size:18px;color:#fff;margin:10px 12px 6px 0}
.v-pass{background:#1f8a3b}.v-fail{background:#c62828}.v-inconclusive{background:#b26a00}
.v-unknown{background:#5b6475}
table{border-collapse:collapse;background:#fff;margin:4px 0 10px;font-size:13px}
th,td{border:1px solid #d5d9e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto;max-width:100%}
.s-passed{color:#1f8a3b;font-weight:600}.s-failed{color:#c62828;font-weight:700}
.s-not_observed{color:#b26a00;font-weight:600}tr.r-failed td{background:#fdecec}
.na{color:#9aa1ad}pre{margin:0;white-space:pre-wrap;font-size:12px}
figure{margin:10px 0 22px;background:#fff;border:1px solid #d5d9e0;padding:8px}
figure img{max-width:100%;height:auto;display:block}figcaption{color:#5b6475;font-size:12px}
ul.warn li{margin:3px 0}ul.warn code{color:#5b6475}
dl.defs dt{font-weight:600;margin-top:6px}dl.defs dd{margin:0 0 0 18px}
footer{margin-top:36px;color:#5b6475;font-size:12px}
"""


def render_report(results: Mapping[str, Any], plots: Sequence[tuple[str, bytes]] = ()) -> str:
    """The whole page for `results` (a results envelope) with `plots` ((file name, PNG bytes))
    embedded; a str of HTML that needs no network and no script."""
    r = results
    scenario = str(r.get("scenario") or "run")
    metadata = scrub(r.get("metadata") or {})
    created = metadata.get("created_at") if isinstance(metadata, dict) else None
    title = f"edgeload {scenario} run" + (f", {created}" if created else "")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no fetch of any kind: the page is its own world
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_esc(title)}</h1>",
        _head(r, metadata),
        _checks(r.get("checks") or []),
        _headline(r),
        _outputs(r.get("outputs") or {}),
        _plots(plots),
        _warnings(r.get("warnings") or []),
        _section("Target", _kv(scrub(r.get("target") or {}))),
        _section("Inputs", _kv(scrub(r.get("inputs") or {}))),
        _section("Metadata", f'<div class="scroll">{_kv(metadata)}</div>'),
        _definitions(r.get("definitions") or {}),
        _footer(metadata),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


# ---- sections -------------------------------------------------------------------------------


def _head(r: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    verdict = str(r.get("verdict") or "unknown")
    css = verdict if verdict in ("pass", "fail", "inconclusive") else "unknown"
    target = scrub(r.get("target") or {})
    lines = [
        f'<div><span class="verdict v-{css}">{_esc(verdict.upper())}</span>'
        f"<span>{_esc(r.get('verdict_reason') or '')}</span></div>",
        "<table>",
        _row("status", _join(r.get("status"), r.get("status_reason"))),
        _row("exit code", _value(r.get("exit_code"))),
        _row(
            "target",
            _join(
                f"{target.get('kind', '?')} endpoint" if isinstance(target, dict) else None,
                target.get("url") if isinstance(target, dict) else None,
            ),
        ),
        _row("run id", _value(r.get("run_id"))),
        _row("created", _value(metadata.get("created_at"))),
        "</table>",
    ]
    return "\n".join(lines)


def _checks(checks: Iterable[Any]) -> str:
    rows = []
    for c in checks:
        if not isinstance(c, Mapping):
            continue
        status = str(c.get("status") or "")
        mark = _MARKS.get(status, status)
        required = c.get("required")
        rows.append(
            f'<tr class="r-{_esc(status)}"><td class="s-{_esc(status)}">{_esc(mark)}</td>'
            f"<td>{_esc(c.get('name'))}</td><td>{_esc(c.get('kind'))}</td>"
            f"<td>{'' if required is None else ('yes' if required else 'no')}</td>"
            f"<td>{_esc(c.get('detail'))}</td></tr>"
        )
    if not rows:
        return _section("Checks", '<p class="na">no checks</p>')
    head = "<tr><th>status</th><th>check</th><th>kind</th><th>required</th><th>detail</th></tr>"
    return _section("Checks", f"<table>{head}\n" + "\n".join(rows) + "</table>")


def _headline(r: Mapping[str, Any]) -> str:
    outputs = r.get("outputs") or {}
    summary = outputs.get("summary") if isinstance(outputs, Mapping) else None
    if not isinstance(summary, Mapping) or not summary:
        return ""
    metrics = r.get("metrics") or {}
    head = "<tr><th>figure</th><th>value</th><th>unit</th><th>better</th><th>what</th></tr>"
    rows = []
    for name, value in summary.items():
        m = metrics.get(name) if isinstance(metrics, Mapping) else None
        m = m if isinstance(m, Mapping) else {}
        better = {True: "higher", False: "lower"}.get(m.get("higher_is_better"), "")
        rows.append(
            f"<tr><th>{_esc(name)}</th>{_cell(value)}<td>{_esc(m.get('unit') or '')}</td>"
            f"<td>{better}</td><td>{_esc(m.get('description') or '')}</td></tr>"
        )
    return _section("Headline figures", f"<table>{head}\n" + "\n".join(rows) + "</table>")


def _outputs(outputs: Mapping[str, Any]) -> str:
    if not isinstance(outputs, Mapping):
        return ""
    found = tables(outputs)
    parts = []
    for key, rows in found.items():
        columns = table_columns(rows)
        head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
        body = "\n".join(
            "<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in rows
        )
        parts.append(
            f"<h3>{_esc(_title(key))} ({len(rows)} rows)</h3>"
            f'<div class="scroll"><table><tr>{head}</tr>\n{body}</table></div>'
        )
    rest = {
        k: v
        for k, v in outputs.items()
        if k != "summary" and k not in found and not (isinstance(v, list | dict) and not v)
    }
    empty = [k for k, v in outputs.items() if isinstance(v, list | dict) and not v]
    if rest:
        parts.append(f"<h3>Other outputs</h3>{_kv(rest)}")
    if empty:
        parts.append('<p class="sub">none: ' + ", ".join(_esc(k) for k in empty) + "</p>")
    return _section("Results", "\n".join(parts)) if parts else ""


def _plots(plots: Sequence[tuple[str, bytes]]) -> str:
    if not plots:
        return ""
    figures = []
    for name, data in plots:
        mime = "image/svg+xml" if str(name).endswith(".svg") else "image/png"
        encoded = base64.b64encode(data).decode("ascii")
        figures.append(
            f'<figure><img src="data:{mime};base64,{encoded}" alt="{_esc(name)}">'
            f"<figcaption>{_esc(name)}</figcaption></figure>"
        )
    return _section("Plots", "\n".join(figures))


def _warnings(warnings: Iterable[Any]) -> str:
    items = []
    for w in warnings:
        if isinstance(w, Mapping):
            code = f" <code>{_esc(w.get('code'))}</code>" if w.get("code") else ""
            items.append(f"<li>{_esc(w.get('message'))}{code}</li>")
        else:
            items.append(f"<li>{_esc(w)}</li>")
    if not items:
        return _section("Warnings", '<p class="na">none</p>')
    return _section("Warnings", '<ul class="warn">' + "\n".join(items) + "</ul>")


def _definitions(definitions: Any) -> str:
    if not isinstance(definitions, Mapping) or not definitions:
        return ""
    items = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in definitions.items())
    return _section("Definitions", f'<dl class="defs">{items}</dl>')


def _footer(metadata: Mapping[str, Any]) -> str:
    report = metadata.get("report") if isinstance(metadata.get("report"), Mapping) else {}
    tool = _join(metadata.get("tool") or "edgeload", metadata.get("tool_version"), sep=" ")
    when = report.get("generated_at") if report else None
    return f"<footer>written by {tool}" + (f" at {_esc(when)}" if when else "") + "</footer>"


# ---- values ---------------------------------------------------------------------------------


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_esc(title)}</h2>\n{body}\n</section>"


def _title(key: str) -> str:
    return str(key).replace("_", " ").capitalize()


def _row(label: str, value_html: str) -> str:
    return f"<tr><th>{_esc(label)}</th><td>{value_html}</td></tr>"


def _join(*values: Any, sep: str = ": ") -> str:
    return sep.join(_esc(v) for v in values if v not in (None, ""))


def _kv(mapping: Any, depth: int = 0) -> str:
    """A key/value table of a mapping (nested values as nested tables)."""
    if not isinstance(mapping, Mapping) or not mapping:
        return '<p class="na">none</p>'
    rows = "\n".join(
        f"<tr><th>{_esc(k)}</th>{_cell(v, depth + 1)}</tr>" for k, v in mapping.items()
    )
    return f"<table>{rows}</table>"


def _cell(value: Any, depth: int = 1) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return f'<td class="n">{_value(value)}</td>' if numeric else f"<td>{_value(value, depth)}</td>"


def _value(value: Any, depth: int = 1) -> str:
    """One value as HTML: numbers plainly, None as a dash, nested values as tables."""
    if value is None:
        return '<span class="na">–</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return _esc(str(value))
    if isinstance(value, float):
        return _esc(format_number(value))
    if isinstance(value, str):
        return f"<pre>{_esc(value)}</pre>" if "\n" in value.strip() else _esc(value)
    if depth > _MAX_DEPTH:
        return f"<pre>{_esc(_json(value))}</pre>"
    if isinstance(value, Mapping):
        if not value:
            return '<span class="na">none</span>'
        return _kv(value, depth)
    if isinstance(value, list | tuple):
        if not value:
            return '<span class="na">none</span>'
        if is_table(value):
            columns = table_columns(value)
            head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
            body = "".join(
                "<tr>" + "".join(_cell(row.get(c), depth + 1) for c in columns) + "</tr>"
                for row in value
            )
            return f"<table><tr>{head}</tr>{body}</table>"
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return ", ".join(_value(v) for v in value)
        return f"<pre>{_esc(_json(value))}</pre>"
    return _esc(str(value))


def format_number(value: float) -> str:
    """A float as a short plain string: integers without decimals, else up to 3 decimals."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.1f}"
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("0", "-0") else f"{value:.3g}"


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, default=str, sort_keys=False)


def mask_tokens(text: str) -> str:
    """`text` with anything shaped like a Groundlight API token masked."""
    return _TOKEN.sub("api_(redacted)", text) if "api_" in text else text


def _esc(value: Any) -> str:
    return html.escape(mask_tokens("" if value is None else str(value)), quote=True)
