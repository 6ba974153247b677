"""`edgeload memory-pressure` end to end against the simulator, at a high time scale."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeload import runlog
from edgeload.cli import main
from edgeload.scenarios.pods.results import RESULTS_FILENAME, read_results

SCALE = "100"


def run_cli(argv: list[str], tmp_path: Path) -> tuple[int, dict, Path]:
    code = main(argv + ["--output-dir", str(tmp_path)])
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return code, read_results(run_dir / RESULTS_FILENAME), run_dir


def checks(results: dict) -> dict:
    return {c["name"]: c["ok"] for c in results["checks"]}


def test_all_pods_fit(tmp_path, capsys):
    code, r, run_dir = run_cli(["memory-pressure", "2", "BINARY", "--time-scale", SCALE], tmp_path)
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("target: simulated edge endpoint")
    assert code == 0, out
    assert r["status"] == "completed" and r["target"]["kind"] == "simulated"
    assert r["time_unit"] == "simulated seconds"
    c = checks(r)
    assert c["all inference pods online"] and c["no pod restarts"] and c["no OOMKilled pods"]
    assert c["no Pending pods"]
    pods = r["pods"]
    assert pods["all_pods_ready_s"] if "all_pods_ready_s" in pods else pods["all_pods_ready_t"]
    # gpu-1x: every pod is Ready 60 simulated s after it was scheduled
    ready_after = [p["ready_after_s"] for p in pods["pods"]]
    assert len(ready_after) == 4 and all(abs(x - 60) <= 1.5 for x in ready_after)
    # the time to all pods online cannot be shorter than one pod start-up after the first query
    t = r["timings"]
    assert t["goal_after_first_query_s"] >= 59
    assert t["all_edge_in_one_iteration_s"] >= t["first_query_s"] + 59
    assert r["memory"]["samples"] > 0 and r["memory"]["ram_peak_bytes"] > 0
    for name in (
        "pods_ready_over_time.png",
        "memory_over_time.png",
        "load_test.log",
        "model_versions_over_time.png",
    ):
        assert (run_dir / name).stat().st_size > 0
    first = json.loads((run_dir / "load_test.log").read_text().splitlines()[0])
    assert (
        first["schema_version"] == runlog.SCHEMA_VERSION and first["scenario"] == "memory-pressure"
    )


def test_vram_runs_out_pods_pending(tmp_path, capsys):
    code, r, _ = run_cli(
        [
            "memory-pressure",
            "3",
            "BINARY",
            "--time-scale",
            SCALE,
            "--sim-profile",
            "vram-tight",
            "--timeout",
            "300",
        ],
        tmp_path,
    )
    assert code == 1
    assert r["status"] == "timed_out"
    c = checks(r)
    assert c["no Pending pods"] is False and c["all inference pods online"] is False
    pending = [p for p in r["pods"]["pods"] if p["name"] in r["pods"]["pending_pods"]]
    assert pending and all(p["unschedulable"] for p in pending)
    # only one detector's pods are left out: the 4 GiB GPU holds two detectors
    assert len({p["detector_id"] for p in pending}) == 1
    assert "FAIL] no Pending pods" in capsys.readouterr().out


def test_vram_runs_out_pods_oom_killed(tmp_path):
    profile = tmp_path / "oom.yaml"
    profile.write_text("extends: vram-tight\npods:\n  on_memory_exhausted: oom_kill\n")
    out_dir = tmp_path / "out"
    code, r, _ = run_cli(
        [
            "memory-pressure",
            "3",
            "BINARY",
            "--time-scale",
            SCALE,
            "--sim-profile",
            str(profile),
            "--timeout",
            "300",
        ],
        out_dir,
    )
    assert code == 1
    c = checks(r)
    assert c["no OOMKilled pods"] is False and c["no pod restarts"] is False
    assert r["pods"]["oom_killed_pods"]


def test_endpoint_that_comes_up_late(tmp_path, monkeypatch, capsys):
    from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

    overrides = {"endpoint": {"up_after_s": 150}, "pods": {"startup_s": 10}}
    with SimulatedEndpoint("gpu-1x", time_scale=100, overrides=overrides) as sim:
        monkeypatch.setenv("GROUNDLIGHT_ENDPOINT", sim.url)
        monkeypatch.setenv("GROUNDLIGHT_API_TOKEN", DEMO_TOKEN)
        code, r, _ = run_cli(["memory-pressure", "1", "BINARY"], tmp_path)
    out = capsys.readouterr().out
    assert code == 0, out
    assert r["target"]["kind"] == "real"  # given by GROUNDLIGHT_ENDPOINT
    assert r["time_scale"] == 100  # read from the simulator, so times are simulated seconds
    t = r["timings"]
    assert t["connect_failed_attempts"] >= 1
    assert 0 < t["connect_wait_s"] <= 150 + 20
    assert "endpoint not answering yet" in out
    assert r["pods"]["all_pods_ready_t"] is not None  # the simulator's pod API was found


def test_edge_answers_with_escalation_counts_503s(tmp_path):
    code, r, run_dir = run_cli(
        [
            "memory-pressure",
            "1",
            "BINARY",
            "--time-scale",
            SCALE,
            "--edge-config",
            "configs/edge-config-edge-answers-with-escalation.yaml",
        ],
        tmp_path,
    )
    assert code == 0
    assert "PUT /edge-config" in r["edge_config"]
    # until the pod is ready the endpoint must answer 503 (edge answers required): counted
    assert r["answers"]["errors_by_category"].get("http_503", 0) >= 1
    assert r["answers"]["by_kind"]["cloud"] == 0
    filled = (run_dir / "edge-config.yaml").read_text()
    assert r["detectors"][0]["id"] in filled


def test_bad_input_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("edge_inference_configs: [1, 2\n")
    for argv in (
        ["memory-pressure", "2", "BINARY", "--edge-config", str(bad)],
        ["memory-pressure", "2", "BINARY", "--edge-config", str(tmp_path / "none.yaml")],
        ["memory-pressure", "0", "BINARY"],
        ["memory-pressure", "2", "CATS"],
        ["memory-pressure", "2", "BINARY", "--confidence-threshold", "x"],
        ["memory-pressure", "2", "BINARY", "--k8s", "sometimes"],
    ):
        assert main(argv + ["--output-dir", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "error" in err, err
    assert not (tmp_path / "o").exists()  # nothing started


def test_sigint_leaves_a_partial_report(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDLIGHT_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeload.cli",
            "memory-pressure",
            "2",
            "BINARY",
            "--time-scale",
            "10",
            "--output-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("iter"):
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(lines) + rest
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    r = read_results(run_dir / RESULTS_FILENAME)
    assert r["status"] == "interrupted" and r["answers"]["answers"] >= 2
    assert "Traceback" not in rest
    last = json.loads((run_dir / "load_test.log").read_text().splitlines()[-1])
    assert last["type"] == "end" and last["status"] == "interrupted"


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_sigterm_too(tmp_path, sig):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDLIGHT_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeload.cli",
            "memory-pressure",
            "1",
            "BINARY",
            "--time-scale",
            "10",
            "--output-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not proc.stdout.readline().startswith("iter"):
        pass
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert read_results(run_dir / RESULTS_FILENAME)["status"] == "interrupted"


def test_vram_balance_checked_on_the_end_state_of_two_gpus(tmp_path, monkeypatch):
    """The run ends as soon as every pod is online; a last resources sample taken then gives the
    balance check its data even when no periodic sample falls after that moment."""
    from edgeload import samplers

    class StartOnlySampling(samplers.SamplingLoop):  # one periodic sample, at the start
        def __init__(self, samplers_, interval_s, emit, **kwargs):
            super().__init__(samplers_, 1e6, emit, **kwargs)

    monkeypatch.setattr(samplers, "SamplingLoop", StartOnlySampling)
    code, r, _ = run_cli(
        ["memory-pressure", "4", "BINARY", "--time-scale", SCALE, "--sim-profile", "gpu-2x"],
        tmp_path,
    )
    assert code == 0
    bal = r["memory"]["vram_balance"]
    assert checks(r)["VRAM spread evenly across GPUs"] is True, bal
    assert bal["gpus"] == 2 and bal["samples_checked"] == 1
    assert r["memory"]["samples"] == 2  # the one at the start and the final one
    assert bal["worst"]["t"] >= r["pods"]["all_pods_ready_t"]
    # the final sample holds every pod: 4 detectors x (900 MiB primary + 500 MiB OODD), spread
    assert sum(bal["worst"]["vram_used_bytes"]) == 4 * 1400 * 2**20
    assert bal["worst"]["gap_bytes"] <= bal["bound_bytes"]


def test_an_imbalanced_final_sample_fails_the_run():
    from edgeload.scenarios.pods import memory, runner

    det = "det_" + "A" * 28
    opts = runner.ScenarioOptions(
        scenario=runner.MEMORY_PRESSURE,
        num_detectors=1,
        mode="BINARY",
        stop_rule=runner.STOP_ALL_EDGE_IN_ONE_ITERATION,
        timeout_s=600,
    )
    gib = 2**30

    def sample(t: float, used: list[int]) -> dict:
        record = {
            "ram_used_bytes": 8 * gib,
            "ram_pct": 25.0,
            "gpus": [
                {"index": i, "name": "L4", "vram_used_bytes": u, "vram_total_bytes": 24 * gib}
                for i, u in enumerate(used)
            ],
        }
        raw = {
            "system": {"ram_bytes": {"eviction_threshold_pct": 90}},
            "detectors": [{"detector_id": det, "gpu": {"vram_bytes": {"primary": 900 * 2**20}}}],
        }
        return memory.memory_sample(t, record, raw)

    def results(final_used: list[int]) -> dict:
        state = runner.RunState(
            status="completed", t_up=0.0, t_first_query=1.0, t_goal=50.0, t_end=50.0
        )
        state.detectors = [{"id": det, "name": "d", "mode": "BINARY"}]
        state.memory_samples = [sample(0.0, [0, 0]), sample(50.0, final_used)]
        return runner.build_results(opts, {"kind": "simulated"}, 1.0, state)

    even = results([3 * gib, 3 * gib])
    skewed = results([6 * gib, 0])  # every pod on one GPU: 6 GiB apart, bound ~1.36 GiB
    assert checks(even)["VRAM spread evenly across GPUs"] is True
    assert checks(skewed)["VRAM spread evenly across GPUs"] is False
    assert skewed["exit_code"] == 1
