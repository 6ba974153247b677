"""`edgeload rollouts` end to end against the simulator, at a high time scale."""

from __future__ import annotations

from pathlib import Path

from edgeload.cli import main
from edgeload.scenarios.pods.results import RESULTS_FILENAME, read_results

SCALE = "100"
# Label submissions and image queries are real HTTP round trips through the SDK (tens of ms on
# a loaded 2-core machine); at SCALE each costs seconds of simulated time, and the test below
# needs ~30 more labels per detector to train a new model within --duration. At this scale,
# with a label every simulated second, the first retrained model lands ~30-60 simulated s
# after the goal, well within the 150 s, even when the CPU is busy.
LABELLING_SCALE = "40"


def run_cli(argv: list[str], tmp_path: Path) -> tuple[int, dict]:
    code = main(argv + ["--output-dir", str(tmp_path)])
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    return code, read_results(runs[-1] / RESULTS_FILENAME)


def checks(results: dict) -> dict:
    return {c["name"]: c["ok"] for c in results["checks"]}


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
    assert r["answers"]["non_edge_after_first_edge"] == 0
    assert not r["warnings"]  # fresh simulator: pods did not exist before the run
    per = r["pods"]["per_detector"]
    assert len(per) == 3
    # labels kept training going: each detector got at least one new model during --duration
    assert all(len(p["version_changes"]) >= 1 for p in per.values())
    windows = sorted(w for p in per.values() for w in p["update_windows"])
    assert len(windows) >= 3
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:], strict=False))  # one at a time
    assert r["labels"]["sent"] > 0


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
    after = {}
    for p in r["answers"]["per_detector"].values():
        for cat, n in p["errors_after_first_edge"].items():
            after[cat] = after.get(cat, 0) + n
    assert after.get("http_500", 0) >= 1
    assert r["answers"]["errors_by_category"]["http_500"] >= after["http_500"]
    assert checks(r)["only edge answers after a detector's first edge answer"] is False


def test_warns_when_pods_already_existed(tmp_path, monkeypatch, capsys):
    from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

    with SimulatedEndpoint("fast-rollouts", time_scale=100) as sim:
        monkeypatch.setenv("GROUNDLIGHT_ENDPOINT", sim.url)
        monkeypatch.setenv("GROUNDLIGHT_API_TOKEN", DEMO_TOKEN)
        args = ["rollouts", "1", "--duration", "0"]
        first_code, first = run_cli(args, tmp_path)
        code, second = run_cli(args, tmp_path)
    assert first_code == 0 and not first["warnings"]
    assert second["answers"]["all_edge_on_first_iteration"]
    assert any("fresh install" in w for w in second["warnings"])
    assert "warning:" in capsys.readouterr().out
