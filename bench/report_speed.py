"""Benchmark: `edgeload report` on a synthetic log of 1,000,000 requests over 10 ramp steps.

    uv run python bench/report_speed.py [--requests N] [--keep] [--json PATH]

Writes the log as the sink does (header, step records, column batches of 1,000 requests,
endpoint and generator utilization samples every 5 s, end record) into a temporary run folder,
then runs `edgeload report` on it in a subprocess and prints its wall time and peak memory
beside the targets. Peak memory is shown two ways: the largest single process
(getrusage(RUSAGE_CHILDREN).ru_maxrss) and the sampled sum of the report process and its
plotting child (psutil, every 10 ms), since the plots are drawn in a second process.
A breakdown of the phases (measured in this process) follows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _figures import add_json_option, figure, write_figures  # noqa: E402

TARGET_WALL_S = 3.0
TARGET_RSS_MB = 300.0
STEPS = 10
BATCH = 1000
START_T = 1_760_000_000.123


def write_log(run_dir: Path, total_requests: int, seed: int = 7) -> Path:
    """A log shaped like a real 10-step ramp: more clients and requests per step."""
    rng = np.random.default_rng(seed)
    weights = np.arange(1, STEPS + 1, dtype=float)
    per_step = np.floor(total_requests * weights / weights.sum()).astype(int)
    per_step[-1] += total_requests - per_step.sum()
    step_s = 30.0
    path = run_dir / "load_test.log"
    with open(path, "w") as out:
        _write(out, _header_record())
        for step in range(STEPS):
            t0 = START_T + step * step_s
            clients = 10 * (step + 1)
            n = int(per_step[step])
            _write(
                out,
                {
                    "type": "step",
                    "t": t0,
                    "step": step,
                    "clients": clients,
                    "expected_rps": n / step_s,
                },
            )
            for record in _request_batches(rng, step, clients, n, t0, step_s):
                _write(out, record)
            for record in _utilization_records(rng, t0, step_s):
                _write(out, record)
        end = {
            "type": "end",
            "t": START_T + STEPS * step_s,
            "status": "completed",
            "reason": "ramp finished",
            "locust_request_count": total_requests,
        }
        _write(out, end)
    return path


def _write(out: TextIO, record: dict) -> None:
    out.write(json.dumps(record) + "\n")


def _header_record() -> dict:
    return {
        "type": "header",
        "schema_version": 2,  # edgeload.runlog.SCHEMA_VERSION
        "tool": "edgeload",
        "tool_version": "bench",
        "scenario": "throughput",
        "run_id": "bench",
        "created_at": "2025-10-09T08:53:20+00:00",
        "target": {"kind": "simulated", "url": "http://127.0.0.1:30101"},
        "inputs": {"detector_mode": "BINARY", "max_clients": 100, "step_size": 10},
        "metadata": {"generator": {"hostname": "bench"}},
    }


def _request_batches(
    rng: np.random.Generator, step: int, clients: int, n: int, t0: float, step_s: float
) -> Iterator[dict]:
    """A step's `n` requests as column batches of BATCH: sorted start times, slightly later
    than intended, lognormal latencies growing with the step, 0.5% failed with a 503."""
    t = np.sort(t0 + rng.random(n) * step_s)
    intended = t - rng.exponential(0.002, n)
    latency = np.round(rng.lognormal(3.0 + step * 0.1, 0.4, n), 3)
    ok = (rng.random(n) > 0.005).astype(int)
    for s in range(0, n, BATCH):
        part = slice(s, min(n, s + BATCH))
        oks = ok[part].tolist()
        m = len(oks)
        yield {
            "type": "requests",
            "worker": "local",
            "n": m,
            "t": t[part].tolist(),
            "intended": intended[part].tolist(),
            "latency_ms": latency[part].tolist(),
            "ok": oks,
            "status": [200 if o else 503 for o in oks],
            "error": [None if o else "http_503" for o in oks],
            "detector": ["det_2bench0000000000000000000"] * m,
            "clients": [clients] * m,
            "step": [step] * m,
        }


def _utilization_records(rng: np.random.Generator, t0: float, step_s: float) -> Iterator[dict]:
    """An endpoint and a generator sample every 5 s of a step."""
    for k in range(int(step_s // 5)):
        ts = t0 + k * 5 + 2.5
        for source, host in (("endpoint", "edge"), ("generator", "bench")):
            yield {
                "type": "utilization",
                "t": ts,
                "source": source,
                "host": host,
                "cpu_pct": float(rng.uniform(20, 80)),
                "ram_pct": 40.0,
                "gpu_pct": float(rng.uniform(30, 90)),
                "vram_pct": 55.0,
            }


def run_measured(command: list[str]) -> tuple[float, float, float, float, str]:
    """(wall s, CPU s of all its processes, largest process RSS MB, sampled summed RSS MB,
    output) of a command run in a subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_sum = 0
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_sum
        try:
            parent = psutil.Process(proc.pid)
            while not done.is_set():
                total = parent.memory_info().rss
                for child in parent.children(recursive=True):
                    try:
                        total += child.memory_info().rss
                    except psutil.Error:
                        pass
                peak_sum = max(peak_sum, total)
                time.sleep(0.01)
        except psutil.Error:
            pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{command} failed (exit {proc.returncode}):\n{output.decode()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    largest_mb = after.ru_maxrss / 1024  # KiB on Linux; the largest child process so far
    return wall, cpu, largest_mb, peak_sum / 2**20, output.decode()


def phases(run_dir: Path) -> list[tuple[str, float]]:
    """Each phase timed on its own, in this process (serially, one after another)."""
    timings = []
    t = time.perf_counter()
    from edgeload.reporting.logreader import read_log
    from edgeload.reporting.results import build_results
    from edgeload.scenarios.throughput.analysis import analyze

    timings.append(("import numpy + reporting", time.perf_counter() - t))
    t = time.perf_counter()
    run = read_log(run_dir / "load_test.log")
    timings.append(("read log (json + numpy)", time.perf_counter() - t))
    t = time.perf_counter()
    analysis = analyze(run)
    json.dumps(build_results(run, analysis), indent=2, allow_nan=False)  # as write_json does
    del run
    timings.append(("analyse + results JSON", time.perf_counter() - t))
    t = time.perf_counter()
    from edgeload.reporting.plots import throughput as plots

    timings.append(("import matplotlib", time.perf_counter() - t))
    t = time.perf_counter()
    for draw in plots.PLOTS.values():
        draw(analysis.plot_data).savefig(run_dir / "phase.png", format="png")
    timings.append(("draw + save 3 plots", time.perf_counter() - t))
    return timings


Run = tuple[float, float, float, float, str]  # run_measured's figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--keep", action="store_true", help="keep the run folder and print it")
    add_json_option(parser)
    return parser.parse_args()


def report_commands(run_dir: Path) -> tuple[list[str], list[str]]:
    """`edgeload report` (plots drawn in a child process, overlapping the log's reading) and
    the same report with the plots drawn in-process, one after another."""
    report = [sys.executable, "-m", "edgeload.cli", "report", str(run_dir)]
    serial = [
        sys.executable,
        "-c",
        "import sys; from edgeload.reporting import write_reports; "
        "write_reports(sys.argv[1], parallel=False)",
        str(run_dir),
    ]
    return report, serial


def summarize(runs: list[Run], serial_runs: list[Run]) -> tuple[Run, float, float, Run]:
    """(the fastest report run, largest single-process peak MB, largest summed peak MB, the
    fastest in-process run)."""
    best = min(runs, key=lambda r: r[0])
    largest_mb = max(r[2] for r in runs)
    sum_mb = max(r[3] for r in runs)
    return best, largest_mb, sum_mb, min(serial_runs, key=lambda r: r[0])


def print_figures(runs: list[Run], serial_runs: list[Run], repeat: int, load_before: float) -> None:
    best, largest_mb, sum_mb, serial_best = summarize(runs, serial_runs)
    ok = {True: "ok", False: "MISSED"}
    print(f"{'figure':<52}{'measured':>10}{'target':>10}")
    print(
        f"{'wall time, best of ' + str(repeat) + ' (s)':<52}{best[0]:>10.2f}"
        f"{TARGET_WALL_S:>10.1f}  {ok[best[0] < TARGET_WALL_S]}"
    )
    print(f"{'  each run (s)':<52}{' '.join(f'{r[0]:.2f}' for r in runs):>10}")
    print(f"{'  CPU time of its processes, best run (s)':<52}{best[1]:>10.2f}")
    print(
        f"{'peak RSS, largest process (MB)':<52}{largest_mb:>10.0f}{TARGET_RSS_MB:>10.0f}"
        f"  {ok[largest_mb < TARGET_RSS_MB]}"
    )
    print(
        f"{'peak RSS, report + plot child summed (MB)':<52}{sum_mb:>10.0f}"
        f"{TARGET_RSS_MB:>10.0f}  {ok[sum_mb < TARGET_RSS_MB]}"
    )
    print(
        f"{'same report, plots drawn in-process: wall, best (s)':<52}{serial_best[0]:>10.2f}"
        f"   (x{serial_best[0] / best[0]:.2f} of the overlapped report)"
    )
    print(
        f"(machine: {os.cpu_count()} CPUs, 1-minute load average {load_before:.2f} before "
        "the runs; other processes' load slows every figure)"
    )


def json_figures(
    runs: list[Run], serial_runs: list[Run], requests: int, repeat: int
) -> list[dict[str, Any]]:
    best, largest_mb, sum_mb, serial_best = summarize(runs, serial_runs)
    return [
        figure(
            f"report wall time, {requests:,} requests (best of {repeat})",
            best[0],
            "s",
            f"< {TARGET_WALL_S:g}",
            best[0] < TARGET_WALL_S,
        ),
        figure(
            "report peak RSS, largest process",
            largest_mb,
            "MB",
            f"< {TARGET_RSS_MB:g}",
            largest_mb < TARGET_RSS_MB,
        ),
        figure(
            "report peak RSS, report + plot child summed",
            sum_mb,
            "MB",
            f"< {TARGET_RSS_MB:g}",
            sum_mb < TARGET_RSS_MB,
        ),
        figure("report wall time, plots in-process (context)", serial_best[0], "s"),
    ]


def keep_copy(run_dir: Path) -> Path:
    """Copy the run folder (log, results, plots) out of the temporary folder."""
    keep = Path(tempfile.mkdtemp(prefix="edgeload-report-bench-kept-"))
    for f in run_dir.iterdir():
        (keep / f.name).write_bytes(f.read_bytes())
    return keep


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeload-report-bench-") as tmp:
        run_dir = Path(tmp)
        t = time.perf_counter()
        log = write_log(run_dir, args.requests)
        print(
            f"synthetic log: {args.requests:,} requests, {STEPS} steps, "
            f"{log.stat().st_size / 1e6:.0f} MB, written in {time.perf_counter() - t:.1f} s"
        )
        report, serial = report_commands(run_dir)
        load_before = os.getloadavg()[0]
        runs = [run_measured(report) for _ in range(args.repeat)]
        serial_runs = [run_measured(serial) for _ in range(args.repeat)]
        print("\n`edgeload report` output:\n" + runs[0][4])
        print_figures(runs, serial_runs, args.repeat, load_before)
        write_figures(
            args.json,
            "report_speed",
            json_figures(runs, serial_runs, args.requests, args.repeat),
            [f"1-minute load average {load_before:.2f} before the runs"],
        )
        print("\nphases, one after another in this process (the report overlaps the matplotlib")
        print("import with reading the log):")
        for name, seconds in phases(run_dir):
            print(f"  {name:<40}{seconds:>8.2f} s")
        if args.keep:
            print(f"\nrun folder kept in {keep_copy(run_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
