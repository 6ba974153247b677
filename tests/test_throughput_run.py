"""Real headless throughput runs against the embedded simulator (short ramps, 127.0.0.1 only).

Each run checks the run folder and that the log holds exactly as many request records as
Locust counted (Locust's own count is read from its --json-file, not from our log).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeload import runlog

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = REPO / "locustfiles" / "throughput.py"
FAST_SIM = ["--sim-profile", "zero-latency", "--sim-time-scale", "20"]
SMALL = ["--image-width", "64", "--image-height", "48", "--requests-per-second", "10"]
ARTIFACTS = (
    "load_test.log",
    "load_test_results.json",
    "throughput_and_system_utilization_over_time.png",
    "time_vs_latency.png",
)


def child_env():
    env = dict(os.environ)
    env.pop("GROUNDLIGHT_ENDPOINT", None)
    env.pop("GROUNDLIGHT_API_TOKEN", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def locust(*args, out_dir, json_file=None):
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]
    command += ["--output-dir", str(out_dir)]
    if json_file is not None:  # Locust adds ".json" to the name it is given
        command += ["--json-file", str(json_file).removesuffix(".json")]
    return command


def read_log(run_dir):
    with open(run_dir / runlog.LOG_FILENAME, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def only_run_dir(out_dir):
    runs = [p for p in Path(out_dir).iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def locust_request_count(json_file):
    stats = json.loads(Path(json_file).read_text())
    return sum(entry["num_requests"] for entry in stats)


def check_run_folder(run_dir, *, status="completed"):
    for name in ARTIFACTS:
        assert (run_dir / name).is_file(), name
    records = read_log(run_dir)
    assert records[0]["type"] == runlog.HEADER
    assert records[0]["schema_version"] == runlog.SCHEMA_VERSION
    assert records[0]["target"]["kind"] == "simulated"
    assert records[0]["inputs"]["max_clients"] >= 1
    assert records[-1]["type"] == runlog.END and records[-1]["status"] == status
    batches = [r for r in records if r["type"] == runlog.REQUESTS]
    logged = sum(b["n"] for b in batches)
    assert logged == records[-1]["locust_request_count"]
    return records, batches, logged


def test_local_run_logs_every_request_locust_counted(tmp_path):
    json_file = tmp_path / "locust.json"
    args = ["--headless", "--client", "http", "--max-clients", "2", "--step-size", "1"]
    args += ["--time-between-ramp", "3", "--system-sample-interval-seconds", "1"]
    result = subprocess.run(
        locust(*args, *SMALL, *FAST_SIM, out_dir=tmp_path / "runs", json_file=json_file),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "edgeload: target: simulated edge endpoint" in result.stdout
    run_dir = only_run_dir(tmp_path / "runs")
    assert f"run folder: {run_dir}" in result.stdout
    records, batches, logged = check_run_folder(run_dir)
    assert logged == locust_request_count(json_file) > 20
    steps = [r for r in records if r["type"] == runlog.STEP]
    assert [(s["step"], s["clients"], s["expected_rps"]) for s in steps] == [
        (0, 1, 10.0),
        (1, 2, 20.0),
    ]
    assert {r["source"] for r in records if r["type"] == runlog.UTILIZATION} >= {
        "endpoint",
        "generator",
    }
    ok = sum(sum(b["ok"]) for b in batches)
    assert ok == logged  # the simulator answers everything from the edge
    assert all(i is not None for b in batches for i in b["intended"])
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["inputs"]["client"] == "http"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_master_with_two_workers_logs_every_request_once(tmp_path):
    port = free_port()
    json_file = tmp_path / "locust.json"
    master_args = ["--headless", "--master", "--expect-workers", "2", "--master-bind-host"]
    master_args += ["127.0.0.1", "--master-bind-port", str(port), "--client", "sdk"]
    master_args += ["--max-clients", "4", "--step-size", "2", "--time-between-ramp", "5"]
    master = subprocess.Popen(
        locust(*master_args, *SMALL, *FAST_SIM, out_dir=tmp_path / "runs", json_file=json_file),
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # workers get every option from the master; their command line names only the master
    worker_command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
    worker_command += ["--master-host", "127.0.0.1", "--master-port", str(port)]
    workers = [
        subprocess.Popen(
            worker_command,
            env=child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        out, err = master.communicate(timeout=180)
        for worker in workers:
            worker.wait(timeout=30)
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
    assert master.returncode == 0, err[-3000:]
    run_dir = only_run_dir(tmp_path / "runs")
    records, batches, logged = check_run_folder(run_dir)
    assert logged == locust_request_count(json_file) > 20
    assert len({b["worker"] for b in batches}) == 2
    steps = [(r["step"], r["clients"]) for r in records if r["type"] == runlog.STEP]
    assert steps == [(0, 2), (1, 4)]
    assert records[0]["inputs"]["distributed"] is True
    assert {c for b in batches for c in b["clients"]} <= {2, 4}
    # each step is measured from when its clients all run on the workers (not from the
    # master's tick): the achieved rate is the offered one when the generator keeps up
    results = json.loads((run_dir / "load_test_results.json").read_text())
    for step in results["outputs"]["steps"]:
        assert step["achieved_rps"] == pytest.approx(step["expected_rps"], rel=0.03), step


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--detector-mode", "MULTI"], "--detector-mode must be one of BINARY, COUNT"),
        (["--max-clients", "0"], "--max-clients must be at least 1"),
        (["--max-clients", "2", "--step-size", "3"], "is above --max-clients"),
        (["--requests-per-second", "0"], "--requests-per-second must be above 0"),
    ],
)
def test_bad_input_is_one_line_and_no_load(tmp_path, args, message):
    result = subprocess.run(
        locust("--headless", *args, out_dir=tmp_path / "runs"),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "edgeload: error" in line]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_cloud_endpoint_is_refused(tmp_path):
    env = child_env()
    env["GROUNDLIGHT_ENDPOINT"] = "https://api.groundlight.ai/device-api"
    env["GROUNDLIGHT_API_TOKEN"] = "api_0123456789abcdefghij_canary"
    result = subprocess.run(
        locust("--headless", out_dir=tmp_path / "runs"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Groundlight cloud" in result.stderr and "Traceback" not in result.stderr
    assert "canary" not in result.stdout + result.stderr


def test_sigterm_mid_ramp_leaves_an_interrupted_run(tmp_path):
    args = ["--headless", "--client", "http", "--max-clients", "2", "--time-between-ramp", "60"]
    process = subprocess.Popen(
        locust(*args, *SMALL, *FAST_SIM, out_dir=tmp_path / "runs"),
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = list((tmp_path / "runs").glob("*/load_test.log"))
            if runs and '"type":"requests"' in runs[0].read_text():
                break
            assert process.poll() is None, process.communicate()[1][-3000:]
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err[-3000:]
    run_dir = only_run_dir(tmp_path / "runs")
    records, _batches, logged = check_run_folder(run_dir, status="interrupted")
    assert logged > 0 and "SIGTERM" in records[-1]["reason"]
