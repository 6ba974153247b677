"""`edgeload resources`' NVML figures: which targets they count for, the GPUs' used memory
before and after each batch (a fake NVML: this machine has no GPU), and the pure analysis of
rows with and without them. Never 0 for a figure not measured: empty, with the reason.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_samplers import TWO_GPUS, fake_pynvml

from edgeload import runlog
from edgeload.reporting.logreader import read_log
from edgeload.runsignals import RunSignals
from edgeload.samplers import Sampler, empty_record
from edgeload.scenarios.resources import nvml
from edgeload.scenarios.resources.analysis import analyze, summary_lines
from edgeload.scenarios.resources.command import add_arguments
from edgeload.scenarios.resources.options import validate_inputs
from edgeload.scenarios.resources.run import measure_every_batch
from edgeload.scenarios.resources.session import ResourcesSession
from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint
from edgeload.sim.profile import MIB
from edgeload.target import Target

GIB = 1024 * MIB


class FakeGpu(Sampler):
    """An NVML sampler giving the next of `used` (bytes, all GPUs together) per sample."""

    def __init__(self, used: list[int]):
        super().__init__(host="box")
        self.used = list(used)
        self.reads = 0
        self.closed = False

    def _sample(self) -> dict:
        record = empty_record(self.source, self.host)
        record["vram_used_bytes"] = self.used[self.reads]
        self.reads += 1
        return record

    def close(self) -> None:
        self.closed = True


def _target(url: str, kind: str = "real", sim: object = None) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, url=url, root_url=url, sim=sim)


def _never() -> Sampler:
    raise AssertionError("NVML must not be started for this target")


# -- which targets NVML figures count for ------------------------------------------------------


def test_only_a_real_endpoint_on_this_machine_gets_nvml_figures():
    assert nvml.target_reason(_target("http://127.0.0.1:30101")) is None
    assert nvml.target_reason(_target("http://localhost:30101")) is None
    assert nvml.target_reason(_target("http://[::1]:30101")) is None
    box = _target("http://10.1.2.3:30101")  # the box's own address, as its NodePort is reached
    assert nvml.target_reason(box, addresses={"10.1.2.3", "fe80::1%eth0"}) is None
    assert nvml.target_reason(box, addresses={"10.9.9.9"}) == nvml.REMOTE
    mine = sorted(a for a in nvml.this_machine_addresses() if a not in ("127.0.0.1", "::1"))
    if mine:  # this machine's own (non-loopback) address counts as well
        host = f"[{mine[0]}]" if ":" in mine[0] else mine[0]
        assert nvml.target_reason(_target(f"http://{host}:30101")) is None
    simulated = _target("http://127.0.0.1:1", kind="simulated", sim=object())
    assert nvml.target_reason(simulated) == nvml.SIMULATED
    # NVML is not even started where it would not be the target's
    for target in (simulated, box):
        gpu = nvml.GpuMemory.connect(target, _never, addresses={"10.9.9.9"})
        assert not gpu.attributable and gpu.used_bytes() is None
        assert gpu.as_record() == {"source": None, "note": gpu.reason, "gpus": []}


def test_the_default_reader_is_edgeloads_nvml_sampler(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(TWO_GPUS))
    gpu = nvml.GpuMemory.connect(_target("http://127.0.0.1:30101"))
    assert gpu.attributable and gpu.reason is None
    assert gpu.used_bytes() == 80 * GIB  # both GPUs' used memory
    assert gpu.as_record()["gpus"] == ["NVIDIA H100", "NVIDIA H100"]
    gpu.close()
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([], init_error=True))
    gpu = nvml.GpuMemory.connect(_target("http://127.0.0.1:30101"))
    assert not gpu.attributable and gpu.used_bytes() is None
    assert gpu.reason.startswith(nvml.NOT_AVAILABLE) and "Library Not Found" in gpu.reason


def test_figures_are_none_with_the_reason_never_zero():
    assert nvml.figures(1 * GIB, 3 * GIB, None)["vram_delta_bytes"] == 2 * GIB
    assert nvml.figures(3 * GIB, 1 * GIB, None)["vram_delta_bytes"] == -2 * GIB  # as read
    for before, after, reason, note in (
        (None, None, nvml.SIMULATED, nvml.SIMULATED),
        (None, 5, None, nvml.NO_READING),
        (5, 5, nvml.batch_reason(3), "not attributable: batch of 3 combinations"),
    ):
        found = nvml.figures(before, after, reason)
        assert found["vram_delta_bytes"] is None and found["note"] == note
    assert nvml.row_reason(None, 1, "det_1", {"det_2"}) is None
    assert nvml.row_reason(None, 1, "det_1", None) is None  # not known: the delta is recorded
    assert nvml.row_reason(None, 1, "det_1", {"det_1"}) == nvml.ALREADY_LOADED
    assert nvml.row_reason(None, 1, None, None) == nvml.DID_NOT_COME_UP
    assert nvml.row_reason(None, 2, "det_1", None) == nvml.batch_reason(2)
    assert nvml.row_reason(nvml.REMOTE, 1, "det_1", None) == nvml.REMOTE


# -- a session on a real-looking endpoint on this machine ----------------------------------------


class LocalBox(Target):
    """A real target whose edge forgets "not ready" as fast as the simulator at x20 does (a
    real edge app's 5 s would only make the test slow)."""

    @property
    def edge_readiness_cache_s(self) -> float:
        return 0.25


@pytest.fixture(scope="module")
def local_box():
    """The simulator reached as a real endpoint on loopback (edgeload did not start it), as
    a real box's endpoint is when edgeload runs on the box."""
    with SimulatedEndpoint("resources-demo", time_scale=20) as sim:
        yield LocalBox(kind="real", url=sim.url, token=DEMO_TOKEN)


def _session(target, tmp_path: Path, matrix: str, batch_size: int, gpu: FakeGpu, name: str):
    (tmp_path / f"{name}.yaml").write_text(matrix)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--matrix", str(tmp_path / f"{name}.yaml"), "--batch-size", str(batch_size)]
        + ["--queries", "1", "--k8s", "off", "--output-dir", str(tmp_path / name)]
    )
    out = io.StringIO()
    session = ResourcesSession(validate_inputs(args), target, out=out, nvml_factory=lambda: gpu)
    code = measure_every_batch(session, RunSignals())
    results = json.loads((session.run_dir / "load_test_results.json").read_text())
    return code, results, out.getvalue()


TWO_SIZES = "BINARY:\n  image_sizes: [64x48, 96x64]\n"


def test_batches_of_one_on_a_local_box_give_each_detector_its_nvml_vram(local_box, tmp_path):
    gpu = FakeGpu([1 * GIB, 1 * GIB + 1400 * MIB, 1 * GIB + 1400 * MIB, 1 * GIB + 3000 * MIB])
    code, results, console = _session(local_box, tmp_path, TWO_SIZES, 1, gpu, "first")
    assert code == 0, console[-3000:]
    assert gpu.reads == 4 and gpu.closed  # before and after each batch of one
    first, second = results["outputs"]["results"]
    assert (first["nvml_vram_delta_bytes"], second["nvml_vram_delta_bytes"]) == (
        1400 * MIB,
        1600 * MIB,
    )
    assert first["nvml_vram_source"] == "nvml" and first["nvml_vram_note"] is None
    assert first["nvml_vram_before_bytes"] == 1 * GIB
    assert results["outputs"]["summary"]["peak_detector_nvml_vram_bytes"] == 1600 * MIB
    assert [b["nvml_vram_delta_bytes"] for b in results["outputs"]["batches"]] == [
        1400 * MIB,
        1600 * MIB,
    ]
    assert "NVML VRAM MiB" in console and "GPU memory +1400 MiB (NVML)" in console
    assert results["verdict"] == "pass"
    assert results["metadata"]["nvml"]["source"] == "nvml"

    # the same matrix again: the edge serves those detectors already, NVML sees no new load
    gpu = FakeGpu([3 * GIB, 3 * GIB, 3 * GIB, 3 * GIB])
    code, results, console = _session(local_box, tmp_path, TWO_SIZES, 1, gpu, "again")
    assert code == 0, console[-3000:]
    for row in results["outputs"]["results"]:
        assert row["nvml_vram_delta_bytes"] is None  # not the 0 NVML read
        assert row["nvml_vram_note"] == nvml.ALREADY_LOADED
    assert [b["nvml_vram_delta_bytes"] for b in results["outputs"]["batches"]] == [0, 0]
    assert "NVML VRAM MiB" not in console
    assert f"NVML VRAM per detector: {nvml.ALREADY_LOADED}" in console


def test_a_larger_batch_records_its_nvml_difference_on_the_batch(local_box, tmp_path):
    matrix = "BINARY:\n  image_sizes: [64x64, 128x96]\n"
    gpu = FakeGpu([2 * GIB, 2 * GIB + 3000 * MIB])
    code, results, console = _session(local_box, tmp_path, matrix, 2, gpu, "batch")
    assert code == 0, console[-3000:]
    assert gpu.reads == 2  # once before the batch, once after its last reading
    for row in results["outputs"]["results"]:
        assert row["nvml_vram_delta_bytes"] is None
        assert row["nvml_vram_note"] == "not attributable: batch of 2 combinations"
    [batch] = results["outputs"]["batches"]
    assert batch["combinations"] == 2 and batch["nvml_vram_delta_bytes"] == 3000 * MIB
    assert results["outputs"]["summary"]["peak_detector_nvml_vram_bytes"] is None
    assert "NVML VRAM of batch 1 (2 combinations): +3000 MiB" in console


# -- the pure analysis -------------------------------------------------------------------------


def _log(path: Path, samples: list[dict]) -> Path:
    combos = [
        {"key": k, "mode": "BINARY", "pipeline": "default", "n": None, "image_size": k[-5:]}
        for k in ("BINARY/default/-/1x1", "BINARY/default/-/2x2", "BINARY/default/-/3x3")
    ]
    header = runlog.header(
        scenario="resources",
        run_id="r",
        target={"kind": "real"},
        inputs={"combinations": combos},
        metadata={},
    )
    records = [header, *(runlog.sample(s.pop("kind"), **s) for s in samples)]
    records.append(runlog.end("completed", "done"))
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _reading(key: str, nvml_fields: dict | None) -> dict:
    reading = {
        "kind": "combination",
        "key": key,
        "status": "measured",
        "detector_id": "det_" + key[-3:],
        "endpoint": {"ram_bytes": 10 * MIB, "vram_bytes": 5 * MIB, "note": None},
        "pods": {"ram_bytes": None, "note": "off"},
    }
    if nvml_fields is not None:
        reading["nvml"] = nvml_fields
    return reading


def test_analysis_of_rows_with_and_without_nvml_figures(tmp_path):
    samples = [
        _reading("BINARY/default/-/1x1", nvml.figures(1 * GIB, 1 * GIB + 7 * MIB, None)),
        _reading("BINARY/default/-/2x2", nvml.figures(None, None, nvml.ALREADY_LOADED)),
        _reading("BINARY/default/-/3x3", None),  # an older edgeload's reading
        {"kind": "batch", "batch": 1, "keys": ["BINARY/default/-/1x1"], "nvml": {}},
    ]
    samples[-1]["nvml"] = nvml.figures(1 * GIB, 1 * GIB + 7 * MIB, None)
    analysis = analyze(read_log(_log(tmp_path / "a.log", samples)))
    rows = analysis.outputs["results"]
    assert [r["nvml_vram_delta_bytes"] for r in rows] == [7 * MIB, None, None]
    assert [r["nvml_vram_source"] for r in rows] == ["nvml", None, None]
    assert [r["nvml_vram_note"] for r in rows] == [
        None,
        nvml.ALREADY_LOADED,
        "not recorded by this run",
    ]
    assert rows[0]["nvml_vram_delta_mib"] == 7.0
    assert analysis.outputs["summary"]["peak_detector_nvml_vram_bytes"] == 7 * MIB
    assert analysis.outputs["batches"][0]["nvml_vram_delta_bytes"] == 7 * MIB
    assert [c.status for c in analysis.checks] == ["passed"]  # a reading, not a check
    results = {"outputs": analysis.outputs}
    assert "NVML VRAM MiB" in summary_lines(results)[0]

    # no row with an NVML figure: no column, and the reason once
    samples = [
        _reading(f"BINARY/default/-/{s}", nvml.figures(None, None, nvml.REMOTE))
        for s in ("1x1", "2x2", "3x3")
    ]
    analysis = analyze(read_log(_log(tmp_path / "b.log", samples)))
    lines = summary_lines({"outputs": analysis.outputs})
    assert "NVML" not in lines[0] and f"NVML VRAM per detector: {nvml.REMOTE}" in lines
    assert analysis.outputs["summary"]["peak_detector_nvml_vram_bytes"] is None
    assert "batches" not in analysis.outputs
    assert not [w for w in analysis.warnings if w["code"] == "nvml_vram_fell"]


def test_memory_that_fell_across_a_batch_is_recorded_as_read_with_a_warning(tmp_path):
    fell = nvml.figures(2 * GIB, 1 * GIB, None)
    samples = [_reading("BINARY/default/-/1x1", fell)]
    analysis = analyze(read_log(_log(tmp_path / "a.log", samples)))
    assert analysis.outputs["results"][0]["nvml_vram_delta_bytes"] == -1 * GIB
    [warned] = [w for w in analysis.warnings if w["code"] == "nvml_vram_fell"]
    assert "BINARY/default/-/1x1" in warned["message"]
    not_measured = analysis.outputs["results"][1]
    assert not_measured["nvml_vram_delta_bytes"] is None
    assert not_measured["nvml_vram_note"] == "not measured (yet)"
