"""The single-client FPS test: pure statistics, the measurement loop, the CLI, the locustfile.

Runs against the simulator use the `fixed-latency` profile (every inference exactly 20 ms, no
edge-app overhead), so the truth is known: a submission can never take less than 20 ms, and
the rest is the HTTP round trip and client overhead on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import math
import re
import statistics
import types
from pathlib import Path

import numpy as np
import pytest

from edgeload.errors import UsageError
from edgeload.scenarios.fps.analysis import (
    METRICS,
    SCHEMA_VERSION,
    ResultsFormatError,
    build_results,
    format_row,
    format_summary_table,
    fps_statistics,
    read_results,
    write_histogram,
    write_results,
)
from edgeload.scenarios.fps.run import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    Measurement,
    Outcome,
    Progress,
    measure,
    measurement_row,
    options_from_args,
    parse_image_size,
)

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


def test_average_fps_is_mean_of_rates_not_inverse_of_mean_latency():
    stats = fps_statistics([0.01, 0.09])  # 100 and ~11.1 FPS
    assert stats["average_fps"] == pytest.approx((100 + 1 / 0.09) / 2)
    assert stats["throughput_fps"] == pytest.approx(2 / 0.1)
    assert stats["average_fps"] > stats["throughput_fps"]


def test_statistics_match_the_seed_on_large_samples():
    rng = np.random.default_rng(1)
    latencies = rng.uniform(0.015, 0.060, 5000)
    fps = [1 / x for x in latencies]
    stats = fps_statistics(latencies)
    # the seed: statistics.median and statistics.quantiles(n=10)[0]
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
    keys = [m.key for m in METRICS]
    assert len(keys) == len(set(keys))
    for metric in METRICS:
        assert metric.unit in ("1/s", "ms")
        assert metric.higher_is_better == (metric.unit == "1/s" and metric.key != "fps_std_dev")


# ---------------------------------------------------------------------------------------------
# the measurement loop, with a fake submission and config reader


class FakeEndpoint:
    """Submissions that sleep a known time; a pipeline config that can change."""

    def __init__(self, sleep_s=0.0, fail_at=None, change_config_at=None):
        import time

        self.sleep_s = sleep_s
        self.fail_at = fail_at
        self.change_config_at = change_config_at
        self.calls = 0
        self.config = "pipeline-A"
        self._sleep = time.sleep

    def submit(self, payload=None):
        self.calls += 1
        if self.change_config_at is not None and self.calls >= self.change_config_at:
            self.config = "pipeline-B"
        if self.sleep_s:
            self._sleep(self.sleep_s)
        if self.fail_at is not None and self.calls == self.fail_at:
            return Outcome(False, "not_from_edge", "answer came from the cloud")
        return Outcome(True)

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
    assert [c.phase for c in m.config_checks] == ["before", "after"]


def test_a_non_edge_answer_stops_the_run_as_an_error():
    fake = FakeEndpoint(fail_at=8)
    m = Measurement(warmup_iterations=3, iterations=10)
    measure(m, fake.submit, fake.read_config, progress_stream=io.StringIO())
    assert m.status == FAILED
    assert "not_from_edge" in m.error and "test submission 5" in m.error
    assert len(m.latencies_s) == 4
    row = measurement_row(m)
    assert row["status"] == "failed" and row["completed_iterations"] == 4


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
    assert any(c.phase == "during" and c.pipeline_config == "pipeline-B" for c in m.config_checks)


def test_an_unreadable_config_is_recorded_not_fatal_and_not_verified():
    fake = FakeEndpoint()

    def broken():
        raise OSError("connection refused")

    m = Measurement(warmup_iterations=0, iterations=3)
    measure(m, fake.submit, broken, progress_stream=io.StringIO())
    assert m.status == COMPLETED and m.valid and not m.config_verified
    assert all("connection refused" in c.error for c in m.config_checks)


def test_interrupt_marks_the_measurement_and_keeps_what_was_measured():
    fake = FakeEndpoint()

    def submit(payload):
        if fake.calls == 6:
            raise KeyboardInterrupt
        return fake.submit()

    m = Measurement(warmup_iterations=2, iterations=10)
    with pytest.raises(KeyboardInterrupt):
        measure(m, submit, fake.read_config, progress_stream=io.StringIO())
    assert m.status == INTERRUPTED
    assert len(m.latencies_s) == 4
    assert m.ended_at is not None


def test_progress_prints_lines_when_not_a_tty():
    now = [0.0]
    stream = io.StringIO()
    bar = Progress("measuring", 100, stream, interval_s=1.0, clock=lambda: now[0])
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
    bar = Progress("warming up", 10, stream)
    for i in range(1, 11):
        bar.update(i)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and "10/10" in text


# ---------------------------------------------------------------------------------------------
# report and result files


def _row(**over):
    m = Measurement(warmup_iterations=2, iterations=3)
    fake = FakeEndpoint(sleep_s=0.001)
    measure(m, fake.submit, fake.read_config, progress_stream=io.StringIO())
    row = {
        "image_size": "640x480",
        "image_width": 640,
        "image_height": 480,
        "test_timestamp": "2026-01-01T00:00:00Z",
        "edge_endpoint_image": "edge@sha256:1",
        "inference_server_image": "inference@sha256:2",
        "detector_id": "det_x",
        "detector_name": "n",
        "detector_query": "q?",
        "detector_mode": "BINARY",
        "endpoint": "http://127.0.0.1:1",
        "client": "sdk",
        "histogram": "latency_histogram_640x480.png",
        **measurement_row(m),
    }
    row.update(over)
    return row


def test_printed_report_has_the_seed_fields_and_latency_percentiles():
    text = format_row(_row())
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
    invalid = format_row(_row(valid=False, invalid_reason="changed"))
    assert "INVALID: changed" in invalid


def test_result_file_round_trip_schema_and_histogram(tmp_path):
    rows = [_row(), _row(image_size="1920x1080", histogram="latency_histogram_1920x1080.png")]
    results = build_results(
        rows=rows,
        inputs={"mode": "BINARY"},
        target={"kind": "simulated", "url": "http://127.0.0.1:1"},
        metadata={},
        created_at="2026-01-01T00:00:00Z",
        interrupted=False,
        tool_version="0",
    )
    path = write_results(tmp_path, results)
    loaded = read_results(path)
    assert loaded["schema_version"] == SCHEMA_VERSION and loaded["status"] == "completed"
    assert [r["image_size"] for r in loaded["rows"]] == ["640x480", "1920x1080"]
    png = write_histogram(tmp_path, rows[0])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = format_summary_table(rows).splitlines()
    assert len(table) == 3 and "640x480" in table[1] and "1920x1080" in table[2]

    loaded["schema_version"] = 99
    path.write_text(json.dumps(loaded))
    with pytest.raises(ResultsFormatError, match="schema_version 99"):
        read_results(path)


def test_overall_status_worst_row_wins():
    common = dict(inputs={}, target={}, metadata={}, created_at="", tool_version=None)
    assert build_results(rows=[_row()], interrupted=True, **common)["status"] == "interrupted"
    invalid = build_results(rows=[_row(), _row(valid=False)], interrupted=False, **common)
    assert invalid["status"] == "invalid" and invalid["valid"] is False
    failed = build_results(rows=[_row(status="failed")], interrupted=False, **common)
    assert failed["status"] == "failed"


# ---------------------------------------------------------------------------------------------
# options


def _args(**over):
    base = dict(
        mode="BINARY",
        image_width="640",
        image_height="480",
        image_size=None,
        warmup_iterations="300",
        iterations="1000",
        client="sdk",
        detector_id=None,
        output_dir=Path("load_tests"),
        config_check_interval="10",
        provision_timeout="1800",
        sim_profile="gpu-1x",
        time_scale="1",
    )
    base.update(over)
    return types.SimpleNamespace(**base)


def test_options_defaults_and_sizes():
    options = options_from_args(_args(mode="count"))
    assert options.mode == "COUNT" and options.image_sizes == [(640, 480)]
    assert (options.warmup_iterations, options.iterations) == (300, 1000)
    sweep = options_from_args(_args(image_size=["640x480", "1920X1080", "640x480"]))
    assert sweep.image_sizes == [(640, 480), (1920, 1080)]
    assert parse_image_size(" 32 x 24 ") == (32, 24)


@pytest.mark.parametrize(
    "over, message",
    [
        ({"mode": "MULTI"}, "unknown detector mode"),
        ({"iterations": "0"}, "--iterations must be at least 1"),
        ({"iterations": "-5"}, "--iterations must be at least 1"),
        ({"warmup_iterations": "-1"}, "--warmup-iterations must be at least 0"),
        ({"iterations": "ten"}, "--iterations must be a whole number"),
        ({"image_size": ["640by480"]}, "bad image size"),
        ({"image_size": ["0x480"]}, "image width must be between"),
        ({"image_width": "-640"}, "--image-width must be at least 1"),
        ({"client": "grpc"}, "unknown client"),
        ({"time_scale": "0"}, "--sim-time-scale must be a positive number"),
        ({"time_scale": "nan"}, "--sim-time-scale must be a positive number"),
        (
            {"detector_id": "det_x", "image_size": ["1x1", "2x2"]},
            "--detector-id names one detector",
        ),
    ],
)
def test_bad_options_are_usage_errors(over, message):
    with pytest.raises(UsageError, match=message):
        options_from_args(_args(**over))


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


def _options(tmp_path, **over):
    from edgeload.scenarios.fps.run import FpsOptions

    base = dict(
        mode="BINARY",
        image_sizes=[(640, 480)],
        warmup_iterations=10,
        iterations=60,
        output_dir=tmp_path,
        config_check_interval_s=0.25,
        provision_timeout_s=60,
        sim_profile="fixed-latency",
    )
    base.update(over)
    return FpsOptions(**base)


def _run(options, target, **kwargs):
    from edgeload.scenarios.fps.run import run_fps_command

    out = io.StringIO()
    code = run_fps_command(options, out=out, progress_stream=io.StringIO(), target=target, **kwargs)
    results_path = next(Path(options.output_dir).glob("*-fps/fps_results.json"))
    return code, out.getvalue(), read_results(results_path), results_path.parent


@pytest.mark.parametrize("client", ["sdk", "http"])
def test_fps_agrees_with_the_simulated_service_time(tmp_path, sim_target, client):
    code, out, results, run_dir = _run(_options(tmp_path, client=client), sim_target)
    assert code == 0, out
    assert results["status"] == "completed" and results["valid"] is True
    assert results["target"]["kind"] == "simulated"
    (row,) = results["rows"]
    assert row["client"] == client
    assert row["completed_iterations"] == 60 and len(row["latencies_ms"]) == 60
    assert row["warmup_completed"] == 10
    # never faster than the inference itself; at most the stated overhead above it
    assert min(row["latencies_ms"]) >= SERVICE_MS - 0.5
    assert SERVICE_MS <= row["latency_ms_p50"] <= SERVICE_MS + OVERHEAD_TOLERANCE_MS
    low, high = 1000 / (SERVICE_MS + OVERHEAD_TOLERANCE_MS), 1000 / SERVICE_MS
    assert low <= row["fps_p50"] <= high
    assert low * 0.8 <= row["average_fps"] <= high * 1.01
    assert row["pipeline_config_verified"] is True
    assert "model_version" in row["pipeline_config"]
    assert row["edge_endpoint_image"] and row["inference_server_image"]
    assert (run_dir / row["histogram"]).stat().st_size > 1000
    assert "average_fps:" in out and "latency_ms_p99:" in out


def test_image_size_sweep_gives_one_row_per_size(tmp_path, sim_target):
    sizes = [(320, 240), (64, 48)]
    options = _options(tmp_path, mode="COUNT", image_sizes=sizes, warmup_iterations=3)
    options.iterations = 15
    code, out, results, run_dir = _run(options, sim_target)
    assert code == 0, out
    assert [r["image_size"] for r in results["rows"]] == ["320x240", "64x48"]
    assert results["rows"][0]["detector_name"] != results["rows"][1]["detector_name"]
    assert all(r["completed_iterations"] == 15 for r in results["rows"])
    assert {p.name for p in run_dir.glob("*.png")} == {
        "latency_histogram_320x240.png",
        "latency_histogram_64x48.png",
    }
    assert "p50 ms" in out  # the summary table


def test_a_new_pipeline_config_mid_test_makes_the_run_invalid(tmp_path, sim, sim_target):
    from edgeload.errors import RunError
    from edgeload.scenarios.fps.run import default_submitter

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

    from edgeload.scenarios.fps.run import run_fps_command

    options = _options(tmp_path, image_sizes=[(160, 120)], iterations=2000)
    out = io.StringIO()
    with pytest.raises(RunError, match="pipeline config on the edge changed"):
        run_fps_command(
            options,
            out=out,
            progress_stream=io.StringIO(),
            target=sim_target,
            submitter_factory=factory,
        )
    results = read_results(next(tmp_path.glob("*-fps/fps_results.json")))
    assert results["status"] == "invalid" and results["valid"] is False
    (row,) = results["rows"]
    assert row["valid"] is False
    assert f"model_version: {rolled['model_version']}" in row["invalid_reason"]
    assert row["completed_iterations"] < 2000  # stopped at the first check that saw it
    assert "INVALID" in out.getvalue()


# ---------------------------------------------------------------------------------------------
# the command line and the locustfile, as users run them

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fps", "MULTI_CLASS"], "unknown detector mode 'MULTI_CLASS'"),
        (["fps", "BINARY", "--iterations", "0"], "--iterations must be at least 1"),
        (["fps", "BINARY", "--warmup-iterations", "-3"], "--warmup-iterations must be at least 0"),
        (["fps", "COUNT", "--image-size", "640x"], "bad image size '640x'"),
        (["fps", "BINARY", "--image-width", "wide"], "--image-width must be a whole number"),
        (["fps", "BINARY", "--client", "curl"], "unknown client 'curl'"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    from edgeload.cli import main

    code = main([*argv, "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("edgeload fps: error: ") and message in err
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


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


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_cli_interrupted_run_writes_partial_results(tmp_path, sim, signame):
    """Ctrl-C (SIGINT) or SIGTERM while measuring: the row so far is written, marked
    interrupted, and the exit code is non-zero. SIGINT runs against the embedded simulator
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
    assert code == 130, stderr.read_text()
    assert "interrupted; partial results in" in stderr.read_text()
    results = read_results(next((tmp_path / "runs").glob("*-fps/fps_results.json")))
    assert results["status"] == "interrupted"
    (row,) = results["rows"]
    assert row["status"] == "interrupted"
    assert 0 < row["completed_iterations"] < 100000
    assert row["average_fps"] is not None
    assert DEMO_TOKEN not in json.dumps(results)


def test_locustfile_runs_one_user_and_writes_the_report(tmp_path, sim):
    import subprocess
    import sys

    from edgeload.sim import DEMO_TOKEN

    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "locustfiles/fps.py", "--headless"]
        # the sizes of the sweep test above, so that their detectors are already provisioned
        + ["-u", "5", "--detector-mode", "COUNT", "--image-size", "320x240,64x48"]
        + ["--warmup-iterations", "5", "--iterations", "25", "--client", "http"]
        + ["--output-dir", str(tmp_path), "--config-check-interval", "0.2"],
        cwd=REPO,
        env=_env(GROUNDLIGHT_ENDPOINT=sim.url, GROUNDLIGHT_API_TOKEN=DEMO_TOKEN),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = read_results(next(tmp_path.glob("*-fps/fps_results.json")))
    assert results["status"] == "completed"
    assert results["inputs"]["mode"] == "COUNT" and results["inputs"]["client"] == "http"
    assert [r["image_size"] for r in results["rows"]] == ["320x240", "64x48"]
    for row in results["rows"]:
        assert row["completed_iterations"] == 25 and row["warmup_completed"] == 5
        assert SERVICE_MS <= row["latency_ms_p50"] <= SERVICE_MS + OVERHEAD_TOLERANCE_MS
    assert len(list(tmp_path.glob("*-fps/latency_histogram_*.png"))) == 2
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
    assert code == 130, stderr.read_text()[-2000:]
    results = read_results(next((tmp_path / "runs").glob("*-fps/fps_results.json")))
    assert results["status"] == "interrupted"
    (row,) = results["rows"]
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
