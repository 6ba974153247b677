"""The single-client FPS test: pure statistics, the measurement loop, the session, its log and
report, the CLI, the locustfile.

Runs against the simulator use the `fixed-latency` profile (every inference exactly 20 ms, no
edge-app overhead), so the truth is known: a submission can never take less than 20 ms, and
the rest is the HTTP round trip and client overhead on 127.0.0.1. Runs of the session alone use
a fake endpoint (no network) whose submissions and pipeline config the test controls.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import statistics
from pathlib import Path

import numpy as np
import pytest

from edgeload import runlog
from edgeload.clients import Outcome
from edgeload.errors import ResultsError, UsageError
from edgeload.reporting import load_results
from edgeload.reporting.logreader import read_log
from edgeload.reporting.results import RESULTS_SCHEMA_VERSION
from edgeload.scenarios.fps import command as fps_command
from edgeload.scenarios.fps.analysis import (
    analyze,
    format_row,
    format_summary_table,
    fps_statistics,
)
from edgeload.scenarios.fps.measure import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    Measurement,
    measure,
)
from edgeload.scenarios.fps.metrics import FIGURES, RUN_METRICS
from edgeload.scenarios.fps.options import IMAGE_SIZES, Inputs, validate_inputs
from edgeload.scenarios.fps.progress import LoopProgress

# ---------------------------------------------------------------------------------------------
# pure statistics


def test_statistics_of_synthetic_latencies():
    latencies = [0.010, 0.020, 0.040, 0.050, 0.025]  # seconds
    fps = [1 / x for x in latencies]  # 100, 50, 25, 20, 40
    stats = fps_statistics(latencies)
    assert stats["average_fps"] == pytest.approx(statistics.mean(fps))
    assert stats["min_fps"] == pytest.approx(20.0)
    assert stats["max_fps"] == pytest.approx(100.0)
    assert stats["fps_std_dev"] == pytest.approx(statistics.stdev(fps))
    assert stats["fps_p50"] == pytest.approx(40.0)
    # linear interpolation between closest ranks: sorted 20,25,40,50,100 -> rank 0.4 -> 22
    assert stats["fps_p10"] == pytest.approx(22.0)
    assert stats["throughput_fps"] == pytest.approx(5 / sum(latencies))
    assert stats["latency_ms_mean"] == pytest.approx(29.0)
    assert stats["latency_ms_p50"] == pytest.approx(25.0)
    # sorted 10,20,25,40,50 ms -> rank 3.8 for p95 -> 40 + 0.8*10
    assert stats["latency_ms_p95"] == pytest.approx(48.0)
    assert stats["latency_ms_p99"] == pytest.approx(49.6)
    assert stats["latency_ms_min"] == pytest.approx(10.0)
    assert stats["latency_ms_max"] == pytest.approx(50.0)


def test_average_fps_is_mean_of_rates_not_inverse_of_mean_latency():
    stats = fps_statistics([0.01, 0.09])  # 100 and ~11.1 FPS
    assert stats["average_fps"] == pytest.approx((100 + 1 / 0.09) / 2)
    assert stats["throughput_fps"] == pytest.approx(2 / 0.1)
    assert stats["average_fps"] > stats["throughput_fps"]


def test_statistics_match_the_upstream_script_on_large_samples():
    rng = np.random.default_rng(1)
    latencies = rng.uniform(0.015, 0.060, 5000)
    fps = [1 / x for x in latencies]
    stats = fps_statistics(latencies)
    # single_client_fps_test.py: statistics.median and statistics.quantiles(n=10)[0]
    assert stats["fps_p50"] == pytest.approx(statistics.median(fps), rel=1e-3)
    assert stats["fps_p10"] == pytest.approx(statistics.quantiles(fps, n=10)[0], rel=2e-3)


def test_statistics_edge_cases():
    assert all(v is None for v in fps_statistics([]).values())
    one = fps_statistics([0.02])
    assert one["average_fps"] == pytest.approx(50.0)
    assert one["fps_std_dev"] is None
    with pytest.raises(ValueError):
        fps_statistics([0.01, 0.0])


def test_metrics_are_declared_once_with_units_and_direction():
    keys = [m.name for m in FIGURES]
    assert len(keys) == len(set(keys))
    for metric in FIGURES:
        assert metric.unit in ("1/s", "ms")
        assert metric.higher_is_better == (metric.unit == "1/s" and metric.name != "fps_std_dev")
    run_names = [m.name for m in RUN_METRICS]
    assert len(run_names) == len(set(run_names)) and set(keys) <= set(run_names)


# ---------------------------------------------------------------------------------------------
# the measurement loop, with a fake submission and config reader


class FakeEndpoint:
    """Submissions that sleep a known time; a pipeline config that can change."""

    def __init__(self, sleep_s=0.0, fail_at=None, change_config_at=None, interrupt_at=None):
        import time

        self.sleep_s = sleep_s
        self.fail_at = fail_at
        self.change_config_at = change_config_at
        self.interrupt_at = interrupt_at
        self.calls = 0
        self.config = "pipeline-A"
        self._sleep = time.sleep

    def submit(self, payload=None):
        if self.interrupt_at is not None and self.calls + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls += 1
        if self.change_config_at is not None and self.calls >= self.change_config_at:
            self.config = "pipeline-B"
        if self.sleep_s:
            self._sleep(self.sleep_s)
        if self.fail_at is not None and self.calls == self.fail_at:
            return Outcome(200, "not_from_edge", "answer came from the cloud")
        return Outcome(200, None)

    def read_config(self):
        return self.config


def test_measure_times_each_submission_after_the_warmup():
    fake = FakeEndpoint(sleep_s=0.002)
    m = Measurement(warmup_iterations=5, iterations=20)
    measure(m, fake.submit, fake.read_config, progress_stream=io.StringIO())
    assert m.status == COMPLETED and m.valid and m.config_verified
    assert fake.calls == 25
    assert m.warmup_completed == 5
    assert len(m.latencies_s) == 20
    assert min(m.latencies_s) >= 0.002
    assert [c["phase"] for c in m.config_checks] == ["before", "after"]


def test_a_non_edge_answer_stops_the_run_as_an_error():
    fake = FakeEndpoint(fail_at=8)
    m = Measurement(warmup_iterations=3, iterations=10)
    measure(m, fake.submit, fake.read_config, progress_stream=io.StringIO())
    assert m.status == FAILED
    assert "not_from_edge" in m.error and "test submission 5" in m.error
    assert len(m.latencies_s) == 4


def test_a_pipeline_config_change_between_checks_makes_the_run_invalid():
    fake = FakeEndpoint(change_config_at=12)
    m = Measurement(warmup_iterations=2, iterations=30)
    # a huge interval: only the before/after readings can notice
    measure(m, fake.submit, fake.read_config, config_check_interval_s=1e9)
    assert m.status == COMPLETED
    assert not m.valid
    assert "'pipeline-A' to 'pipeline-B'" in m.invalid_reason


def test_a_pipeline_config_change_is_caught_during_the_test_and_stops_it():
    fake = FakeEndpoint(sleep_s=0.001, change_config_at=12)
    m = Measurement(warmup_iterations=2, iterations=10_000)
    measure(m, fake.submit, fake.read_config, config_check_interval_s=0.005)
    assert not m.valid
    assert len(m.latencies_s) < 100  # stopped early, not after 10,000
    assert any(
        c["phase"] == "during" and c["pipeline_config"] == "pipeline-B" for c in m.config_checks
    )


def test_an_unreadable_config_is_recorded_not_fatal_and_not_verified():
    fake = FakeEndpoint()

    def broken():
        raise OSError("connection refused")

    m = Measurement(warmup_iterations=0, iterations=3)
    measure(m, fake.submit, broken, progress_stream=io.StringIO())
    assert m.status == COMPLETED and m.valid and not m.config_verified
    assert all("connection refused" in c["error"] for c in m.config_checks)
    assert all(c["source"] == "unknown" and c["confirmed"] is False for c in m.config_checks)


def test_interrupt_marks_the_measurement_and_keeps_what_was_measured():
    fake = FakeEndpoint(interrupt_at=7)
    m = Measurement(warmup_iterations=2, iterations=10)
    with pytest.raises(KeyboardInterrupt):
        measure(m, fake.submit, fake.read_config, progress_stream=io.StringIO())
    assert m.status == INTERRUPTED
    assert len(m.latencies_s) == 4
    assert m.ended_at is not None


def test_progress_prints_lines_when_not_a_tty():
    now = [0.0]
    stream = io.StringIO()
    bar = LoopProgress("measuring", 100, stream, interval_s=1.0, clock=lambda: now[0])
    for i in range(1, 101):
        now[0] = i * 0.05  # 5 s in all
        bar.update(i)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert 5 <= len(lines) <= 7  # about one a second, plus the final count
    assert lines[-1].startswith("measuring: 100/100 (100%)")


def test_progress_redraws_in_place_on_a_tty():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = LoopProgress("warming up", 10, stream)
    for i in range(1, 11):
        bar.update(i)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and "10/10" in text


# ---------------------------------------------------------------------------------------------
# the session, its log and its report, against a fake endpoint (no network)


class FakeTarget:
    kind = "simulated"
    url = "http://127.0.0.1:1"
    token = "not-a-token"
    sim = None

    def as_record(self):
        return {"kind": self.kind, "url": self.url, "started_by_edgeload": True}

    def describe(self):
        return f"target: fake endpoint at {self.url}"


def _inputs(tmp_path, **over) -> Inputs:
    base = dict(
        detector_mode="BINARY",
        image_sizes=((640, 480),),
        warmup_iterations=2,
        iterations=3,
        client="sdk",
        detector_id=None,
        config_check_interval=1e9,
        output_dir=str(tmp_path),
        sim_profile="fixed-latency",
        sim_time_scale=1.0,
        provision_timeout=60.0,
    )
    base.update(over)
    return Inputs(**base)


def fake_detector(session, size):
    import types

    return types.SimpleNamespace(
        id=f"det_fake{size[0]}x{size[1]}",
        name=f"edgeload-binary-{size[0]}x{size[1]}",
        query="Is the image background black?",
        pipeline_config="pipeline-A",
        pipeline_config_source="edge",
        pipeline_config_confirmed=True,
    )


def fake_run(tmp_path, monkeypatch, fake=None, provision=fake_detector, **over):
    """A whole `edgeload fps` run over a fake endpoint; (exit code, printed text, run dir)."""
    from edgeload.scenarios.fps import run as fps_run
    from edgeload.scenarios.fps import session as fps_session

    fake = fake or FakeEndpoint(sleep_s=0.001)
    monkeypatch.setattr("edgeload.metadata.collect_metadata", lambda target: {})
    monkeypatch.setattr(fps_session, "provision_for_size", provision)
    monkeypatch.setattr(fps_session.FpsSession, "_config_reader", lambda self, d: fake.read_config)
    monkeypatch.setattr(fps_session.FpsSession, "_endpoint_images", lambda self, size: {})
    out = io.StringIO()
    inputs = _inputs(tmp_path, **over)
    code = fps_run.run_fps_command(
        inputs,
        out=out,
        progress_stream=io.StringIO(),
        target=FakeTarget(),
        submitter_factory=lambda session, detector, size: (lambda: b"jpeg", fake.submit),
    )
    [run_dir] = [p for p in Path(inputs.output_dir).iterdir() if p.name.endswith("-fps")]
    return code, out.getvalue(), run_dir


def test_the_log_holds_every_record_the_analysis_needs(tmp_path, monkeypatch):
    code, out, run_dir = fake_run(tmp_path, monkeypatch, image_sizes=((640, 480), (64, 48)))
    assert code == 0, out
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-fps", run_dir.name)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "latency_histogram.png",
        "load_test.log",
        "load_test_results.json",
        "report.html",
        "sizes.csv",
    ]
    records = [json.loads(line) for line in (run_dir / "load_test.log").read_text().splitlines()]
    header = records[0]
    assert header["type"] == "header" and header["scenario"] == "fps" and header["run_id"]
    assert header["inputs"]["image_sizes"] == ["640x480", "64x48"]
    steps = [r for r in records if r["type"] == "step"]
    assert [(s["image_size"], s["phase"], s["step"]) for s in steps] == [
        ("640x480", "warmup", 0),
        ("640x480", "test", 1),
        ("64x48", "warmup", 2),
        ("64x48", "test", 3),
    ]
    batches = [r for r in records if r["type"] == "requests"]
    assert sum(b["n"] for b in batches) == 2 * (2 + 3)
    assert set(batches[0]) >= {"type", "n", *runlog.REQUEST_COLUMNS}
    configs = [r for r in records if r.get("kind") == "pipeline_config"]
    assert [c["phase"] for c in configs if c["image_size"] == "64x48"] == [
        "provisioned",
        "before",
        "after",
    ]
    assert all(c["source"] == "edge" and c["confirmed"] is True for c in configs)
    assert [r["status"] for r in records if r.get("kind") == "size_end"] == ["completed"] * 2
    assert records[-1]["type"] == "end" and records[-1]["status"] == "completed"
    assert records[-1]["signal"] is None


def _row(tmp_path, monkeypatch, **over):
    _, _, run_dir = fake_run(tmp_path, monkeypatch)
    row = load_results(run_dir)["outputs"]["sizes"][0]
    row.update(over)
    return row


def test_printed_report_has_the_upstream_fields_and_latency_percentiles(tmp_path, monkeypatch):
    row = _row(tmp_path, monkeypatch)
    text = format_row(row)
    for name in (
        "test_timestamp",
        "edge_endpoint_image",
        "inference_server_image",
        "detector_id",
        "pipeline_config: pipeline-A",
        "detector_name",
        "detector_query",
        "detector_mode",
        "image_size: 640x480",
        "endpoint",
        "warmup_iterations: 2",
        "testing_iterations: 3",
        "average_fps",
        "min_fps",
        "max_fps",
        "fps_std_dev",
        "fps_p50",
        "fps_p10",
        "latency_ms_p50",
        "latency_ms_p95",
        "latency_ms_p99",
    ):
        assert name in text
    invalid = format_row({**row, "valid": False, "invalid_reason": "changed"})
    assert "INVALID: changed" in invalid


def test_results_envelope_schema_and_histogram(tmp_path, monkeypatch):
    code, _, run_dir = fake_run(tmp_path, monkeypatch, image_sizes=((640, 480), (1920, 1080)))
    assert code == 0
    path = run_dir / "load_test_results.json"
    loaded = load_results(path)
    assert loaded["schema_version"] == RESULTS_SCHEMA_VERSION and loaded["status"] == "completed"
    assert loaded["scenario"] == "fps" and loaded["verdict"] == "pass"
    rows = loaded["outputs"]["sizes"]
    assert [r["image_size"] for r in rows] == ["640x480", "1920x1080"]
    assert loaded["outputs"]["summary"]["completed_iterations"] == 6
    assert set(loaded["metrics"]) == {m.name for m in RUN_METRICS}
    png = run_dir / "latency_histogram.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = format_summary_table(rows).splitlines()
    assert len(table) == 3 and "640x480" in table[1] and "1920x1080" in table[2]

    loaded["schema_version"] = 99
    path.write_text(json.dumps(loaded))
    with pytest.raises(ResultsError, match="schema_version 99"):
        load_results(path)


def _checks(results):
    return {c["name"]: c for c in results["checks"]}


def test_a_failed_submission_fails_the_run_and_keeps_what_was_measured(tmp_path, monkeypatch):
    code, out, run_dir = fake_run(tmp_path, monkeypatch, FakeEndpoint(fail_at=4), iterations=5)
    results = load_results(run_dir)
    assert code == 1 and results["verdict"] == "fail" and results["exit_code"] == 1
    (row,) = results["outputs"]["sizes"]
    assert row["status"] == "failed" and row["completed_iterations"] == 1
    assert "not_from_edge" in row["error"] and "test submission 2" in row["error"]
    assert _checks(results)["submissions answered by the edge"]["status"] == "failed"
    assert "not_from_edge" in out


def test_a_config_change_makes_the_run_invalid_and_fail(tmp_path, monkeypatch):
    fake = FakeEndpoint(change_config_at=3)
    code, out, run_dir = fake_run(tmp_path, monkeypatch, fake, iterations=5)
    results = load_results(run_dir)
    assert code == 1 and results["verdict"] == "fail"
    (row,) = results["outputs"]["sizes"]
    assert row["valid"] is False and "'pipeline-A' to 'pipeline-B'" in row["invalid_reason"]
    check = _checks(results)["pipeline config unchanged"]
    assert check["status"] == "failed" and "pipeline config on the edge changed" in check["detail"]
    assert "INVALID" in out


def test_an_edge_that_never_publishes_its_config_is_not_observed_not_passed(tmp_path, monkeypatch):
    fake = FakeEndpoint()
    fake.config = None

    def cloud_config_only(session, size):  # provisioning could record the cloud's only
        detector = fake_detector(session, size)
        detector.pipeline_config_source, detector.pipeline_config_confirmed = "cloud", False
        return detector

    code, out, run_dir = fake_run(tmp_path, monkeypatch, fake, provision=cloud_config_only)
    # the progress line says what the results say: not confirmed by the edge
    assert "served by the edge; pipeline config not confirmed: the edge does not publish" in out
    assert "pipeline config confirmed by the edge" not in out
    results = load_results(run_dir)
    assert code == 0 and results["verdict"] == "pass"  # the FPS still stands
    assert _checks(results)["pipeline config unchanged"]["status"] == "not_observed"
    assert any(w["code"] == "pipeline_config_unverified" for w in results["warnings"])


def test_an_interrupted_run_reports_what_was_measured(tmp_path, monkeypatch):
    fake = FakeEndpoint(interrupt_at=6)
    code, _, run_dir = fake_run(tmp_path, monkeypatch, fake, iterations=100)
    results = load_results(run_dir)
    assert code == 130 and results["status"] == "interrupted"
    (row,) = results["outputs"]["sizes"]
    assert row["status"] == "interrupted" and row["completed_iterations"] == 3
    assert read_log(run_dir / "load_test.log").end["signal"] == "SIGINT"


def test_an_interrupt_while_provisioning_still_ends_the_log_and_reports(tmp_path, monkeypatch):
    def interrupted(session, size):
        raise KeyboardInterrupt

    code, out, run_dir = fake_run(tmp_path, monkeypatch, provision=interrupted)
    results = load_results(run_dir)
    assert code == 130 and results["status"] == "interrupted"
    assert results["outputs"]["sizes"] == [] and "no image size was measured" in out
    assert (run_dir / "latency_histogram.png").exists()


def test_fail_if_gates_work_on_fps_figures(tmp_path, monkeypatch):
    code, out, run_dir = fake_run(tmp_path, monkeypatch, fail_if="latency_p50_ms<1000000")
    results = load_results(run_dir)
    assert code == 1 and results["verdict"] == "fail"
    assert _checks(results)["--fail-if latency_p50_ms<1000000"]["status"] == "failed"


def test_report_re_renders_an_fps_folder_from_its_log(tmp_path, monkeypatch, capsys):
    from edgeload.cli import main

    _, _, run_dir = fake_run(tmp_path, monkeypatch, image_sizes=((64, 48), (32, 24)))
    before = load_results(run_dir)
    (run_dir / "load_test_results.json").unlink()
    (run_dir / "latency_histogram.png").unlink()
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == 0
    printed = capsys.readouterr().out
    after = load_results(run_dir)
    assert after["outputs"] == before["outputs"] and after["checks"] == before["checks"]
    assert (run_dir / "latency_histogram.png").stat().st_size > 1000
    assert "---------- Test Results (32x24) ----------" in printed and "p50 ms" in printed
    log = read_log(run_dir / "load_test.log", keep_requests=True)
    assert analyze(log).outputs == after["outputs"]


def test_compare_works_on_two_fps_runs(tmp_path, monkeypatch, capsys):
    from edgeload.cli import main

    _, _, a = fake_run(tmp_path / "a", monkeypatch)
    _, _, b = fake_run(tmp_path / "b", monkeypatch, FakeEndpoint(sleep_s=0.004))
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--fail-on", "average_fps:-1000%"]) == 0
    out = capsys.readouterr().out
    for name in ("average_fps (1/s)", "latency_ms_p99 (ms)", "completed_iterations"):
        assert name in out
    assert re.search(r"latency_ms_p50 \(ms\).*worse", out)
    assert "all 1 gate(s) passed" in out
    assert main(["compare", str(a), str(b), "--fail-on", "latency_p50_ms:+10%"]) == 1
    assert "FAILED gate latency_p50_ms:+10%" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# options


def _parse(*argv: str) -> Inputs:
    parser = argparse.ArgumentParser()
    fps_command.add_arguments(parser)
    return validate_inputs(parser.parse_args(list(argv)))


def test_options_defaults_and_sizes():
    options = _parse("count")
    assert options.detector_mode == "COUNT" and options.image_sizes == ((640, 480),)
    assert (options.warmup_iterations, options.iterations) == (300, 1000)
    assert options.provision_timeout == 1200.0 and options.sim_profile == "demo"
    sweep = _parse(
        "BINARY", "--image-size", "640x480", "--image-size", "1920X1080", "--image-size", "640x480"
    )
    assert sweep.image_sizes == ((640, 480), (1920, 1080))
    assert IMAGE_SIZES.parse(" 32 x 24 ") == [(32, 24)]
    assert _parse("--detector-mode", "BINARY", "--time-scale", "3").sim_time_scale == 3.0


DET = "det_" + "a" * 27


@pytest.mark.parametrize(
    "argv, message",
    [
        (["BANANA"], "MODE must be one of BINARY, COUNT"),
        (["BINARY", "--iterations", "0"], "--iterations must be at least 1"),
        (["BINARY", "--iterations", "-5"], "--iterations must be at least 1"),
        (["BINARY", "--warmup-iterations", "-1"], "--warmup-iterations must be at least 0"),
        (["BINARY", "--iterations", "ten"], "--iterations must be a whole number"),
        (["BINARY", "--image-size", "640by480"], "--image-size must be WIDTHxHEIGHT"),
        (["BINARY", "--image-size", "0x480"], "--image-size must be at most 10000 px a side"),
        (["BINARY", "--image-width", "-640"], "--image-width must be at least 1"),
        (["BINARY", "--client", "grpc"], "--client must be one of sdk, http, got 'grpc'"),
        (["BINARY", "--sim-time-scale", "0"], "--sim-time-scale must be above 0"),
        (["BINARY", "--sim-time-scale", "nan"], "--sim-time-scale must be a finite number"),
        (["BINARY", "--fail-if", "speed>3"], "--fail-if names 'speed', not a fps metric"),
        (
            ["BINARY", "--detector-id", DET, "--image-size", "1x1", "--image-size", "2x2"],
            "--detector-id names one detector",
        ),
    ],
)
def test_bad_options_are_usage_errors(argv, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        _parse(*argv)


def test_nan_never_reaches_the_result_file():
    assert not any(
        isinstance(v, float) and math.isnan(v) for v in fps_statistics([0.02, 0.03]).values()
    )


# ---------------------------------------------------------------------------------------------
# against the simulator

SERVICE_MS = 20.0  # the fixed-latency profile's service time per inference
# What a submission may add on top of the service time: the HTTP round trip on 127.0.0.1, the
# SDK's request building and answer parsing, and the simulator's own handling, on a loaded
# 2-core CI box. Measured locally: 2-3 ms at the median.
OVERHEAD_TOLERANCE_MS = 10.0
# Training, priming and model rollouts are instant, so provisioning takes ~2 s; inference still
# takes exactly 20 ms at time scale 1.
FAST_PROVISIONING = {
    "cloud": {"training_delay_s": 0.2, "cloud_latency_ms": 0},
    "updater": {"refresh_rate_s": 0.3, "download_s": 0},
}


@pytest.fixture(scope="module")
def sim():
    from edgeload.sim import SimulatedEndpoint

    with SimulatedEndpoint("fixed-latency", overrides=FAST_PROVISIONING) as endpoint:
        yield endpoint


@pytest.fixture()
def sim_target(sim):
    from edgeload.sim import DEMO_TOKEN
    from edgeload.target import Target

    return Target(
        kind="simulated",
        url=sim.url,
        token=DEMO_TOKEN,
        sim=sim,  # not closed by the run (it did not start it); fast provisioning polls
        profile="fixed-latency",
        time_scale=1.0,
    )


def _options(tmp_path, **over) -> Inputs:
    base = dict(warmup_iterations=10, iterations=60, config_check_interval=0.25)
    base.update(over)
    return _inputs(tmp_path, **base)


def _run(options, target, **kwargs):
    from edgeload.scenarios.fps.run import run_fps_command

    out = io.StringIO()
    code = run_fps_command(options, out=out, progress_stream=io.StringIO(), target=target, **kwargs)
    run_dir = next(Path(options.output_dir).glob("*-fps"))
    return code, out.getvalue(), load_results(run_dir), run_dir


def _test_latencies_ms(run_dir: Path, image_size: str) -> list[float]:
    """The measured submissions' latencies of one size, from the log."""
    log = read_log(run_dir / "load_test.log", keep_requests=True)
    [test_step] = [
        s["step"]
        for s in log.step_records
        if s["image_size"] == image_size and s["phase"] == "test"
    ]
    columns = log.requests
    return [
        latency
        for latency, step, ok in zip(
            columns["latency_ms"], columns["step"], columns["ok"], strict=True
        )
        if step == test_step and ok
    ]


@pytest.mark.parametrize("client", ["sdk", "http"])
def test_fps_agrees_with_the_simulated_service_time(tmp_path, sim_target, client):
    code, out, results, run_dir = _run(_options(tmp_path, client=client), sim_target)
    assert code == 0, out
    assert results["status"] == "completed" and results["verdict"] == "pass"
    assert _checks(results)["pipeline config unchanged"]["status"] == "passed"
    assert results["target"]["kind"] == "simulated"
    (row,) = results["outputs"]["sizes"]
    latencies_ms = _test_latencies_ms(run_dir, "640x480")
    assert row["client"] == client
    assert row["completed_iterations"] == 60 and len(latencies_ms) == 60
    assert row["warmup_completed"] == 10
    # never faster than the inference itself; at most the stated overhead above it
    assert min(latencies_ms) >= SERVICE_MS - 0.5
    assert row["latency_ms_min"] == pytest.approx(min(latencies_ms))
    assert SERVICE_MS <= row["latency_ms_p50"] <= SERVICE_MS + OVERHEAD_TOLERANCE_MS
    low, high = 1000 / (SERVICE_MS + OVERHEAD_TOLERANCE_MS), 1000 / SERVICE_MS
    assert low <= row["fps_p50"] <= high
    assert low * 0.8 <= row["average_fps"] <= high * 1.01
    assert results["outputs"]["summary"]["average_fps"] == pytest.approx(row["average_fps"])
    assert row["pipeline_config_verified"] is True
    assert "model_version" in row["pipeline_config"]
    assert row["edge_endpoint_image"] and row["inference_server_image"]
    assert (run_dir / "latency_histogram.png").stat().st_size > 1000
    assert "average_fps:" in out and "latency_ms_p99:" in out


def test_image_size_sweep_gives_one_row_per_size(tmp_path, sim_target):
    sizes = ((320, 240), (64, 48))
    options = _options(
        tmp_path, detector_mode="COUNT", image_sizes=sizes, warmup_iterations=3, iterations=15
    )
    code, out, results, run_dir = _run(options, sim_target)
    assert code == 0, out
    rows = results["outputs"]["sizes"]
    assert [r["image_size"] for r in rows] == ["320x240", "64x48"]
    assert rows[0]["detector_name"] != rows[1]["detector_name"]
    assert all(r["completed_iterations"] == 15 for r in rows)
    assert {p.name for p in run_dir.glob("*.png")} == {"latency_histogram.png"}
    plotted = analyze(read_log(run_dir / "load_test.log", keep_requests=True)).plot_data
    assert [(p["image_size"], len(p["latencies_ms"])) for p in plotted["sizes"]] == [
        ("320x240", 15),
        ("64x48", 15),
    ]
    assert "p50 ms" in out  # the summary table


def test_a_new_pipeline_config_mid_test_makes_the_run_invalid(tmp_path, sim, sim_target):
    from edgeload.scenarios.fps.session import default_submitter

    rolled = {}

    def factory(session, detector, size):
        prepare, submit = default_submitter(session, detector, size)
        calls = [0]

        def submit_and_roll(jpeg):
            calls[0] += 1
            if calls[0] == 20:  # 10 warm-up + 10 measured: roll a new model now (admin API)
                rolled.update(sim.new_model(detector.id))
            return submit(jpeg)

        return prepare, submit_and_roll

    options = _options(tmp_path, image_sizes=((160, 120),), iterations=2000)
    code, out, results, _ = _run(options, sim_target, submitter_factory=factory)
    assert code == 1, out
    assert results["verdict"] == "fail"
    check = _checks(results)["pipeline config unchanged"]
    assert check["status"] == "failed" and "pipeline config on the edge changed" in check["detail"]
    (row,) = results["outputs"]["sizes"]
    assert row["valid"] is False
    assert f"model_version: {rolled['model_version']}" in row["invalid_reason"]
    assert row["completed_iterations"] < 2000  # stopped at the first check that saw it
    assert "INVALID" in out


# ---------------------------------------------------------------------------------------------
# the command line and the locustfile, as users run them

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fps", "BANANA"], "MODE must be one of BINARY, COUNT"),
        (["fps", "BINARY", "--iterations", "0"], "--iterations must be at least 1"),
        (["fps", "BINARY", "--warmup-iterations", "-3"], "--warmup-iterations must be at least 0"),
        (["fps", "COUNT", "--image-size", "640x"], "--image-size must be WIDTHxHEIGHT"),
        (["fps", "BINARY", "--image-width", "wide"], "--image-width must be a whole number"),
        (["fps", "BINARY", "--client", "curl"], "--client must be one of sdk, http, got 'curl'"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    from edgeload.cli import main

    code = main([*argv, "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("edgeload fps: error: ") and message in err
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


def test_cli_provisioning_that_fails_is_one_line_and_exit_5(tmp_path):
    import subprocess
    import sys

    from edgeload.sim import DEMO_TOKEN
    from tests.fake_endpoint import SDK_ROUTES
    from tests.fake_endpoint import FakeEndpoint as FakeHttpEndpoint

    routes = dict(SDK_ROUTES)
    routes["GET /device-api/v1/detectors"] = (403, {"detail": "not allowed"})
    with FakeHttpEndpoint(routes) as fake:
        proc = subprocess.run(
            [sys.executable, "-m", "edgeload.cli", "fps", "BINARY", "--iterations", "5"]
            + ["--output-dir", str(tmp_path)],
            cwd=REPO,
            env=_env(GROUNDLIGHT_ENDPOINT=fake.url, GROUNDLIGHT_API_TOKEN=DEMO_TOKEN),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 5, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert lines == ["edgeload fps: error: provisioning failed: HTTP 403"], proc.stderr[-2000:]
    results = load_results(next(tmp_path.glob("*-fps")))
    assert results["status"] == "failed" and results["exit_code"] == 5


def _env(**extra):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDLIGHT_")}
    env.update(extra)
    return env


def _wait_for(path: Path, text: str, proc, timeout_s: float = 90.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"{text!r} never appeared: {path.read_text() if path.exists() else ''}")


EXIT_OF = {"SIGINT": 130, "SIGTERM": 143}


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_cli_interrupted_run_writes_partial_results(tmp_path, sim, signame):
    """Ctrl-C (SIGINT) or SIGTERM while measuring: what was measured is reported, marked
    interrupted, and the exit code is 130 / 143. SIGINT runs against the embedded simulator
    (no GROUNDLIGHT_ENDPOINT), SIGTERM against the shared one given as an endpoint."""
    import signal
    import subprocess
    import sys

    from edgeload.sim import DEMO_TOKEN

    if signame == "SIGINT":
        env = _env()
        extra = ["--sim-profile", "fixed-latency", "--time-scale", "20"]
    else:
        env = _env(GROUNDLIGHT_ENDPOINT=sim.url, GROUNDLIGHT_API_TOKEN=DEMO_TOKEN)
        extra = []
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgeload.cli", "fps", "BINARY", "--warmup-iterations", "3"]
            + ["--iterations", "100000", "--output-dir", str(tmp_path / "runs"), *extra],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=err,
        )
        try:
            _wait_for(stderr, "measuring:", proc)
            proc.send_signal(getattr(signal, signame))
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    first_line = stdout.read_text().splitlines()[0]
    if signame == "SIGINT":
        assert first_line.startswith("target: simulated edge endpoint (profile fixed-latency")
    else:
        assert first_line == f"target: real edge endpoint at {sim.url}"
    assert code == EXIT_OF[signame], stderr.read_text()
    assert "interrupted; partial results in" in stderr.read_text()
    run_dir = next((tmp_path / "runs").glob("*-fps"))
    results = load_results(run_dir)
    assert results["status"] == "interrupted" and results["exit_code"] == EXIT_OF[signame]
    (row,) = results["outputs"]["sizes"]
    assert row["status"] == "interrupted"
    assert 0 < row["completed_iterations"] < 100000
    assert row["average_fps"] is not None
    assert read_log(run_dir / "load_test.log").end["signal"] == signame
    assert DEMO_TOKEN not in json.dumps(results)
    assert DEMO_TOKEN not in (run_dir / "load_test.log").read_text()


def test_locustfile_runs_one_user_and_writes_the_report(tmp_path, sim):
    import subprocess
    import sys

    from edgeload.sim import DEMO_TOKEN

    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "locustfiles/fps.py", "--headless"]
        # the sizes of the sweep test above, so that their detectors are already provisioned;
        # --image-size repeated, as on `edgeload fps`
        + ["-u", "5", "--detector-mode", "COUNT", "--image-size", "320x240"]
        + ["--image-size", "64x48", "--warmup-iterations", "5", "--iterations", "25"]
        + ["--client", "http", "--output-dir", str(tmp_path), "--config-check-interval", "0.2"],
        cwd=REPO,
        env=_env(GROUNDLIGHT_ENDPOINT=sim.url, GROUNDLIGHT_API_TOKEN=DEMO_TOKEN),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = next(tmp_path.glob("*-fps"))
    results = load_results(run_dir)
    assert results["status"] == "completed" and results["verdict"] == "pass"
    inputs = results["inputs"]
    assert inputs["detector_mode"] == "COUNT" and inputs["client"] == "http"
    assert [r["image_size"] for r in results["outputs"]["sizes"]] == ["320x240", "64x48"]
    for row in results["outputs"]["sizes"]:
        assert row["completed_iterations"] == 25 and row["warmup_completed"] == 5
        assert SERVICE_MS <= row["latency_ms_p50"] <= SERVICE_MS + OVERHEAD_TOLERANCE_MS
    assert (run_dir / "latency_histogram.png").stat().st_size > 1000
    assert "---------- Test Results (64x48) ----------" in proc.stdout
    # Locust's own statistics saw every submission (one user, none failed)
    assert "image-query 64x48 (warm-up)" in proc.stderr
    assert re.search(r"HTTP POST\s+image-query 320x240\s+25\s+0\(0\.00%\)", proc.stderr)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_locustfile_interrupted_run_writes_partial_results(tmp_path, sim, signame):
    import signal
    import subprocess
    import sys

    from edgeload.sim import DEMO_TOKEN

    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", "locustfiles/fps.py", "--headless"]
            + ["--only-summary", "--warmup-iterations", "3", "--iterations", "100000"]
            + ["--output-dir", str(tmp_path / "runs")],
            cwd=REPO,
            env=_env(GROUNDLIGHT_ENDPOINT=sim.url, GROUNDLIGHT_API_TOKEN=DEMO_TOKEN),
            stdout=out,
            stderr=err,
        )
        try:
            _wait_for(stderr, "measuring:", proc)
            proc.send_signal(getattr(signal, signame))
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == EXIT_OF[signame], stderr.read_text()[-2000:]
    results = load_results(next((tmp_path / "runs").glob("*-fps")))
    assert results["status"] == "interrupted"
    (row,) = results["outputs"]["sizes"]
    assert row["status"] == "interrupted" and 0 < row["completed_iterations"] < 100000


def test_locustfile_bad_input_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "locustfiles/fps.py", "--headless"]
        + ["--detector-mode", "BINARY", "--iterations", "-1", "--output-dir", str(tmp_path)],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "locust fps: error: --iterations must be at least 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())
