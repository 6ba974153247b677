"""`compare`: direction-aware changes, setup warnings, gates and the CLI's exit codes."""

from __future__ import annotations

import copy
import json

import pytest

from edgeload.cli import main
from edgeload.errors import ResultsError
from edgeload.reporting.compare import (
    BETTER,
    MISSING,
    NEUTRAL,
    SAME,
    WORSE,
    check_gates,
    compare_results,
    parse_gates,
)
from edgeload.reporting.results import RESULTS_FILENAME, RESULTS_SCHEMA_VERSION, load_results


def results(**summary) -> dict:
    base = {
        "maximum_rps": 120.0,
        "maximum_steady_rps": 100.0,
        "maximum_steady_clients": 10,
        "maximum_steady_ramp": 9,
        "requests": 5000,
        "success_rate": 0.999,
        "latency_p95_ms": 50.0,
        "latency_p99_ms": 80.0,
    }
    base.update(summary)
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "scenario": "throughput",
        "status": "completed",
        "verdict": "pass",
        "exit_code": 0,
        "checks": [],
        "target": {"kind": "simulated", "url": "http://127.0.0.1:1"},
        "inputs": {"detector_mode": "BINARY", "image_width": 640, "image_height": 480},
        "outputs": {
            "summary": base,
            "system_utilization_summary": {"endpoint": {"gpu_pct": 50.0}, "generator": {}},
        },
        "metadata": {
            "endpoint_images": {"edge_endpoint": "edge:1", "inference_server": "inf:1"},
            "generator_host": {"hostname": "gen-1"},
        },
    }


def rows_by_name(comparison):
    return {r.metric.name: r for r in comparison.rows}


def test_changes_are_judged_in_each_metrics_direction():
    a = results()
    b = results(maximum_steady_rps=90.0, latency_p95_ms=40.0, latency_p99_ms=80.0)
    b["outputs"]["system_utilization_summary"]["endpoint"]["gpu_pct"] = 70.0
    rows = rows_by_name(compare_results(a, b))
    assert rows["maximum_steady_rps"].verdict == WORSE  # less throughput is worse
    assert rows["maximum_steady_rps"].change_pct == pytest.approx(-10.0)
    assert rows["latency_p95_ms"].verdict == BETTER  # less latency is better
    assert rows["latency_p99_ms"].verdict == SAME
    assert rows["endpoint_gpu_pct"].verdict == NEUTRAL  # utilization is neither
    assert rows["corrected_latency_p99_ms"].verdict == MISSING
    b2 = results(maximum_steady_rps=110.0, latency_p95_ms=60.0)
    rows = rows_by_name(compare_results(a, b2))
    assert rows["maximum_steady_rps"].verdict == BETTER
    assert rows["latency_p95_ms"].verdict == WORSE


def test_runs_on_different_setups_are_flagged():
    a, b = results(), results()
    assert compare_results(a, b).warnings == []
    b["metadata"]["endpoint_images"]["inference_server"] = "inf:2"
    b["inputs"]["image_width"] = 1280
    b["inputs"]["detector_mode"] = "COUNT"
    b["metadata"]["generator_host"]["hostname"] = "gen-2"
    b["status"] = "interrupted"
    text = "\n".join(compare_results(a, b).warnings)
    for fact in (
        "endpoint images",
        "input image_width: A 640 vs B 1280",
        "input detector_mode: A BINARY vs B COUNT",
        "generator host",
        "run B did not complete",
    ):
        assert fact in text


def test_runs_of_different_scenarios_are_refused():
    other = {**results(), "scenario": "fps"}
    with pytest.raises(ResultsError, match="cannot compare a throughput run with a fps run"):
        compare_results(results(), other)


def test_a_step_index_has_no_direction():
    rows = rows_by_name(compare_results(results(), results(maximum_steady_ramp=3)))
    assert rows["maximum_steady_ramp"].verdict == NEUTRAL


def test_gate_syntax():
    gates = parse_gates(
        "max_steady_rps:-5%, latency_p95_ms:+10%,latency_p99_ms:20,success_rate:1%", "throughput"
    )
    by_name = {g.metric.name: g for g in gates}
    assert set(by_name) == {
        "maximum_steady_rps",
        "latency_p95_ms",
        "latency_p99_ms",
        "success_rate",
    }
    assert (by_name["maximum_steady_rps"].direction, by_name["maximum_steady_rps"].amount) == (
        -1,
        5,
    )
    assert by_name["latency_p95_ms"].direction == 1 and by_name["latency_p95_ms"].percent
    assert by_name["latency_p99_ms"].direction == 1  # no sign: the worse way (up for latency)
    assert not by_name["latency_p99_ms"].percent
    assert by_name["success_rate"].direction == -1  # no sign: the worse way (down)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("max_steady_rps", "bad --fail-on gate"),
        ("max_steady_rps:-5x", "bad --fail-on gate"),
        ("latency:+10%", "unknown throughput metric 'latency'"),
        ("endpoint_gpu_pct:10%", "give the gate a sign"),
        ("achieved_rps:-5%", "unknown throughput metric 'achieved_rps'"),
        (" , ", "--fail-on is empty"),
    ],
)
def test_bad_gates_are_refused(spec, message):
    with pytest.raises(ResultsError, match=message):
        parse_gates(spec, "throughput")


def test_gates_fail_with_readable_messages():
    a = results()
    gates = parse_gates("max_steady_rps:-5%,latency_p95_ms:+10%,latency_p99_ms:+20", "throughput")
    assert check_gates(gates, a, results(maximum_steady_rps=96.0, latency_p95_ms=54.9)) == []
    broken = check_gates(
        gates, a, results(maximum_steady_rps=94.0, latency_p95_ms=56.0, latency_p99_ms=101.0)
    )
    assert len(broken) == 3
    assert broken[0].startswith("max_steady_rps:-5%: maximum_steady_rps went from 100 to 94")
    assert "(-6%)" in broken[0] and "allowed -5%" in broken[0]
    assert "(+12%)" in broken[1]
    assert "(+21 ms)" in broken[2] and "allowed +20 ms" in broken[2]
    # a metric missing from a run cannot pass its gate
    missing = results()
    del missing["outputs"]["summary"]["latency_p95_ms"]
    (message,) = check_gates(parse_gates("latency_p95_ms:+10%", "throughput"), a, missing)
    assert "missing in run B" in message


def test_load_results_refuses_an_unknown_version(tmp_path):
    path = tmp_path / RESULTS_FILENAME
    path.write_text(json.dumps({**results(), "schema_version": 7}))
    with pytest.raises(ResultsError, match="results schema_version 7 is not supported"):
        load_results(path)
    path.write_text("{broken")
    with pytest.raises(ResultsError, match="not valid JSON"):
        load_results(path)


def _save(folder, data: dict):
    folder.mkdir()
    (folder / RESULTS_FILENAME).write_text(json.dumps(data))
    return str(folder)


def test_cli_exit_codes(tmp_path, capsys):
    a = _save(tmp_path / "a", results())
    b = _save(tmp_path / "b", results(maximum_steady_rps=90.0))
    assert main(["compare", a, b]) == 0
    out = capsys.readouterr().out
    assert "maximum_steady_rps (requests/s)" in out and "worse" in out
    assert main(["compare", a, b, "--fail-on", "max_steady_rps:-15%"]) == 0
    assert "all 1 gate(s) passed" in capsys.readouterr().out
    assert main(["compare", a, b, "--fail-on", "max_steady_rps:-5%"]) == 1
    assert "FAILED gate max_steady_rps:-5%" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["{a}", "{tmp}/nowhere"], "no such results file"),
        (["{a}", "{a}", "--fail-on", "max_steady_rps=-5"], "bad --fail-on gate"),
        (["{a}", "{tmp}"], "load_test_results.json: no such results file"),
        (["{a}", "{old}"], "schema_version 0 is not supported"),
    ],
)
def test_cli_one_line_errors(tmp_path, capsys, args, message):
    a = _save(tmp_path / "a", results())
    old = copy.deepcopy(results())
    old["schema_version"] = 0
    old_dir = _save(tmp_path / "old", old)
    argv = [x.format(a=a, tmp=tmp_path, old=old_dir) for x in args]
    assert main(["compare", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("edgeload compare: error:")
