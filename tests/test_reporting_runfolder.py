"""The run-folder writer and `edgeload report`: results JSON, plots, re-rendering, errors."""

from __future__ import annotations

import json

import pytest
from logfactory import T0, LogFactory

from edgeload.cli import main
from edgeload.errors import ResultsError
from edgeload.reporting import write_reports
from edgeload.reporting.plots.throughput import PLOTS
from edgeload.reporting.results import RESULTS_FILENAME, RESULTS_SCHEMA_VERSION, load_results

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def ramp_log(**factory_args) -> LogFactory:
    """Three 10 s steps; the last one overloaded (errors, slow, paced requests delayed)."""
    log = LogFactory(**factory_args)
    for i, (n, failures, latency) in enumerate([(100, 0, 10.0), (200, 0, 12.0), (250, 30, 80.0)]):
        start = T0 + 10 * i
        log.step(i, clients=i + 1, expected_rps=10.0 * (i + 1), t=start)
        times = [start + 10 * k / n for k in range(n)]
        log.requests(
            t=times,
            intended=[x - (0.3 if i == 2 else 0.0) for x in times],
            latency_ms=[latency + (k % 7) for k in range(n)],
            ok=[0] * failures + [1] * (n - failures),
            error=["http_503"] * failures + [None] * (n - failures),
            step=i,
            clients=i + 1,
        )
        for k in range(2):
            log.utilization(
                start + 2 + 5 * k,
                "endpoint",
                host="edge",
                gpu_pct=30.0 * (i + 1),
                cpu_pct=20.0,
                ram_pct=40.0,
                vram_pct=60.0,
            )
            log.utilization(start + 2 + 5 * k, "generator", host="gen", cpu_pct=15.0, ram_pct=5.0)
    log.worker_lost(T0 + 25, "worker-2", 12)
    log.end(T0 + 30, locust_request_count=550)
    return log


def check_pngs(run_dir) -> None:
    for name in PLOTS:
        data = (run_dir / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000, name


def test_write_reports_in_a_child_process_writes_json_and_plots(tmp_path):
    run_dir = ramp_log(inputs={"detector_mode": "BINARY", "api_token": "canary-secret"}).save(
        tmp_path
    )
    results = write_reports(run_dir, parallel=True)
    check_pngs(run_dir)
    assert set(PLOTS) == {
        "throughput_and_system_utilization_over_time.png",
        "time_vs_latency.png",
        "latency_vs_throughput.png",
    }
    on_disk = load_results(run_dir / RESULTS_FILENAME)
    assert on_disk == json.loads(json.dumps(results))
    assert on_disk["schema_version"] == RESULTS_SCHEMA_VERSION
    out = on_disk["outputs"]
    assert on_disk["status"] == "completed" and on_disk["scenario"] == "throughput"
    assert [s["steady"] for s in out["steps"]] == [True, True, False]
    assert out["summary"]["maximum_steady_rps"] == 20.0
    assert out["summary"]["corrected_latency_p50_ms"] is not None
    assert out["system_utilization_summary"]["endpoint"]["gpu_pct"] == 60.0
    assert out["workers_lost"][0]["worker"] == "worker-2"
    assert on_disk["target"]["kind"] == "simulated"
    assert on_disk["metadata"]["created_at"] == "2025-01-02T03:04:05+00:00"
    assert on_disk["metrics"]["latency_p95_ms"]["unit"] == "ms"
    assert "canary-secret" not in (run_dir / RESULTS_FILENAME).read_text()
    assert not list(run_dir.glob(".*.tmp"))


def test_plots_render_in_process_for_a_50_step_run(tmp_path):
    log = LogFactory()
    for i in range(50):
        start = T0 + 12 * i
        log.step(i, clients=i + 1, expected_rps=float(i + 1), t=start)
        log.uniform_requests(
            step=i, start=start, duration=12, n=12 * (i + 1), clients=i + 1, latency_ms=5.0 + i
        )
    log.end(T0 + 600)
    run_dir = log.save(tmp_path)
    results = write_reports(run_dir, parallel=False)
    check_pngs(run_dir)
    assert len(results["outputs"]["steps"]) == 50
    # no utilization samples: said, and the plots are drawn anyway
    codes = {w["code"] for w in results["warnings"]}
    assert {"no_endpoint_utilization", "no_generator_utilization"} <= codes


def test_rerendering_replaces_own_results_but_refuses_another_runs(tmp_path):
    run_dir = ramp_log().save(tmp_path)
    write_reports(run_dir, plots=False)
    write_reports(run_dir, plots=False)  # same log: regenerated
    ramp_log(created_at="2025-06-01T00:00:00+00:00").save(tmp_path)  # another run's log
    with pytest.raises(ResultsError, match="belongs to another run"):
        write_reports(run_dir, plots=False)


def test_report_cli_reads_a_log_cut_off_by_a_crash(tmp_path, capsys):
    log = ramp_log()
    log.lines.pop()  # no end record: the run crashed ...
    run_dir = log.save(tmp_path, tail='{"type": "requests", "n": 2, "t": [17')  # ... mid-write
    assert main(["report", str(run_dir), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "interrupted" in out and "steady" in out
    assert "warning: the log's last line was cut off" in out
    results = load_results(run_dir / RESULTS_FILENAME)
    assert results["status"] == "interrupted"
    assert results["outputs"]["request_records"] == 550


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: None, "no such run folder"),
        (lambda d: d.mkdir(), "no load_test.log in this folder"),
        (lambda d: LogFactory(schema_version=99).save(d), "log schema_version 99 is not supported"),
        (lambda d: LogFactory().save(d, tail="{}\n{garbage\n{}\n"), "line 3 is damaged"),
    ],
)
def test_report_cli_one_line_errors(tmp_path, capsys, make, message):
    run_dir = tmp_path / "run"
    make(run_dir)
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgeload report: error:") and message in err
    assert err.count("\n") == 1


def test_reporting_never_imports_locust_or_gevent():
    import subprocess
    import sys

    code = (
        "import sys, edgeload.reporting, edgeload.reporting.compare, "
        "edgeload.reporting.plots.throughput, edgeload.reporting.summary; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'locust', 'gevent'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
