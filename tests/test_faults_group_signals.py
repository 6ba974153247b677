"""A terminal's Ctrl-C goes to the whole foreground process group: every scenario must then
end as `interrupted` (exit 130), with its log ended and a report of what it measured, and the
embedded simulator (in a session of its own) must not die under it first (issue 11, item 10).
SIGTERM to the group gives 143 the same way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_throughput_run import child_env

SCENARIOS = {
    "fps": ["fps", "BINARY", "--image-size", "64x48", "--iterations", "100000"],
    "memory-pressure": ["memory-pressure", "2", "BINARY", "--sim-time-scale", "10"],
    "rollouts": ["rollouts", "1", "--sim-time-scale", "10"],
    "edge-vs-cloud": [
        *["edge-vs-cloud", "--sample", "300", "--image-size", "64x48", "--sim-time-scale", "10"]
    ],
    # one combination a batch: the signal comes between batches or inside one
    "resources": [
        "resources",
        "--matrix",
        str(Path(__file__).resolve().parents[1] / "configs" / "resources-matrix.yaml"),
        "--batch-size",
        "1",
        "--sim-time-scale",
        "10",
    ],
    "rollouts-under-load": [
        "rollouts-under-load",
        "--image-size",
        "64x48",
        "--sim-time-scale",
        "10",
    ],
    "lenses": [
        "lenses",
        str(Path(__file__).resolve().parent.parent / "configs" / "lenses-example.yaml"),
        "--duration",
        "600",
        "--sim-time-scale",
        "10",
    ],
}
# what a scenario's log holds once it has measured something (default: request records)
MEASURED = {"edge-vs-cloud": '"kind":"comparison"', "resources": '"kind":"combination"'}


def wait_for_requests(
    out: Path, proc: subprocess.Popen, timeout_s: float = 150, marker: str = '"type":"requests"'
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        for log in out.glob("*/load_test.log"):
            if marker in log.read_text():
                return
        time.sleep(0.2)
    raise AssertionError(f"no requests were logged within {timeout_s:g} s (exit {proc.poll()})")


@pytest.mark.parametrize(
    ("name", "sig", "code"),
    [
        ("fps", signal.SIGINT, 130),
        ("memory-pressure", signal.SIGINT, 130),
        ("rollouts", signal.SIGINT, 130),
        ("memory-pressure", signal.SIGTERM, 143),
        ("edge-vs-cloud", signal.SIGINT, 130),
        ("edge-vs-cloud", signal.SIGTERM, 143),
        ("resources", signal.SIGTERM, 143),
        ("rollouts-under-load", signal.SIGTERM, 143),
        ("lenses", signal.SIGINT, 130),
        ("lenses", signal.SIGTERM, 143),
    ],
)
def test_a_signal_to_the_process_group_interrupts_and_reports(tmp_path, name, sig, code):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeload.cli", *SCENARIOS[name], "--output-dir", str(out)],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: the test plays the terminal
    )
    try:
        marker = MEASURED.get(name, '"type":"requests"')
        wait_for_requests(out, proc, marker=marker)
        os.killpg(proc.pid, sig)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code, stdout[-3000:] + stderr[-3000:]
    assert "Traceback" not in stdout + stderr
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["status"] == "interrupted" and results["exit_code"] == code
    assert results["verdict"] != "pass"
    lines = (run_dir / "load_test.log").read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["type"] == "end" and last["status"] == "interrupted"
    assert last["signal"] == signal.Signals(sig).name
    # what was measured before the signal is in the report
    assert any(marker in line for line in lines)
