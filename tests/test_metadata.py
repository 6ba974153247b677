"""edgeload.metadata: what a run records about itself, without secrets or failures."""

from __future__ import annotations

import json
import re
import socket
import sys

from test_samplers import TWO_GPUS, fake_pynvml

from edgeload.metadata import (
    collect_endpoint_images,
    collect_generator_host,
    collect_git_commit,
    collect_metadata,
    collect_versions,
)
from edgeload.runlog import utc_now_iso
from edgeload.sim import SimulatedEndpoint
from edgeload.target import Target

CANARY = "api_CANARYcanary0123456789_secretTOKENvalue"


def test_metadata_of_a_run_against_the_simulator(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(TWO_GPUS))
    with SimulatedEndpoint("gpu-1x", time_scale=50) as sim:
        target = Target(kind="simulated", url=sim.url, token=CANARY, profile="gpu-1x")
        metadata = collect_metadata(target)
    text = json.dumps(metadata)  # JSON-able as it is
    assert CANARY not in text and CANARY[:12] not in text
    assert metadata["target"] == {
        "kind": "simulated",
        "url": sim.url,
        "started_by_edgeload": True,
        "profile": "gpu-1x",
        "time_scale": 1.0,
    }
    images = metadata["endpoint_images"]
    assert images["edge_endpoint"].startswith("docker.io/groundlight/edge-endpoint@sha256:")
    assert images["inference_server"] is None  # no detector yet, so no inference pod
    assert metadata["versions"]["groundlight"] == "1.3.1"
    assert metadata["generator_host"]["gpus"] == ["NVIDIA H100", "NVIDIA H100"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metadata["collected_at"])


def test_an_unreachable_endpoint_leaves_the_images_unknown():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = Target(kind="real", url=f"http://127.0.0.1:{port}", token=CANARY)
    assert collect_endpoint_images(target) == {"edge_endpoint": None, "inference_server": None}


def test_versions_and_host():
    versions = collect_versions()
    assert set(versions) == {"edgeload", "locust", "groundlight", "python"}
    assert versions["python"].startswith("3.") and versions["locust"]
    host = collect_generator_host()
    assert host["hostname"] == socket.gethostname()
    assert host["cpu_count"] >= 1 and host["ram_total_bytes"] > 0
    assert isinstance(host["gpus"], list)
    assert utc_now_iso().endswith("Z")


def test_git_commit_of_the_checkout_or_none_outside_git(tmp_path):
    commit = collect_git_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit)
    assert collect_git_commit(tmp_path) is None
