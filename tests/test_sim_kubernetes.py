"""The official `kubernetes` client reads the simulator's read-only Kubernetes API."""

from __future__ import annotations

import http.client
import urllib.parse

import pytest
from kubernetes import client, watch

from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint


@pytest.fixture(scope="module")
def sim():
    with SimulatedEndpoint("gpu-1x", time_scale=100.0) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def api_client(sim):
    cfg = client.Configuration()
    cfg.host = sim.k8s_url  # the API server has its own port, as on a real box
    with client.ApiClient(cfg) as api:
        yield api


def submit(sim, detector_id: str) -> int:
    host, port = urllib.parse.urlsplit(sim.url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(
        "POST",
        f"/device-api/v1/image-queries?detector_id={detector_id}",
        body=b"\xff\xd8 not really a jpeg",
        headers={"Content-Type": "image/jpeg", "x-api-token": DEMO_TOKEN},
    )
    status = conn.getresponse().status
    conn.close()
    return status


def create_detector(sim, name: str) -> str:
    import json

    host, port = urllib.parse.urlsplit(sim.url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(
        "POST",
        "/device-api/v1/detectors",
        body=json.dumps({"name": name, "query": "Is it there?"}),
        headers={"Content-Type": "application/json", "x-api-token": DEMO_TOKEN},
    )
    resp = conn.getresponse()
    det = json.loads(resp.read())
    conn.close()
    return det["id"]


def test_list_pods_and_watch(sim, api_client):
    core = client.CoreV1Api(api_client)
    before = core.list_namespaced_pod("edge")
    assert before.kind == "PodList" and before.metadata.resource_version
    assert any(p.metadata.name.startswith("edge-endpoint") for p in before.items)
    assert core.list_namespaced_pod("other").items == []

    det_id = create_detector(sim, "k8s-watch")
    assert submit(sim, det_id) == 200  # the first query makes the updater create its pods

    names: set[str] = set()
    ready: set[str] = set()
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_pod, "edge", timeout_seconds=5):
        pod = event["object"]
        assert event["type"] in ("ADDED", "MODIFIED", "DELETED")
        if (pod.metadata.annotations or {}).get("groundlight.dev/detector-id") == det_id:
            names.add(pod.metadata.name)
            assert pod.metadata.name.startswith("inferencemodel-")
            statuses = pod.status.container_statuses or []
            if pod.status.phase == "Running" and statuses and all(c.ready for c in statuses):
                ready.add(pod.metadata.name)
                assert statuses[0].name == "inference-server"
                assert statuses[0].restart_count == 0
        if len(ready) >= 2:
            w.stop()
    assert any("primary" in n for n in ready) and any("oodd" in n for n in ready)

    pods = core.list_namespaced_pod("edge").items
    mine = [
        p
        for p in pods
        if (p.metadata.annotations or {}).get("groundlight.dev/detector-id") == det_id
    ]
    assert {p.status.phase for p in mine} == {"Running"}
    assert all(p.spec.node_name for p in mine)


def test_watch_ends_at_timeout(sim, api_client):
    import time

    core = client.CoreV1Api(api_client)
    rv = core.list_namespaced_pod("edge").metadata.resource_version
    t0 = time.monotonic()
    events = list(
        watch.Watch().stream(
            core.list_namespaced_pod, "edge", resource_version=rv, timeout_seconds=1
        )
    )
    assert 0.9 <= time.monotonic() - t0 < 5
    assert all(e["type"] in ("ADDED", "MODIFIED", "DELETED") for e in events)


def test_list_deployments(sim, api_client):
    det_id = create_detector(sim, "k8s-deploy")
    assert submit(sim, det_id) == 200
    apps = client.AppsV1Api(api_client)
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deps = apps.list_namespaced_deployment("edge").items
        names = [d.metadata.name for d in deps]
        if any(det_id.lower().replace("_", "-") in n for n in names):
            break
        time.sleep(0.05)
    suffix = det_id.lower().replace("_", "-")
    assert f"inferencemodel-primary-{suffix}" in names
    dep = next(d for d in deps if d.metadata.name == f"inferencemodel-primary-{suffix}")
    assert "deployment.kubernetes.io/revision" in dep.metadata.annotations
