"""How fast one Locust process drives the edge endpoint with each client, side by side.

    uv run python bench/throughput_clients.py [--seconds 10] [--users 32] [--json PATH]

Against the simulator's zero-latency profile (127.0.0.1 only), each case runs in a fresh
process of its own, so CPU time and peak memory are that process's alone:

    bare        a plain Locust FastHttpUser posting the same JPEG bytes and headers: no answer
                check, no log, no pacing (the ceiling)
    http        edgeload's user with --client http: unique image bytes, answer check, full log
    sdk         edgeload's user with --client sdk: the groundlight SDK, same checks and log
    paced-http  100 users at 1 request/s each: peak memory
    paced-sdk   the same with the SDK

Printed: requests/s, requests per CPU-second of the load process, peak RSS, and the targets
(http >= 0.6 x bare and >= 5,000 req/CPU-s; sdk >= 1,000 req/s; 100 paced users < 300 MB).
Figures depend on the machine (and the simulator shares its CPUs); ratios in one run are what
to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _figures import add_json_option, figure, write_figures  # noqa: E402

UPSTREAM_REQ_PER_CPU_S = 500  # the upstream scripts' per-process client loop, as measured


def run_child(case: str, url: str, detector: str, seconds: float, users: int) -> dict:
    """The measured part: one Locust process, in-process runner, `users` users."""
    import resource
    from types import SimpleNamespace

    import gevent
    import psutil
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    from edgeload import clients
    from edgeload.images import ImagePool
    from edgeload.scenarios.throughput.logsink import LogSink, LogWriter
    from edgeload.scenarios.throughput.users import EdgeQueryUser
    from edgeload.sim import DEMO_TOKEN

    paced = case.startswith("paced")
    client_kind = "sdk" if case.endswith("sdk") else "http"
    # what a throughput run's master hands its processes: the validated inputs
    # (Inputs.as_record()) and the provisioned detectors
    inputs = {
        "client": client_kind,
        "requests_per_second": 1.0 if paced else 1e9,  # 1e9: never waits, like the bare user
        "arrival_rate": None,
        "max_in_flight": None,
        "detector_mode": "BINARY",
        "image_width": 640,
        "image_height": 480,
        "max_clients": users,
    }
    options = SimpleNamespace(
        **inputs,
        edgeload_inputs=inputs,
        edgeload_detectors=[detector],
        edgeload_target_kind="simulated",
    )
    request = clients.EdgeRequest(detector, DEMO_TOKEN)
    body = ImagePool("BINARY", 640, 480).next()[0]

    class BareUser(FastHttpUser):
        wait_time = constant(0)
        host = url

        @task
        def post(self) -> None:
            self.client.post(request.path, data=body, headers=request.headers, name="bare")

    user_class = BareUser if case == "bare" else EdgeQueryUser
    env = Environment(user_classes=[user_class], host=url, parsed_options=options)
    runner = env.create_local_runner()
    log_dir = tempfile.mkdtemp(prefix="edgeload-bench-")
    sink = None
    if case != "bare":
        sink = LogSink(env, LogWriter(Path(log_dir) / "load_test.log")).register()
    process = psutil.Process()
    runner.start(users, spawn_rate=users)
    gevent.sleep(2.0)  # warm-up: users spawned, connections open
    count0, cpu0, t0 = env.stats.total.num_requests, sum(process.cpu_times()[:2]), time.time()
    gevent.sleep(seconds)
    count1, cpu1, t1 = env.stats.total.num_requests, sum(process.cpu_times()[:2]), time.time()
    failures = env.stats.total.num_failures
    runner.quit()
    logged = None
    if sink is not None:
        sink.close()
        logged = sink.requests_recorded
    requests = count1 - count0
    return {
        "case": case,
        "users": users,
        "requests": requests,
        "rps": requests / (t1 - t0),
        "req_per_cpu_s": requests / max(1e-9, cpu1 - cpu0),
        "cpu_pct": 100.0 * (cpu1 - cpu0) / (t1 - t0),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "failures": failures,
        "logged": logged,
        "total": env.stats.total.num_requests,
    }


def measure(case: str, url: str, detector: str, seconds: float, users: int) -> dict:
    command = [sys.executable, __file__, "--child", case, "--url", url, "--detector", detector]
    command += ["--seconds", str(seconds), "--users", str(users)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120, env=env, cwd=REPO
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"case {case} failed:\n{result.stderr[-2000:]}")
    return json.loads(lines[-1])


def provision(url: str) -> str:
    from edgeload.provisioning import provision_detector
    from edgeload.sim import DEMO_TOKEN
    from edgeload.target import Target, make_sdk

    target = Target(kind="simulated", url=url, token=DEMO_TOKEN)
    gl = make_sdk(target)
    detector = provision_detector(
        gl, mode="BINARY", image_size=(640, 480), target=target, progress=lambda _m: None
    )
    return detector.id


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per case")
    parser.add_argument("--users", type=int, default=32, help="concurrent unpaced users")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--detector", help=argparse.SUPPRESS)
    add_json_option(parser)
    return parser.parse_args()


def run_cases(seconds: float, users: int) -> dict[str, dict]:
    """Every case against one simulator: case name -> its child's figures."""
    from edgeload.sim import SimulatedEndpoint

    # time_scale only shortens the detector's training; zero-latency answers at once anyway
    with SimulatedEndpoint("zero-latency", time_scale=20.0) as sim:
        detector = provision(sim.url)
        rows = {}
        for case in ("bare", "http", "sdk"):
            rows[case] = measure(case, sim.url, detector, seconds, users)
        for case in ("paced-http", "paced-sdk"):
            rows[case] = measure(case, sim.url, detector, min(seconds, 10.0), 100)
    return rows


def print_table(rows: dict[str, dict], seconds: float) -> None:
    print(f"one Locust process, simulator profile zero-latency, {seconds:g} s per case")
    print(
        f"{'case':<11} {'users':>5} {'req/s':>8} {'req/CPU-s':>10} {'CPU %':>6} {'peak MB':>8}"
        f" {'failed':>6} {'logged=counted':>15}"
    )
    for row in rows.values():
        logged = "-" if row["logged"] is None else str(row["logged"] == row["total"])
        print(
            f"{row['case']:<11} {row['users']:>5} {row['rps']:>8.0f} {row['req_per_cpu_s']:>10.0f}"
            f" {row['cpu_pct']:>6.0f} {row['peak_rss_mb']:>8.0f} {row['failures']:>6}"
            f" {logged:>15}"
        )


def checks(rows: dict[str, dict]) -> list[tuple[str, float, str, bool]]:
    """(name, value, target, met) of each target."""
    bare, http, sdk = rows["bare"], rows["http"], rows["sdk"]
    rps_ratio = http["rps"] / bare["rps"]
    cpu_ratio = http["req_per_cpu_s"] / bare["req_per_cpu_s"]
    paced_http_mb = rows["paced-http"]["peak_rss_mb"]
    paced_sdk_mb = rows["paced-sdk"]["peak_rss_mb"]
    return [
        ("http req/s vs bare", rps_ratio, ">= 0.6", rps_ratio >= 0.6),
        ("http req/CPU-s vs bare", cpu_ratio, ">= 0.6", cpu_ratio >= 0.6),
        (
            "http req/CPU-s",
            http["req_per_cpu_s"],
            f">= {10 * UPSTREAM_REQ_PER_CPU_S} (10x upstream)",
            http["req_per_cpu_s"] >= 10 * UPSTREAM_REQ_PER_CPU_S,
        ),
        ("sdk req/s per process", sdk["rps"], ">= 1000", sdk["rps"] >= 1000),
        ("100 paced http users, peak MB", paced_http_mb, "< 300", paced_http_mb < 300),
        ("100 paced sdk users, peak MB", paced_sdk_mb, "< 300", paced_sdk_mb < 300),
    ]


def json_figures(rows: dict[str, dict], results: list[tuple[str, float, str, bool]]) -> list:
    """The checks, the bare and http rates for context, and whether every request was logged."""
    units = {
        "http req/CPU-s": "1/CPU-s",
        "sdk req/s per process": "1/s",
        "100 paced http users, peak MB": "MB",
        "100 paced sdk users, peak MB": "MB",
    }
    figures = [
        figure(name, value, units.get(name, "ratio"), target, met)
        for name, value, target, met in results
    ]
    figures += [
        figure(f"{case} req/s (context)", row["rps"], "1/s")
        for case, row in rows.items()
        if case in ("bare", "http")
    ]
    all_logged = all(r["logged"] in (None, r["total"]) for r in rows.values())
    figures.append(
        figure("every request logged (log = Locust count)", all_logged, "bool", "yes", all_logged)
    )
    return figures


def main() -> int:
    args = parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.url, args.detector, args.seconds, args.users)))
        return 0
    rows = run_cases(args.seconds, args.users)
    print_table(rows, args.seconds)
    results = checks(rows)
    print()
    for name, value, target, met in results:
        print(f"{name:<32} {value:>10.2f}   target {target:<22} {'met' if met else 'NOT met'}")
    write_figures(
        args.json,
        "throughput_clients",
        json_figures(rows, results),
        [f"{args.seconds:g} s per case, {args.users} unpaced users", f"{os.cpu_count()} CPUs"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
