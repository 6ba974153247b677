"""Each row of the exit-code table, produced by a real throughput run against the simulator
(edgeload.verdict: 0 pass, 1 fail, 2 usage, 3 impaired, 5 run error; 4 inconclusive and 6
output error have their own tests in the pod scenarios and test_faults_disk.py; 130/143 in
test_faults_signals.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_throughput_run import child_env, only_run_dir

from edgeload import verdict
from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint
from tests.fake_endpoint import SDK_ROUTES, FakeEndpoint

SMALL = ["--image-width", "64", "--image-height", "48", "--client", "http"]


def edgeload_throughput(out: Path, *args: str, env: dict | None = None, **popen):
    command = [sys.executable, "-m", "edgeload.cli", "throughput", "BINARY", *SMALL]
    command += ["--output-dir", str(out), *args]
    return subprocess.Popen(
        command,
        env=env or child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def wait_for_load(out: Path, timeout_s: float = 150) -> None:
    """Until provisioning is over and answered requests are in the log (a kill during
    provisioning would test its retries, not the run's liveness)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for log in out.glob("*/load_test.log"):
            if '"type":"requests"' in log.read_text():
                return
        time.sleep(0.2)
    raise AssertionError(f"no requests were logged within {timeout_s:g} s")


def results_of(out: Path) -> dict:
    return json.loads((only_run_dir(out) / "load_test_results.json").read_text())


def test_pass_is_0(tmp_path):
    run = edgeload_throughput(tmp_path, "--max-clients", "1", "--time-between-ramp", "3")
    out, err = run.communicate(timeout=120)
    assert run.returncode == verdict.EXIT_PASS, out[-2000:] + err[-2000:]
    assert results_of(tmp_path)["verdict"] == "pass"
    assert "verdict PASS" in out


def test_a_gate_that_holds_fails_the_run_with_1(tmp_path):
    run = edgeload_throughput(
        tmp_path, "--max-clients", "1", "--time-between-ramp", "3", "--fail-if", "requests>0"
    )
    out, err = run.communicate(timeout=120)
    assert run.returncode == verdict.EXIT_FAIL, out[-2000:] + err[-2000:]
    (gate,) = [c for c in results_of(tmp_path)["checks"] if c["kind"] == "gate"]
    assert gate["status"] == "failed" and gate["name"] == "--fail-if requests>0"
    assert "[FAIL] --fail-if requests>0" in out


def test_an_endpoint_killed_mid_run_impairs_it_with_3(tmp_path):
    with SimulatedEndpoint("demo") as sim:
        env = child_env()
        env["GROUNDLIGHT_ENDPOINT"] = sim.url
        env["GROUNDLIGHT_API_TOKEN"] = DEMO_TOKEN
        run = edgeload_throughput(
            tmp_path, "--max-clients", "2", "--step-size", "2", "--time-between-ramp", "20",
            env=env,
        )  # fmt: skip
        wait_for_load(tmp_path)
        os.kill(sim.pid, signal.SIGKILL)
        out, err = run.communicate(timeout=120)
    assert run.returncode == verdict.EXIT_IMPAIRED, out[-3000:] + err[-2000:]
    assert "the endpoint stopped answering at" in out  # said while it happened
    checks = {c["name"]: c for c in results_of(tmp_path)["checks"]}
    assert checks["endpoint answered throughout"]["status"] == "failed"


def test_the_embedded_simulator_dying_is_said_and_impairs_the_run(tmp_path):
    run = edgeload_throughput(
        tmp_path, "--max-clients", "2", "--step-size", "2", "--time-between-ramp", "20"
    )
    wait_for_load(tmp_path)
    import psutil

    sims = [
        p
        for p in psutil.Process(run.pid).children(recursive=True)
        if "edgeload.sim" in " ".join(p.cmdline())
    ]
    assert len(sims) == 1
    sims[0].kill()
    out, err = run.communicate(timeout=120)
    assert run.returncode == verdict.EXIT_IMPAIRED, out[-3000:] + err[-2000:]
    assert "the embedded simulated endpoint died" in out


def test_provisioning_that_fails_is_a_run_error_5(tmp_path):
    routes = dict(SDK_ROUTES)
    routes["GET /device-api/v1/detectors"] = (403, {"detail": "not allowed"})
    with FakeEndpoint(routes) as fake:
        env = child_env()
        env["GROUNDLIGHT_ENDPOINT"] = fake.url
        env["GROUNDLIGHT_API_TOKEN"] = DEMO_TOKEN
        run = edgeload_throughput(tmp_path, "--max-clients", "1", env=env)
        out, err = run.communicate(timeout=120)
    assert run.returncode == verdict.EXIT_RUN_ERROR, out[-2000:] + err[-2000:]
    lines = [line for line in err.splitlines() if "error" in line]
    assert lines == ["edgeload: error: provisioning failed: HTTP 403"], err[-2000:]


def test_the_latency_slo_gives_the_capacity_within_it(tmp_path):
    run = edgeload_throughput(
        tmp_path, "--max-clients", "2", "--step-size", "1", "--time-between-ramp", "3",
        "--latency-slo", "p95:1ms",
    )  # fmt: skip
    out, err = run.communicate(timeout=120)
    assert run.returncode == verdict.EXIT_PASS, out[-2000:] + err[-2000:]
    results = results_of(tmp_path)
    summary = results["outputs"]["summary"]
    assert summary["latency_slo"] == "p95:1ms"  # no endpoint answers within 1 ms
    assert summary["maximum_rps_within_slo"] == 0.0 and summary["maximum_steady_rps"] == 0.0
    assert all(s["within_slo"] is False for s in results["outputs"]["steps"])
