"""Every benchmark of the project, then one table of its figures beside their targets.

    uv run python bench/run_all.py [--soak-minutes 1] [--quick] [--only NAME ...] [--verbose]
        [--json PATH]

Runs each `bench/*.py` (this file and `_*.py` helpers excepted) one after another in its own
process, with `--json PATH` so that it hands back its figures (see `bench/_figures.py`), and
prints a single table: benchmark, figure, measured value, target, met. A benchmark's own report
goes to a log file (its path is printed; `--verbose` shows it as it runs). Everything runs on
127.0.0.1 against the simulator and stops by itself. Exit code 0 when every benchmark ran and
met every target, else 1.

Figures depend on the machine and on what else runs on it: run this on an otherwise idle
machine, and compare ratios measured side by side within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SCHEMA_VERSION = 1
# Benchmarks run in this order; any other bench/*.py with a --json option runs after them.
ORDER = ("sim_throughput", "throughput_clients", "report_speed", "provisioning_demo", "soak")


def benchmark_args(name: str, args: argparse.Namespace) -> list[str]:
    """The options each benchmark runs with (its defaults unless shortened)."""
    if name == "soak":
        return ["--minutes", f"{args.soak_minutes:g}"]
    if not args.quick:
        return []
    quick = {
        "sim_throughput": ["--seconds", "2"],
        "throughput_clients": ["--seconds", "3"],
        "report_speed": ["--repeat", "1"],
    }
    return quick.get(name, [])


def discover() -> list[Path]:
    scripts = {
        p.stem: p
        for p in BENCH.glob("*.py")
        if p.name != Path(__file__).name and not p.name.startswith("_")
    }
    ordered = [scripts.pop(name) for name in ORDER if name in scripts]
    return ordered + sorted(scripts.values())


def supports_json(script: Path) -> bool:
    text = script.read_text(encoding="utf-8", errors="replace")
    return "add_json_option" in text or '"--json"' in text


def run_benchmark(
    script: Path, extra: list[str], log_dir: Path, verbose: bool, timeout_s: float
) -> tuple[dict | None, str, float]:
    """(its figures document or None, a one-line problem or '', wall seconds)."""
    figures_path = log_dir / f"{script.stem}.json"
    log_path = log_dir / f"{script.stem}.log"
    command = [sys.executable, str(script), *extra, "--json", str(figures_path)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("GROUNDLIGHT_ENDPOINT", None)  # benchmarks measure the simulator, never a real box
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        watchdog = threading.Timer(timeout_s, proc.kill)  # a hung benchmark ends too
        watchdog.start()
        try:
            for line in proc.stdout:
                log.write(line)
                if verbose:
                    print(f"  {script.stem}: {line}", end="", flush=True)
            proc.wait()
        finally:
            watchdog.cancel()
    wall = time.monotonic() - started
    if wall >= timeout_s:
        return None, f"did not finish within {timeout_s:.0f} s (log: {log_path})", wall
    if proc.returncode != 0:
        return None, f"exited with code {proc.returncode} (log: {log_path})", wall
    try:
        document = json.loads(figures_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"wrote no figures ({exc.__class__.__name__}; log: {log_path})", wall
    if document.get("schema_version") != SCHEMA_VERSION:
        return None, f"figures have schema_version {document.get('schema_version')!r}", wall
    return document, "", wall


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "bool":
        return "yes" if value else "no"
    if unit in ("s", "ratio"):
        return f"{value:.2f}" + (" s" if unit == "s" else "")
    if unit == "count":
        return f"{value:.0f}"
    if unit == "MB":
        return f"{value:,.1f} MB"
    return f"{value:,.0f} {unit}"


def table(rows: list[tuple[str, str, str, str, str]]) -> str:
    header = ("benchmark", "figure", "measured", "target", "met")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def parse_args(names: set[str]) -> argparse.Namespace:
    """The options; `--only` must name one of `names` (the benchmarks found)."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--soak-minutes", type=float, default=1.0, help="length of the soak benchmark (default 1)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="shorter measurements (figures are noisier)"
    )
    parser.add_argument(
        "--only", action="append", default=None, metavar="NAME", help="run only this benchmark"
    )
    parser.add_argument("--verbose", action="store_true", help="show each benchmark's output")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON here")
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="keep the benchmarks' logs here (default: temp)"
    )
    args = parser.parse_args()
    if not args.soak_minutes > 0:
        parser.error("--soak-minutes must be positive")
    unknown = set(args.only or ()) - names
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
    return args


Row = tuple[str, str, str, str, str]  # benchmark, figure, measured, target, met


@dataclass
class Tally:
    rows: list[Row] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)  # each benchmark's figures document
    problems: int = 0  # benchmarks that gave no figures
    missed: int = 0  # figures that missed their target


def run_each(scripts: list[Path], args: argparse.Namespace, log_dir: Path) -> Tally:
    """Run the benchmarks one after another, collecting their figures as table rows."""
    outcome = Tally()
    for script in scripts:
        name = script.stem
        if not supports_json(script):
            outcome.rows.append((name, "(not run: the script has no --json option)", "-", "-", "?"))
            outcome.problems += 1
            continue
        extra = benchmark_args(name, args)
        timeout_s = 20 * 60 + (args.soak_minutes * 60 if name == "soak" else 0)
        print(f"running {name} {' '.join(extra)}".rstrip() + " ...", flush=True)
        document, problem, wall = run_benchmark(script, extra, log_dir, args.verbose, timeout_s)
        if document is None:
            outcome.rows.append((name, f"(failed: {problem})", "-", "-", "NO"))
            outcome.problems += 1
            print(f"  {name}: {problem}", flush=True)
            continue
        print(f"  {name}: done in {wall:.0f} s", flush=True)
        outcome.documents.append(document)
        outcome.rows += document_rows(name, document)
        outcome.missed += sum(1 for fig in document.get("figures", []) if fig.get("met") is False)
    return outcome


def document_rows(name: str, document: dict) -> list[Row]:
    """One row per figure of a benchmark's document, then one per note."""
    rows: list[Row] = []
    for fig in document.get("figures", []):
        met = fig.get("met")
        rows.append(
            (
                name,
                str(fig.get("name")),
                format_value(fig.get("value"), str(fig.get("unit", ""))),
                fig.get("target") or "-",
                "-" if met is None else ("yes" if met else "NO"),
            )
        )
    for note in document.get("notes", []):
        rows.append((name, f"note: {note}", "", "", ""))
    return rows


def main() -> int:
    scripts = discover()
    args = parse_args({s.stem for s in scripts})
    if args.only:
        scripts = [s for s in scripts if s.stem in args.only]
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="edgeload-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"{len(scripts)} benchmarks; their own reports go to {log_dir}/<name>.log", flush=True)
    outcome = run_each(scripts, args, log_dir)
    missed, problems = outcome.missed, outcome.problems

    print()
    print(table(outcome.rows))
    verdict = "every target met" if not (missed or problems) else f"{missed} target(s) missed"
    if problems:
        verdict += f", {problems} benchmark(s) without figures"
    print(f"\n{verdict} (machine: {os.cpu_count()} CPUs)")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"schema_version": SCHEMA_VERSION, "benchmarks": outcome.documents}, indent=2
            )
            + "\n",
            encoding="utf-8",
        )
    return 1 if missed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
