"""`edgeload history`: run folders (logfactory logs rendered by write_reports, with known
figures and dates) into one table, regressions against the previous comparable run, CSV and
Parquet, plots, exit codes; and pandas stays out of every other command's start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from logfactory import T0, LogFactory

from edgeload.cli import main
from edgeload.reporting import write_reports
from edgeload.reporting.history import build_history, find_run_dirs, read_runs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_run(
    folder: Path,
    name: str,
    created_at: str,
    second_step_requests: int,
    *,
    mode: str = "BINARY",
    latency_ms: float = 10.0,
) -> Path:
    """A two-step throughput run: 1 client at 10/s (100 requests in 10 s), then 2 clients
    expecting 20/s with `second_step_requests` in 10 s (at least 190: steady)."""
    log = LogFactory(
        created_at=created_at,
        inputs={"detector_mode": mode, "max_clients": 2, "output_dir": str(folder)},
    )
    for step, (clients, n) in enumerate([(1, 100), (2, second_step_requests)]):
        start = T0 + 10 * step
        log.step(step, clients=clients, expected_rps=10.0 * clients, t=start)
        log.uniform_requests(
            step=step, start=start, duration=10, n=n, clients=clients, latency_ms=latency_ms
        )
    log.end(T0 + 20, locust_request_count=100 + second_step_requests)
    run_dir = log.save(folder / name)
    write_reports(run_dir, plots=False, parallel=False)
    return run_dir


@pytest.fixture
def runs(tmp_path) -> Path:
    """Four runs: three comparable BINARY runs (the third fell from 20 to 15 requests/s: not
    steady any more), then a COUNT run (another group) that is the newest."""
    folder = tmp_path / "load_tests"
    make_run(folder, "a", "2026-01-01T10:00:00+00:00", 200)
    make_run(folder, "b", "2026-01-02T10:00:00+00:00", 195)  # -2.5%: within 10%
    make_run(folder, "c", "2026-01-03T10:00:00+00:00", 150, latency_ms=30.0)
    make_run(folder, "d", "2026-01-04T10:00:00+00:00", 100, mode="COUNT")
    return folder


def history_of(*paths, **kwargs):
    run_dirs, _ = find_run_dirs(paths)
    found, _ = read_runs(run_dirs)
    return build_history(found, **kwargs)


def test_one_row_per_run_with_inputs_figures_and_verdict(runs):
    h = history_of(runs)
    t = h.table
    assert list(t["run_dir"].map(lambda p: Path(p).name)) == ["a", "b", "c", "d"]
    assert list(t["scenario"]) == ["throughput"] * 4
    assert str(t["date"].dtype).startswith("datetime64") and t["date"].is_monotonic_increasing
    assert list(t["maximum_steady_rps"]) == [20.0, 19.5, 10.0, 10.0]
    assert list(t["input.detector_mode"]) == ["BINARY"] * 3 + ["COUNT"]
    assert "input.output_dir" not in t.columns  # it changes nothing measured
    assert set(t["verdict"]) == {"pass"} and set(t["target_kind"]) == {"simulated"}
    assert list(t["group"]) == ["throughput#1"] * 3 + ["throughput#2"]
    assert h.groups["throughput#2"] == "detector_mode=COUNT"


def test_a_regression_is_marked_in_the_worse_direction_only(runs):
    h = history_of(runs)
    names = h.table["run_dir"].map(lambda p: Path(p).name)
    by_run = dict(zip(names, h.table["regressions"], strict=True))
    assert by_run["a"] == "" and by_run["b"] == ""  # b moved 2.5%: within the tolerance
    regressed = set(by_run["c"].split(","))
    # rate fell by half, latency rose threefold: worse beyond 10%
    assert {"maximum_steady_rps", "maximum_rps", "latency_p95_ms"} <= regressed
    # `requests` fell too, but a request count has no better direction: never a regression
    assert "requests" not in regressed and "maximum_steady_ramp" not in regressed
    assert by_run["d"] == ""  # lower than c, but another group: nothing to compare with
    (rate,) = [r for r in h.regressions if r.metric == "maximum_steady_rps"]
    assert (rate.previous, rate.value, rate.change_pct) == (19.5, 10.0, pytest.approx(-48.72, 0.01))
    assert Path(rate.previous_run_dir).name == "b"
    # a tighter tolerance also flags b's 2.5%
    tight = history_of(runs, tolerance_pct=1.0)
    assert "maximum_steady_rps" in tight.table.set_index(tight.table["run_dir"].map(
        lambda p: Path(p).name))["regressions"]["b"]  # fmt: skip


def test_edgeload_history_prints_writes_csv_parquet_and_plots(runs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["history", str(runs), "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "throughput: 4 runs in 2 comparable groups" in printed
    assert "regression(s) beyond 10%" in printed and "maximum_steady_rps: 19.5 -> 10" in printed
    csv = pd.read_csv(out / "history.csv")
    parquet = pd.read_parquet(out / "history.parquet")
    for table in (csv, parquet):
        assert len(table) == 4
        assert list(table["maximum_steady_rps"]) == [20.0, 19.5, 10.0, 10.0]
        assert list(table["regressed"]) == [False, False, True, False]
        assert list(table["verdict"]) == ["pass"] * 4
    assert str(parquet["date"].dtype).startswith("datetime64")
    for name in ("history-throughput-1.png", "history-throughput-2.png"):
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)


def test_fail_on_regression_looks_at_the_newest_run(runs, tmp_path, capsys):
    out = str(tmp_path / "out")
    # the newest run of all (d, COUNT) did not regress
    assert main(["history", str(runs), "--output-dir", out, "--fail-on-regression"]) == 0
    # without d the newest is c, which did
    abc = [str(runs / n) for n in "abc"]
    assert main(["history", *abc, "--output-dir", out, "--no-plots"]) == 0
    code = main(["history", *abc, "--output-dir", out, "--fail-on-regression", "--no-plots"])
    assert code == 1
    assert "FAILED: the newest run" in capsys.readouterr().out
    # only the figures asked for are checked: the run count alone never regresses
    code = main(
        ["history", *abc, "--output-dir", out, "--fail-on-regression", "--metrics", "requests"]
    )
    assert code == 0


def test_unreadable_folders_are_skipped_with_a_warning(runs, tmp_path, capsys):
    broken = runs / "broken"
    broken.mkdir()
    (broken / "load_test_results.json").write_text("{not json")
    unrendered = runs / "unrendered"
    unrendered.mkdir()
    (unrendered / "load_test.log").write_text("")
    older = runs / "2026-01-01T00-00-00Z-fps"
    older.mkdir()
    (older / "fps_results.json").write_text("{}")
    code = main(
        ["history", str(runs), str(tmp_path / "missing"), "--output-dir", str(tmp_path),
         "--no-plots"]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "broken: skipped: " in err and "not valid JSON" in err
    assert "unrendered: skipped: " in err and "edgeload report" in err
    assert "missing: no such folder, skipped" in err
    assert "fps: skipped: it holds fps_results.json, not load_test_results.json" in err
    assert len(pd.read_csv(tmp_path / "history.csv")) == 4


def test_no_readable_run_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["history", str(tmp_path / "empty"), "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("edgeload history: error: no readable run in")
    assert not (tmp_path / "history.csv").exists()


def test_bad_options_are_one_line(runs, tmp_path, capsys):
    assert main(["history", str(runs), "--tolerance", "-5"]) == 2
    assert "--tolerance must be at least 0" in capsys.readouterr().err
    assert main(["history", str(runs), "--metrics", "nope", "--output-dir", str(tmp_path)]) == 2
    assert "--metrics nope: no run has such a headline figure" in capsys.readouterr().err
    assert main(["history", str(runs), "--tolerance", "5%", "--output-dir", str(tmp_path),
                 "--no-plots"]) == 0  # fmt: skip


def test_any_scenario_s_envelope_goes_in(runs, tmp_path):
    """Built from the envelope alone: a results file of another scenario (an fps run here)
    becomes rows of its own scenario, with its own figures and directions."""
    for day, fps in ((5, 30.0), (6, 20.0)):
        folder = tmp_path / "fps" / f"run{day}"
        folder.mkdir(parents=True)
        results = {
            "schema_version": 2,
            "scenario": "fps",
            "run_id": f"fps{day}",
            "status": "completed",
            "verdict": "pass",
            "exit_code": 0,
            "target": {"kind": "real", "url": "http://edge:30101"},
            "inputs": {"image_size": "640x480"},
            "metadata": {"created_at": f"2026-01-0{day}T00:00:00Z"},
            "outputs": {"summary": {"average_fps": fps, "submissions": 50}},
            "checks": [],
            "metrics": {
                "average_fps": {"unit": "frames/s", "higher_is_better": True},
                "submissions": {"unit": "", "higher_is_better": None},
            },
        }
        (folder / "load_test_results.json").write_text(json.dumps(results))
    h = history_of(runs, tmp_path / "fps")
    fps_rows = h.table[h.table["scenario"] == "fps"]
    assert list(fps_rows["average_fps"]) == [30.0, 20.0]
    assert list(fps_rows["group"]) == ["fps#1", "fps#1"]
    assert list(fps_rows["regressions"]) == ["", "average_fps"]
    assert fps_rows["maximum_steady_rps"].isna().all()


def test_pandas_stays_out_of_every_other_command_s_start_up():
    probe = (
        "import sys\n"
        "import edgeload.cli\n"
        "for argv in (['report', '--help'], ['compare', '--help'], ['sim', '--help'],\n"
        "             ['history', '--help'], ['throughput', '--help']):\n"
        "    try:\n"
        "        edgeload.cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('PANDAS' if 'pandas' in sys.modules else 'NO-PANDAS', file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stderr.strip().splitlines()[-1] == "NO-PANDAS", proc.stderr[-2000:]
    # and -X importtime, the way a person would look: no pandas line at all
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "edgeload.cli", "report", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert timed.returncode == 0
    assert "edgeload.scenarios" in timed.stderr  # the import times were printed
    assert "| pandas" not in timed.stderr


def test_history_and_report_html_for_real_runs_of_every_scenario(tmp_path):
    """One real run of each scenario against the embedded simulator: every run folder gets
    report.html, and `edgeload history` takes them all, one row each, with each scenario's
    headline figures."""
    out = tmp_path / "load_tests"
    fast = ["--sim-profile", "zero-latency", "--sim-time-scale", "20"]
    commands = {
        "throughput": ["throughput", "BINARY", "--max-clients", "1", "--time-between-ramp", "3",
                       "--image-width", "64", "--image-height", "48", "--client", "http", *fast],
        "fps": ["fps", "BINARY", "--image-size", "64x48", "--warmup-iterations", "5",
                "--iterations", "30", *fast],
        "memory-pressure": ["memory-pressure", "1", "BINARY", "--sim-time-scale", "20"],
        "rollouts": ["rollouts", "1", "--duration", "0", "--sim-time-scale", "20"],
    }  # fmt: skip
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("GROUNDLIGHT_")}
    for name, command in commands.items():
        run = subprocess.run(
            [sys.executable, "-m", "edgeload.cli", *command, "--output-dir", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert "Traceback" not in run.stdout + run.stderr, (name, run.stderr[-2000:])
        assert run.returncode in (0, 4), (name, run.stdout[-2000:], run.stderr[-2000:])
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert sorted(p.name.split("Z-", 1)[1] for p in folders) == sorted(commands)
    for folder in folders:
        page = (folder / "report.html").read_text()
        results = json.loads((folder / "load_test_results.json").read_text())
        assert results["verdict"].upper() in page and "data:image/png;base64," in page
    assert main(["history", str(out), "--output-dir", str(tmp_path / "history")]) == 0
    table = pd.read_csv(tmp_path / "history" / "history.csv")
    assert sorted(table["scenario"]) == sorted(commands)
    by_scenario = table.set_index("scenario")
    assert by_scenario.loc["throughput", "maximum_steady_rps"] > 0
    assert by_scenario.loc["fps", "average_fps"] > 0
    assert by_scenario.loc["memory-pressure", "all_pods_online_s"] >= 0
    assert by_scenario.loc["rollouts", "verdict"] == "inconclusive"
