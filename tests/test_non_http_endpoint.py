"""An endpoint that answers bytes that are not HTTP (a wrong port: SSH, a database) gets one
line that names it, never a traceback, and never the raw bytes on the terminal."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest
from test_throughput_run import child_env

GARBAGE = b"\x00\x01\x1b[2JSSH-2.0-OpenSSH_9.2 not http at all\r\n\r\n"


@pytest.fixture
def non_http_endpoint():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.settimeout(2)
                    conn.recv(65536)
                    conn.sendall(GARBAGE)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    server.close()


@pytest.mark.parametrize("command", [["throughput", "BINARY"], ["fps", "BINARY"]])
def test_a_non_http_endpoint_is_one_line(non_http_endpoint, command, tmp_path):
    env = child_env()
    env["GROUNDLIGHT_ENDPOINT"] = non_http_endpoint
    env["GROUNDLIGHT_API_TOKEN"] = "api_" + "x" * 40
    run = subprocess.run(
        [sys.executable, "-m", "edgeload.cli", *command, "--output-dir", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stdout + run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert non_http_endpoint in line and "GROUNDLIGHT_ENDPOINT" in line
    assert "\x1b" not in run.stderr and "\x00" not in run.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
