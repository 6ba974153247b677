"""Reading and analysing golden synthetic logs whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest
from logfactory import T0, LogFactory

from edgeload.errors import ResultsError
from edgeload.reporting.logreader import read_log
from edgeload.scenarios.throughput.analysis import MIN_REQUESTS_FOR_PERCENTILES, analyze


def analysed(log: LogFactory, tmp_path, tail: str = ""):
    return analyze(read_log(log.save(tmp_path, tail) / "load_test.log")).plot_data


def codes(analysis) -> set[str]:
    return {w["code"] for w in analysis.warnings}


def warning(analysis, code: str) -> str:
    return next(w["message"] for w in analysis.warnings if w["code"] == code)


def boundary_log() -> LogFactory:
    """Four 10 s steps at 10 requests/s expected, around the steadiness thresholds."""
    log = LogFactory()
    cases = [  # (requests, failures): achieved = requests / 10 s
        (95, 0),  # exactly 95% of the expected rate, all ok -> steady
        (94, 0),  # 94% -> not steady
        (100, 1),  # 99% success exactly -> steady
        (100, 2),  # 98% success -> not steady
    ]
    for i, (n, failures) in enumerate(cases):
        start = T0 + 10 * i
        log.step(i, clients=i + 1, expected_rps=10.0, t=start)
        log.uniform_requests(
            step=i, start=start, duration=10, n=n, failures=failures, clients=i + 1
        )
    log.end(T0 + 40)
    return log


def test_steady_detection_at_the_exact_boundaries(tmp_path):
    a = analysed(boundary_log(), tmp_path)
    steps = {s["step"]: s for s in a.steps}
    assert [steps[i]["steady"] for i in range(4)] == [True, False, True, False]
    assert [steps[i]["achieved_rps"] for i in range(4)] == [9.5, 9.4, 10.0, 10.0]
    assert steps[2]["success_rate"] == 0.99 and steps[3]["success_rate"] == 0.98
    assert all(s["duration_s"] == 10.0 for s in a.steps)
    assert a.summary["maximum_rps"] == 10.0
    # the steady step with the highest achieved rate: step 2 (10.0/s), not step 0 (9.5/s)
    assert a.summary["maximum_steady_rps"] == 10.0
    assert a.summary["maximum_steady_ramp"] == 2
    assert a.summary["maximum_steady_clients"] == 3
    assert a.status == "completed"
    assert "few_requests" in codes(a)  # 95 and 94 requests are under the threshold
    message = warning(a, "few_requests")
    assert "steps 1, 2 " in message and str(MIN_REQUESTS_FOR_PERCENTILES) in message


def test_no_steady_step_gives_zero_maximum_steady_and_a_warning(tmp_path):
    log = LogFactory()
    log.step(0, clients=5, expected_rps=100.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=10, n=200)  # 20/s of 100/s expected
    log.end(T0 + 10)
    a = analysed(log, tmp_path)
    assert a.steps[0]["steady"] is False
    assert a.summary["maximum_rps"] == 20.0
    assert a.summary["maximum_steady_rps"] == 0.0
    assert a.summary["maximum_steady_clients"] == 0
    assert a.summary["maximum_steady_ramp"] is None
    # the headline latencies come from the highest-throughput step, and say so
    assert a.summary["latency_p95_ms"] == a.steps[0]["latency_p95_ms"] is not None
    assert a.summary["latency_basis"] == "highest-throughput step (no step was steady)"
    assert "no_steady_step" in codes(a)


def test_errors_by_category_including_unknown_and_new_categories(tmp_path):
    log = LogFactory()
    log.step(0, clients=1, expected_rps=1.0, t=T0)
    ok = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]
    error = ["http_503", "http_503", "timeout", "http_503", None, "timeout", "brand_new"]
    log.requests(
        t=[T0 + i for i in range(10)],
        latency_ms=[5.0] * 10,
        ok=ok,
        error=error + [None] * 3,
        step=0,
    )
    log.step(1, clients=2, expected_rps=2.0, t=T0 + 10)
    log.requests(
        t=[T0 + 10, T0 + 11], latency_ms=[5.0, 5.0], ok=[0, 1], error=["timeout", None], step=1
    )
    log.end(T0 + 20)
    a = analysed(log, tmp_path)
    assert a.steps[0]["errors"] == {"http_503": 3, "timeout": 2, "brand_new": 1, "unknown": 1}
    assert a.steps[0]["successes"] == 3 and a.steps[0]["requests"] == 10
    assert a.steps[1]["errors"] == {"timeout": 1}
    assert a.errors_by_category == {"http_503": 3, "timeout": 3, "brand_new": 1, "unknown": 1}
    assert a.summary["success_rate"] == round(4 / 12, 6)


def test_empty_step_and_no_utilization_samples(tmp_path):
    log = LogFactory()
    log.step(0, clients=1, expected_rps=10.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=10, n=100)
    log.step(1, clients=2, expected_rps=20.0, t=T0 + 10)  # nothing was sent in step 1
    log.end(T0 + 20)
    a = analysed(log, tmp_path)
    empty = a.steps[1]
    assert empty["requests"] == 0 and empty["achieved_rps"] == 0.0
    assert empty["success_rate"] is None and empty["latency_p50_ms"] is None
    assert empty["steady"] is False
    assert "step 2 had no requests" in warning(a, "empty_steps")
    assert {"no_endpoint_utilization", "no_generator_utilization"} <= codes(a)
    for source in ("endpoint", "generator"):
        assert a.utilization_summary[source]["samples"] == 0
        assert a.utilization_summary[source]["gpu_pct"] is None


def test_utilization_is_averaged_over_the_maximum_steady_step(tmp_path):
    log = LogFactory()
    for i in range(2):
        log.step(i, clients=i + 1, expected_rps=10.0 * (i + 1), t=T0 + 10 * i)
        log.uniform_requests(step=i, start=T0 + 10 * i, duration=10, n=100 * (i + 1))
    # step 0 window [T0, T0+10): must not count; step 1 (the maximum steady one): 40 and 60
    log.utilization(T0 + 5, "endpoint", gpu_pct=99.0, cpu_pct=99.0)
    log.utilization(T0 + 12, "endpoint", gpu_pct=40.0, cpu_pct=10.0, vram_pct=None)
    log.utilization(T0 + 17, "endpoint", gpu_pct=60.0, cpu_pct=30.0, vram_pct=50.0)
    log.utilization(T0 + 12, "generator", cpu_pct=95.0, ram_pct=20.0)
    log.utilization(T0 + 17, "generator", cpu_pct=93.0, ram_pct=30.0)
    log.end(T0 + 20)
    a = analysed(log, tmp_path)
    assert a.summary["maximum_steady_ramp"] == 1
    endpoint = a.utilization_summary["endpoint"]
    assert (endpoint["gpu_pct"], endpoint["cpu_pct"], endpoint["vram_pct"]) == (50.0, 20.0, 50.0)
    assert endpoint["samples"] == 2 and endpoint["ram_pct"] is None
    generator = a.utilization_summary["generator"]
    assert (generator["cpu_pct"], generator["ram_pct"]) == (94.0, 25.0)
    assert a.steps[0]["endpoint_gpu_pct"] == 99.0
    # the generator averaged 94% CPU in step 1: its numbers measure the generator
    assert "step 2 on host (94%)" in warning(a, "generator_cpu_high")
    assert "no_endpoint_utilization" not in codes(a)


def test_exact_percentiles_from_raw_latencies(tmp_path):
    rng = np.random.default_rng(3)
    latencies = rng.lognormal(3, 1, 1500).round(3)
    log = LogFactory()
    log.step(0, clients=1, expected_rps=150.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=10, n=1500, latency_ms=latencies.tolist())
    log.end(T0 + 10)
    a = analysed(log, tmp_path)
    step = a.steps[0]
    expected = np.percentile(latencies.astype(np.float32), [50, 90, 95, 99])
    for q, value in zip((50, 90, 95, 99), expected, strict=True):
        assert step[f"latency_p{q}_ms"] == pytest.approx(value, abs=1e-3)
    assert step["latency_max_ms"] == pytest.approx(latencies.max(), abs=1e-3)
    assert a.summary["run_latency_p99_ms"] == step["latency_p99_ms"]
    # no intended send times in this log: no corrected figures
    assert step["corrected_latency_p99_ms"] is None and a.has_intended is False


def test_corrected_latency_counts_from_the_intended_send_time(tmp_path):
    n = 200
    t = [T0 + i * 0.05 for i in range(n)]
    # every request answered in 10 ms; 10 of them were sent 0.5 s after they were meant to be
    # (the client was stuck behind a stall), one was sent early (no credit), some unpaced
    intended = [x - (0.5 if i % 20 == 0 else 0.0) for i, x in enumerate(t)]
    intended[1] = t[1] + 0.2
    intended[2] = None
    log = LogFactory()
    log.step(0, clients=1, expected_rps=20.0, t=T0)
    log.requests(t=t, latency_ms=[10.0] * n, intended=intended, step=0)
    log.end(T0 + 10)
    a = analysed(log, tmp_path)
    step = a.steps[0]
    corrected = np.array([10.0 + (500.0 if i % 20 == 0 else 0.0) for i in range(n)], np.float32)
    assert step["latency_p99_ms"] == 10.0 and step["latency_max_ms"] == 10.0
    assert step["corrected_latency_max_ms"] == pytest.approx(510.0, abs=1e-3)
    assert step["corrected_latency_p99_ms"] == pytest.approx(np.percentile(corrected, 99), abs=1e-2)
    assert step["corrected_latency_p50_ms"] == 10.0
    assert a.summary["corrected_latency_max_ms"] == pytest.approx(510.0, abs=1e-3)
    assert a.series.corrected_latency_p95_ms is not None


def test_batches_that_span_steps_and_per_second_counts(tmp_path):
    log = LogFactory()
    log.step(0, clients=1, expected_rps=2.0, t=T0)
    log.step(1, clients=2, expected_rps=4.0, t=T0 + 2)
    # one batch holds both steps, out of order; a second batch only step 1
    log.requests(
        t=[T0 + 2.1, T0 + 0.1, T0 + 2.6, T0 + 1.1, T0 + 0.6],
        latency_ms=[1, 2, 3, 4, 5],
        ok=[1, 1, 0, 1, 1],
        step=[1, 0, 1, 0, 0],
        clients=[2, 1, 2, 1, 1],
    )
    log.requests(t=[T0 + 3.5], latency_ms=[6], step=1, clients=2)
    log.end(T0 + 4)
    a = analysed(log, tmp_path)
    assert [s["requests"] for s in a.steps] == [3, 3]
    assert a.steps[0]["latency_max_ms"] == 5.0 and a.steps[1]["latency_max_ms"] == 6.0
    assert a.steps[1]["errors"] == {"http_503": 1}
    assert a.series.requests.tolist() == [2, 1, 2, 1]
    assert a.series.errors.tolist() == [0, 0, 1, 0]
    assert a.series.elapsed_s.tolist() == [0.5, 1.5, 2.5, 3.5]


def test_truncated_last_line_is_tolerated_and_the_run_marked_interrupted(tmp_path):
    log = LogFactory()
    log.step(0, clients=1, expected_rps=10.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=10, n=100, batch=50)
    cut = '{"type": "requests", "worker": "local", "n": 50, "t": [1700000010.0, 17000'
    a = analysed(log, tmp_path, tail=cut)
    assert a.request_count == 100
    assert a.status == "interrupted"
    assert f"({len(cut)} bytes" in warning(a, "truncated_last_line")
    assert "run_interrupted" in codes(a)
    # without an end record the last step ends at its last answer
    assert a.steps[0]["duration_s"] == pytest.approx(9.9 + 0.01)


def test_a_damaged_line_before_the_end_is_an_error_naming_it(tmp_path):
    log = LogFactory()
    log.step(0, clients=1, expected_rps=10.0, t=T0)
    log.lines.append('{"type": "requests", "n": 3, "t": [1, 2')
    log.end(T0 + 10)
    with pytest.raises(ResultsError, match=r"line 3 is damaged.*only a cut-off last line"):
        read_log(log.save(tmp_path) / "load_test.log")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda rec: rec.pop("latency_ms"), "without the 'latency_ms' column"),
        (lambda rec: rec["ok"].pop(), "columns differ in length"),
        (lambda rec: rec.__setitem__("t", ["soon"]), "wrong type"),
    ],
)
def test_malformed_request_batches_are_named(tmp_path, mutate, message):
    import json

    log = LogFactory()
    log.requests(t=[T0, T0 + 1], latency_ms=[1.0, 2.0], step=0)
    record = json.loads(log.lines[-1])
    mutate(record)
    log.lines[-1] = json.dumps(record)
    log.end(T0 + 2)
    with pytest.raises(ResultsError, match=f"line 2: .*{message}"):
        read_log(log.save(tmp_path) / "load_test.log")


def test_unknown_schema_version_is_refused_with_a_clear_message(tmp_path):
    log = LogFactory(schema_version=99)
    with pytest.raises(ResultsError) as info:
        read_log(log.save(tmp_path) / "load_test.log")
    message = str(info.value)
    assert "schema_version 99 is not supported" in message and "\n" not in message


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "the log is empty"),
        ("not json at all\n", "line 1 is not a JSON header"),
        ('{"type": "step", "t": 1}\n', "first line is not a header"),
    ],
)
def test_logs_that_are_not_edgeload_logs(tmp_path, content, message):
    (tmp_path / "load_test.log").write_text(content)
    with pytest.raises(ResultsError, match=message):
        read_log(tmp_path / "load_test.log")


def test_interruption_lost_workers_and_count_mismatch_are_warned(tmp_path):
    log = LogFactory()
    log.step(0, clients=4, expected_rps=10.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=10, n=100)
    log.worker_lost(T0 + 4, "worker-b", 37)
    log.end(T0 + 10, status="interrupted", reason="SIGTERM", locust_request_count=137)
    a = analysed(log, tmp_path)
    assert a.status == "interrupted" and a.status_reason == "SIGTERM"
    assert a.workers_lost == [{"worker": "worker-b", "elapsed_s": 4.0, "unreceived_requests": 37}]
    assert "worker worker-b was lost 4.0 s into the run; 37 of its requests" in warning(
        a, "worker_lost"
    )
    assert "SIGTERM" in warning(a, "run_interrupted")
    assert "100 request records but Locust counted 137" in warning(a, "request_count_mismatch")


def test_step_without_expected_rate_is_neither_steady_nor_unsteady(tmp_path):
    log = LogFactory()
    log.step(0, clients=1, expected_rps=None, t=T0)
    log.uniform_requests(step=0, start=T0, duration=10, n=100)
    log.end(T0 + 10)
    a = analysed(log, tmp_path)
    assert a.steps[0]["steady"] is None
    assert "expected_rate_unknown" in codes(a)


def test_requests_outside_any_step_are_kept_apart(tmp_path):
    log = LogFactory()
    log.requests(t=[T0, T0 + 1], latency_ms=[1.0, 2.0], step=[None, None], clients=[1, 1])
    log.step(0, clients=1, expected_rps=1.0, t=T0 + 2)
    log.requests(t=[T0 + 2, T0 + 3], latency_ms=[3.0, 4.0], step=0)
    log.end(T0 + 4)
    a = analysed(log, tmp_path)
    assert [(s["step"], s["requests"], s["steady"]) for s in a.steps] == [
        (-1, 2, None),
        (0, 2, True),
    ]
    assert a.request_count == 4


def test_per_second_percentiles_are_close_to_the_exact_ones(tmp_path):
    rng = np.random.default_rng(5)
    latencies = rng.lognormal(4, 0.6, 400).round(3)
    log = LogFactory()
    log.step(0, clients=1, expected_rps=400.0, t=T0)
    log.requests(t=(T0 + rng.random(400) * 0.99).tolist(), latency_ms=latencies.tolist(), step=0)
    log.end(T0 + 1)
    a = analysed(log, tmp_path)
    assert a.series.requests.tolist() == [400]
    for got, q in ((a.series.latency_p50_ms[0], 50), (a.series.latency_p95_ms[0], 95)):
        assert got == pytest.approx(np.percentile(latencies, q), rel=0.025)
