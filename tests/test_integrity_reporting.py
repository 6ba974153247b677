"""The reporter and open-model drops: a `dropped` arrival is a request and a failure, but it was
never sent, so it has no latency (left out of every percentile) and is not throughput."""

from __future__ import annotations

import numpy as np
import pytest
from logfactory import T0, LogFactory

from edgeload.reporting import write_reports
from edgeload.reporting.logreader import read_log
from edgeload.scenarios.throughput.analysis import analyze


def drop_log() -> LogFactory:
    # step 0 (10 s, 20 requests/s expected): 60 sent, answered in 20 ms, 2 s late each, and
    # 140 dropped (latency 0); step 1: both steps in one batch, 10 sent and 5 dropped
    log = LogFactory(inputs={"arrival_rate": 20.0, "max_in_flight": 4})
    log.step(0, clients=1, expected_rps=20.0, t=T0)
    log.step(1, clients=2, expected_rps=40.0, t=T0 + 10)
    sent_t = [T0 + 0.05 + i * 0.15 for i in range(60)]
    drop_t = [T0 + 0.02 + i * 0.07 for i in range(140)]
    t = sent_t + drop_t
    log.requests(
        t=t,
        latency_ms=[20.0] * 60 + [0.0] * 140,
        intended=[x - 2.0 for x in sent_t] + drop_t,
        ok=[1] * 60 + [0] * 140,
        error=[None] * 60 + ["dropped"] * 140,
        status=[200] * 60 + [0] * 140,
        step=0,
    )
    mixed_t = [T0 + 10.5 + i * 0.2 for i in range(15)]
    log.requests(
        t=[T0 + 9.9, *mixed_t],
        latency_ms=[20.0] + [30.0] * 10 + [0.0] * 5,
        intended=[T0 + 9.9, *mixed_t],
        ok=[0] + [1] * 10 + [0] * 5,
        error=["dropped"] + [None] * 10 + ["dropped"] * 5,
        status=[0] + [200] * 10 + [0] * 5,
        step=[0] + [1] * 15,
        clients=[1] + [2] * 15,
    )
    log.end(T0 + 20, locust_request_count=216)
    return log


def test_dropped_arrivals_are_failures_without_latency(tmp_path):
    run_dir = drop_log().save(tmp_path)
    run = read_log(run_dir / "load_test.log")
    a = analyze(run).plot_data
    first, second = a.steps
    assert first["requests"] == 201 and first["dropped"] == 141 and first["successes"] == 60
    assert first["success_rate"] == round(60 / 201, 6)
    assert first["achieved_rps"] == pytest.approx(6.0)  # 60 sent in 10 s, not 201
    assert first["successful_rps"] == pytest.approx(6.0)
    assert first["errors"] == {"dropped": 141}
    # were the 141 zeros among them, the p50 would be 0
    assert first["latency_p50_ms"] == 20.0 and first["latency_max_ms"] == 20.0
    assert first["corrected_latency_p50_ms"] == pytest.approx(2020.0)
    assert len(run.steps[0].latencies_ms()) == 60
    assert len(run.steps[0].corrected_latencies_ms()) == 60
    assert second["requests"] == 15 and second["dropped"] == 5
    assert second["latency_p50_ms"] == 30.0 and second["corrected_latency_p50_ms"] == 30.0
    assert first["steady"] is False and second["steady"] is False

    assert a.summary["requests"] == 216 == a.request_count
    assert a.summary["dropped"] == 146
    assert a.errors_by_category == {"dropped": 146}
    assert a.summary["run_latency_p50_ms"] == 20.0
    assert a.summary["run_corrected_latency_max_ms"] == pytest.approx(2020.0)
    assert not [w for w in a.warnings if w["code"] == "request_count_mismatch"]
    # the per-second latency series leaves the drops out as well
    p50 = a.series.latency_p50_ms[~np.isnan(a.series.latency_p50_ms)]
    assert p50.min() > 15.0

    results = write_reports(run_dir)
    assert results["outputs"]["summary"]["dropped"] == 146
    assert results["outputs"]["steps"][0]["dropped"] == 141
    assert "dropped" in results["definitions"]


def test_a_step_of_drops_only_has_no_latency(tmp_path):
    log = LogFactory()
    log.step(0, clients=1, expected_rps=10.0, t=T0)
    log.requests(
        t=[T0 + 0.1 * i for i in range(10)],
        latency_ms=[0.0] * 10,
        ok=[0] * 10,
        error=["dropped"] * 10,
        status=[0] * 10,
        step=0,
    )
    log.end(T0 + 1)
    a = analyze(read_log(log.save(tmp_path) / "load_test.log")).plot_data
    step = a.steps[0]
    assert step["requests"] == 10 and step["dropped"] == 10 and step["achieved_rps"] == 0.0
    assert step["latency_p50_ms"] is None and step["corrected_latency_p99_ms"] is None
    assert a.summary["run_latency_p50_ms"] is None
