"""`edgeload rollouts` end to end against the simulator, at a high time scale."""

from __future__ import annotations

from pathlib import Path

from edgeload import verdict
from edgeload.cli import main
from edgeload.reporting.results import RESULTS_FILENAME, load_results

SCALE = "100"
# Label submissions and image queries are real HTTP round trips through the SDK (tens of ms on
# a loaded 2-core machine); at SCALE each costs seconds of simulated time, and the test below
# needs ~30 more labels per detector to train a new model within --duration. At this scale,
# with a label every simulated second, the first retrained model lands ~30-60 simulated s
# after the goal, well within the 150 s, even when the CPU is busy.
LABELLING_SCALE = "40"


_OK = {"passed": True, "failed": False, "not_observed": None}


def run_cli(argv: list[str], tmp_path: Path) -> tuple[int, dict]:
    code = main(argv + ["--output-dir", str(tmp_path)])
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    return code, load_results(runs[-1] / RESULTS_FILENAME)


def checks(results: dict) -> dict:
    """name -> True (passed), False (failed), None (not observed)."""
    return {c["name"]: _OK[c["status"]] for c in results["checks"]}


def test_three_detectors_roll_out_one_at_a_time(tmp_path, capsys):
    code, r = run_cli(
        [
            "rollouts",
            "3",
            "--time-scale",
            LABELLING_SCALE,
            "--sim-profile",
            "fast-rollouts",
            "--duration",
            "150",
            "--label-interval",
            "1",
        ],
        tmp_path,
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[0].startswith("target: simulated edge endpoint")
    c = checks(r)
    assert c["every detector received an edge answer"]
    assert c["pods updated one detector at a time"] is True
    assert c["only edge answers after a detector's first edge answer"] is True
    assert c["model rollouts observed"] is True
    o = r["outputs"]
    assert o["answers"]["non_edge_after_first_edge"] == 0
    assert not r["warnings"]  # fresh simulator: pods did not exist before the run
    per = o["pods"]["per_detector"]
    assert len(per) == 3
    # labels kept training going: each detector got at least one new model during --duration
    assert all(len(p["version_changes"]) >= 1 for p in per.values())
    windows = sorted(w for p in per.values() for w in p["update_windows"])
    assert len(windows) >= 3
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:], strict=False))  # one at a time
    assert o["labels"]["sent"] > 0
    assert o["summary"]["rollouts_seen"] >= 3 and o["summary"]["overlapping_updates"] == 0
    assert o["summary"]["labels_sent"] == o["labels"]["sent"]


def test_switchover_errors_are_counted(tmp_path):
    code, r = run_cli(
        [
            "rollouts",
            "2",
            "--time-scale",
            SCALE,
            "--sim-profile",
            "switchover-errors",
            "--duration",
            "200",
            "--iteration-interval",
            "0.5",
        ],
        tmp_path,
    )
    assert code == 1
    o = r["outputs"]
    after = {}
    for p in o["answers"]["per_detector"].values():
        for cat, n in p["errors_after_first_edge"].items():
            after[cat] = after.get(cat, 0) + n
    assert after.get("http_500", 0) >= 1
    assert o["answers"]["errors_by_category"]["http_500"] >= after["http_500"]
    assert o["summary"]["errors_after_first_edge"] == sum(after.values())
    assert checks(r)["only edge answers after a detector's first edge answer"] is False

    # `edgeload report` re-renders the folder from its log alone: the same results and plots
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    plots = ("pods_ready_over_time.png", "memory_over_time.png", "model_versions_over_time.png")
    for name in (*plots, RESULTS_FILENAME):
        (run_dir / name).unlink()
    assert main(["report", str(run_dir)]) == 0  # report renders; the run's code is in it
    again = load_results(run_dir / RESULTS_FILENAME)
    assert again["scenario"] == "rollouts"
    assert again["outputs"] == r["outputs"] and again["checks"] == r["checks"]
    assert (again["verdict"], again["exit_code"]) == (r["verdict"], r["exit_code"])
    assert all((run_dir / name).stat().st_size > 0 for name in plots)


def test_warns_when_pods_already_existed(tmp_path, monkeypatch, capsys):
    from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

    with SimulatedEndpoint("fast-rollouts", time_scale=100) as sim:
        monkeypatch.setenv("GROUNDLIGHT_ENDPOINT", sim.url)
        monkeypatch.setenv("GROUNDLIGHT_API_TOKEN", DEMO_TOKEN)
        # a given endpoint: its time scale and Kubernetes API are what the user says
        args = ["rollouts", "1", "--duration", "0", "--sim-time-scale", "100", "--k8s", sim.k8s_url]
        first_code, first = run_cli(args, tmp_path)
        code, second = run_cli(args, tmp_path)
    # --duration 0 leaves no time for a rollout: its goal is not observed, so inconclusive
    assert checks(first)["model rollouts observed"] is None
    assert first_code == verdict.EXIT_INCONCLUSIVE and first["verdict"] == "inconclusive"
    assert not first["warnings"]
    assert checks(first)["every detector received an edge answer"] is True
    assert checks(first)["no pod restarts"] is True  # the pods were watched
    assert second["outputs"]["answers"]["all_edge_on_first_iteration"]
    assert any("fresh install" in w["message"] for w in second["warnings"])
    assert "warning:" in capsys.readouterr().out

    # `edgeload compare` takes two runs of the same pod scenario, metric by metric
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    capsys.readouterr()
    assert main(["compare", str(runs[0]), str(runs[1])]) == 0
    table = capsys.readouterr().out
    assert "every_detector_got_edge_s (s)" in table and "pod_restarts" in table
