"""`edgeload resources`: the matrix, the figures of a detector, the simulator's per-detector
memory model, the pure analysis, and runs end to end against the simulator (a run limited
part-way with --max-combinations, then --resume: only the missing combinations are measured,
and the results cover every one).

Runs use the `resources-demo` profile at a high time scale and a 2 modes x 2 sizes matrix.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgeload.errors import UsageError
from edgeload.reporting.logreader import read_log
from edgeload.scenarios.resources import figures
from edgeload.scenarios.resources.analysis import analyze
from edgeload.scenarios.resources.matrix import combinations, load_matrix
from edgeload.sim.profile import MIB, load_profile

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "configs" / "resources-matrix.yaml"
TINY = """\
BINARY:
  image_sizes: [64x48, 640x480]
BOUNDING_BOX:
  image_sizes: [64x48, 640x480]
  n: [3]
"""
FAST = ["--sim-time-scale", "20", "--batch-size", "2", "--queries", "2"]

# -- the matrix --------------------------------------------------------------------------------


def test_the_example_matrix_expands_to_the_cartesian_product():
    combos, text = load_matrix(EXAMPLE)
    assert "BINARY" in text
    by_mode: dict[str, int] = {}
    for c in combos:
        by_mode[c.mode] = by_mode.get(c.mode, 0) + 1
    # BINARY 2 pipelines x 2 sizes; COUNT and MULTI_CLASS 2 n x 1 size; BOUNDING_BOX 2 x 1 x 2
    assert by_mode == {"BINARY": 4, "COUNT": 2, "MULTI_CLASS": 2, "BOUNDING_BOX": 4}
    assert len({c.key for c in combos}) == len(combos)
    keys = [c.key for c in combos]
    assert "BINARY/fast-knn/-/1920x1080" in keys and "MULTI_CLASS/default/10/640x480" in keys
    assert "COUNT/default/25/640x480" in keys
    # a pipeline of `default` is the mode's own (no --edge-pipeline-config)
    assert next(c for c in combos if c.key == "BINARY/default/-/640x480").pipeline is None


def test_modes_without_n_get_their_default_size():
    (combo,) = combinations({"MULTI_CLASS": {"image_sizes": ["64x48"]}})
    assert combo.n == 4 and combo.key == "MULTI_CLASS/default/4/64x48"
    (combo,) = combinations({"count": {"image_sizes": "64x48"}})
    assert combo.mode == "COUNT" and combo.n is None  # its default max count, 10


def test_count_takes_n_as_its_max_count():
    combos = combinations({"COUNT": {"image_sizes": ["64x48"], "n": [3, 25]}})
    assert [(c.n, c.key) for c in combos] == [
        (3, "COUNT/default/3/64x48"),
        (25, "COUNT/default/25/64x48"),
    ]


@pytest.mark.parametrize(
    "raw, words",
    [
        (None, "expected a mapping of detector modes"),
        ([1, 2], "expected a mapping of detector modes"),
        ({"TRINARY": {"image_sizes": ["64x48"]}}, "unknown detector mode 'TRINARY'"),
        ({"BINARY": {"image_sizes": ["64x"]}}, "BINARY.image_sizes: '64x' is not WIDTHxHEIGHT"),
        ({"BINARY": {"image_sizes": ["0x48"]}}, "sides must be 1..10000 px"),
        ({"BINARY": {"image_sizes": ["64x48"], "n": [2]}}, "n does not apply to BINARY"),
        ({"COUNT": {"image_sizes": ["64x48"], "n": [51]}}, "takes 1..50 counted objects"),
        ({"COUNT": {"image_sizes": ["64x48"], "n": [0]}}, "COUNT.n: 0 is out of range"),
        ({"MULTI_CLASS": {"image_sizes": ["64x48"], "n": [1]}}, "takes 2..100 classes"),
        ({"BOUNDING_BOX": {"image_sizes": ["64x48"], "n": ["x"]}}, "not a whole number"),
        ({"BINARY": {"pipelines": ["a"]}}, "image_sizes is required"),
        ({"BINARY": {"image_sizes": []}}, "image_sizes is required"),
        ({"BINARY": {"image_sizes": ["64x48"], "pipelines": []}}, "pipelines is empty"),
        ({"BINARY": {"image_sizes": ["64x48"], "size": 1}}, "unknown field 'size'"),
        ({"BINARY": ["64x48"]}, "expected a mapping with image_sizes"),
        ({"BINARY": {"image_sizes": ["64x48"], "pipelines": ["x" * 101]}}, "at most 100"),
        ({"BINARY": {"image_sizes": {"a": 1}}}, "expected a list"),
    ],
)
def test_a_bad_matrix_is_one_line_naming_what_to_fix(raw, words):
    with pytest.raises(UsageError) as info:
        combinations(raw, "m.yaml")
    message = str(info.value)
    assert words in message and message.startswith("m.yaml") and "\n" not in message


# -- a detector's figures ------------------------------------------------------------------------


def test_figures_not_reported_are_none_with_the_reason_never_zero():
    outside = figures.endpoint_figures({"error": "Not running in a Kubernetes cluster"}, "det_1")
    assert outside["ram_bytes"] is None and outside["vram_bytes"] is None
    assert "Not running in a Kubernetes cluster" in outside["note"]
    absent = figures.endpoint_figures({"system": {}, "detectors": []}, "det_1")
    assert absent["vram_bytes"] is None and "does not list" in absent["note"]
    ram = {"primary": 3, "oodd": 1, "total": 4}
    vram = {"primary": 2, "oodd": 1, "total": 3}
    body = {"detectors": [{"detector_id": "det_1", "ram_bytes": ram, "gpu": {"vram_bytes": vram}}]}
    found = figures.endpoint_figures(body, "det_1")
    assert (found["ram_bytes"], found["vram_bytes"], found["vram_oodd_bytes"]) == (4, 3, 1)
    assert found["note"] is None
    assert figures.pod_figures({"items": []}, "det_1")["ram_bytes"] is None


def test_pod_memory_sums_the_detectors_inference_pods():
    def pod(name, memory):
        container = {"name": "inference-server", "usage": {"memory": memory}}
        return {"metadata": {"name": name}, "containers": [container]}

    body = {
        "items": [
            pod("inferencemodel-primary-det-abc-x1-y", "1024Ki"),
            pod("inferencemodel-oodd-det-abc-x2-y", "1Mi"),
            pod("inferencemodel-primary-det-abcd-x3-y", "1Gi"),
            pod("edge-endpoint-1-y", "1Gi"),
        ]
    }
    assert figures.pod_figures(body, "det_ABC") == {"ram_bytes": 2 * MIB, "pods": 2, "note": None}
    assert figures.quantity("1.5Gi") == 1.5 * 2**30 and figures.quantity("oops") is None


# -- the simulator's per-detector memory ----------------------------------------------------------


def test_binary_and_count_footprints_are_unchanged_and_the_new_modes_differ():
    pods = load_profile("gpu-1x").pods
    binary = [pods.pod_footprint("BINARY", r) for r in ("primary", "oodd")]
    count = pods.pod_footprint("COUNT", "primary", megapixels=2.0)
    assert [(f.vram_bytes, f.ram_bytes) for f in binary] == [
        (900 * MIB, 1500 * MIB),
        (500 * MIB, 1000 * MIB),
    ]
    assert (count.vram_bytes, count.ram_bytes) == (1400 * MIB, 2000 * MIB)  # gpu-1x: no per-MP
    bbox = pods.pod_footprint("BOUNDING_BOX", "primary", n=10)
    assert bbox.vram_bytes == 2000 * MIB + 10 * 16 * MIB > binary[0].vram_bytes
    assert pods.pod_footprint("MULTI_CLASS", "primary", n=3).vram_bytes == 1024 * MIB


def test_count_memory_grows_with_the_max_count_and_stays_put_at_the_default():
    for profile in ("gpu-1x", "resources-demo", "jetson-orin"):
        pods = load_profile(profile).pods
        default = pods.pod_footprint("COUNT", "primary")
        assert pods.pod_footprint("COUNT", "primary", n=10) == default  # max count 10: as before
        assert pods.pod_footprint("COUNT", "oodd", n=25) == pods.pod_footprint("COUNT", "oodd")
        bigger = pods.pod_footprint("COUNT", "primary", n=25)
        assert bigger.vram_bytes == default.vram_bytes + 15 * 16 * MIB
        assert bigger.ram_bytes == default.ram_bytes + 15 * 8 * MIB
        assert pods.pod_footprint("COUNT", "primary", n=1).vram_bytes < default.vram_bytes
    jetson = load_profile("jetson-orin").pods.pod_footprint("COUNT", "primary", n=10)
    assert (jetson.vram_bytes, jetson.ram_bytes) == (1000 * MIB, 1300 * MIB)


def test_pipelines_and_image_sizes_change_the_resources_demo_footprints():
    pods = load_profile("resources-demo").pods
    base = pods.pod_footprint("BINARY", "primary")
    fast = pods.pod_footprint("BINARY", "primary", pipeline_config="fast-knn")
    large = pods.pod_footprint("BINARY", "oodd", pipeline_config="large-backbone")
    big_image = pods.pod_footprint("BINARY", "primary", megapixels=1.0)
    assert fast.vram_bytes == int(0.8 * base.vram_bytes)
    assert large.vram_bytes == int(1.5 * 500 * MIB)  # the extra is the primary's only
    assert big_image.vram_bytes == base.vram_bytes + 256 * MIB


# -- the pure analysis ----------------------------------------------------------------------------


def _write_log(path: Path, samples: list[dict], end: bool = True) -> Path:
    from edgeload import runlog

    combos = [
        c.as_record()
        for c in combinations(
            {"BINARY": {"image_sizes": ["1x1", "2x2"]}, "COUNT": {"image_sizes": ["3x3"]}}
        )
    ]
    records = [
        runlog.header(
            scenario="resources",
            run_id="r",
            target={"kind": "simulated"},
            inputs={"combinations": combos},
            metadata={},
        )
    ]
    records += [runlog.sample("combination", **s) for s in samples]
    if end:
        records.append(runlog.end("completed", "done"))
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_missing_and_failed_combinations_decide_the_check(tmp_path):
    measured = {
        "key": "BINARY/default/-/1x1",
        "status": "measured",
        "detector_id": "det_1",
        "endpoint": {"ram_bytes": 10, "vram_bytes": None, "note": None},
        "pods": {"ram_bytes": None, "note": "off"},
    }
    analysis = analyze(read_log(_write_log(tmp_path / "a.log", [measured])))
    rows = analysis.outputs["results"]
    assert [r["status"] for r in rows] == ["measured", "not_measured", "not_measured"]
    assert rows[0]["vram_bytes"] is None and rows[0]["vram_source"] is None  # never 0
    assert rows[0]["ram_source"] == "endpoint" and rows[1]["ram_bytes"] is None
    (check,) = analysis.checks
    assert check.status == "not_observed"
    assert analysis.outputs["summary"]["combinations_missing"] == 2
    failed = {"key": "COUNT/default/-/3x3", "status": "failed", "error": "provisioning failed"}
    analysis = analyze(read_log(_write_log(tmp_path / "b.log", [measured, failed])))
    assert (
        analysis.checks[0].status == "failed" and "provisioning failed" in analysis.checks[0].detail
    )


# -- the command ---------------------------------------------------------------------------------


def edgeload(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    from test_throughput_run import child_env

    return subprocess.run(
        [sys.executable, "-m", "edgeload.cli", "resources", *args],
        cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_bad_input_is_one_line_before_anything_starts(tmp_path):
    assert "--matrix" in one_line_error(edgeload(cwd=tmp_path))
    (tmp_path / "m.yaml").write_text("BINARY:\n  image_sizes: [64x48]\n  n: [2]\n")
    assert "n does not apply to BINARY" in one_line_error(
        edgeload("--matrix", "m.yaml", cwd=tmp_path)
    )
    assert "give a run folder" in one_line_error(edgeload("--resume", str(ROOT), cwd=tmp_path))
    assert not any(p.is_dir() for p in tmp_path.iterdir())


def _rows(run_dir: Path) -> dict[str, dict]:
    with open(run_dir / "results.csv", newline="") as f:
        return {row["key"]: row for row in csv.DictReader(f)}


def _log_samples(run_dir: Path) -> list[dict]:
    lines = (run_dir / "load_test.log").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == "combination"]


def test_a_run_limited_part_way_then_resumed_measures_only_what_is_missing(tmp_path):
    (tmp_path / "m.yaml").write_text(TINY)
    out = tmp_path / "out"
    first = edgeload(
        "--matrix",
        "m.yaml",
        "--max-combinations",
        "3",
        *FAST,
        "--output-dir",
        str(out),
        cwd=tmp_path,
    )
    assert first.returncode == 4, first.stdout[-3000:] + first.stderr[-3000:]  # inconclusive
    assert "--resume" in first.stderr and "Traceback" not in first.stderr
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    assert (run_dir / "matrix.yaml").read_text() == TINY  # the inputs' snapshot
    assert (run_dir / "resource_breakdown.png").stat().st_size > 0
    rows = _rows(run_dir)
    assert len(rows) == 4
    missing = [k for k, r in rows.items() if r["status"] == "not_measured"]
    assert missing == ["BOUNDING_BOX/default/3/640x480"]
    assert rows[missing[0]]["vram_bytes"] == ""  # not measured: an empty cell, not 0
    # NVML sees this machine's GPUs, never the simulator's: empty with the reason, never 0
    for key, row in rows.items():
        assert row["nvml_vram_delta_bytes"] == "" and row["nvml_vram_source"] == ""
        want = "not measured (yet)" if key in missing else "not attributable: simulated endpoint"
        assert row["nvml_vram_note"] == want
    assert "NVML VRAM per detector: not attributable: simulated endpoint" in first.stdout
    with open(run_dir / "batches.csv", newline="") as f:
        batches = list(csv.DictReader(f))
    assert [b["combinations"] for b in batches] == ["2", "1"]  # --batch-size 2, 3 combinations
    assert {b["nvml_vram_note"] for b in batches} == {"not attributable: simulated endpoint"}

    # a different matrix is not this run
    (tmp_path / "other.yaml").write_text("COUNT:\n  image_sizes: [64x48]\n")
    refused = edgeload("--resume", str(run_dir), "--matrix", "other.yaml", cwd=tmp_path)
    assert "differs from the matrix" in one_line_error(refused)

    second = edgeload("--resume", str(run_dir), *FAST, cwd=tmp_path)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "3 of 4 combinations already measured" in second.stdout
    new = [s for s in _log_samples(run_dir) if not s.get("carried")]
    assert [s["key"] for s in new] == missing  # only the missing one was measured
    assert len([s for s in _log_samples(run_dir) if s.get("carried")]) == 3
    assert (run_dir / "load_test.part1.log").is_file()
    rows = _rows(run_dir)
    assert {r["status"] for r in rows.values()} == {"measured"}
    vram = {k: int(r["vram_bytes"]) for k, r in rows.items()}
    for size in ("64x48", "640x480"):  # as the profile says: BOUNDING_BOX > BINARY
        assert vram[f"BOUNDING_BOX/default/3/{size}"] > vram[f"BINARY/default/-/{size}"]
    for key in ("BINARY/default/-", "BOUNDING_BOX/default/3"):  # and a larger image: more
        assert vram[f"{key}/640x480"] > vram[f"{key}/64x48"]
    for r in rows.values():
        assert r["ram_source"] == r["vram_source"] == "endpoint"
        assert abs(int(r["pods_ram_bytes"]) - int(r["ram_bytes"])) < MIB  # metrics.k8s.io
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["verdict"] == "pass" and results["outputs"]["resumed"]["carried_rows"] == 3
    assert results["outputs"]["summary"]["peak_detector_vram_bytes"] == max(vram.values())

    # the report re-renders the folder from its log alone, every combination in it
    (run_dir / "results.csv").unlink()
    report = subprocess.run(
        [sys.executable, "-m", "edgeload.cli", "report", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    assert {r["status"] for r in _rows(run_dir).values()} == {"measured"}


def test_nothing_left_to_measure_is_a_completed_resume(tmp_path):
    (tmp_path / "m.yaml").write_text("BINARY:\n  image_sizes: [64x48]\n")
    out = tmp_path / "out"
    first = edgeload("--matrix", "m.yaml", *FAST, "--output-dir", str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    again = edgeload("--resume", str(run_dir), *FAST, cwd=tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "nothing left to measure" in again.stdout
    assert [s["carried"] for s in _log_samples(run_dir)] == [True]


def test_a_matrix_with_count_n_measures_each_max_count(tmp_path):
    (tmp_path / "m.yaml").write_text("COUNT:\n  image_sizes: [64x48]\n  n: [10, 25]\n")
    out = tmp_path / "out"
    run = edgeload("--matrix", "m.yaml", *FAST, "--output-dir", str(out), cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    names = {s["key"]: s["detector_name"] for s in _log_samples(run_dir)}
    # max count 10 is the default COUNT detector, under the name it always had
    assert names == {
        "COUNT/default/10/64x48": "edgeload-count-64x48",
        "COUNT/default/25/64x48": "edgeload-count-64x48-n25",
    }
    rows = _rows(run_dir)
    assert {r["status"] for r in rows.values()} == {"measured"}
    assert rows["COUNT/default/25/64x48"]["n"] == "25"
    vram = {k: int(r["vram_bytes"]) for k, r in rows.items()}
    grown = vram["COUNT/default/25/64x48"] - vram["COUNT/default/10/64x48"]
    assert abs(grown - 15 * 16 * MIB) < 16  # gpu-1x's per_n above base_n 10
