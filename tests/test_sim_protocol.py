"""The simulated endpoint speaks the real protocol: the real groundlight SDK (1.3.1, unchanged)
works against it, and raw HTTP gets the real endpoint's status codes and bodies.

Runs `gpu-1x` at time scale 100, so a 60 s pod start-up takes 0.6 s and a 400 ms cloud answer
4 ms. Every request goes to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import time
import urllib.parse

import pytest
from groundlight import ExperimentalApi
from groundlight.edge import EdgeEndpointConfig, InferenceConfig
from PIL import Image, ImageDraw

from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

TIME_SCALE = 100.0
EDGE_DETAIL = (
    "Edge predictions are required, but an edge-inference server is not available for "
    "detector_id='{}'."
)


def jpeg(grey: int, size=(640, 480), boxes: int = 0, comment: bytes | None = None) -> bytes:
    """A plain grey JPEG, optionally with `boxes` white squares side by side."""
    img = Image.new("RGB", size, (grey, grey, grey))
    draw = ImageDraw.Draw(img)
    for i in range(boxes):
        x = 40 + i * 120
        draw.rectangle([x, 180, x + 80, 260], fill=(255, 255, 255))
    buf = io.BytesIO()
    kwargs = {"comment": comment} if comment else {}
    img.save(buf, "JPEG", quality=85, **kwargs)
    return buf.getvalue()


# the simulated models answer "Is the image background black?": a dark image is YES
YES_IMAGE = jpeg(30)
NO_IMAGE = jpeg(220)
AMBIGUOUS = jpeg(132)  # close to the YES/NO boundary: no model is confident about it


@pytest.fixture(scope="module")
def sim():
    with SimulatedEndpoint("gpu-1x", time_scale=TIME_SCALE) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def gl(sim, tmp_path_factory):
    import os

    os.environ["GROUNDLIGHT_TOKEN_DIR"] = str(tmp_path_factory.mktemp("tokens"))
    client = ExperimentalApi(endpoint=sim.url, api_token=DEMO_TOKEN)
    yield client
    client.close()


def raw(sim, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """One raw HTTP request -> (status, content-type, body bytes)."""
    host, port = urllib.parse.urlsplit(sim.url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("content-type", ""), resp.read()
    finally:
        conn.close()


def post_iq(sim, query: str, body: bytes = YES_IMAGE, ctype="image/jpeg", token=DEMO_TOKEN):
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["x-api-token"] = token
    return raw(sim, "POST", "/device-api/v1/image-queries?" + query, body, headers)


def wait_for(predicate, timeout_s: float = 15.0, step_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError("condition not met in time")


# --------------------------------------------------------------------------------------------
# the SDK, unchanged


def test_sdk_binary_lifecycle(sim, gl):
    assert gl.whoami() == "edgeload-sim@example.invalid"
    det = gl.get_or_create_detector("sim-dogs", "Is there a dog?")
    assert det.id.startswith("det_") and len(det.id) == 31
    assert gl.get_or_create_detector("sim-dogs", "Is there a dog?").id == det.id
    assert gl.get_detector_by_name("sim-dogs").id == det.id
    assert gl.get_detector(det.id).mode == "BINARY"

    # untrained and no pod yet: escalated to the cloud, which answers right
    iq = gl.submit_image_query(det, YES_IMAGE)
    assert iq.id.startswith("iq_") and len(iq.id) == 30
    assert iq.result.from_edge is False and iq.result.label.value == "YES"
    assert gl.submit_image_query(det, NO_IMAGE).result.label.value == "NO"

    evaluation = gl.get_detector_evaluation(det)["evaluation_results"]
    assert evaluation["total_ground_truth_examples"] == 0
    assert evaluation["kfold_pooled__balanced_accuracy"] is None

    # 30 labels train a model; the updater rolls it out; then the edge answers confidently
    for i in range(30):
        image = YES_IMAGE if i % 2 else NO_IMAGE
        q = gl.submit_image_query(det, image, wait=0, human_review="NEVER")
        gl.add_label(q, "YES" if i % 2 else "NO")
    evaluation = wait_for(
        lambda: (
            (gl.get_detector_evaluation(det)["evaluation_results"] or {}).get(
                "kfold_pooled__balanced_accuracy"
            )
            and gl.get_detector_evaluation(det)["evaluation_results"]
        )
    )
    assert evaluation["total_ground_truth_examples"] == 30
    assert 0.5 < evaluation["kfold_pooled__balanced_accuracy"] <= 1.0

    edge = wait_for(
        lambda: (q := gl.submit_image_query(det, YES_IMAGE, wait=0)).result.from_edge and q
    )
    assert edge.result.label.value == "YES"
    assert edge.result.confidence >= 0.9 and edge.metadata["is_from_edge"] is True
    # a trained model has model files: the answer names its binaries, as a real box's does
    assert set(edge.metadata["edge_result"]) == {"mlb_key", "oodd_mlb_key"}
    dark = gl.submit_image_query(det, NO_IMAGE)
    assert dark.result.from_edge is True and dark.result.label.value == "NO"

    # an image the model is unsure about is escalated, and the cloud's answer returned
    unsure = gl.submit_image_query(det, AMBIGUOUS, wait=0)
    assert unsure.result.from_edge is False and unsure.result.confidence >= 0.9

    # ask_async: forwarded, no result yet; the cloud's answer shows up later
    pending = gl.ask_async(det, NO_IMAGE)
    assert pending.result is None
    answered = wait_for(lambda: (q := gl.get_image_query(pending.id)).result and q)
    assert answered.result.label.value == "NO" and answered.result.from_edge is False

    gl.update_detector_confidence_threshold(det, 0.75)
    assert gl.get_detector(det.id).confidence_threshold == 0.75


def test_sdk_counting(sim, gl):
    det = gl.create_counting_detector("sim-cats", "How many cats?", "cat", max_count=5)
    assert det.mode == "COUNT" and det.mode_configuration["max_count"] == 5
    # the count is read from the pixels (separate bright objects) ...
    iq = gl.submit_image_query(det, jpeg(30, boxes=3))
    assert iq.result_type.value == "counting"
    assert iq.result.count == 3 and iq.result.greater_than_max is False
    # ... or from an edgeload truth comment, and capped at max_count
    iq = gl.submit_image_query(det, jpeg(30, comment=b"edgeload:count=7"))
    assert iq.result.count == 5 and iq.result.greater_than_max is True


def test_sdk_edge_config(sim, gl):
    det = gl.get_or_create_detector("sim-edge-config", "Is the door open?")
    config = gl.edge.get_config()
    assert config.global_config.refresh_rate == 60
    assert "no_cloud" in config.edge_inference_configs and config.detectors == []

    new = EdgeEndpointConfig()
    new.global_config.refresh_rate = 30
    new.add_detector(
        det,
        InferenceConfig(
            name="no_cloud", always_return_edge_prediction=True, disable_cloud_escalation=True
        ),
    )
    applied = gl.edge.set_config(new, timeout_sec=30)  # polls /edge-detector-readiness
    assert [d.detector_id for d in applied.detectors] == [det.id]
    assert applied.global_config.refresh_rate == 30
    assert gl.edge.get_detector_readiness() == {det.id: True}
    # always_return_edge_prediction: even an unsure answer comes from the edge
    iq = gl.submit_image_query(det, AMBIGUOUS, wait=0)
    assert iq.result.from_edge is True and iq.result.confidence < 0.9


def test_no_pod_with_edge_answers_required_is_503(sim, gl):
    det = gl.get_or_create_detector("sim-no-pod", "Is it raining?")
    cfg = {
        "global_config": {"refresh_rate": 60},
        "edge_inference_configs": {
            "edge": {"enabled": True, "always_return_edge_prediction": True}
        },
        "detectors": [{"detector_id": det.id, "edge_inference_config": "edge"}],
    }
    status, _, body = raw(
        sim, "PUT", "/edge-config", json.dumps(cfg).encode(), {"Content-Type": "application/json"}
    )
    assert (status, body) == (200, b"null")
    status, ctype, body = post_iq(sim, f"detector_id={det.id}")
    assert status == 503 and ctype.startswith("application/json")
    assert json.loads(body) == {"detail": EDGE_DETAIL.format(det.id)}
    # once its pod is up the edge answers
    wait_for(lambda: post_iq(sim, f"detector_id={det.id}")[0] == 200)


# --------------------------------------------------------------------------------------------
# raw HTTP: validation, errors, robustness


@pytest.fixture(scope="module")
def det_id(gl):
    return gl.get_or_create_detector("sim-raw", "Is there a raw dog?").id


def test_edge_routes(sim):
    assert raw(sim, "GET", "/ping")[2] == b'{"message":"Hello!"}'
    assert json.loads(raw(sim, "GET", "/health/live")[2]) == {"status": "alive"}
    assert json.loads(raw(sim, "GET", "/health/ready")[2]) == {"status": "ready"}


def test_image_query_validation(sim, det_id):
    status, _, body = post_iq(sim, f"detector_id={det_id}", ctype="application/json")
    assert (status, json.loads(body)) == (415, {"detail": "Request body must be image bytes"})

    # the edge app's own 422s are resent by nginx to the cloud: its answer is what comes back
    status, _, body = post_iq(sim, "want_async=False")
    assert status == 400 and list(json.loads(body)) == ["detector_id"]

    for bad in ("1.5", "-0.1", "abc"):
        status, _, body = post_iq(sim, f"detector_id={det_id}&confidence_threshold={bad}")
        assert status == 400, bad
        assert list(json.loads(body)) == ["confidence_threshold"]

    for param in ("inspection_id=x", "metadata=e30%3D", "image_query_id=iq_1"):
        status, _, body = post_iq(sim, f"detector_id={det_id}&{param}")
        assert status == 400, param
        assert json.loads(body)["detail"].startswith("Invalid query parameters: {")

    status, ctype, body = post_iq(sim, "detector_id=det_" + "x" * 27)
    assert (status, body) == (500, b"Internal Server Error") and ctype.startswith("text/plain")

    status, _, body = post_iq(sim, f"detector_id={det_id}&confidence_threshold=0.5")
    assert status == 200 and json.loads(body)["confidence_threshold"] == 0.5


def test_token_check(sim, det_id):
    # the edge route does not check tokens: none means the box's own; one the cloud refuses
    # makes the edge app's call to the cloud fail (500). The cloud's own routes check (401).
    status, _, body = post_iq(sim, f"detector_id={det_id}", token=None)
    assert status == 200 and json.loads(body)["detector_id"] == det_id
    assert post_iq(sim, f"detector_id={det_id}", token="short")[0] == 500
    assert post_iq(sim, f"detector_id={det_id}", token="x" * 19 + "-" + "y" * 10)[0] == 500
    assert raw(sim, "GET", "/device-api/v1/me")[0] == 401
    assert raw(sim, "GET", "/device-api/v1/me", headers={"x-api-token": "A" * 20})[0] == 200


def test_malformed_requests_do_not_stop_the_server(sim):
    host, port = urllib.parse.urlsplit(sim.url).netloc.split(":")
    status, _, body = raw(sim, "GET", "/no/such/route")  # the edge's 404 goes to the cloud
    assert (status, json.loads(body)) == (404, {"detail": "Not found."})
    for junk in (
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"\x00\xff" * 100 + b"\r\n\r\n",
        b"POST /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    ):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(junk)
            assert s.recv(100).startswith(b"HTTP/1.1 400")
    # a huge declared body: 413 at once, nothing read
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(
            b"POST /device-api/v1/image-queries HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n"
        )
        assert s.recv(100).startswith(b"HTTP/1.1 413")
    # a client that goes away mid-body
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /device-api/v1/image-queries HTTP/1.1\r\nContent-Length: 5000\r\n\r\nabc")
    # keep-alive: several requests on one connection, pipelined
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        data = b""
        while data.count(b"Hello!") < 3:
            chunk = s.recv(4096)
            assert chunk
            data += chunk
    assert raw(sim, "GET", "/ping")[0] == 200


# --------------------------------------------------------------------------------------------
# status JSON


def test_status_json_shapes(sim, gl):
    det = gl.get_or_create_detector("sim-status", "Is the light on?")
    gl.submit_image_query(det, YES_IMAGE, wait=0)
    wait_for(
        lambda: (
            gl.edge.get_detector_readiness is not None
            and json.loads(raw(sim, "GET", "/status/metrics.json")[2])["detector_details"] != "{}"
        )
    )
    metrics = json.loads(raw(sim, "GET", "/status/metrics.json")[2])
    assert {"device_info", "activity_metrics", "detector_details", "k3s_stats"} <= set(metrics)
    assert isinstance(metrics["device_info"]["cpucores"], int)
    details = json.loads(metrics["detector_details"])  # JSON in a string, like the real one
    info = next(iter(details.values()))
    assert {"status", "pipeline_config"} <= set(info)
    images = json.loads(metrics["k3s_stats"]["container_images"])
    flat = [image for containers in images.values() for image in containers.values()]
    assert any("groundlight/edge-endpoint@sha256:" in i for i in flat)
    assert any("groundlight/gl-edge-inference@sha256:" in i for i in flat)
    pods = json.loads(metrics["k3s_stats"]["pod_statuses"])
    assert set(pods.values()) <= {"Pending", "Running", "Failed", "Succeeded", "Unknown"}
    # the activity of the previous hour (none yet: this one is still going)
    activity_metrics = metrics["activity_metrics"]
    assert activity_metrics["num_detectors_active_1h"] >= 1
    assert isinstance(json.loads(activity_metrics["detector_activity_previous_hour"]), dict)

    resources = json.loads(raw(sim, "GET", "/status/resources.json")[2])
    assert set(resources) == {"system", "detectors"}
    gpu = resources["system"]["gpu"]
    assert gpu["vram_bytes"]["total"] == 16 * 1024**3 and len(gpu["devices"]) == 1


# --------------------------------------------------------------------------------------------
# fault knobs


def test_fault_knobs(sim, det_id):
    q = f"detector_id={det_id}"
    assert post_iq(sim, q)[0] == 200
    try:
        sim.set_faults(error_rate={"500": 1.0})
        status, ctype, body = post_iq(sim, q)
        assert (status, body) == (500, b"Internal Server Error")
        sim.set_faults(error_rate={"503": 1.0})
        assert post_iq(sim, q)[0] == 503
        sim.set_faults(error_rate={"500": 0.5, "503": 0.5})
        assert {post_iq(sim, q)[0] for _ in range(40)} == {500, 503}
        sim.set_faults(error_rate={}, drop_rate=1.0)
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            post_iq(sim, q)
        assert raw(sim, "GET", "/ping")[0] == 200  # only image queries are dropped
        sim.set_faults(drop_rate=0.0, spike_rate=1.0, spike_s=30.0)  # 0.3 s real
        t0 = time.monotonic()
        assert post_iq(sim, q)[0] == 200
        assert time.monotonic() - t0 >= 0.28
        sim.set_faults(spike_rate=0.0, stall_every_s=100.0, stall_s=60.0)  # 0.6 s in every 1 s
        waits = []
        for _ in range(8):
            t0 = time.monotonic()
            raw(sim, "GET", "/ping")
            waits.append(time.monotonic() - t0)
            time.sleep(0.13)
        assert max(waits) >= 0.1 and min(waits) < 0.05
        sim.set_faults(stall_every_s=0.0, stall_s=0.0)
        with pytest.raises(Exception, match="stall_s must be shorter"):
            sim.set_faults(stall_every_s=1.0, stall_s=2.0)
        with pytest.raises(Exception, match="unknown fault knob"):
            sim.set_faults(bogus=1)

        sim.down(50.0)  # 0.5 s real
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            raw(sim, "GET", "/health/live")
        assert sim.state()["faults"]["down"] is True  # the admin API still answers
        wait_for(lambda: sim.state()["faults"]["down"] is False)
        assert raw(sim, "GET", "/health/live")[0] == 200
        counts = sim.state()["faults"]["injected"]
        assert counts["error_500"] >= 1 and counts["drop"] >= 1 and counts["down_reset"] >= 1
    finally:
        sim.clear_faults()
    assert post_iq(sim, q)[0] == 200


def test_state_and_new_model(sim, gl):
    det = gl.get_or_create_detector("sim-new-model", "Is there a forklift?")
    before = sim.state()["cloud"]["detectors"][det.id]["model_version"]
    assert sim.new_model(det.id)["model_version"] == before + 1
    assert sim.state()["cloud"]["detectors"][det.id]["model_version"] == before + 1


def test_endpoint_comes_up_late():
    # profile endpoint.up_after_s: connections are reset until then; the admin API answers
    with SimulatedEndpoint(
        "gpu-1x", time_scale=100.0, overrides={"endpoint.up_after_s": 80}
    ) as late:
        if late.state()["faults"]["down"]:
            with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
                raw(late, "GET", "/health/live")
        wait_for(lambda: late.state()["faults"]["down"] is False)
        assert raw(late, "GET", "/health/live")[0] == 200
