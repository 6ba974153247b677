"""The throughput locustfile in Locust's web UI: the ramp options are in the start form, and a
ramp started from the form runs with the form's values and leaves a full run folder."""

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from test_throughput_run import ARTIFACTS, FAST_SIM, LOCUSTFILE, SMALL, child_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def test_web_ui_form_shows_the_ramp_options_and_runs_the_ramp(tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1"]
    command += ["--web-port", str(port), "--output-dir", str(tmp_path), *FAST_SIM, *SMALL]
    log = open(tmp_path / "locust.out", "w")
    proc = subprocess.Popen(command, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        page = wait_for(lambda: get(base + "/"), 90, "the web UI")
        for option in ("max_clients", "step_size", "time_between_ramp", "requests_per_second"):
            assert re.search(rf'"{option}"', page), f"{option} missing from the start form"

        form = {"user_count": "1", "spawn_rate": "1", "host": base, "max_clients": "2"}
        form |= {"step_size": "1", "time_between_ramp": "2", "requests_per_second": "5"}
        request = urllib.request.Request(
            base + "/swarm", data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["success"] is True

        def results():
            found = list(tmp_path.glob("*/load_test_results.json"))
            return found[0] if found else None

        results_path = wait_for(results, 60, "the run's results")
        run_dir = results_path.parent
        wait_for(lambda: all((run_dir / name).exists() for name in ARTIFACTS), 20, "plots")
        results = json.loads(results_path.read_text())
        assert results["inputs"]["max_clients"] == 2  # the form's value, not the default 10
        assert results["inputs"]["time_between_ramp"] == 2
        steps = results["outputs"]["steps"]
        assert [s["clients"] for s in steps] == [1, 2]
        assert results["outputs"]["summary"]["requests"] > 0
        assert results["metadata"]["target"]["kind"] == "simulated"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
