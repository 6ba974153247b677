"""edgeload.provisioning against the simulated endpoint (fast time scale) and pure parsers."""

from __future__ import annotations

import json
import re
import threading
import time
import types

import pytest

from edgeload import provisioning
from edgeload import wait as wait_module
from edgeload.errors import RunError, UsageError
from edgeload.provisioning import (
    MIN_LABELS,
    QUERIES,
    _decode_nested,
    detector_name,
    endpoint_images,
    fetch_endpoint_images,
    fetch_pipeline_config,
    prime_detector,
    provision_detector,
    provision_detectors,
    synthetic_labelled_images,
)
from edgeload.sim import SimulatedEndpoint
from edgeload.target import Target, make_sdk

FAST = dict(poll_s=0.05, progress_every_s=0.2)
# the SDK itself calls pydantic's deprecated .dict() when it sends label ROIs
pytestmark = pytest.mark.filterwarnings("ignore:The `dict` method is deprecated")


def sim_target(sim: SimulatedEndpoint) -> Target:
    return Target(kind="simulated", url=sim.url, token=sim.token, profile=sim.profile)


@pytest.fixture(scope="module")
def sim():
    # 200x: a 20 s training takes 0.1 s, a 60 s pod start-up 0.3 s
    with SimulatedEndpoint("gpu-1x", time_scale=200) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def gl(sim):
    return make_sdk(sim_target(sim))


def cloud_detector(sim, detector_id: str) -> dict:
    return sim.state()["cloud"]["detectors"][detector_id]


def test_a_new_binary_detector_is_created_primed_trained_and_served_by_the_edge(sim, gl):
    lines: list[str] = []
    det = provision_detector(
        gl,
        mode="BINARY",
        image_size=(64, 48),
        timeout_s=30,
        progress=lines.append,
        target=sim_target(sim),
        **FAST,
    )
    assert det.name == "edgeload-binary-64x48" == detector_name("BINARY", (64, 48))
    assert det.query == QUERIES["BINARY"] and det.mode == "BINARY"
    assert det.labels >= MIN_LABELS and det.projected_accuracy > 0.6
    cloud = cloud_detector(sim, det.id)
    assert cloud["labels"] == MIN_LABELS  # exactly what was missing, each labelled once
    # the recorded config is what the edge runs, and it is the trained model's
    assert det.pipeline_config == fetch_pipeline_config(sim_target(sim), det.id)
    assert f"model_version: {cloud['model_version']}" in det.pipeline_config
    assert any("created detector" in line for line in lines)
    assert any("adding 30 labelled images" in line for line in lines)
    assert any("the edge answers it" in line for line in lines)

    # a second run finds the same detector by name and adds no labels
    again = provision_detector(
        gl, mode="BINARY", image_size=(64, 48), timeout_s=30, progress=lines.append, **FAST
    )
    assert again.id == det.id
    assert cloud_detector(sim, det.id)["labels"] == MIN_LABELS


def test_provisioning_waits_for_the_edge_to_run_the_clouds_new_model(sim, gl):
    det = provision_detector(gl, mode="BINARY", image_size=(32, 32), timeout_s=30, **FAST)
    sim.new_model(det.id)
    new_version = cloud_detector(sim, det.id)["model_version"]
    again = provision_detector(
        gl, detector_id=det.id, mode="BINARY", image_size=(32, 32), timeout_s=60,
        target=sim_target(sim), **FAST,
    )  # fmt: skip
    assert f"model_version: {new_version}" in again.pipeline_config
    # provisioning returned only once the edge runs it (the old pod served until then)
    assert fetch_pipeline_config(sim_target(sim), det.id) == again.pipeline_config


def test_count_detectors_and_several_detectors_at_once(sim, gl):
    dets = provision_detectors(gl, 3, mode="COUNT", image_size=(80, 60), timeout_s=30, **FAST)
    assert [d.name for d in dets] == [
        "edgeload-count-80x60",
        "edgeload-count-80x60-2",
        "edgeload-count-80x60-3",
    ]
    assert len({d.id for d in dets}) == 3
    for det in dets:
        assert det.mode == "COUNT" and det.query == QUERIES["COUNT"]
        assert cloud_detector(sim, det.id)["mode"] == "COUNT"
        assert det.pipeline_config


def test_a_given_detector_id_must_exist_and_have_the_mode(sim, gl):
    with pytest.raises(UsageError, match="does not exist"):
        provision_detector(gl, mode="BINARY", detector_id="det_" + "0" * 27, timeout_s=5)
    count = provision_detector(gl, mode="COUNT", image_size=(16, 16), timeout_s=30, **FAST)
    with pytest.raises(UsageError, match="is a COUNT detector, not BINARY"):
        provision_detector(gl, mode="BINARY", detector_id=count.id, timeout_s=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(mode="MULTI"), "unknown detector mode"),
        (dict(mode="BINARY", image_size=(0, 480)), "out of range"),
        (dict(mode="BINARY", image_size=("a", 4)), "must be"),
        (dict(mode="BINARY", timeout_s=0), "timeout must be positive"),
    ],
)
def test_bad_inputs_are_usage_errors(gl, kwargs, message):
    with pytest.raises(UsageError, match=message) as info:
        provision_detector(gl, **kwargs)
    assert "\n" not in str(info.value)


def test_training_that_never_finishes_times_out_with_progress():
    overrides = {"cloud.training_delay_s": 1_000_000_000}
    with SimulatedEndpoint("gpu-1x", time_scale=200, overrides=overrides) as slow:
        gl = make_sdk(sim_target(slow))
        lines: list[str] = []
        with pytest.raises(RunError) as info:
            provision_detector(
                gl, mode="BINARY", image_size=(8, 8), timeout_s=2, progress=lines.append, **FAST
            )
        message = str(info.value)
        assert "training did not finish within 2 s" in message
        assert re.search(r"\(\d+ labels, accuracy unknown\)", message)
        assert "\n" not in message and slow.token not in message
        assert any("waiting for training" in line for line in lines)


def test_an_edge_that_never_serves_times_out_naming_what_it_waits_for():
    overrides = {"pods.startup_s": 1_000_000}
    with SimulatedEndpoint("gpu-1x", time_scale=200, overrides=overrides) as stuck:
        gl = make_sdk(sim_target(stuck))
        # trained first, so that only the edge wait runs against the short timeout
        provision_detectors(
            gl, 1, mode="BINARY", image_size=(8, 8), timeout_s=30, wait_for_edge=False, **FAST
        )
        lines: list[str] = []
        with pytest.raises(RunError) as info:
            provision_detector(
                gl, mode="BINARY", image_size=(8, 8), timeout_s=1, progress=lines.append, **FAST
            )
        message = str(info.value)
        assert "the edge did not serve the detectors within 1 s" in message
        assert "answers come from the cloud" in message
        assert "the status page says initializing" in message
        assert any("waiting for the edge to serve" in line for line in lines)

        # while the status page says initializing, the status page is polled, not the edge:
        # image queries (each escalated to the cloud) go out once per ASK_WHILE_INITIALIZING_S
        asked: list[float] = []
        submit = gl.submit_image_query

        def counting_submit(*args, **kwargs):
            asked.append(time.monotonic())
            return submit(*args, **kwargs)

        gl.submit_image_query = counting_submit
        with pytest.raises(RunError):
            provision_detector(
                gl, mode="BINARY", image_size=(8, 8), timeout_s=1.5, progress=lines.append,
                target=sim_target(stuck), **FAST,
            )  # fmt: skip
        assert len(asked) == 1  # 1.5 s < ASK_WHILE_INITIALIZING_S


def test_low_projected_accuracy_gets_more_labels_then_fails_clearly():
    overrides = {"cloud.projected_accuracy": 0.55}
    with SimulatedEndpoint("gpu-1x", time_scale=500, overrides=overrides) as weak:
        gl = make_sdk(sim_target(weak))
        with pytest.raises(RunError, match="still not trained enough after 150 labels"):
            provision_detector(gl, mode="BINARY", image_size=(8, 8), timeout_s=30, **FAST)


def test_endpoint_images_and_pipeline_config_from_the_status_page(sim, gl):
    det = provision_detector(gl, mode="BINARY", image_size=(24, 24), timeout_s=30, **FAST)
    images = fetch_endpoint_images(sim_target(sim))
    assert "edge-endpoint" in images["edge_endpoint"]
    assert "inference" in images["inference_server"]
    assert fetch_pipeline_config(sim_target(sim), det.id).startswith("pipeline:")
    assert fetch_pipeline_config(sim_target(sim), "det_unknown") is None


def test_json_in_string_fields_are_decoded():
    metrics = {
        "k3s_stats": json.dumps(
            {
                "container_images": json.dumps(
                    {
                        "edge-endpoint-6d9c": {"edge-endpoint": "edge@sha256:1", "nginx": "n"},
                        "inferencemodel-primary-det-x": {"inference-server": "inf@sha256:2"},
                    }
                )
            }
        ),
        "detector_details": json.dumps({"det_x": {"pipeline_config": "a: 1\n"}}),
        "text": "{not json",
    }
    decoded = _decode_nested(metrics)
    assert decoded["detector_details"]["det_x"]["pipeline_config"] == "a: 1\n"
    assert decoded["text"] == "{not json"
    assert endpoint_images(decoded) == {
        "edge_endpoint": "edge@sha256:1",
        "inference_server": "inf@sha256:2",
    }
    assert endpoint_images({}) == {"edge_endpoint": None, "inference_server": None}


def test_priming_images_carry_their_answers():
    binary = synthetic_labelled_images("BINARY", (32, 24))
    assert [binary(i)[1] for i in range(4)] == ["YES", "NO", "YES", "NO"]
    assert binary(0)[0][:2] == b"\xff\xd8"
    count = synthetic_labelled_images("COUNT", (64, 48))
    for i in range(5):
        _, answer, rois = count(i)
        assert isinstance(answer, int) and len(rois) == answer


class FakeCloud:
    """ask_async/add_label that take a while, counting how many run at once."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.lock = threading.Lock()
        self.running = self.peak = 0
        self.labels: list[tuple[bytes, object]] = []
        self.fail_at = fail_at
        self.asked = 0

    def ask_async(self, detector_id, data, human_review):
        with self.lock:
            self.asked += 1
            number = self.asked
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(0.02)  # a round trip (gevent-patched: other greenlets run meanwhile)
        with self.lock:
            self.running -= 1
        if number == self.fail_at:
            raise ConnectionError("endpoint went away")
        return data

    def add_label(self, image_query, answer, rois=None):
        with self.lock:
            self.labels.append((image_query, answer))


def numbered_images(index: int) -> tuple[bytes, str]:
    return b"image-%d" % index, "YES" if index % 2 else "NO"


def test_priming_submits_labelled_images_concurrently_each_once():
    cloud = FakeCloud()
    started = time.monotonic()
    done = prime_detector(cloud, "det_x", numbered_images, 30, start_index=5, concurrency=10)
    elapsed = time.monotonic() - started
    assert done == 30
    assert sorted(cloud.labels) == sorted(numbered_images(i) for i in range(5, 35))
    assert cloud.peak == 10
    assert elapsed < 30 * 0.02 / 2  # far from one at a time (0.6 s)

    one_at_a_time = FakeCloud()
    assert prime_detector(one_at_a_time, "det_x", numbered_images, 4, concurrency=1) == 4
    assert one_at_a_time.peak == 1


def test_priming_stops_at_the_deadline_and_at_the_first_error():
    cloud = FakeCloud()
    assert prime_detector(cloud, "det_x", numbered_images, 30, deadline=time.monotonic()) == 0
    assert cloud.asked == 0

    failing = FakeCloud(fail_at=3)
    with pytest.raises(ConnectionError, match="endpoint went away"):
        prime_detector(failing, "det_x", numbered_images, 30, concurrency=4)
    assert failing.asked < 30  # no new images after the error


def test_waits_poll_fast_first_then_back_off_to_the_poll_period(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(wait_module.time, "monotonic", lambda: now[0])

    def new_wait(poll_s):
        return provisioning._wait(600, poll_s, 5.0, progress=lambda line: None)

    backoff = new_wait(2.0)
    pauses = []
    for waited in (0.0, 0.5, 2.0, 5.0, 10.0, 60.0):
        now[0] = 100.0 + waited
        pauses.append(backoff.pause_s())
    assert pauses[0] == provisioning.FIRST_POLL_S
    assert pauses == sorted(pauses) and pauses[-1] == 2.0 and pauses[-2] == 2.0
    assert pauses[3] == pytest.approx(5.0 * provisioning.POLL_FRACTION)
    backoff.restart_backoff()
    assert backoff.pause_s() == provisioning.FIRST_POLL_S
    assert new_wait(0.05).pause_s() == 0.05  # never slower than poll_s


class _ServiceError(Exception):
    """Like the SDK's API errors: a status, and a body several kB long."""

    def __init__(self, status: int) -> None:
        super().__init__(
            f"({status})\nReason: Service Unavailable\nHTTP response headers: " + "x" * 5000
        )
        self.status = status


class FlakyCloud:
    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures, self.status, self.calls = failures, status, 0

    def get_detector_by_name(self, name):
        self.calls += 1
        if self.calls <= self.failures:
            raise _ServiceError(self.status)
        return types.SimpleNamespace(id="det_1", name=name, query=provisioning.QUERIES["BINARY"])


def test_a_transient_5xx_during_provisioning_is_retried_with_progress_lines():
    cloud, lines = FlakyCloud(failures=2), []
    detector = provisioning._get_or_create(
        cloud, mode="BINARY", size=(640, 480), detector_id=None, name="n", progress=lines.append
    )
    assert detector.id == "det_1" and cloud.calls == 3
    retries = [line for line in lines if "retrying" in line]
    assert len(retries) == 2 and all("GET detector by name failed (HTTP 503)" in r for r in retries)


def test_a_lasting_provisioning_error_is_one_short_line():
    cloud = FlakyCloud(failures=99, status=401)  # not transient: no retry
    with pytest.raises(RunError) as info:
        provision_detectors(cloud, 1, mode="BINARY", timeout_s=5, progress=lambda line: None)
    message = str(info.value)
    assert message == "provisioning failed: HTTP 401" and cloud.calls == 1


def test_a_detector_created_by_another_run_at_the_same_time_is_used(sim, gl, monkeypatch):
    """Two load machines (or two runs) provision the same detector name at once: one's POST
    gets the cloud's 400 "already exists", and that run uses the other's detector."""
    from groundlight import NotFoundError

    name = "edgeload-race-16x16"
    theirs = gl.create_detector(name, provisioning.QUERIES["BINARY"])
    real_lookup = gl.get_detector_by_name
    lookups = []

    def lookup_before_they_created_it(wanted):
        lookups.append(wanted)
        if len(lookups) == 1:
            raise NotFoundError(f"no detector named {wanted}")
        return real_lookup(wanted)

    monkeypatch.setattr(gl, "get_detector_by_name", lookup_before_they_created_it)
    lines: list[str] = []
    det = provision_detector(
        gl, mode="BINARY", image_size=(16, 16), name=name, timeout_s=30,
        progress=lines.append, target=sim_target(sim), **FAST,
    )  # fmt: skip
    assert det.id == theirs.id and len(lookups) == 2
    assert any("created at the same time elsewhere" in line for line in lines), lines
