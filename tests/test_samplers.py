"""edgeload.samplers: one base class, psutil / NVML / endpoint samplers, the sampling loop."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest
from fake_endpoint import FakeEndpoint

from edgeload import runlog
from edgeload.samplers import (
    VALUE_FIELDS,
    EndpointSampler,
    HostSampler,
    NvmlSampler,
    Sampler,
    SamplingLoop,
    generator_sampler,
    merge_records,
    parse_resources,
)
from edgeload.sim import SimulatedEndpoint
from edgeload.target import Target

RECORD_KEYS = {"source", "host", "gpus", *VALUE_FIELDS}
GIB = 1024**3


GENERATOR_PROCESS_KEYS = {"process_cpu_pct", "pid"}  # the load process's own CPU


def check_record_shape(record: dict) -> None:
    # a utilization record without "type" and "t" (generator records also name the process)
    assert set(record) - GENERATOR_PROCESS_KEYS == RECORD_KEYS
    for key in VALUE_FIELDS:
        assert record[key] is None or isinstance(record[key], int | float)


# -- the load generator: psutil --------------------------------------------------------------


def test_host_sampler_reports_cpu_and_ram_of_this_machine():
    record = HostSampler(host="gen-1").sample()
    check_record_shape(record)
    assert record["source"] == "generator" and record["host"] == "gen-1"
    assert 0 <= record["cpu_pct"] <= 100 and 0 < record["ram_pct"] < 100
    assert record["ram_used_bytes"] > 0
    assert record["gpu_pct"] is None and record["gpus"] == []
    assert record["pid"] == os.getpid() and record["process_cpu_pct"] >= 0


def test_the_generator_check_reads_the_load_processes_own_cpu(tmp_path):
    """A host kept busy by something else (a simulator on the same box) is not a generator
    that fell behind; a load process near one full core is."""
    from edgeload.scenarios.throughput.analysis import generator_cpu
    from edgeload.scenarios.throughput.series import Utilization

    def sample(t, host_cpu, process_cpu, pid):
        return {"source": "generator", "t": t, "host": "gen", "cpu_pct": host_cpu,
                "process_cpu_pct": process_cpu, "pid": pid}  # fmt: skip

    samples = [sample(t, 99.0, 20.0, 1) for t in (1, 2, 3)]
    samples += [sample(t, 99.0, 95.0, 2) for t in (1, 2, 3)]
    found = dict(generator_cpu(samples, Utilization(samples, 0.0), 0.0, 10.0))
    assert found == {"gen (pid 1)": 20.0, "gen (pid 2)": 95.0}
    older = [{k: v for k, v in s.items() if k not in ("process_cpu_pct", "pid")} for s in samples]
    assert generator_cpu(older, Utilization(older, 0.0), 0.0, 10.0) == [("gen", 99.0)]


# -- the load generator: NVML (a fake pynvml; this machine has no GPU) -----------------------


class FakeNVMLError(Exception):
    pass


def fake_pynvml(gpus: list[dict], *, init_error: bool = False, broken: set[int] = frozenset()):
    """A stand-in for the pynvml module with `gpus` [{name, util, used, total}]."""
    module = types.ModuleType("pynvml")
    module.NVMLError = FakeNVMLError
    module.shutdowns = 0

    def init():
        if init_error:
            raise FakeNVMLError("NVML Shared Library Not Found")

    def shutdown():
        module.shutdowns += 1

    def utilization(handle):
        if handle in broken:
            raise FakeNVMLError("GPU is lost")
        return types.SimpleNamespace(gpu=gpus[handle]["util"], memory=0)

    module.nvmlInit = init
    module.nvmlShutdown = shutdown
    module.nvmlDeviceGetCount = lambda: len(gpus)
    module.nvmlDeviceGetHandleByIndex = lambda i: i
    module.nvmlDeviceGetName = lambda h: gpus[h]["name"].encode()  # old versions give bytes
    module.nvmlDeviceGetUtilizationRates = utilization
    module.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(
        used=gpus[h]["used"], total=gpus[h]["total"], free=gpus[h]["total"] - gpus[h]["used"]
    )
    return module


TWO_GPUS = [
    {"name": "NVIDIA H100", "util": 30, "used": 20 * GIB, "total": 80 * GIB},
    {"name": "NVIDIA H100", "util": 50, "used": 60 * GIB, "total": 80 * GIB},
]


def test_nvml_sampler_reports_each_gpu_and_the_totals(monkeypatch):
    fake = fake_pynvml(TWO_GPUS)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = NvmlSampler(host="gen-1")
    assert sampler.is_available()
    assert sampler.gpu_names() == ["NVIDIA H100", "NVIDIA H100"]
    record = sampler.sample()
    check_record_shape(record)
    assert record["gpu_pct"] == 40.0
    assert record["vram_used_bytes"] == 80 * GIB and record["vram_total_bytes"] == 160 * GIB
    assert record["vram_pct"] == 50.0
    assert record["gpus"] == [
        {"index": 0, "name": "NVIDIA H100", "gpu_pct": 30.0,
         "vram_used_bytes": 20 * GIB, "vram_total_bytes": 80 * GIB},
        {"index": 1, "name": "NVIDIA H100", "gpu_pct": 50.0,
         "vram_used_bytes": 60 * GIB, "vram_total_bytes": 80 * GIB},
    ]  # fmt: skip
    sampler.close()
    sampler.close()
    assert fake.shutdowns == 1


@pytest.mark.parametrize(
    "module",
    [
        None,  # nvidia-ml-py not importable
        fake_pynvml([], init_error=True),  # no driver
        fake_pynvml([]),  # a driver but no GPU
    ],
)
def test_nvml_sampler_without_a_gpu_is_unavailable_and_never_crashes(monkeypatch, module):
    monkeypatch.setitem(sys.modules, "pynvml", module)
    notes: list[str] = []
    sampler = NvmlSampler(note=notes.append)
    assert not sampler.is_available()
    assert sampler.sample() is None and sampler.sample() is None
    assert sampler.gpu_names() == []
    assert notes == []  # no GPU is normal for a load generator, not worth a message
    sampler.close()


def test_a_gpu_that_fails_mid_run_is_noted_once_and_the_others_still_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(TWO_GPUS, broken={1}))
    notes: list[str] = []
    sampler = NvmlSampler(note=notes.append)
    first, second = sampler.sample(), sampler.sample()
    assert [g["index"] for g in first["gpus"]] == [0] and second["vram_total_bytes"] == 80 * GIB
    assert len(notes) == 1 and "GPU 1" in notes[0]


def test_one_generator_record_carries_cpu_ram_gpu_and_vram(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(TWO_GPUS))
    record = generator_sampler(host="gen-1").sample()
    check_record_shape(record)
    assert record["source"] == "generator" and record["host"] == "gen-1"
    assert record["cpu_pct"] is not None and record["ram_used_bytes"] > 0
    assert record["vram_pct"] == 50.0 and len(record["gpus"]) == 2


def test_merge_keeps_known_values_and_concatenates_gpus():
    a = {"source": "generator", "host": "h", **dict.fromkeys(VALUE_FIELDS), "gpus": []}
    b = dict(a, cpu_pct=5.0, gpus=[{"index": 0}])
    c = dict(a, cpu_pct=99.0, gpu_pct=7.0, gpus=[{"index": 1}])
    merged = merge_records([None, b, c])
    assert merged["cpu_pct"] == 5.0 and merged["gpu_pct"] == 7.0
    assert merged["gpus"] == [{"index": 0}, {"index": 1}]
    assert merge_records([None, None]) is None


# -- the endpoint: /status/resources.json ----------------------------------------------------

DOC_EXAMPLE = {
    "system": {
        "cpu_utilization_pct": {"total": 23.5, "detectors": 6.0},
        "ram_bytes": {"total": 16106127360, "used": 7300000000},
        "gpu": {
            "vram_bytes": {"total": 16106127360, "used": 1000000000},
            "compute_utilization_pct": {"total": 11.0},
            "devices": [
                {
                    "index": 0,
                    "uuid": "GPU-1",
                    "name": "Tesla T4",
                    "vram_bytes": {"total": 16106127360, "used": 1000000000, "free": 1},
                    "compute_utilization_pct": 11.0,
                }
            ],
        },
    },
    "detectors": [],
}


def test_parse_resources_reads_the_documented_shape():
    record = parse_resources(DOC_EXAMPLE, host="edge:30101")
    check_record_shape(record)
    assert record == {
        "source": "endpoint",
        "host": "edge:30101",
        "cpu_pct": 23.5,
        "ram_pct": 45.32,
        "gpu_pct": 11.0,
        "vram_pct": 6.21,
        "ram_used_bytes": 7300000000,
        "vram_used_bytes": 1000000000,
        "vram_total_bytes": 16106127360,
        "gpus": [
            {
                "index": 0,
                "name": "Tesla T4",
                "gpu_pct": 11.0,
                "vram_used_bytes": 1000000000,
                "vram_total_bytes": 16106127360,
            }
        ],
    }
    # a box without a GPU: GPU figures unknown, not zero
    no_gpu = parse_resources({"system": {"cpu_utilization_pct": {"total": 1.0}}})
    assert no_gpu["gpu_pct"] is None and no_gpu["vram_pct"] is None and no_gpu["gpus"] == []


def test_endpoint_sampler_against_the_simulator():
    with SimulatedEndpoint("gpu-2x", time_scale=50) as sim:
        target = Target(kind="simulated", url=sim.url, token=sim.token)
        record = EndpointSampler(target).sample()
    check_record_shape(record)
    assert record["source"] == "endpoint" and record["host"] == sim.url.split("//")[1]
    assert 0 <= record["cpu_pct"] <= 100 and 0 < record["ram_pct"] < 100
    assert len(record["gpus"]) == 2
    assert record["vram_total_bytes"] == sum(g["vram_total_bytes"] for g in record["gpus"])


def test_endpoint_outside_a_cluster_gives_no_samples_and_one_note():
    answer = {"error": "Not running in a Kubernetes cluster"}
    with FakeEndpoint({"GET /status/resources.json": (200, answer)}) as fake:
        notes: list[str] = []
        sampler = EndpointSampler(url=fake.url, note=notes.append)
        assert sampler.sample() is None and sampler.sample() is None
        assert fake.hits["GET /status/resources.json"] == 2
    assert len(notes) == 1 and "Not running in a Kubernetes cluster" in notes[0]


def test_an_unreachable_endpoint_gives_none_noted_once_until_it_answers_again():
    answers = [(200, DOC_EXAMPLE)]
    with FakeEndpoint({"GET /status/resources.json": lambda *a: answers[-1]}) as fake:
        notes: list[str] = []
        sampler = EndpointSampler(url=fake.url, note=notes.append, timeout_s=1)
        assert sampler.sample()["cpu_pct"] == 23.5
        answers.append((503, {"detail": "down"}))
        assert sampler.sample() is None and sampler.sample() is None
        assert len(notes) == 1 and "HTTP 503" in notes[0]
        answers.append((200, DOC_EXAMPLE))
        assert sampler.sample() is not None
        assert "answers again" in notes[-1]
    started = time.monotonic()
    assert sampler.sample() is None  # the server is gone: connection refused
    assert time.monotonic() - started < 2
    assert "cannot sample" in notes[-1]


# -- the loop --------------------------------------------------------------------------------


class CountingSampler(Sampler):
    def __init__(self, fail_every: int = 0):
        super().__init__(host="h", note=lambda message: None)
        self.calls = 0
        self.fail_every = fail_every

    def _sample(self):
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise RuntimeError("flaky")
        return {"source": "generator", "host": "h", **dict.fromkeys(VALUE_FIELDS), "gpus": []}


def test_sampling_loop_emits_complete_records_until_stopped():
    records: list[dict] = []
    sampler = CountingSampler(fail_every=3)
    loop = SamplingLoop([sampler], 0.02, records.append).start()
    time.sleep(0.25)
    loop.stop()
    loop.stop()  # idempotent
    after_stop = len(records)
    time.sleep(0.06)
    assert len(records) == after_stop  # nothing after stop
    assert sampler.calls >= 6
    assert len(records) == sampler.calls - sampler.calls // 3  # failures are skipped, not fatal
    assert all(r["type"] == runlog.UTILIZATION and r["t"] > 0 for r in records)
    times = [r["t"] for r in records]
    assert times == sorted(times)


def test_a_failing_emit_is_noted_once_and_the_loop_goes_on():
    notes: list[str] = []

    def emit(record):
        raise OSError("disk full")

    sampler = CountingSampler()
    with SamplingLoop([sampler], 0.01, emit, note=notes.append):
        time.sleep(0.08)
    assert sampler.calls >= 3 and len(notes) == 1 and "disk full" in notes[0]


def test_sampling_loop_runs_on_plain_threads_without_gevent():
    # The scenario commands run without gevent; pytest's process is gevent-patched.
    script = textwrap.dedent(
        """
        import sys, threading, time
        from edgeload.samplers import SamplingLoop, generator_sampler
        records = []
        loop = SamplingLoop([generator_sampler()], 0.05, records.append).start()
        deadline = time.monotonic() + 10
        while len(records) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        loop.close()
        assert "gevent" not in sys.modules
        assert threading.active_count() == 1, threading.enumerate()
        print(len(records), records[0]["source"])
        """
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    count, source = out.stdout.split()
    assert int(count) >= 4 and source == "generator"
