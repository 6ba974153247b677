"""Distributed faults: a worker killed with SIGKILL mid-run, and a killed master.

The simulator is started by the test (GROUNDLIGHT_ENDPOINT), so that its own count of image
queries gives the truth to hold the lost worker's estimated unreceived requests against.
"""

from __future__ import annotations

import json
import os
import signal
import socket
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


# -- issue 11: nothing stray -------------------------------------------------------------------


def pids_alive(pids) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    return alive


def children_of(pid: int) -> list[int]:
    import psutil

    return [c.pid for c in psutil.Process(pid).children(recursive=True)]


def test_processes_children_die_with_a_killed_master(tmp_path):
    out_dir = tmp_path / "runs"
    port = free_port()
    with SimulatedEndpoint("zero-latency", time_scale=20) as sim:
        args = ["--headless", "--processes", "2", "--master-bind-port", str(port)]
        args += ["--master-port", str(port), "--client", "http", "--step-size", "2"]
        args += ["--max-clients", "2", "--time-between-ramp", "60", *SMALL]
        master = subprocess.Popen(
            locust(*args, out_dir=out_dir),
            env=env_for(sim),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: len(request_workers(out_dir)) == 2, [master])
            workers = children_of(master.pid)
            assert len(workers) == 2
            os.kill(master.pid, signal.SIGKILL)
            master.wait(timeout=10)
            deadline = time.monotonic() + 10
            while pids_alive(workers) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            if master.poll() is None:
                master.kill()
    assert pids_alive(workers) == []  # none orphaned: they died with their master


def test_an_orphaned_worker_never_reaches_the_next_runs_log(tmp_path):
    port = free_port()
    processes = []
    try:
        with SimulatedEndpoint("zero-latency", time_scale=20) as sim:
            # run A: one worker, which outlives A's master (it heard nothing for 60 s)
            env = env_for(sim, EDGELOAD_MASTER_TIMEOUT_S="60")
            first = tmp_path / "a"
            master_a = subprocess.Popen(
                master_command(port, first, "--time-between-ramp", "60", "--expect-workers", "1"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append(master_a)
            wait_until(lambda: '"type":"header"' in log_text(first), processes)
            (orphan,) = start_workers(port, env, n=1)
            processes.append(orphan)
            wait_until(lambda: len(request_workers(first)) == 1, processes)
            os.kill(master_a.pid, signal.SIGKILL)
            master_a.wait(timeout=10)
            processes.remove(master_a)
            # run B on the same port, with workers of its own; the orphan keeps reporting
            second = tmp_path / "b"
            master_b = subprocess.Popen(
                master_command(port, second, "--time-between-ramp", "8"),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            processes.append(master_b)
            wait_until(lambda: '"type":"header"' in log_text(second), processes)
            processes += start_workers(port, env)
            out, err = master_b.communicate(timeout=120)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    run_dir = only_run_dir(second)
    records = read_log(run_dir)
    assert records[0]["type"] == runlog.HEADER  # the first line is this run's header
    workers = {r["worker"] for r in records if r["type"] == runlog.REQUESTS}
    assert len(workers) == 2  # B's own two, never the orphan
    assert records[-1]["foreign_requests"] > 0  # the orphan did report: its records were dropped
    results = json.loads((run_dir / "load_test_results.json").read_text())
    checks = {c["name"]: c for c in results["checks"]}
    assert checks["every request recorded"]["status"] == "passed", checks
    assert master_b.returncode == 0, err[-3000:]


def test_a_taken_master_port_is_one_line_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "edgeload.cli", "throughput", "BINARY", "--output-dir"]
            + [str(tmp_path), "--", "--master", "--master-bind-port", str(port)],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"master port {port} is taken" in lines[0]
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


def test_two_runs_with_processes_at_once_keep_to_themselves(tmp_path):
    with SimulatedEndpoint("zero-latency", time_scale=20) as sim:
        runs = []
        for name in ("one", "two"):
            command = [sys.executable, "-m", "edgeload.cli", "throughput", "BINARY"]
            command += ["--processes", "2", "--client", "http", "--step-size", "2"]
            command += ["--max-clients", "2", "--time-between-ramp", "6", *SMALL]
            command += ["--output-dir", str(tmp_path / name)]
            runs.append(
                subprocess.Popen(
                    command,
                    env=env_for(sim),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = [run.communicate(timeout=180) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out[-2000:] + err[-2000:]
        assert "Traceback" not in err
    for name in ("one", "two"):
        records = read_log(only_run_dir(tmp_path / name))
        workers = {r["worker"] for r in records if r["type"] == runlog.REQUESTS}
        assert len(workers) == 2, workers  # its own two, never the other run's
        assert records[-1]["foreign_requests"] == 0
