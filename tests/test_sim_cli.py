"""`edgeload sim`: bad input gets one line and exit 2; a good start serves until Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest

from edgeload.errors import UsageError
from edgeload.sim import SimulatedEndpoint

CLI = [sys.executable, "-m", "edgeload.cli", "sim"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=60)


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


def test_unknown_profile():
    assert_one_line_error(
        run_cli("--profile", "no-such-box", "--port", "0"), "no-such-box", "available"
    )


def test_malformed_profiles(tmp_path):
    bad_type = tmp_path / "bad-type.yaml"
    bad_type.write_text("pods:\n  startup_s: soon\n")
    assert_one_line_error(run_cli("--profile", str(bad_type), "--port", "0"), "pods.startup_s")
    negative = tmp_path / "negative.yaml"
    negative.write_text("service:\n  base_ms: -5\n")
    assert_one_line_error(run_cli("--profile", str(negative), "--port", "0"), "service.base_ms")
    broken = tmp_path / "broken.yaml"
    broken.write_text("pods: [unclosed\n")
    assert_one_line_error(run_cli("--profile", str(broken), "--port", "0"), "YAML")


def test_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_line_error(run_cli("--port", str(port)), str(port))
        # the Kubernetes API server's port, apart from the edge port
        assert_one_line_error(run_cli("--port", "0", "--k8s-port", str(port)), "--k8s-port")
        with pytest.raises(UsageError, match=str(port)):
            SimulatedEndpoint(port=port).start()


def test_bad_numbers():
    assert_one_line_error(run_cli("--port", "70000"), "--port")
    assert_one_line_error(run_cli("--k8s-port", "-1"), "--k8s-port")
    assert_one_line_error(run_cli("--cloud-port", "70000"), "--cloud-port")
    assert_one_line_error(run_cli("--time-scale", "0", "--port", "0"), "--sim-time-scale")
    assert_one_line_error(run_cli("--sim-time-scale", "inf", "--port", "0"), "finite")


def test_list_profiles():
    proc = run_cli("--list-profiles")
    assert proc.returncode == 0
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert "gpu-1x" in names and "zero-latency" in names


def test_serves_until_interrupted():
    proc = subprocess.Popen(
        CLI + ["--port", "0", "--profile", "zero-latency"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert "serving on http://127.0.0.1:" in first
        url = first.split("serving on ")[1].split()[0]
        summary = proc.stdout.readline()
        assert "zero-latency" in summary
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
        with opener.open(url + "/ping", timeout=5) as resp:
            assert json.loads(resp.read()) == {"message": "Hello!"}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
