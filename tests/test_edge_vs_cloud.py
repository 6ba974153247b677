"""`edgeload edge-vs-cloud`: the pure analysis, the simulator's cloud routes (listing a
detector's image queries, an image query's image) and its edge model that misreads some
images, and the command end to end against the simulator (its own detector, a given one, the
cloud reached directly, a detector without images, bad input).

The simulator's trained edge model reads a fixed share of images wrongly while the cloud's
answer follows each image's truth (`edgeload.sim.cloud.misreads`), so the test knows, for every
compared image, whether edge and cloud must agree.
"""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path

import pytest
from logfactory import T0, LogFactory

from edgeload import cli, runlog
from edgeload.reporting import write_reports
from edgeload.reporting.logreader import read_log
from edgeload.scenarios.edge_vs_cloud.analysis import analyze
from edgeload.scenarios.edge_vs_cloud.options import Inputs
from edgeload.scenarios.edge_vs_cloud.run import run_command
from edgeload.sim import SimulatedEndpoint
from edgeload.sim.answers import image_truth
from edgeload.sim.cloud import misreads
from edgeload.target import KIND_SIMULATED, Target, make_sdk

FAST = ["--image-size", "64x48", "--sim-time-scale", "10"]
ERROR_RATE = 0.4


# ---------------------------------------------------------------------------------------------
# the pure analysis


def _row(i: int, edge: str | None, cloud: str | None, ec: float, cc: float, **extra) -> dict:
    row = {
        "index": i, "source_iq_id": f"iq_{i}", "source_created_at": "2026-01-01T00:00:00Z",
        "source_label": cloud, "source_confidence": cc, "source_source": "HUMAN",
        "image_bytes": 100, "image_error": None,
        "edge_iq_id": f"iq_e{i}", "edge_label": edge, "edge_confidence": ec,
        "edge_latency_ms": 10.0 + i, "edge_source": "ALGORITHM", "edge_from_edge": True,
        "edge_error": None,
        "cloud_iq_id": f"iq_c{i}", "cloud_label": cloud, "cloud_confidence": cc,
        "cloud_latency_ms": 400.0 + i, "cloud_source": "CLOUD", "cloud_from_edge": False,
        "cloud_error": None,
    }  # fmt: skip
    row.update(extra)
    return row


def _log(tmp_path: Path, rows: list[dict], *, min_agreement: float | None = None) -> Path:
    log = LogFactory(scenario="edge-vs-cloud", inputs={"sample": 5, "min_agreement": min_agreement})
    log.add(runlog.sample("detector", t=T0, id="det_x", name="n", mode="BINARY", own=True))
    log.add(runlog.sample("listed", t=T0, asked=5, found=len(rows)))
    for row in rows:
        log.add(runlog.sample("comparison", t=T0 + 1, **row))
    log.end(T0 + 10)
    return log.save(tmp_path / "run")


def test_agreement_gaps_per_label_and_confusion(tmp_path):
    rows = [
        _row(1, "YES", "YES", 0.9, 0.99),
        _row(2, "NO", "YES", 0.6, 0.99),
        _row(3, "NO", "NO", 0.8, 0.99),
        _row(4, "NO", "NO", 0.99, 0.99),
        # the edge sent it to the cloud: not compared, and the goal check fails
        _row(5, "NO", "NO", 0.99, 0.99, edge_from_edge=False, edge_error="not_from_edge: x"),
    ]
    analysis = analyze(read_log(_log(tmp_path, rows, min_agreement=0.7) / "load_test.log"))
    s = analysis.outputs["summary"]
    assert s["compared_images"] == 4 and s["disagreements"] == 1 and s["failed_images"] == 1
    assert s["agreement_rate"] == pytest.approx(0.75)
    gaps = [0.09, 0.39, 0.19, 0.0]
    assert s["mean_confidence_gap"] == pytest.approx(sum(gaps) / 4)
    assert s["median_confidence_gap"] == pytest.approx((0.09 + 0.19) / 2)
    assert s["edge_latency_ms_p50"] == pytest.approx(12.5)
    per_label = {r["cloud_label"]: r for r in analysis.outputs["per_label"]}
    assert per_label["YES"]["agreement_rate"] == 0.5 and per_label["NO"]["images"] == 2
    confusion = {(r["cloud_label"], r["edge_label"]): r["images"]
                 for r in analysis.outputs["confusion"]}  # fmt: skip
    assert confusion == {("NO", "NO"): 2, ("YES", "NO"): 1, ("YES", "YES"): 1}
    checks = {c.name: c.status for c in analysis.checks}
    assert checks == {"answers from both the edge and the cloud": "failed",
                      "agreement >= 0.7": "passed"}  # fmt: skip
    results = write_reports(tmp_path / "run", plots=False)
    assert results["exit_code"] == 1
    csv = (tmp_path / "run" / "comparisons.csv").read_text().splitlines()
    assert len(csv) == 6 and "edge_label" in csv[0] and "agree" in csv[0]
    assert (tmp_path / "run" / "per_label.csv").is_file()


def test_nothing_compared_is_not_observed(tmp_path):
    analysis = analyze(read_log(_log(tmp_path, [], min_agreement=0.9) / "load_test.log"))
    assert {c.status for c in analysis.checks} == {"not_observed"}
    assert analysis.outputs["summary"]["agreement_rate"] is None
    assert write_reports(tmp_path / "run", plots=False)["exit_code"] == 4


def test_a_low_agreement_fails_the_gate(tmp_path):
    rows = [_row(1, "YES", "NO", 0.6, 0.99), _row(2, "YES", "YES", 0.9, 0.99)]
    results = write_reports(_log(tmp_path, rows, min_agreement=0.9), plots=False)
    gate = [c for c in results["checks"] if c["name"] == "agreement >= 0.9"][0]
    assert gate["status"] == "failed" and results["exit_code"] == 1


# ---------------------------------------------------------------------------------------------
# the simulator: its cloud routes and its edge model


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    path = tmp_path_factory.mktemp("profile") / "misreads.yaml"
    path.write_text(
        "extends: edge-vs-cloud\ndescription: test\n"
        f"cloud:\n  edge_model_error_rate: {ERROR_RATE}\n"
    )
    return str(path)


@pytest.fixture(scope="module")
def sim(profile):
    with SimulatedEndpoint(profile, time_scale=10) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def target(sim):
    return Target(kind=KIND_SIMULATED, url=sim.url, token=sim.token, profile=sim.profile,
                  time_scale=10)  # fmt: skip


def test_the_cloud_lists_a_detectors_image_queries_and_serves_their_images(sim, target):
    gl = make_sdk(target)
    det = gl.create_detector("evc-listing", "Is the image background black?")
    other = gl.create_detector("evc-other", "Is the image background black?")
    images = [b"\xff\xd8edgeload:label=YES;clarity=0.9;n=%d" % i for i in range(5)]
    ids = [gl.ask_async(det, image, human_review="NEVER").id for image in images]
    gl.ask_async(other, images[0], human_review="NEVER")
    first = gl.list_image_queries(page=1, page_size=2, detector_id=det.id)
    assert first.count == 5 and [iq.id for iq in first.results] == ids[::-1][:2]  # newest first
    assert first.next is not None and first.previous is None
    last = gl.list_image_queries(page=3, page_size=2, detector_id=det.id)
    assert [iq.id for iq in last.results] == ids[:1] and last.next is None
    raw = gl.get_image(ids[2])
    assert raw.read() == images[2]
    raw.close()
    # through the box: the edge app does not serve these routes, so nginx sends them to the cloud
    request = urllib.request.Request(
        f"{sim.url}/device-api/v1/image-queries/{ids[0]}/image",
        headers={"x-api-token": sim.token},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["content-type"] == "image/jpeg" and response.read() == images[0]
    gl.close()


# ---------------------------------------------------------------------------------------------
# the command end to end


def _inputs(tmp_path: Path, **changes) -> Inputs:
    values = dict(
        detector_id=None, sample=16, detector_mode="BINARY", image_size=(64, 48),
        cloud_endpoint=None, answer_timeout=30.0, min_agreement=None,
        output_dir=str(tmp_path), sim_profile="edge-vs-cloud", sim_time_scale=10.0,
        provision_timeout=60.0,
    )  # fmt: skip
    values.update(changes)
    return Inputs(**values)


def _results(tmp_path: Path) -> tuple[Path, dict]:
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return run_dir, json.loads((run_dir / "load_test_results.json").read_text())


def _expected_agreement(sim, rows: list[dict]) -> list[bool]:
    """Whether each compared image must agree: the cloud is right, the edge misreads some."""
    expected = []
    for row in rows:
        request = urllib.request.Request(
            f"{sim.cloud_url}/device-api/v1/image-queries/{row['source_iq_id']}/image",
            headers={"x-api-token": sim.token},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            expected.append(not misreads(image_truth(response.read()), ERROR_RATE))
    return expected


def test_own_detector_then_the_same_detector_through_the_cloud_directly(sim, target, tmp_path):
    out = io.StringIO()
    first = tmp_path / "own"
    code = run_command(_inputs(first), out=out, target=target)
    run_dir, results = _results(first)
    assert code == results["exit_code"] == 0, out.getvalue()[-3000:]
    rows = results["outputs"]["comparisons"]
    assert len(rows) == 16 and all(r["compared"] for r in rows)
    assert all(r["edge_from_edge"] is True and r["edge_source"] == "ALGORITHM" for r in rows)
    # human_review NEVER: the cloud's own model answers, never a person
    assert all(r["cloud_from_edge"] is False and r["cloud_source"] == "ALGORITHM" for r in rows)
    # per image, the answers agree exactly where the edge model reads the image right
    assert [r["agree"] for r in rows] == _expected_agreement(sim, rows)
    s = results["outputs"]["summary"]
    assert s["agreement_rate"] == pytest.approx(sum(r["agree"] for r in rows) / 16)
    assert s["cloud_latency_ms_p50"] > s["edge_latency_ms_p50"]
    for name in ("comparisons.csv", "per_label.csv", "confusion.csv", "edge_vs_cloud.png",
                 "report.html"):  # fmt: skip
        assert (run_dir / name).is_file(), name
    assert "edge_label" in out.getvalue() and "agreement:" in out.getvalue()
    before = results["outputs"]["summary"]
    assert cli.main(["report", str(run_dir)]) == 0  # the log alone re-renders the run
    assert json.loads((run_dir / "load_test_results.json").read_text())["outputs"]["summary"] == (
        before
    )

    # the same detector given by id, the cloud reached on its own port; a gate on agreement
    det_id = results["outputs"]["detector"]["id"]
    second = tmp_path / "given"
    inputs = _inputs(second, detector_id=det_id, sample=6, cloud_endpoint=sim.cloud_url,
                     min_agreement=1.0)  # fmt: skip
    code = run_command(inputs, out=io.StringIO(), target=target)
    _, results = _results(second)
    rows = results["outputs"]["comparisons"]
    assert results["outputs"]["detector"]["own"] is False and len(rows) == 6
    assert [r["agree"] for r in rows] == _expected_agreement(sim, rows)
    assert code == (0 if all(r["agree"] for r in rows) else 1)


def test_a_detector_without_images_is_inconclusive(sim, target, tmp_path):
    gl = make_sdk(target)
    det = gl.create_detector("evc-empty", "Is the image background black?")
    gl.close()
    code = run_command(_inputs(tmp_path, detector_id=det.id), out=io.StringIO(), target=target)
    _, results = _results(tmp_path)
    assert code == 4 and results["verdict"] == "inconclusive"
    assert results["checks"][0]["status"] == "not_observed"


def test_the_command_runs_on_the_embedded_simulator(tmp_path, capsys):
    code = cli.main(["edge-vs-cloud", "--sample", "8", *FAST, "--output-dir", str(tmp_path)])
    out = capsys.readouterr().out
    run_dir, results = _results(tmp_path)
    assert code == results["exit_code"] == 0, out[-3000:]
    assert results["target"]["kind"] == "simulated"
    assert results["outputs"]["summary"]["compared_images"] == 8


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--sample", "0"], "--sample must be at least 1"),
        (["--min-agreement", "1.5"], "--min-agreement must be at most 1"),
        (["--cloud-endpoint", "ftp://x"], "--cloud-endpoint must be http(s)://"),
        (["det_short"], "DETECTOR_ID 'det_short' is not a detector id"),
        (["--fail-if", "nonsense>1"], "nonsense"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, words, tmp_path, capsys):
    code = cli.main(["edge-vs-cloud", *argv, "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and words in lines[0], err
    assert not any(tmp_path.iterdir())
