"""The simulator behaves like a real edge endpoint: one test per fact of issue 15, each pinned to
the upstream source (groundlight/edge-endpoint) it comes from.

Everything runs against real simulators over HTTP on 127.0.0.1. Times are simulated: waits
poll the simulator with a deadline, and a raised time scale makes simulated minutes short.
"""

from __future__ import annotations

import ast
import http.client
import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta

import pytest
from PIL import Image

from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint
from edgeload.sim.cloud_api import encode_metadata

IQ = "/device-api/v1/image-queries"
JPEG = "image/jpeg"
STATUSES = {"ready", "updating", "update_failed", "initializing", "error"}


def jpeg(grey: int, comment: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    kwargs = {"comment": comment} if comment else {}
    Image.new("RGB", (64, 48), (grey, grey, grey)).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


DARK = jpeg(20)  # the simulated models' YES ("is the background black?")
UNSURE = jpeg(20, b"edgeload:label=YES;clarity=0.1")  # no model is confident about it


class Conn:
    """One keep-alive HTTP connection (a real edge app serves a connection from one worker)."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.http = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        self.http.request(method, path, body=body, headers=headers or {})
        resp = self.http.getresponse()
        return resp.status, resp.getheader("content-type", ""), resp.getheaders(), resp.read()

    def iq(self, detector_id: str, query: str = "", body: bytes = DARK, token=DEMO_TOKEN):
        headers = {"Content-Type": JPEG}
        if token is not None:
            headers["x-api-token"] = token
        path = f"{IQ}?detector_id={detector_id}" + (f"&{query}" if query else "")
        status, ctype, _, data = self.request("POST", path, body, headers)
        return status, ctype, data

    def close(self) -> None:
        self.http.close()


def call(url: str, method: str, path: str, body=None, headers=None):
    """One request on a fresh connection -> (status, content-type, body bytes)."""
    conn = Conn(url)
    try:
        status, ctype, _, data = conn.request(method, path, body, headers)
        return status, ctype, data
    finally:
        conn.close()


def get_json(url: str, path: str) -> object:
    status, _, data = call(url, "GET", path)
    assert status == 200, (path, status, data)
    return json.loads(data)


def create_detector(sim: SimulatedEndpoint, name: str, **fields) -> str:
    body = json.dumps({"name": name, "query": "Is the background black?", **fields}).encode()
    headers = {"Content-Type": "application/json", "x-api-token": DEMO_TOKEN}
    status, _, data = call(sim.url, "POST", "/device-api/v1/detectors", body, headers)
    assert status == 201, data
    return json.loads(data)["id"]


def put_config(sim: SimulatedEndpoint, detectors: dict[str, str], configs=None) -> None:
    payload = {
        "global_config": {"refresh_rate": 60},
        "edge_inference_configs": configs
        or {
            "default": {},
            "edge_answers_with_escalation": {"always_return_edge_prediction": True},
            "disabled": {"enabled": False},
        },
        "detectors": [{"detector_id": d, "edge_inference_config": c} for d, c in detectors.items()],
    }
    headers = {"Content-Type": "application/json"}
    status, _, data = call(sim.url, "PUT", "/edge-config", json.dumps(payload).encode(), headers)
    assert (status, data) == (200, b"null")


def wait_for(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def pods_ready(sim: SimulatedEndpoint, detector_id: str) -> bool:
    return bool(sim.state()["detectors"].get(detector_id, {}).get("ready"))


def sim_now(sim: SimulatedEndpoint) -> float:
    return float(sim.state()["sim_time_s"])


@pytest.fixture(scope="module")
def sim():
    # 30 s cloud latency (0.3 s real) sets cloud answers clearly apart from edge answers
    overrides = {"cloud.cloud_latency_ms": 30000, "pods.startup_s": 5, "updater.download_s": 1}
    with SimulatedEndpoint("gpu-1x", time_scale=100, overrides=overrides) as endpoint:
        yield endpoint


def ready_detector(sim: SimulatedEndpoint, name: str, config: str | None = None) -> str:
    """A detector whose inference pods are Ready (optionally listed in the edge config)."""
    det = create_detector(sim, name)
    if config is not None:
        put_config(sim, {det: config})
    else:
        assert call(sim.url, "POST", f"{IQ}?detector_id={det}", DARK, {"Content-Type": JPEG})[0]
    wait_for(lambda: pods_ready(sim, det))
    return det


# --------------------------------------------------------------------------------------------
# 1. escalation: app/api/routes/image_queries.py, app/escalation_queue/manage_reader.py,
#    app/core/utils.py (generate_metadata_dict); the cloud is a role of its own


def test_1_escalation_goes_to_a_cloud_that_takes_metadata_and_image_query_id(sim):
    det = ready_detector(sim, "contract-escalation")
    conn = Conn(sim.url)
    # the untrained model is unsure: the edge escalates at once, and the cloud answers
    t0 = time.monotonic()
    status, _, data = conn.iq(det, body=UNSURE)
    cloud_s = time.monotonic() - t0
    answer = json.loads(data)
    assert status == 200 and answer["result"]["from_edge"] is False
    assert answer["result"]["source"] == "CLOUD" and answer["result"]["confidence"] >= 0.9
    assert cloud_s >= 0.3  # the cloud's latency, 30 simulated s at x100
    # what the edge sent along: its own result, in the metadata the cloud keeps
    edge_result = answer["metadata"]["edge_result"]
    assert edge_result["confidence"] < 0.9 and edge_result["label"] in (0, 1)
    # a confident edge answer does not wait for the cloud
    t0 = time.monotonic()
    status, _, data = conn.iq(det, "confidence_threshold=0.5")
    assert status == 200 and json.loads(data)["result"]["source"] == "ALGORITHM"
    assert time.monotonic() - t0 < 0.3

    # the cloud, on its own port, takes what a real edge sends when it escalates
    iq_id = "iq_" + "A" * 27
    metadata = {"is_edge_audit": True, "edge_result": {"confidence": 0.7, "label": 0}}
    query = f"detector_id={det}&want_async=True&image_query_id={iq_id}"
    query += f"&metadata={encode_metadata(metadata)}"
    headers = {"Content-Type": JPEG, "x-api-token": DEMO_TOKEN}
    status, _, data = call(sim.cloud_url, "POST", f"{IQ}?{query}", DARK, headers)
    created = json.loads(data)
    assert status == 200, data
    assert created["id"] == iq_id and created["metadata"] == metadata
    assert created["result"] is None  # asynchronous: answered later
    got = wait_for(
        lambda: json.loads(call(sim.cloud_url, "GET", f"{IQ}/{iq_id}", None, headers)[2])
    )
    assert got["id"] == iq_id
    # ... and refuses what it cannot take
    bad = call(sim.cloud_url, "POST", f"{IQ}?detector_id={det}&metadata=%%%", DARK, headers)
    assert bad[0] == 400 and "metadata" in json.loads(bad[2])
    assert (
        call(sim.cloud_url, "POST", f"{IQ}?detector_id={det}", DARK, {"Content-Type": JPEG})[0]
        == 401
    )

    # always_return_edge_prediction: the edge answers, and queues the query for the cloud
    # under the same id (done_processing false until the cloud has it)
    put_config(sim, {det: "edge_answers_with_escalation"})
    status, _, data = conn.iq(det, body=UNSURE)
    edge = json.loads(data)
    assert status == 200 and edge["result"]["from_edge"] is True
    assert edge["done_processing"] is False
    later = wait_for(
        lambda: (r := call(sim.url, "GET", f"{IQ}/{edge['id']}", None, headers))[0] == 200 and r
    )
    cloud_copy = json.loads(later[2])  # asked through the box: nginx falls back to the cloud
    assert cloud_copy["id"] == edge["id"] and cloud_copy["metadata"]["edge_result"]
    conn.close()


# --------------------------------------------------------------------------------------------
# 2. routes: configs/nginx.conf (location /status, error_page 404 422 405 = @fallback),
#    app/status_monitor/status_web.py, app/main.py (the edge app's routers)


def test_2_routes_status_app_fallback_and_a_kubernetes_api_of_its_own(sim):
    conn = Conn(sim.url)
    status, _, headers, _ = conn.request("GET", "/")
    assert status == 302 and dict(headers)["location"] == "/status"
    conn.close()
    assert get_json(sim.url, "/status/edge-config") == get_json(sim.url, "/edge-config")
    dashboard = get_json(sim.url, "/status/cloud-config")["dashboard_url"]
    assert dashboard.startswith("https://dashboard.")
    # the status monitor's own 404: not resent to the cloud
    assert call(sim.url, "GET", "/status/nothing-here")[::2] == (404, b'{"detail":"Not Found"}')
    # /edge-info is no edge route: the cloud answers
    assert call(sim.url, "GET", "/edge-info")[::2] == (404, b'{"detail":"Not found."}')
    # the Kubernetes API is not on the edge port, but on its own
    assert call(sim.url, "GET", "/api/v1/namespaces/edge/pods")[0] == 404
    pods = get_json(sim.k8s_url, "/api/v1/namespaces/edge/pods")
    assert pods["kind"] == "PodList" and pods["items"]
    assert get_json(sim.k8s_url, "/version")["major"] == "1"
    assert sim.state()["k8s_url"] == sim.k8s_url
    assert urllib.parse.urlsplit(sim.k8s_url).port != urllib.parse.urlsplit(sim.url).port


def test_2_edgeload_sim_says_where_the_kubernetes_api_is():
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeload.cli", "sim", "--port", "0", "--profile", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        k8s_line = next(line for line in lines if "Kubernetes API" in line)
        k8s_url = re.search(r"on (https?://\S+?):? ", k8s_line).group(1)
        assert get_json(k8s_url, "/api/v1/namespaces/edge/pods")["kind"] == "PodList"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# 3. tokens: app/core/app_state.py (get_groundlight_sdk_instance: no validation, the SDK's
#    api_token=None falls back to the box's GROUNDLIGHT_API_TOKEN)


def test_3_the_edge_route_does_not_check_tokens_the_cloud_does(sim):
    det = create_detector(sim, "contract-tokens")
    # no token: answered, with the box's own token's detector data
    status, _, data = Conn(sim.url).iq(det, token=None)
    assert status == 200 and json.loads(data)["detector_id"] == det
    # a token the cloud refuses: the edge app's call to the cloud fails, a plain-text 500
    for bad in ("short", "x" * 19 + "-" + "y" * 10):
        status, ctype, data = Conn(sim.url).iq(det, token=bad)
        assert (status, data) == (500, b"Internal Server Error") and ctype.startswith("text/")
    # cloud routes, through the box or on the cloud's port, refuse both
    for url in (sim.url, sim.cloud_url):
        assert call(url, "GET", "/device-api/v1/me")[0] == 401
        assert call(url, "GET", "/device-api/v1/me", None, {"x-api-token": "short"})[0] == 401
        assert call(url, "GET", "/device-api/v1/me", None, {"x-api-token": DEMO_TOKEN})[0] == 200


# --------------------------------------------------------------------------------------------
# 4. bad requests: image_queries.py (validate_query_params_for_edge), FastAPI's 422, nginx's
#    error_page 422 = @fallback


def test_4_bad_requests_get_what_a_real_box_answers(sim):
    det = ready_detector(sim, "contract-bad-requests")
    conn = Conn(sim.url)
    # an empty body reaches inference and fails there
    assert conn.iq(det, body=b"")[::2] == (500, b"Internal Server Error")
    # the edge app's own 422s go to the cloud: the client sees the cloud's answer
    for query, field in (
        ("confidence_threshold=1.5", "confidence_threshold"),
        ("patience_time=-1", "patience_time"),
        ("want_async=maybe", "want_async"),
        ("human_review=SOMETIMES", "human_review"),
    ):
        status, _, data = conn.iq(det, query)
        body = json.loads(data)
        assert status == 400 and list(body) == [field], query
        assert not re.search(r'"(loc|input|ctx)"', data.decode())  # no FastAPI 422 fields
    status, _, data = call(
        sim.url, "POST", IQ, DARK, {"Content-Type": JPEG, "x-api-token": DEMO_TOKEN}
    )
    assert status == 400 and list(json.loads(data)) == ["detector_id"]
    # edge-only parameters: a set of names, no values
    status, _, data = conn.iq(det, "metadata=c2VjcmV0&image_query_id=iq_secret")
    detail = json.loads(data)["detail"]
    assert status == 400 and detail.startswith("Invalid query parameters: {")
    names = ast.literal_eval(detail.removeprefix("Invalid query parameters: "))
    assert names == {"metadata", "image_query_id"}
    assert "c2VjcmV0" not in detail and "iq_secret" not in detail
    # nginx's client_max_body_size: 10 MiB
    parts = urllib.parse.urlsplit(sim.url)
    with socket.create_connection((parts.hostname, parts.port)) as raw:
        head = f"POST {IQ}?detector_id={det} HTTP/1.1\r\nContent-Type: image/jpeg\r\n"
        raw.sendall(f"{head}Content-Length: {10 * 1024 * 1024 + 1}\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 413")
    # an invalid edge config is refused with a 422 that nginx, too, resends to the cloud
    headers = {"Content-Type": "application/json"}
    status, _, data = call(sim.url, "PUT", "/edge-config", b'{"detectors": 1}', headers)
    assert status == 404 and json.loads(data) == {"detail": "Not found."}
    conn.close()


# --------------------------------------------------------------------------------------------
# 5. overload: image_queries.py (no overloaded answer; 503 only without a ready pod),
#    app/core/edge_inference.py (TTLCache(ttl=5) per process for is_edge_inference_ready)


def test_5_requests_queue_instead_of_503_and_503_means_no_pod():
    overrides = {"pods.startup_s": 2, "updater.download_s": 0, "pods.inference_workers": 1}
    with SimulatedEndpoint("gpu-1x", time_scale=10, overrides=overrides) as sim:
        det = ready_detector(sim, "contract-queue")
        statuses: list[int] = []

        def one() -> None:
            conn = Conn(sim.url)
            statuses.append(conn.iq(det, "confidence_threshold=0")[0])
            conn.close()

        clients = [threading.Thread(target=one) for _ in range(80)]  # far beyond 1 worker
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        assert statuses == [200] * 80
        assert sim.state()["counters"]["requests_overloaded"] == 0

        # 503 is for "no inference pod ready" when edge answers are required
        fresh = create_detector(sim, "contract-no-pod")
        put_config(sim, {fresh: "edge_answers_with_escalation"})
        status, _, data = Conn(sim.url).iq(fresh)
        assert status == 503 and "an edge-inference server is not available" in data.decode()


def test_5_inference_failures_are_500():
    overrides = {
        "pods.startup_s": 1,
        "updater.download_s": 0,
        "updater.refresh_rate_s": 1,
        "updater.switchover_error_s": 30,
    }
    with SimulatedEndpoint("gpu-1x", time_scale=20, overrides=overrides) as sim:
        det = ready_detector(sim, "contract-500")
        conn = Conn(sim.url)
        assert conn.iq(det, "confidence_threshold=0")[0] == 200
        sim.new_model(det)  # a rollout: the switch-over fails requests for 30 s
        status, ctype, data = wait_for(
            lambda: (r := conn.iq(det, "confidence_threshold=0"))[0] != 200 and r
        )
        assert (status, data) == (500, b"Internal Server Error") and ctype.startswith("text/")


def test_5_pod_readiness_is_cached_per_worker_for_5_seconds():
    overrides = {
        "pods.startup_s": 0.5,
        "updater.download_s": 0,
        "service.edge_app_workers": 2,
        "cloud.cloud_latency_ms": 10,
    }
    # time scale 1: the 5 s the first worker keeps its stale answer are 5 s of the test's time
    with SimulatedEndpoint("gpu-1x", time_scale=1, overrides=overrides) as sim:
        det = create_detector(sim, "contract-readiness-cache")
        first, second = Conn(sim.url), Conn(sim.url)  # accepted one after the other:
        first.http.connect()  # two different workers
        second.http.connect()
        t_checked = sim_now(sim)
        status, _, data = first.iq(det, "confidence_threshold=0")  # no pod yet: escalated
        assert status == 200 and json.loads(data)["result"]["from_edge"] is False
        wait_for(lambda: pods_ready(sim, det))
        # the other worker looks now and sees the pods; the first still remembers "not ready"
        assert json.loads(second.iq(det, "confidence_threshold=0")[2])["result"]["from_edge"]
        stale = json.loads(first.iq(det, "confidence_threshold=0")[2])
        assert stale["result"]["from_edge"] is False
        assert sim_now(sim) - t_checked < 5.0  # (what makes the answer above stale)
        wait_for(
            lambda: json.loads(first.iq(det, "confidence_threshold=0")[2])["result"]["from_edge"]
        )
        assert sim_now(sim) - t_checked >= 5.0
        first.close()
        second.close()


# --------------------------------------------------------------------------------------------
# 6. threshold and detector data: app/core/app_state.py (get_detector_metadata cached,
#    refresh_detector_metadata_if_needed in the background once older than 60 s)


def test_6_a_threshold_change_reaches_the_edge_after_60_seconds():
    overrides = {"service.edge_app_workers": 1, "cloud.cloud_latency_ms": 100}
    with SimulatedEndpoint("gpu-1x", time_scale=60, overrides=overrides) as sim:
        det = create_detector(sim, "contract-threshold")
        conn = Conn(sim.url)
        t_cached = sim_now(sim)
        # no pod: answered by the cloud with the threshold the edge passed on (its cached one)
        assert json.loads(conn.iq(det)[2])["confidence_threshold"] == 0.9
        body = json.dumps({"confidence_threshold": 0.55}).encode()
        headers = {"Content-Type": "application/json", "x-api-token": DEMO_TOKEN}
        assert call(sim.url, "PATCH", f"/device-api/v1/detectors/{det}", body, headers)[0] == 200
        assert json.loads(conn.iq(det)[2])["confidence_threshold"] == 0.9  # still the old one
        wait_for(lambda: json.loads(conn.iq(det)[2])["confidence_threshold"] == 0.55)
        assert sim_now(sim) - t_cached > 60.0
        conn.close()


# --------------------------------------------------------------------------------------------
# 7. status JSON: app/metrics/resource_metrics.py (collect), app/metrics/metric_reporting.py
#    (SafeMetricsDict), app/metrics/system_metrics.py (get_detector_details,
#    _derive_detector_status), app/metrics/iq_activity.py (get_last_hour), failed_escalations.py


def test_7_metrics_json_shapes(sim):
    quiet = create_detector(sim, "contract-metrics-quiet")  # never queried: no Deployment
    det = ready_detector(sim, "contract-metrics")
    metrics = get_json(sim.url, "/status/metrics.json")
    info = metrics["device_info"]
    assert set(info["device_metadata"]) >= {"uuid", "friendly_name", "created_at"}
    assert info["device_id"] == info["device_metadata"]["uuid"]
    assert info["inference_flavor"] == "gpu"
    failed = metrics["failed_escalations"]
    assert set(failed) == {
        "activity_hour",
        "last_failed_time",
        "failed_last_hour_total",
        "failed_last_hour_by_exception",
    }
    activity = metrics["activity_metrics"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}_\d{2}", activity["activity_hour"])
    # the hour before `now` (the box runs in UTC)
    now = datetime.fromisoformat(info["now"])
    previous = {(now - timedelta(hours=1, seconds=s)).strftime("%Y-%m-%d_%H") for s in (0, 2)}
    assert activity["activity_hour"] in previous
    details = json.loads(metrics["detector_details"])
    assert det in details and quiet not in details
    assert {d["status"] for d in details.values()} <= STATUSES
    assert details[det]["deploy_time"].endswith("+00:00")


def test_7_previous_hour_activity_and_error_fields():
    overrides = {"status.inference_flavor": None, "pods.startup_s": 0, "updater.download_s": 0}
    with SimulatedEndpoint("vram-tight", time_scale=3600, overrides=overrides) as sim:
        dets = [create_detector(sim, f"contract-hour-{i}") for i in range(3)]
        for d in dets:
            assert Conn(sim.url).iq(d)[0] == 200

        def previous_hour() -> dict:
            metrics = get_json(sim.url, "/status/metrics.json")
            return json.loads(metrics["activity_metrics"]["detector_activity_previous_hour"])

        # this hour's activity shows once it is the previous hour (one simulated hour later)
        previous = wait_for(lambda: (p := previous_hour()).get(dets[0]) and p)
        metrics = get_json(sim.url, "/status/metrics.json")
        assert metrics["device_info"]["inference_flavor"] is None
        assert previous[dets[0]]["hourly_total_iqs"] == 1
        assert previous[dets[0]]["confidence_histogram"]["bucket_width"] == 5
        # three detectors' pods do not fit the 4 GiB GPU: a Pending pod has no container
        # statuses, and the real status monitor then reports that one field as an error
        images = metrics["k3s_stats"]["container_images"]
        assert images == {"error": "'NoneType' object is not iterable"}
        details = json.loads(metrics["detector_details"])
        assert len(details) == 3 and {d["status"] for d in details.values()} <= STATUSES


def test_7_outside_a_cluster(tmp_path):
    from edgeload.samplers import EndpointSampler

    with SimulatedEndpoint("demo", time_scale=50, overrides={"status.in_cluster": False}) as sim:
        assert get_json(sim.url, "/status/resources.json") == {
            "error": "Not running in a Kubernetes cluster"
        }
        metrics = get_json(sim.url, "/status/metrics.json")
        assert metrics["detector_details"] == {"error": "Service host/port is not set."}
        assert all(v == {"error": "Service host/port is not set."}
                   for v in metrics["k3s_stats"].values())  # fmt: skip
        assert isinstance(metrics["device_info"]["cpucores"], int)
        # the load side's sampler: no sample, one note, no crash
        notes: list[str] = []
        sampler = EndpointSampler(url=sim.url, note=notes.append)
        assert sampler.sample() is None and sampler.sample() is None
        assert len(notes) == 1 and "Not running in a Kubernetes cluster" in notes[0]


def test_7_a_scenario_runs_end_to_end_against_a_box_outside_a_cluster(tmp_path, capsys):
    from edgeload.cli import main
    from edgeload.reporting.results import RESULTS_FILENAME, load_results

    profile = tmp_path / "outside-cluster.yaml"
    profile.write_text(
        "extends: demo\ndescription: outside a cluster\nstatus: {in_cluster: false}\n"
    )
    out_dir = tmp_path / "runs"
    argv = ["memory-pressure", "1", "BINARY", "--sim-profile", str(profile)]
    code = main(argv + ["--sim-time-scale", "20", "--output-dir", str(out_dir)])
    (run_dir,) = list(out_dir.iterdir())
    results = load_results(run_dir / RESULTS_FILENAME)
    outputs = results["outputs"]
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert (code, results["status"]) == (0, "completed"), out[-2000:]
    # the pods were still watched (the Kubernetes API is elsewhere), the resources were not
    assert outputs["pods"]["source"].startswith("http://127.0.0.1:")
    checks = {c["name"]: c["status"] for c in results["checks"]}
    assert checks["all inference pods online"] == "passed"
    assert checks["VRAM spread evenly across GPUs"] == "not_observed"  # skipped: no figures
    assert outputs["memory"]["samples"] == 0
    notes = [n for n in outputs["notes"] if "Not running in a Kubernetes cluster" in n]
    assert len(notes) == 1


# --------------------------------------------------------------------------------------------
# 8. readiness: app/api/routes/edge_detector_readiness.py (inference_is_available only)


def test_8_readiness_is_pod_health_only(sim):
    det = create_detector(sim, "contract-disabled")
    put_config(sim, {det: "disabled"})
    assert get_json(sim.url, "/edge-detector-readiness")[det] == {"ready": False}
    wait_for(lambda: pods_ready(sim, det))  # the updater deploys it: `enabled` is not read
    wait_for(lambda: get_json(sim.url, "/edge-detector-readiness")[det]["ready"])
    status, _, data = Conn(sim.url).iq(det, "confidence_threshold=0")
    assert status == 200 and json.loads(data)["result"]["from_edge"] is True


# --------------------------------------------------------------------------------------------
# 9. GET /edge-config: app/api/routes/edge_config.py (EdgeEndpointConfig.to_payload: every key)


def test_9_edge_config_keeps_every_key(sim):
    det = create_detector(sim, "contract-config")
    configs = {"mine": {"always_return_edge_prediction": True}, "other": {"api_token": "tok"}}
    put_config(sim, {det: "mine"}, configs)
    got = get_json(sim.url, "/edge-config")
    keys = {
        "enabled",
        "api_token",
        "always_return_edge_prediction",
        "disable_cloud_escalation",
        "min_time_between_escalations",
    }
    assert {name: set(cfg) for name, cfg in got["edge_inference_configs"].items()} == {
        "mine": keys,
        "other": keys,
    }
    assert got["edge_inference_configs"]["mine"]["api_token"] is None
    assert got["edge_inference_configs"]["other"]["api_token"] == "tok"
    assert got["detectors"] == [{"detector_id": det, "edge_inference_config": "mine"}]
    # the groundlight SDK still reads it
    from groundlight.edge import EdgeEndpointConfig

    assert EdgeEndpointConfig.model_validate(got).detectors[0].detector_id == det


# --------------------------------------------------------------------------------------------
# 10. mlb_key: app/core/utils.py (create_iq), app/core/edge_inference.py (run_inference stamps
#     model_id.txt's KSUID, written only for a model with a binary)


def test_10_answers_name_the_model_binary_when_there_is_one(sim):
    det = ready_detector(sim, "contract-mlb")
    conn = Conn(sim.url)
    # an untrained (zero-shot) model has no binary: no edge_result
    untrained = json.loads(conn.iq(det, "confidence_threshold=0")[2])
    assert untrained["metadata"] == {"is_from_edge": True}
    sim.new_model(det)  # a trained model: the updater downloads its binaries and rolls it out
    headers = {"x-api-token": DEMO_TOKEN}
    urls = json.loads(call(sim.url, "GET", f"/device-api/v1/edge/fetch-model-urls/{det}/",
                           None, headers)[2])  # fmt: skip
    trained = wait_for(
        lambda: (
            (a := json.loads(conn.iq(det, "confidence_threshold=0")[2]))["metadata"].get(
                "edge_result"
            )
            and a
        )
    )
    edge_result = trained["metadata"]["edge_result"]
    assert edge_result["mlb_key"] == urls["model_binary_id"]
    assert edge_result["oodd_mlb_key"] == urls["oodd_model_binary_id"]
    assert re.fullmatch(r"[0-9A-Za-z]{27}", edge_result["mlb_key"])
    conn.close()
