"""Soak: a fixed request rate against the simulator for minutes; the load generator's memory.

    uv run python bench/soak.py [--minutes 3] [--clients 10] [--rate 200] [--client http]
                                [--json PATH]

Runs the throughput test headless (`locust -f locustfiles/throughput.py`) as one step of
`--clients` users holding an open-model arrival rate of `--rate` requests/s for `--minutes`,
against the embedded simulator's zero-latency profile (127.0.0.1 only). The locust process's
resident memory (RSS, the simulator child excluded) is sampled every second: the figure is its
growth from the start of the load (after a short warm-up) to the end of the step, before the
report. Target: growth under 50 MB. Every request goes through the full path: unique image,
answer check, log record.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _figures import add_json_option, figure, write_figures  # noqa: E402

GROWTH_TARGET_MB = 50.0
WARMUP_S = 10.0  # imports, pools and caches settle before the start figure
MB = 1024 * 1024


def log_text(out_dir: Path) -> str:
    logs = list(out_dir.glob("*/load_test.log"))
    return logs[0].read_text(errors="replace") if logs else ""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="soak length (default 3)")
    parser.add_argument("--clients", type=int, default=10, help="Locust users (default 10)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s (default 200)")
    parser.add_argument("--client", choices=("http", "sdk"), default="http")
    add_json_option(parser)
    args = parser.parse_args()
    if args.minutes <= 0 or args.clients < 1 or args.rate <= 0:
        parser.error("--minutes, --clients and --rate must be positive")
    if args.minutes * 60.0 <= WARMUP_S + 5:
        parser.error(f"--minutes must give more than {WARMUP_S + 5:.0f} s")
    return args


def locust_command(args: argparse.Namespace, out_dir: Path, seconds: float) -> list[str]:
    """The throughput test as one step of `--clients` users at `--rate` for `seconds`."""
    command = [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles/throughput.py")]
    command += ["--headless", "--client", args.client, "--output-dir", str(out_dir)]
    command += ["--max-clients", str(args.clients), "--step-size", str(args.clients)]
    command += ["--time-between-ramp", str(seconds), "--arrival-rate", str(args.rate)]
    command += ["--image-width", "640", "--image-height", "480"]
    command += ["--sim-profile", "zero-latency", "--sim-time-scale", "20"]
    command += ["--system-sample-interval-seconds", "5"]
    return command


def sample_rss(
    process: subprocess.Popen, out_dir: Path, seconds: float, rate: float
) -> list[tuple[float, float]]:
    """(seconds since load began, RSS MB) every second, from the first logged request until
    the step ends (the report that follows is not measured)."""
    monitor = psutil.Process(process.pid)
    samples: list[tuple[float, float]] = []
    load_began = None
    while process.poll() is None:
        time.sleep(1.0)
        if load_began is None:
            if '"type":"requests"' in log_text(out_dir):
                load_began = time.monotonic()
                print(f"load began; soaking {seconds:.0f} s at {rate:g} requests/s")
            continue
        elapsed = time.monotonic() - load_began
        if elapsed > seconds - 1:
            break
        try:
            samples.append((elapsed, monitor.memory_info().rss / MB))
        except psutil.Error:
            break
    return samples


@dataclass
class Soak:
    returncode: int | None
    samples: list[tuple[float, float]]  # (seconds since load began, RSS MB)
    stderr: str  # Locust's own log
    results: dict | None  # load_test_results.json


def soak(args: argparse.Namespace, seconds: float) -> Soak:
    """Run Locust against the embedded simulator, sampling its memory, in a temporary folder."""
    env = dict(os.environ)
    env.pop("GROUNDLIGHT_ENDPOINT", None)  # the embedded simulator, never a real endpoint
    env.pop("GROUNDLIGHT_API_TOKEN", None)
    with tempfile.TemporaryDirectory(prefix="edgeload-soak-") as tmp:
        out_dir = Path(tmp) / "runs"
        # Locust's own log goes to a file: a pipe nobody reads would block it once full
        stderr_path = Path(tmp) / "locust.stderr"
        stderr_file = open(stderr_path, "wb")  # noqa: SIM115 - closed after the run
        process = subprocess.Popen(
            locust_command(args, out_dir, seconds),
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
        )
        try:
            samples = sample_rss(process, out_dir, seconds, args.rate)
            process.wait(timeout=seconds + 300)
        finally:
            if process.poll() is None:
                process.kill()
            stderr_file.close()
        results_files = list(out_dir.glob("*/load_test_results.json"))
        return Soak(
            process.returncode,
            samples,
            stderr_path.read_text(errors="replace"),
            json.loads(results_files[0].read_text()) if results_files else None,
        )


def report(args: argparse.Namespace, run: Soak) -> int:
    """Print the memory figures (and write them as JSON when asked); 0 when the target is met."""
    if run.returncode != 0 or run.results is None:
        print(f"soak run failed (exit {run.returncode}):\n{run.stderr[-3000:]}", file=sys.stderr)
        return 1
    after_warmup = [rss for t, rss in run.samples if t >= WARMUP_S]
    if len(after_warmup) < 2:
        print("too few memory samples: run longer", file=sys.stderr)
        return 1
    start_mb, end_mb, peak_mb = after_warmup[0], after_warmup[-1], max(after_warmup)
    growth = end_mb - start_mb
    outputs = run.results["outputs"]
    step = outputs["steps"][0]
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    print(f"requests: {outputs['request_records']} ({step['achieved_rps']} requests/s achieved)")
    print(f"success rate: {step['success_rate']}, dropped: {step.get('dropped')}")
    print(f"load generator RSS at start ({WARMUP_S:.0f} s in): {start_mb:.1f} MB")
    print(f"load generator RSS at end ({run.samples[-1][0]:.0f} s in): {end_mb:.1f} MB")
    print(f"peak: {peak_mb:.1f} MB")
    if warnings:
        print(f"locust logged {len(warnings)} warnings/errors, e.g.: {warnings[0][:200]}")
    verdict = "met" if growth < GROWTH_TARGET_MB else "NOT met"
    print(f"growth: {growth:+.1f} MB (target < {GROWTH_TARGET_MB:.0f} MB: {verdict})")
    write_figures(
        args.json,
        "soak",
        [
            figure(
                "RSS growth over the soak",
                growth,
                "MB",
                f"< {GROWTH_TARGET_MB:.0f}",
                growth < GROWTH_TARGET_MB,
            ),
            figure("RSS at start", start_mb, "MB"),
            figure("RSS at end", end_mb, "MB"),
            figure("achieved rate", float(step["achieved_rps"] or 0.0), "1/s"),
        ],
        notes=[f"{args.minutes:g} min, {args.clients} {args.client} clients, {args.rate:g}/s"],
    )
    return 0 if growth < GROWTH_TARGET_MB else 1


def main() -> int:
    args = parse_args()
    return report(args, soak(args, args.minutes * 60.0))


if __name__ == "__main__":
    sys.exit(main())
