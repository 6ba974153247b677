"""The console summary of any scenario's results (pure: returns a string).

Target first, then the verdict, the scenario's own table and headline figures (its analysis
module's `summary_lines(results)`), each check, and the warnings.
"""

from __future__ import annotations

from edgeload.scenarios import scenario

_MARKS = {"passed": "ok", "failed": "FAIL", "not_observed": "n/o"}


def format_summary(results: dict) -> str:
    target = results.get("target") or {}
    lines = [
        f"target: {target.get('kind', '?')} endpoint {target.get('url', '?')}",
        f"{results.get('scenario')}: {results['status']}"
        + (f" ({results['status_reason']})" if results.get("status_reason") else "")
        + f" · verdict {results['verdict'].upper()} ({results.get('verdict_reason', '')})"
        + f" · exit {results['exit_code']}",
    ]
    lines += scenario(results["scenario"]).analysis.summary_lines(results)
    for c in results.get("checks", []):
        lines.append(f"  [{_MARKS.get(c['status'], c['status']):<4}] {c['name']}: {c['detail']}")
    for w in results.get("warnings", []):
        lines.append(f"warning: {w['message']}")
    return "\n".join(lines)
