"""`edgeload rollouts-under-load` end to end against the simulator (fast profiles, high time
scale, tiny images), and its pure parts: rollout windows, spikes, Deployment revisions."""

from __future__ import annotations

from pathlib import Path

from edgeload import verdict
from edgeload.cli import main
from edgeload.reporting.results import RESULTS_FILENAME, load_results
from edgeload.scenarios.rollouts_under_load import revisions
from edgeload.scenarios.rollouts_under_load import windows as win

_OK = {"passed": True, "failed": False, "not_observed": None}
ENOUGH, ZERO = "enough rollouts", "zero errors for error-free-s"
# a small detector and quick labels: 10 labels every simulated second retrain within seconds
FAST = ["--image-size", "64x48", "--label-interval", "1", "--labels-per-batch", "10"]


def run_cli(argv: list[str], tmp_path: Path) -> tuple[int, dict, Path]:
    code = main(["rollouts-under-load", *argv, "--output-dir", str(tmp_path)])
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return code, load_results(run_dir / RESULTS_FILENAME), run_dir


def checks(results: dict) -> dict:
    return {c["name"]: _OK[c["status"]] for c in results["checks"]}


def test_rollouts_under_load_pass_and_rerender(tmp_path, capsys):
    code, r, run_dir = run_cli(
        [*FAST, "--sim-time-scale", "50", "--error-free-s", "40", "--timeout", "600",
         "--requests-per-second", "20"],
        tmp_path,
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert checks(r) == {ENOUGH: True, ZERO: True}
    o, s = r["outputs"], r["outputs"]["summary"]
    assert s["rollouts"] >= 2 and s["rollout_windows"] >= 2
    assert o["revisions"]["available"] and o["revisions"]["after"] - o["revisions"]["before"] >= 2
    assert s["errors"] == 0 and s["requests"] > 20 and s["load_s"] >= 40
    assert s["longest_error_free_s"] == s["load_s"]
    for w in o["rollout_windows"]:
        assert w["end_s"] > w["start_s"] >= o["load"]["start_s"]
        assert w["errors"] == 0
    assert all(i["kind"] == "spike" for i in o["incidents"])
    assert "window  start s" in out and "enough rollouts" in out
    # the same run, re-rendered from its log alone
    for name in ("latency_over_time.png", RESULTS_FILENAME, "rollout_windows.csv"):
        (run_dir / name).unlink()
    assert main(["report", str(run_dir)]) == 0
    again = load_results(run_dir / RESULTS_FILENAME)
    assert again["outputs"] == r["outputs"] and again["checks"] == r["checks"]
    assert (run_dir / "latency_over_time.png").stat().st_size > 0
    assert (run_dir / "rollout_windows.csv").read_text().startswith("index,start_s")


def test_upstreams_edge_config_is_applied_before_the_load(tmp_path):
    """--edge-config as upstream runs it: the detector answers from the edge only and the
    updater polls every 5 s; the filled config is in the run folder, the box says it took it,
    and rollouts still land with no failed query."""
    config = (
        Path(__file__).resolve().parents[1] / "configs" / "edge-config-rollouts-under-load.yaml"
    )
    code, r, run_dir = run_cli(
        [*FAST, "--sim-time-scale", "50", "--error-free-s", "30", "--edge-config", str(config)],
        tmp_path,
    )
    assert code == 0, r["status_reason"]
    assert r["inputs"]["edge_config"] == str(config)
    filled = (run_dir / "edge-config.yaml").read_text()
    detector_id = r["outputs"]["detector"]["id"]
    assert detector_id in filled and "no_cloud" in filled
    applied = r["outputs"]["edge_config"]
    assert "PUT /edge-config" in applied["applied"] and applied["endpoint_refresh_rate_s"] == 5
    assert r["outputs"]["summary"]["errors"] == 0 and r["outputs"]["summary"]["rollouts"] >= 2


def test_switchover_errors_fail_inside_rollout_windows(tmp_path):
    # switch-over errors last 2 simulated s: at x25 and 50 queries/s, about 4 queries each
    code, r, _ = run_cli(
        [*FAST, "--sim-profile", "switchover-errors", "--sim-time-scale", "25",
         "--error-free-s", "20", "--min-rollouts", "1", "--requests-per-second", "50",
         "--clients", "2", "--client", "http"],
        tmp_path,
    )  # fmt: skip
    assert code == verdict.EXIT_FAIL and r["verdict"] == "fail"
    assert checks(r) == {ENOUGH: True, ZERO: False}
    o, s = r["outputs"], r["outputs"]["summary"]
    assert s["errors_in_rollouts"] >= 1 and s["errors_outside_rollouts"] == 0
    assert s["errors"] == s["errors_in_rollouts"]
    errors = [i for i in o["incidents"] if i["kind"] == "error"]
    assert len(errors) == s["errors"]
    assert all(i["category"] == "http_500" and i["window"] is not None for i in errors)
    spans = {w["index"]: (w["start_s"], w["counted_until_s"]) for w in o["rollout_windows"]}
    assert all(spans[i["window"]][0] <= i["t"] <= spans[i["window"]][1] for i in errors)
    assert s["longest_error_free_s"] < s["load_s"]


def test_no_rollout_in_time_is_inconclusive(tmp_path):
    # one label after the primed model: the cloud never trains again, so nothing rolls out
    code, r, _ = run_cli(
        ["--image-size", "64x48", "--label-interval", "10000", "--labels-per-batch", "1",
         "--sim-time-scale", "50", "--error-free-s", "20", "--timeout", "40"],
        tmp_path,
    )  # fmt: skip
    assert code == verdict.EXIT_INCONCLUSIVE and r["verdict"] == "inconclusive"
    assert checks(r) == {ENOUGH: None, ZERO: True}
    assert r["outputs"]["summary"]["rollouts"] == 0
    assert "only 0 of --min-rollouts 2" in r["checks"][0]["detail"]
    assert r["status"] == "completed" and "--timeout 40" in r["status_reason"]


def test_timeout_below_error_free_window_is_a_usage_error(tmp_path, capsys):
    argv = ["rollouts-under-load", "--error-free-s", "60", "--timeout", "30"]
    assert main([*argv, "--output-dir", str(tmp_path)]) == verdict.EXIT_USAGE
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--timeout" in err[0]
    assert not any(tmp_path.iterdir())


# -- pure parts ---------------------------------------------------------------------------------


def req(t: float, ms: float = 10.0, ok: bool = True) -> win.Request:
    return win.Request(t, ms, ok, None if ok else "http_503", 200 if ok else 503)


def test_requests_are_placed_in_windows_with_the_margin_and_spikes_found():
    requests = [req(1), req(2), req(3), req(10, 500), req(12, ok=False), req(15.5, ok=False),
                req(20), req(22, 300), req(30)]  # fmt: skip
    found = win.analyze_windows(
        requests,
        [[9.0, 14.0], [21.0, 25.0]],
        margin_s=2.0,
        rule=win.SpikeRule(None, 3.0),
        t_end=24.0,
    )
    first, second = found["windows"]
    assert (first["requests"], first["errors"], first["spikes"]) == (3, 2, 1)  # 15.5: margin
    assert first["spike_threshold_ms"] == 110.0  # median 10 ms before it, +100 ms at least
    assert first["closed"] and not second["closed"]
    assert (second["requests"], second["spikes"]) == (1, 1)
    assert found["outside"]["requests"] == 5 and found["outside"]["errors"] == 0
    kinds = [(i["t"], i["kind"], i["window"]) for i in found["incidents"]]
    assert kinds == [(10, "spike", 1), (12, "error", 1), (15.5, "error", 1), (22, "spike", 2)]
    assert win.longest_error_free_s(requests, 0.0, 30.0) == 14.5
    # a margin never reaches into the next window
    assert win.counted_spans([[0, 5], [6, 8]], 5.0) == [(0, 6), (6, 13)]


def test_revision_rise_and_rollout_status():
    dep = {"revision": 2, "generation": 2, "observed_generation": 2, "desired": 1,
           "replicas": 1, "updated": 1, "ready": 1}  # fmt: skip
    assert not revisions.rolling({"a": dep})
    assert revisions.rolling({"a": {**dep, "replicas": 2}})  # the old pod still there
    assert revisions.rolling({"a": {**dep, "observed_generation": 1}})
    samples = [
        {"t": 0.0, "deployments": {"p": {**dep, "revision": 1}, "o": {**dep, "revision": 1}}},
        {"t": 5.0, "deployments": {"p": {**dep, "revision": 2}, "o": {**dep, "revision": 1}}},
        {"t": 9.0, "deployments": {"p": {**dep, "revision": 3}, "o": {**dep, "revision": 3}}},
    ]
    rise = revisions.revision_rise(samples)
    assert (rise["before"], rise["after"], rise["rollouts"]) == (1, 3, 2)
    assert rise["revision_rise_t"] == [5.0, 9.0]
    assert revisions.revision_rise([])["available"] is False
    raw = {
        "metadata": {"name": "inferencemodel-primary-det-abc", "generation": 3,
                     "annotations": {revisions.REVISION_ANNOTATION: "3",
                                     "groundlight.dev/detector-id": "det_abc"}},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 3, "replicas": 1, "updatedReplicas": 1,
                   "readyReplicas": 1},
    }  # fmt: skip
    assert revisions.deployment_facts(raw, "det_abc")["revision"] == 3
    assert revisions.deployment_facts(raw, "det_other") is None
