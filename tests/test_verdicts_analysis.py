"""Throughput verdicts from logs built with known answers: measured step windows, the latency
SLO, stability, endpoint outages and the checks (issue 10)."""

from __future__ import annotations

from edgeload import verdict
from edgeload.reporting.logreader import read_log
from edgeload.reporting.results import build_results
from edgeload.scenarios.throughput.analysis import analyze
from tests.logfactory import T0, LogFactory


def analysed(log: LogFactory, tmp_path):
    return analyze(read_log(log.save(tmp_path) / "load_test.log"))


def results_of(log: LogFactory, tmp_path) -> dict:
    data = read_log(log.save(tmp_path) / "load_test.log")
    return build_results(data, analyze(data))


def checks(results: dict) -> dict[str, dict]:
    return {c["name"]: c for c in results["checks"]}


def test_a_step_is_measured_from_when_all_its_clients_run(tmp_path):
    # 1,000 clients at 1/s each: the generator sent nothing for 1.5 s while workers spawned,
    # then 1,000/s; the tick-to-tick window would say 850/s
    log = LogFactory(inputs={"step_settle_seconds": 0.5})
    log.step(0, clients=1000, expected_rps=1000.0, t=T0)
    log.add({"type": "event", "t": T0 + 1.5, "name": "step_ready", "detail": "", "step": 0})
    log.uniform_requests(step=0, start=T0 + 1.5, duration=8.5, n=8500, clients=1000)
    log.end(T0 + 10)
    step = analysed(log, tmp_path).plot_data.steps[0]
    assert step["measured_from_s"] == 2.0 and step["duration_s"] == 8.0
    assert abs(step["achieved_rps"] - 1000) / 1000 < 0.01
    assert step["steady"] is True and step["step_requests"] == 8500 and step["requests"] == 8000


def test_the_latency_slo_bounds_steadiness_and_gives_the_rate_within_it(tmp_path):
    log = LogFactory(inputs={"latency_slo": "p95:150ms", "step_settle_seconds": 0})
    for i, latency in enumerate((20.0, 100.0, 400.0)):  # the third step queues
        log.step(i, clients=i + 1, expected_rps=10.0 * (i + 1), t=T0 + 10 * i)
        log.uniform_requests(
            step=i, start=T0 + 10 * i, duration=10, n=100 * (i + 1), latency_ms=latency
        )
    log.end(T0 + 30)
    a = analysed(log, tmp_path).plot_data
    assert [s["within_slo"] for s in a.steps] == [True, True, False]
    assert [s["steady"] for s in a.steps] == [True, True, False]  # rate alone would say True
    assert a.summary["maximum_rps_within_slo"] == 20.0
    assert a.summary["maximum_clients_within_slo"] == 2
    assert a.summary["maximum_steady_rps"] == 20.0 and a.summary["latency_slo"] == "p95:150ms"


def test_a_step_whose_rate_drifts_is_marked_unstable(tmp_path):
    log = LogFactory()
    log.step(0, clients=2, expected_rps=20.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=6, n=120)  # 20/s for 6 s ...
    log.uniform_requests(step=0, start=T0 + 6, duration=3, n=30)  # ... then 10/s
    log.step(1, clients=2, expected_rps=20.0, t=T0 + 9)
    log.uniform_requests(step=1, start=T0 + 9, duration=9, n=180)
    log.end(T0 + 18)
    result = analysed(log, tmp_path)
    assert [s["stable"] for s in result.plot_data.steps] == [False, True]
    assert any(w["code"] == "unstable_steps" for w in result.warnings)


def test_an_endpoint_that_stops_answering_impairs_the_run(tmp_path):
    log = LogFactory()
    log.step(0, clients=2, expected_rps=20.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=4, n=80)
    times = [T0 + 4 + i * 0.05 for i in range(100)]  # 5 s of connection refused
    log.requests(t=times, latency_ms=[1.0] * 100, ok=[0] * 100, error=["connection"] * 100, step=0)
    log.uniform_requests(step=0, start=T0 + 9, duration=1, n=20)
    log.end(T0 + 10)
    results = results_of(log, tmp_path)
    (outage,) = results["outputs"]["endpoint_outages"]
    assert outage["start_s"] == 4.0 and outage["duration_s"] == 5.0
    liveness = checks(results)["endpoint answered throughout"]
    assert liveness["status"] == "failed" and "stopped answering from 4.0 s" in liveness["detail"]
    assert results["exit_code"] == verdict.EXIT_IMPAIRED and results["verdict"] == "fail"


def test_a_short_blip_is_not_an_outage(tmp_path):
    log = LogFactory()
    log.step(0, clients=1, expected_rps=10.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=5, n=50)
    log.requests(t=[T0 + 5.5], latency_ms=[1.0], ok=[0], error=["connection"], step=0)
    log.uniform_requests(step=0, start=T0 + 6, duration=4, n=40)
    log.end(T0 + 10)
    results = results_of(log, tmp_path)
    assert results["outputs"]["endpoint_outages"] == []
    assert checks(results)["endpoint answered throughout"]["status"] == "passed"
    # Locust's convention: the one failed request fails the run
    assert checks(results)["no failed requests"]["status"] == "failed"
    assert results["exit_code"] == verdict.EXIT_FAIL


def test_exit_code_on_error_zero_lets_failed_requests_pass(tmp_path):
    log = LogFactory(inputs={"exit_code_on_error": 0})
    log.step(0, clients=1, expected_rps=10.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=10, n=100, failures=1)
    log.end(T0 + 10)
    results = results_of(log, tmp_path)
    assert "no failed requests" not in checks(results)
    assert results["verdict"] == "pass" and results["exit_code"] == 0


def test_a_clean_run_passes(tmp_path):
    log = LogFactory()
    log.step(0, clients=1, expected_rps=10.0, t=T0)
    log.uniform_requests(step=0, start=T0, duration=10, n=100)
    log.utilization(T0 + 5, "generator", cpu_pct=20.0)
    log.end(T0 + 10)
    results = results_of(log, tmp_path)
    assert {c["status"] for c in results["checks"]} == {"passed"}
    assert results["verdict"] == "pass" and results["exit_code"] == 0


def ramp_with(inputs: dict) -> LogFactory:
    log = LogFactory(inputs={"detector_mode": "BINARY", **inputs})
    for i in range(2):
        log.step(i, clients=i + 1, expected_rps=10.0 * (i + 1), t=T0 + 10 * i)
        log.uniform_requests(
            step=i, start=T0 + 10 * i, duration=10, n=100 * (i + 1), latency_ms=80.0 + 40 * i
        )
    log.end(T0 + 20)
    return log


def test_fail_if_gates_fail_the_run_when_a_clause_holds(tmp_path):
    results = results_of(
        ramp_with({"fail_if": "latency_p95_ms>100,success_rate<0.99,max_steady_rps<15"}), tmp_path
    )
    gates = {c["name"]: c for c in results["checks"] if c["kind"] == "gate"}
    assert gates["--fail-if latency_p95_ms>100"]["status"] == "failed"  # p95 120 ms
    assert "latency_p95_ms was 120 ms: > 100" in gates["--fail-if latency_p95_ms>100"]["detail"]
    assert gates["--fail-if success_rate<0.99"]["status"] == "passed"
    assert gates["--fail-if max_steady_rps<15"]["status"] == "passed"  # 20/s, by its alias
    # the user's gates replace Locust's failed-requests convention
    assert "no failed requests" not in checks(results)
    assert results["verdict"] == "fail" and results["exit_code"] == verdict.EXIT_FAIL


def test_fail_if_gates_pass_a_run_within_them(tmp_path):
    results = results_of(ramp_with({"fail_if": "latency_p95_ms>150"}), tmp_path)
    assert results["verdict"] == "pass" and results["exit_code"] == 0


def test_a_gate_on_a_figure_the_run_lacks_is_not_observed(tmp_path):
    results = results_of(ramp_with({"fail_if": "maximum_rps_within_slo<10"}), tmp_path)
    (gate,) = [c for c in results["checks"] if c["kind"] == "gate"]
    assert gate["status"] == "not_observed"  # no --latency-slo: no such figure
    assert results["verdict"] == "inconclusive" and results["exit_code"] == 4
