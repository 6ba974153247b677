"""Faults of the endpoint mid-run: every attempted request is in the log, as a success or a
categorised failure, and the counts reconcile with Locust's own and with the simulator's.

The test starts the simulator itself and points the run at it with GROUNDLIGHT_ENDPOINT, so
that it can turn the fault knobs while the run goes: a burst of 500/503 answers, dropped
connections, stalls, the endpoint going down and coming back (127.0.0.1 only).
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from test_throughput_run import child_env, locust, only_run_dir, read_log

from edgeload import runlog, verdict
from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

SMALL = ["--image-width", "64", "--image-height", "48", "--requests-per-second", "20"]


def wait_for_requests(out_dir, process, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        logs = list(out_dir.glob("*/load_test.log"))
        if logs and '"type":"requests"' in logs[0].read_text():
            return
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.1)
    raise AssertionError("the run sent no request in time")


@pytest.mark.parametrize("client", ["sdk", "http"])
def test_faults_mid_run_every_request_is_logged_and_counts_reconcile(tmp_path, client):
    out_dir = tmp_path / "runs"
    json_file = tmp_path / "locust.json"
    with SimulatedEndpoint("fixed-latency") as sim:
        env = child_env()
        env["GROUNDLIGHT_ENDPOINT"] = sim.url
        env["GROUNDLIGHT_API_TOKEN"] = DEMO_TOKEN
        args = ["--headless", "--client", client, "--max-clients", "2", "--step-size", "2"]
        args += ["--time-between-ramp", "9", "--provision-timeout", "60", *SMALL]
        # endpoint samples only at the start: while the endpoint is down, only image queries
        # have their connections reset, so the simulator's count of resets is theirs
        args += ["--system-sample-interval-seconds", "60"]
        process = subprocess.Popen(
            locust(*args, out_dir=out_dir, json_file=json_file),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_requests(out_dir, process)
            time.sleep(0.5)
            sim.set_faults(error_rate={"500": 0.3, "503": 0.2})  # a 5xx burst
            time.sleep(1.5)
            sim.set_faults(error_rate={}, drop_rate=0.3)  # connections dropped without answer
            time.sleep(1.5)
            sim.set_faults(drop_rate=0, stall_every_s=1.0, stall_s=0.5)  # the endpoint stalls
            time.sleep(1.5)
            sim.set_faults(stall_every_s=0, stall_s=0)
            sim.down(1.5)  # down (connections reset), then back by itself
            out, err = process.communicate(timeout=90)
        finally:
            if process.poll() is None:
                process.kill()
        sim_state = sim.state()
    # the injected failures fail the run (Locust's convention), a 1.5 s outage does not
    # impair it (shorter than --endpoint-down-seconds)
    assert process.returncode == verdict.EXIT_FAIL, out[-2000:] + err[-3000:]

    run_dir = only_run_dir(out_dir)
    records = read_log(run_dir)
    batches = [r for r in records if r["type"] == runlog.REQUESTS]
    errors = [e for b in batches for e in b["error"]]
    oks = [ok for b in batches for ok in b["ok"]]
    failures = [e for e, ok in zip(errors, oks, strict=True) if not ok]

    # every failure carries a known category, every success none
    assert all(e in runlog.ERROR_CATEGORIES for e in failures), set(failures)
    assert all(e is None for e, ok in zip(errors, oks, strict=True) if ok)
    seen = set(failures)
    assert {"http_500", "http_503", "connection"} <= seen, seen

    # the log, the results and Locust agree on requests and failures
    stats = json.loads(json_file.read_text())
    locust_requests = sum(s["num_requests"] for s in stats)
    locust_failures = sum(s["num_failures"] for s in stats)
    results = json.loads((run_dir / "load_test_results.json").read_text())
    outputs = results["outputs"]
    assert len(errors) == locust_requests == outputs["request_records"]
    assert records[-1]["locust_request_count"] == locust_requests
    assert len(failures) == locust_failures == sum(outputs["errors_by_category"].values())
    summary = outputs["summary"]
    assert summary["success_rate"] == pytest.approx(1 - locust_failures / locust_requests, abs=1e-6)
    assert not [w for w in results["warnings"] if w["code"] == "request_count_mismatch"]

    # and with the simulator: each injected 5xx was answered to a request the log holds (a
    # request in flight when the run stopped may be missing from both the log and Locust)
    injected = sim_state["faults"]["injected"]
    for status in ("500", "503"):
        logged = failures.count(f"http_{status}")
        assert injected[f"error_{status}"] - 2 <= logged <= injected[f"error_{status}"]
    resets = injected.get("drop", 0) + injected.get("down_reset", 0)
    assert resets - 2 <= failures.count("connection") <= resets
    # the endpoint came back: the last requests of the run succeeded
    assert sum(oks[-10:]) == 10
