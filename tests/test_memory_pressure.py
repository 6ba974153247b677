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
from edgeload.reporting.results import RESULTS_FILENAME, load_results

SCALE = "100"
_OK = {"passed": True, "failed": False, "not_observed": None}


def run_cli(argv: list[str], tmp_path: Path) -> tuple[int, dict, Path]:
    code = main(argv + ["--output-dir", str(tmp_path)])
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return code, load_results(run_dir / RESULTS_FILENAME), run_dir


def checks(results: dict) -> dict:
    """name -> True (passed), False (failed), None (not observed)."""
    return {c["name"]: _OK[c["status"]] for c in results["checks"]}


def test_all_pods_fit(tmp_path, capsys):
    code, r, run_dir = run_cli(["memory-pressure", "2", "BINARY", "--time-scale", SCALE], tmp_path)
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("target: simulated edge endpoint")
    assert code == 0, out
    assert r["status"] == "completed" and r["target"]["kind"] == "simulated"
    assert r["scenario"] == "memory-pressure" and r["verdict"] == "pass"
    o = r["outputs"]
    assert o["time_unit"] == "simulated seconds"
    c = checks(r)
    assert c["all inference pods online"] and c["no pod restarts"] and c["no OOMKilled pods"]
    assert c["no Pending pods"]
    pods = o["pods"]
    assert pods["all_pods_ready_s"] if "all_pods_ready_s" in pods else pods["all_pods_ready_t"]
    # gpu-1x: every pod is Ready 60 simulated s after it was scheduled
    ready_after = [p["ready_after_s"] for p in pods["pods"]]
    assert len(ready_after) == 4 and all(abs(x - 60) <= 1.5 for x in ready_after)
    # the time to all pods online cannot be shorter than one pod start-up after the first query
    t = o["timings"]
    assert t["goal_after_first_query_s"] >= 59
    assert t["all_edge_in_one_iteration_s"] >= t["first_query_s"] + 59
    assert o["memory"]["samples"] > 0 and o["memory"]["ram_peak_bytes"] > 0
    # the headline figures, by metric name (compare, gates and history read them)
    summary = o["summary"]
    assert summary["all_pods_online_s"] == pytest.approx(t["all_edge_in_one_iteration_s"], abs=1e-3)
    assert summary["pod_restarts"] == 0 and summary["oom_killed_pods"] == 0
    assert summary["pending_pods"] == 0 and summary["answers"] == o["answers"]["answers"]
    assert set(summary) == set(r["metrics"])
    plots = ("pods_ready_over_time.png", "memory_over_time.png", "model_versions_over_time.png")
    for name in (*plots, "load_test.log", RESULTS_FILENAME):
        assert (run_dir / name).stat().st_size > 0
    assert not (run_dir / "scenario_results.json").exists()  # one results envelope
    first = json.loads((run_dir / "load_test.log").read_text().splitlines()[0])
    assert (
        first["schema_version"] == runlog.SCHEMA_VERSION and first["scenario"] == "memory-pressure"
    )
    assert first["run_id"] and first["metadata"]["endpoint_clock"]["time_scale"] == 100

    # `edgeload report` re-renders the folder from its log alone: the same results and plots
    for name in (*plots, RESULTS_FILENAME):
        (run_dir / name).unlink()
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == 0
    again = load_results(run_dir / RESULTS_FILENAME)
    assert again["outputs"] == r["outputs"] and again["checks"] == r["checks"]
    assert (again["verdict"], again["exit_code"]) == (r["verdict"], r["exit_code"])
    assert all((run_dir / name).stat().st_size > 0 for name in plots)
    assert "all inference pods online" in capsys.readouterr().out


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
    # the goal not reached within --timeout: a run that ran its course, and failed its goal
    assert r["status"] == "completed" and "--timeout" in r["status_reason"]
    assert r["verdict"] == "fail"
    c = checks(r)
    assert c["no Pending pods"] is False and c["all inference pods online"] is False
    pods = r["outputs"]["pods"]
    pending = [p for p in pods["pods"] if p["name"] in pods["pending_pods"]]
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
    assert r["outputs"]["pods"]["oom_killed_pods"]
    assert r["outputs"]["summary"]["oom_killed_pods"] >= 1


def test_endpoint_that_comes_up_late(tmp_path, monkeypatch, capsys):
    from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

    overrides = {"endpoint": {"up_after_s": 150}, "pods": {"startup_s": 10}}
    with SimulatedEndpoint("gpu-1x", time_scale=100, overrides=overrides) as sim:
        monkeypatch.setenv("GROUNDLIGHT_ENDPOINT", sim.url)
        monkeypatch.setenv("GROUNDLIGHT_API_TOKEN", DEMO_TOKEN)
        # a given endpoint is never probed for the simulator's admin API: its time scale and
        # its Kubernetes API are what the user says
        argv = ["memory-pressure", "1", "BINARY", "--sim-time-scale", "100", "--k8s", sim.k8s_url]
        code, r, _ = run_cli(argv, tmp_path)
    out = capsys.readouterr().out
    assert code == 0, out
    assert r["target"]["kind"] == "real"  # given by GROUNDLIGHT_ENDPOINT
    assert r["outputs"]["time_scale"] == 100  # as given, so times are simulated seconds
    t = r["outputs"]["timings"]
    assert t["connect_failed_attempts"] >= 1
    assert 0 < t["connect_wait_s"] <= 150 + 20
    assert "endpoint not answering yet" in out
    assert r["outputs"]["pods"]["all_pods_ready_t"] is not None  # the pod API given was used
    assert r["outputs"]["summary"]["connect_wait_s"] == t["connect_wait_s"]


def test_edge_answers_with_escalation_counts_503s(tmp_path):
    code, r, run_dir = run_cli(
        [
            "memory-pressure",
            "1",
            "BINARY",
            # x20, not x100: the pod's 60 s start-up must outlast the first queries even on a
            # loaded host, or no 503 is there to count
            "--time-scale",
            "20",
            "--edge-config",
            "configs/edge-config-edge-answers-with-escalation.yaml",
        ],
        tmp_path,
    )
    assert code == 0
    o = r["outputs"]
    assert "PUT /edge-config" in o["edge_config"]
    # until the pod is ready the endpoint must answer 503 (edge answers required): counted
    assert o["answers"]["errors_by_category"].get("http_503", 0) >= 1
    assert o["answers"]["by_kind"]["cloud"] == 0
    assert o["summary"]["error_answers"] >= 1 and o["summary"]["cloud_answers"] == 0
    filled = (run_dir / "edge-config.yaml").read_text()
    assert o["detectors"][0]["id"] in filled


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
    r = load_results(run_dir / RESULTS_FILENAME)
    assert r["status"] == "interrupted" and r["outputs"]["answers"]["answers"] >= 2
    assert r["exit_code"] == 130 and r["verdict"] == "inconclusive"
    assert "Traceback" not in rest
    last = json.loads((run_dir / "load_test.log").read_text().splitlines()[-1])
    assert last["type"] == "end" and last["status"] == "interrupted"
    assert last["signal"] == "SIGINT"


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
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, rest
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    r = load_results(run_dir / RESULTS_FILENAME)
    assert r["status"] == "interrupted" and r["exit_code"] == 143


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
    o = r["outputs"]
    bal = o["memory"]["vram_balance"]
    assert checks(r)["VRAM spread evenly across GPUs"] is True, bal
    assert bal["gpus"] == 2 and bal["samples_checked"] == 1
    assert o["memory"]["samples"] == 2  # the one at the start and the final one
    assert bal["worst"]["t"] >= o["pods"]["all_pods_ready_t"]
    # the final sample holds every pod: 4 detectors x (900 MiB primary + 500 MiB OODD), spread
    assert sum(bal["worst"]["vram_used_bytes"]) == 4 * 1400 * 2**20
    assert bal["worst"]["gap_bytes"] <= bal["bound_bytes"]


def test_an_imbalanced_final_sample_fails_the_run(tmp_path):
    """The analysis reads only the log: a log whose last memory sample has every pod on one GPU
    fails the balance check (and the run)."""
    from edgeload.reporting import write_reports
    from edgeload.runlog import LogWriter
    from edgeload.scenarios.pods import memory

    det = "det_" + "A" * 28
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
        return {"type": runlog.SAMPLE, "kind": "memory", **memory.memory_sample(t, record, raw)}

    def results(name: str, final_used: list[int], fail_if: str | None = None) -> dict:
        run_dir = tmp_path / name
        run_dir.mkdir()
        t0 = 1_780_000_000.0
        log = LogWriter(run_dir / runlog.LOG_FILENAME)
        metadata = {"endpoint_clock": {"time_scale": 1.0}, "endpoint_images": {"edge": "x"}}
        inputs = {"num_detectors": 1, "detector_mode": "BINARY", "fail_if": fail_if}
        for record in (
            runlog.header(
                scenario="memory-pressure",
                run_id=runlog.new_run_id(),
                target={"kind": "simulated"},
                inputs=inputs,
                metadata=metadata,
            ),
            runlog.sample("timing", t=t0, name="endpoint_up", failed_attempts=0),
            runlog.sample("detectors", t=t0, detectors=[{"id": det, "name": "d"}]),
            runlog.sample("timing", t=t0 + 1, name="first_query"),
            sample(t0, [0, 0]),
            runlog.sample("timing", t=t0 + 50, name="goal"),
            sample(t0 + 50, final_used),
            runlog.end("completed", "goal reached", t=t0 + 50),
        ):
            log.write(record)
        log.close()
        return write_reports(run_dir, plots=False)

    even = results("even", [3 * gib, 3 * gib])
    skewed = results("skewed", [6 * gib, 0])  # every pod on one GPU: 6 GiB apart, bound ~1.36 GiB
    assert checks(even)["VRAM spread evenly across GPUs"] is True
    assert checks(skewed)["VRAM spread evenly across GPUs"] is False
    assert skewed["exit_code"] == 1
    assert skewed["outputs"]["summary"]["vram_gap_bytes"] == 6 * gib
    # --fail-if gates read the headline figures (outputs.summary) by metric name
    gate = "--fail-if vram_gap_bytes>1073741824"
    even = results("even-gated", [3 * gib, 3 * gib], fail_if=gate.split()[1])
    skewed = results("skewed-gated", [6 * gib, 0], fail_if=gate.split()[1])
    assert checks(even)[gate] is True and checks(skewed)[gate] is False
    unseen = results("unseen-gated", [3 * gib, 3 * gib], fail_if="pod_restarts>0")
    assert checks(unseen)["--fail-if pod_restarts>0"] is None  # no pod source: not observed


def test_pod_options_are_spelled_as_on_every_command(tmp_path):
    """The detector mode positionally (as the upstream scripts take it) or as --detector-mode,
    on both pod commands; the shared options with one default each."""
    from edgeload.cli import build_parser
    from edgeload.options import PROVISION_TIMEOUT
    from edgeload.scenarios.memory_pressure.options import validate_inputs as memory_inputs
    from edgeload.scenarios.rollouts.options import validate_inputs as rollout_inputs

    parser = build_parser()
    mp = memory_inputs(parser.parse_args(["memory-pressure", "10", "BINARY"]))
    assert (mp.num_detectors, mp.detector_mode, mp.timeout) == (10, "BINARY", 1800)
    mp = memory_inputs(
        parser.parse_args(["memory-pressure", "3", "--detector-mode", "count", "--time-scale", "5"])
    )
    assert (mp.num_detectors, mp.detector_mode, mp.sim_time_scale) == (3, "COUNT", 5.0)
    assert mp.sim_profile == "gpu-1x"
    ro = rollout_inputs(parser.parse_args(["rollouts", "3"]))
    assert (ro.num_detectors, ro.detector_mode, ro.sim_profile) == (3, "BINARY", "fast-rollouts")
    assert ro.provision_timeout == PROVISION_TIMEOUT.default and ro.refresh_rate_hint is None
    ro = rollout_inputs(
        parser.parse_args(
            ["rollouts", "2", "COUNT", "--prime-timeout", "60", "--sim-time-scale", "9"]
        )
    )
    assert (ro.detector_mode, ro.provision_timeout, ro.sim_time_scale) == ("COUNT", 60.0, 9.0)
    ro = rollout_inputs(
        parser.parse_args(["rollouts", "--num-detectors", "2", "--detector-mode", "COUNT"])
    )
    assert (ro.num_detectors, ro.detector_mode) == (2, "COUNT")


def test_an_endpoint_that_never_answers_is_a_failed_run_with_a_report(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GROUNDLIGHT_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GROUNDLIGHT_API_TOKEN", "api_BADINPUTbadinput0123456789token")
    code, r, run_dir = run_cli(
        ["memory-pressure", "1", "BINARY", "--connect-timeout", "2"], tmp_path
    )
    assert code == 5 and r["exit_code"] == 5
    assert r["status"] == "failed" and "did not answer" in r["status_reason"]
    assert r["verdict"] == "inconclusive"
    assert checks(r)["all inference pods online"] is None  # never observed, never passed
    assert r["outputs"]["timings"]["connect_wait_s"] is None
    records = [json.loads(line) for line in (run_dir / "load_test.log").read_text().splitlines()]
    assert [records[0]["type"], records[-1]["type"]] == ["header", "end"]
