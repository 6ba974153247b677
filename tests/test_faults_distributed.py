"""Distributed faults: a worker killed with SIGKILL mid-run, and a killed master.

The simulator is started by the test (GROUNDLIGHT_ENDPOINT), so that its own count of image
queries gives the truth to hold the lost worker's estimated unreceived requests against.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from test_throughput_run import (
    LOCUSTFILE,
    child_env,
    free_port,
    locust,
    only_run_dir,
    read_log,
)

from edgeload import runlog, verdict
from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

SMALL = ["--image-width", "64", "--image-height", "48", "--requests-per-second", "20"]


def env_for(sim, **extra):
    env = child_env()
    env["GROUNDLIGHT_ENDPOINT"] = sim.url
    env["GROUNDLIGHT_API_TOKEN"] = DEMO_TOKEN
    env.update(extra)
    return env


def start_workers(port, env, n=2):
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
    command += ["--master-host", "127.0.0.1", "--master-port", str(port)]
    return [
        subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]


def log_text(out_dir):
    logs = list(out_dir.glob("*/load_test.log"))
    return logs[0].read_text() if logs else ""


def wait_until(condition, processes, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        for process in processes:
            assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.05)
    raise AssertionError("timed out")


def image_queries(sim):
    return sim.state()["edge_app_counters"]["image_queries"]


def request_workers(out_dir):
    return {
        json.loads(line)["worker"]
        for line in log_text(out_dir).splitlines()
        if '"type":"requests"' in line
    }


def master_command(port, out_dir, *args):
    master = ["--headless", "--master", "--expect-workers", "2", "--master-bind-host"]
    master += ["127.0.0.1", "--master-bind-port", str(port), "--client", "http", "--step-size"]
    master += ["4", "--max-clients", "4", "--system-sample-interval-seconds", "60", *args]
    return locust(*master, *SMALL, out_dir=out_dir)


def test_killed_worker_is_named_with_its_unreceived_requests(tmp_path):
    out_dir = tmp_path / "runs"
    port = free_port()
    processes = []
    try:
        with SimulatedEndpoint("zero-latency", time_scale=20) as sim:
            env = env_for(sim)
            master = subprocess.Popen(
                master_command(port, out_dir, "--time-between-ramp", "10"),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            processes.append(master)
            # the header is written once provisioning is done, before any load
            wait_until(lambda: '"type":"header"' in log_text(out_dir), processes)
            before_load = image_queries(sim)
            workers = start_workers(port, env)
            processes += workers
            wait_until(lambda: len(request_workers(out_dir)) == 2, processes)
            time.sleep(1.3)  # mid-way between two of its stats reports
            os.kill(workers[0].pid, signal.SIGKILL)
            killed_at = time.time()
            out, err = master.communicate(timeout=90)
            workers[1].wait(timeout=30)
            served = image_queries(sim) - before_load
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    # the master carried on to the end of the ramp, and says the measurement is impaired
    assert master.returncode == verdict.EXIT_IMPAIRED, err[-3000:]

    run_dir = only_run_dir(out_dir)
    records = read_log(run_dir)
    lost = [r for r in records if r["type"] == runlog.WORKER_LOST]
    assert len(lost) == 1
    batches = [r for r in records if r["type"] == runlog.REQUESTS]
    lost_worker = lost[0]["worker"]
    assert lost_worker in {b["worker"] for b in batches}
    assert records[-1]["status"] == "completed"
    # the other worker went on sending after the kill
    assert any(t > killed_at + 2 for b in batches if b["worker"] != lost_worker for t in b["t"])

    # the estimate against the truth: what the endpoint served minus what the log holds (a
    # request in flight at the kill or at the end was served but never counted: a few)
    logged = sum(b["n"] for b in batches)
    truth = served - logged
    estimate = lost[0]["unreceived_requests"]
    print(f"lost worker: estimated {estimate} unreceived requests, truth {truth}")
    assert truth > 0
    assert abs(estimate - truth) <= max(6, 0.2 * truth), (estimate, truth)

    results = json.loads((run_dir / "load_test_results.json").read_text())
    outputs = results["outputs"]
    assert outputs["workers_lost"][0]["worker"] == lost_worker
    assert outputs["workers_lost"][0]["unreceived_requests"] == estimate
    warning = next(w for w in results["warnings"] if w["code"] == "worker_lost")
    assert lost_worker in warning["message"] and str(estimate) in warning["message"]


def test_workers_exit_by_themselves_when_the_master_is_killed(tmp_path):
    out_dir = tmp_path / "runs"
    port = free_port()
    processes = []
    try:
        with SimulatedEndpoint("zero-latency", time_scale=20) as sim:
            env = env_for(sim, EDGELOAD_MASTER_TIMEOUT_S="3")
            master = subprocess.Popen(
                master_command(port, out_dir, "--time-between-ramp", "60"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append(master)
            wait_until(lambda: '"type":"header"' in log_text(out_dir), processes)
            workers = start_workers(port, env)
            processes += workers
            wait_until(lambda: len(request_workers(out_dir)) == 2, processes)
            os.kill(master.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            for worker in workers:
                worker.wait(timeout=30)
            took = time.monotonic() - killed_at
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert took < 15, took
    assert all(worker.returncode is not None for worker in workers)
