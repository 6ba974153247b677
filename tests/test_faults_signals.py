"""SIGINT and SIGTERM to a headless throughput run at any moment: during provisioning,
mid-ramp (through the `edgeload throughput` wrapper, which passes signals on to its locust
child) and while the report is written. Each time the log is closed with an `interrupted` end,
the run folder holds the results and plots of what was measured, and the exit code is non-zero.
(SIGTERM mid-ramp on a plain locust run: tests/test_throughput_run.py.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from test_throughput_run import (
    ARTIFACTS,
    FAST_SIM,
    SMALL,
    child_env,
    locust,
    only_run_dir,
    read_log,
)

from edgeload import runlog

EXIT_CODE = {signal.SIGINT: 130, signal.SIGTERM: 143}


def start(command):
    return subprocess.Popen(
        command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_until(process, condition, timeout_s=90.0, poll_s=0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the run ended first: {out[-1500:]}{err[-3000:]}")
        time.sleep(poll_s)
    raise AssertionError("timed out waiting for the run")


def log_text(out_dir):
    logs = list(out_dir.glob("*/load_test.log"))
    return logs[0].read_text() if logs else ""


def finish(process, timeout_s=60):
    try:
        out, err = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
    return out, err


def check_interrupted(out_dir, signum, returncode, err):
    assert returncode == EXIT_CODE[signum], err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    run_dir = only_run_dir(out_dir)
    for name in ARTIFACTS:
        assert (run_dir / name).is_file(), name
    records = read_log(run_dir)  # every line parses: the log was closed cleanly
    assert records[0]["type"] == runlog.HEADER
    end = records[-1]
    assert end["type"] == runlog.END and end["status"] == "interrupted"
    assert signum.name in end["reason"]
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["status"] == "interrupted"
    return run_dir, records, results


def test_sigint_during_provisioning(tmp_path):
    # gpu-1x at time scale 1 trains a new detector for 20 s: the signal comes in the middle
    out_dir = tmp_path / "runs"
    args = ["--headless", "--client", "http", "--sim-profile", "gpu-1x", *SMALL]
    process = start(locust(*args, out_dir=out_dir))
    wait_until(process, lambda: list(out_dir.glob("*/load_test.log")))
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    out, err = finish(process)
    _run_dir, records, results = check_interrupted(out_dir, signal.SIGINT, process.returncode, err)
    assert "setup_ended" in [r.get("name") for r in records if r["type"] == runlog.EVENT]
    assert results["outputs"]["request_records"] == 0


def test_sigint_mid_ramp_through_the_edgeload_wrapper(tmp_path):
    out_dir = tmp_path / "runs"
    command = [sys.executable, "-m", "edgeload.cli", "throughput", "BINARY", "--client", "http"]
    command += ["--max-clients", "2", "--time-between-ramp", "60", "--output-dir", str(out_dir)]
    process = start([*command, *SMALL, *FAST_SIM])
    wait_until(process, lambda: '"type":"requests"' in log_text(out_dir))
    process.send_signal(signal.SIGINT)  # to the wrapper only: it passes it on
    out, err = finish(process)
    _run_dir, records, results = check_interrupted(out_dir, signal.SIGINT, process.returncode, err)
    logged = sum(r["n"] for r in records if r["type"] == runlog.REQUESTS)
    assert logged > 0 and logged == records[-1]["locust_request_count"]
    assert results["outputs"]["request_records"] == logged


def test_sigterm_while_the_report_is_written(tmp_path):
    out_dir = tmp_path / "runs"
    args = ["--headless", "--client", "http", "--max-clients", "1", "--time-between-ramp", "2"]
    process = start(locust(*args, *SMALL, *FAST_SIM, out_dir=out_dir))
    # the end record is written, then the report: signal as soon as the end is in the log
    wait_until(process, lambda: '"type":"end"' in log_text(out_dir), poll_s=0.01)
    process.send_signal(signal.SIGTERM)
    out, err = finish(process)
    run_dir, records, results = check_interrupted(out_dir, signal.SIGTERM, process.returncode, err)
    ends = [r for r in records if r["type"] == runlog.END]
    # measured in full (the first end), then stopped while reporting (the last end)
    assert [e["status"] for e in ends] == ["completed", "interrupted"]
    assert "while the report was written" in ends[-1]["reason"]
    logged = sum(r["n"] for r in records if r["type"] == runlog.REQUESTS)
    assert logged > 0 and results["outputs"]["request_records"] == logged
