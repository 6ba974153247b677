"""A short plain-text summary of a results dict, for the console (pure: returns a string)."""

from __future__ import annotations


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def format_summary(results: dict) -> str:
    out = results["outputs"]
    meta = results.get("metadata", {})
    target = meta.get("target") or {}
    summary = out["throughput_summary"]
    lines = [
        f"{meta.get('scenario') or 'run'} · {target.get('kind', '?')} endpoint "
        f"{target.get('url', '?')} · {out['status']} · {_num(out['request_records'])} requests"
    ]
    corrected = any(s.get("corrected_latency_p99_ms") is not None for s in out["steps"])
    columns = [
        ("step", 4),
        ("clients", 7),
        ("expected/s", 10),
        ("achieved/s", 10),
        ("success", 8),
        ("p50 ms", 8),
        ("p95 ms", 8),
        ("p99 ms", 8),
    ]
    if corrected:
        columns.append(("cor.p99", 8))
    columns.append(("steady", 6))
    lines.append("  ".join(f"{name:>{width}}" for name, width in columns))
    for s in out["steps"]:
        cells = [
            _num(s["step"]),
            _num(s["clients"]),
            _num(s["expected_rps"]),
            _num(s["achieved_rps"]),
            _pct(s["success_rate"]),
            _num(s["latency_p50_ms"]),
            _num(s["latency_p95_ms"]),
            _num(s["latency_p99_ms"]),
        ]
        if corrected:
            cells.append(_num(s["corrected_latency_p99_ms"]))
        cells.append({True: "yes", False: "no", None: "?"}[s["steady"]])
        lines.append("  ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, columns, strict=True)))
    best = summary.get("maximum_steady_ramp")
    lines.append(
        f"maximum_rps {_num(summary.get('maximum_rps'))} · maximum_steady_rps "
        f"{_num(summary.get('maximum_steady_rps'))}"
        + (
            f" (step {best}, {summary.get('maximum_steady_clients')} clients, p95 "
            f"{_num(summary.get('latency_p95_ms'))} ms)"
            if best is not None
            else " (no steady step)"
        )
    )
    util = out.get("system_utilization_summary") or {}
    if util.get("step") is not None:
        for source in ("endpoint", "generator"):
            u = util.get(source) or {}
            parts = [
                f"{name.split('_')[0].upper()} {u[name]:.0f}%"
                for name in ("gpu_pct", "cpu_pct", "ram_pct", "vram_pct")
                if u.get(name) is not None
            ]
            if parts:
                lines.append(f"{source} at the maximum steady step: " + ", ".join(parts))
    if out.get("errors_by_category"):
        lines.append(
            "errors: " + ", ".join(f"{k} {_num(v)}" for k, v in out["errors_by_category"].items())
        )
    for warning in out.get("warnings", []):
        lines.append(f"warning: {warning['message']}")
    return "\n".join(lines)
