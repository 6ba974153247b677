"""MULTI_CLASS and BOUNDING_BOX detectors, COUNT's --max-count and --edge-pipeline-config, end
to end: the one mode list, images and priming labels per mode, answer checks, the simulator's
answers, provisioning through the SDK, and throughput runs against the embedded simulator."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from edgeload import clients, images, modes, options, provisioning
from edgeload.errors import RunError, UsageError
from edgeload.provisioning import (
    fetch_metrics,
    provision_detector,
    synthetic_labelled_images,
)
from edgeload.sim import SimulatedEndpoint
from edgeload.sim.answers import image_truth
from edgeload.target import Target, make_sdk

FAST = dict(poll_s=0.05, progress_every_s=0.2)
pytestmark = pytest.mark.filterwarnings("ignore:The `dict` method is deprecated")


# -- one definition -----------------------------------------------------------------------------


def test_the_modes_are_defined_once():
    assert modes.MODES == ("BINARY", "COUNT", "MULTI_CLASS", "BOUNDING_BOX")
    assert options.DETECTOR_MODES is modes.MODES
    assert provisioning.MODES is modes.MODES
    assert images.MODES is modes.MODES
    assert options.DETECTOR_MODE.choices == modes.MODES
    # BINARY and COUNT keep their queries and names
    assert provisioning.QUERIES["BINARY"] == "Is the image background black?"
    assert provisioning.QUERIES["COUNT"] == "How many circles are in the image?"
    assert provisioning.detector_name("COUNT", (640, 480), 1) == "edgeload-count-640x480-2"
    # COUNT's default max count keeps the old names, given or not; another one names its own
    for default in (None, 10):
        assert provisioning.detector_name("COUNT", (64, 48), mode_size=default) == (
            "edgeload-count-64x48"
        )
    assert provisioning.detector_name("COUNT", (64, 48), 2, mode_size=25) == (
        "edgeload-count-64x48-n25-3"
    )
    assert (
        provisioning.detector_name("MULTI_CLASS", (64, 48), mode_size=3)
        == "edgeload-multi-class-64x48-n3"
    )
    named = provisioning.detector_name("BINARY", (64, 48), edge_pipeline_config="a")
    assert (
        named.startswith("edgeload-binary-64x48-p")
        and len(named) == len("edgeload-binary-64x48-p") + 12
    )


@pytest.mark.parametrize(
    ("mode", "n", "flag", "words"),
    [
        ("BINARY", 3, "--num-classes", ["--num-classes", "BINARY", "MULTI_CLASS"]),
        ("COUNT", 3, "--max-num-bboxes", ["--max-num-bboxes", "COUNT"]),
        ("MULTI_CLASS", 5, "--max-num-bboxes", ["--max-num-bboxes", "MULTI_CLASS"]),
        ("BOUNDING_BOX", 51, "--max-num-bboxes", ["1..50"]),
        ("MULTI_CLASS", 1, "--num-classes", ["2..100"]),
        ("COUNT", 51, "--max-count", ["--max-count", "1..50"]),
        ("COUNT", 3, "--num-classes", ["--num-classes", "COUNT", "MULTI_CLASS"]),
        ("BINARY", 3, "--max-count", ["--max-count", "BINARY", "applies to COUNT"]),
    ],
)
def test_a_size_the_mode_does_not_take_is_a_usage_error(mode, n, flag, words):
    with pytest.raises(UsageError) as info:
        modes.resolve_n(mode, n, flag=flag)
    assert all(w in str(info.value) for w in words), str(info.value)


def test_sizes_default_per_mode():
    assert modes.resolve_n("BINARY", None) is None
    assert modes.resolve_n("COUNT", None) is None  # the default max count names nothing
    assert modes.resolve_n("COUNT", 25) == 25 and modes.resolve_n("COUNT", 10) == 10
    assert modes.size_or_default("COUNT", None) == 10 == modes.COUNT_MAX
    assert modes.size_or_default("BINARY", None) is None
    assert modes.named_size("COUNT", 10) is None and modes.named_size("COUNT", 25) == 25
    assert modes.named_size("BOUNDING_BOX", 10) == 10
    assert modes.SIZE_FLAGS["--max-count"] == "COUNT"
    assert modes.resolve_n("MULTI_CLASS", None) == 4
    assert modes.resolve_n("bounding_box", None) == 10
    assert modes.check_mode("multi-class") == "MULTI_CLASS"


# -- images and labels --------------------------------------------------------------------------


def test_multi_class_images_show_their_class_and_the_simulator_reads_it():
    pool = images.ImagePool("MULTI_CLASS", 64, 48, n=3, seed=1)
    assert sorted({i.answer for i in pool.images}) == ["0", "1", "2"]
    for _ in range(6):
        data, answer = pool.next()
        assert image_truth(data).class_index == int(answer)
    labelled = synthetic_labelled_images("MULTI_CLASS", (64, 48), mode_size=3)
    assert [labelled(i)[1] for i in range(4)] == ["0", "1", "2", "0"]
    named = synthetic_labelled_images("MULTI_CLASS", (64, 48), class_names=["red", "green"])
    assert [named(i)[1] for i in range(3)] == ["red", "green", "red"]


def test_bounding_box_images_carry_labels_and_one_roi_per_object():
    labelled = synthetic_labelled_images("BOUNDING_BOX", (80, 60), mode_size=4)
    seen = set()
    for i in range(12):
        data, label, rois = labelled(i)
        assert data[:2] == b"\xff\xd8" and len(rois) <= 4
        assert label == ("BOUNDING_BOX" if rois else "NO_OBJECTS")
        seen.add(label)
    assert seen == {"BOUNDING_BOX", "NO_OBJECTS"}
    empty = images.make_bounding_box_image(80, 60, random.Random(0), count=0)
    assert empty.answer == "NO_OBJECTS" and empty.rois == ()
    three = images.make_bounding_box_image(80, 60, random.Random(0), count=3)
    assert three.answer == "BOUNDING_BOX" and len(three.rois) == 3
    assert image_truth(three.jpeg_with_truth).count == 3


def test_count_images_show_up_to_the_max_count_and_the_default_is_unchanged():
    # the default (n None or 10) draws exactly the pictures it always did
    for n in (None, 10):
        made = images.make_image("COUNT", 80, 60, random.Random(5), n=n)
        assert made.jpeg == images.make_count_image(80, 60, random.Random(5)).jpeg
    counts = {images.make_image("COUNT", 320, 240, random.Random(i), n=3).answer for i in range(40)}
    assert counts == {0, 1, 2, 3}
    many = {images.make_image("COUNT", 640, 480, random.Random(i), n=30).answer for i in range(40)}
    assert max(many) > 10 and max(many) <= 30
    pool = images.ImagePool("COUNT", 320, 240, n=2, seed=3)
    for _ in range(8):
        data, answer = pool.next()
        assert 0 <= answer <= 2 and image_truth(data).count == answer
    labelled = synthetic_labelled_images("COUNT", (320, 240), mode_size=2)
    assert {labelled(i)[1] for i in range(12)} <= {0, 1, 2}
    assert len(labelled(0)[2]) == labelled(0)[1]  # one ROI per circle


# -- answer checks ------------------------------------------------------------------------------


def answer(result: dict, rois=None) -> dict:
    return {"detector_id": "det_1", "result": {"from_edge": True, **result}, "rois": rois}


BOX = {"label": "circle", "score": 0.9, "geometry": dict(left=0, top=0, right=1, bottom=1)}


def test_answer_checks_accept_each_modes_shape_and_refuse_others():
    multi = clients.AnswerSpec.of({"mode": "MULTI_CLASS", "class_names": ["0", "1"], "max": 2})
    bbox = clients.AnswerSpec.of({"mode": "BOUNDING_BOX", "class_names": None, "max": 2})
    assert clients.AnswerSpec.of({"mode": "BINARY", "class_names": None, "max": None}) is None
    assert clients.check_answer(answer({"label": "1"}), "det_1", multi).ok
    wrong = clients.check_answer(answer({"label": "7"}), "det_1", multi)
    assert wrong.error == "bad_answer" and "classes" in wrong.detail
    assert clients.check_answer(answer({"label": "BOUNDING_BOX"}, [BOX]), "det_1", bbox).ok
    assert clients.check_answer(answer({"label": "NO_OBJECTS"}, None), "det_1", bbox).ok
    for result, rois in [
        ({"label": "BOUNDING_BOX"}, []),  # boxes promised, none given
        ({"label": "NO_OBJECTS"}, [BOX]),
        ({"label": "BOUNDING_BOX"}, [BOX, BOX, BOX]),  # more than the maximum
        ({"label": "YES"}, None),
        ({"label": "BOUNDING_BOX"}, [{"label": "circle"}]),  # no geometry
    ]:
        outcome = clients.check_answer(answer(result, rois), "det_1", bbox)
        assert outcome.error == "bad_answer", (result, rois)
    # BINARY answers are checked as they always were
    assert clients.check_answer(answer({"label": "MAYBE"}), "det_1").ok
    body = json.dumps(answer({"label": "9"})).encode()
    assert clients.check_http_answer(200, body, "det_1", multi).error == "bad_answer"


def test_count_answers_may_reach_the_max_count_and_beyond_only_with_greater_than_max():
    count = clients.AnswerSpec.of({"mode": "COUNT", "class_names": None, "max": 3})
    default = clients.AnswerSpec.of({"mode": "COUNT", "class_names": None, "max": None})
    assert count.max_boxes == 3 and default.max_boxes == 10  # a default detector counts to 10
    for result in (
        {"count": 0, "greater_than_max": False},
        {"count": 3, "greater_than_max": False},
        {"count": 3, "greater_than_max": True},
        {"count": None},  # the API allows a null count
    ):
        assert clients.check_answer(answer(result), "det_1", count).ok, result
    for result in (
        {"count": 4, "greater_than_max": False},
        {"count": 4},
        {"count": -1},
        {"count": "3"},
        {"count": True},
    ):
        outcome = clients.check_answer(answer(result), "det_1", count)
        assert outcome.error == "bad_answer", result
    assert clients.check_answer(answer({"count": 10}), "det_1", default).ok
    assert not clients.check_answer(answer({"count": 11}), "det_1", default).ok


# -- against the simulator ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim():
    with SimulatedEndpoint("gpu-1x", time_scale=200) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def gl(sim):
    return make_sdk(Target(kind="simulated", url=sim.url, token=sim.token, profile=sim.profile))


def test_multi_class_detectors_are_created_primed_and_answered_by_class(sim, gl):
    det = provision_detector(
        gl, mode="MULTI_CLASS", mode_size=3, image_size=(64, 48), timeout_s=30, **FAST
    )
    assert det.name == "edgeload-multi-class-64x48-n3" and det.class_names == ["0", "1", "2"]
    detector = gl.get_detector(det.id)
    assert detector.mode == "MULTI_CLASS"
    assert detector.mode_configuration["class_names"] == ["0", "1", "2"]
    spec = clients.AnswerSpec.of(det.answer_spec())
    pool = images.ImagePool("MULTI_CLASS", 64, 48, n=3)
    for _ in range(6):
        data, expected = pool.next()
        iq = gl.submit_image_query(det.id, data, **clients.SUBMIT_KWARGS)
        assert clients.check_sdk_answer(iq, det.id, spec).ok
        assert iq.result.label == expected  # a trained model reads the class
    again = provision_detector(gl, mode="MULTI_CLASS", detector_id=det.id, timeout_s=30, **FAST)
    assert again.class_names == ["0", "1", "2"]  # a given detector keeps its own classes
    with pytest.raises(UsageError, match="has 3 classes, not --num-classes 4"):
        provision_detector(gl, mode="MULTI_CLASS", detector_id=det.id, mode_size=4, timeout_s=5)


def test_bounding_box_answers_carry_one_roi_per_object(sim, gl):
    det = provision_detector(
        gl, mode="BOUNDING_BOX", mode_size=4, image_size=(80, 60), timeout_s=30, **FAST
    )
    assert det.name == "edgeload-bounding-box-80x60-n4" and det.mode_size == 4
    assert gl.get_detector(det.id).mode_configuration["max_num_bboxes"] == 4
    spec = clients.AnswerSpec.of(det.answer_spec())
    pool = images.ImagePool("BOUNDING_BOX", 80, 60, n=4)
    token = sim.token
    target = Target(kind="simulated", url=sim.url, token=token, profile=sim.profile)
    for _ in range(8):
        data, label = pool.next()
        count = image_truth(data).count
        iq = gl.submit_image_query(det.id, data, **clients.SUBMIT_KWARGS)
        assert clients.check_sdk_answer(iq, det.id, spec).ok
        assert iq.result.label == label and len(iq.rois or []) == count
        # the raw HTTP answer has the rois at the top level, as the real API does
        request = clients.EdgeRequest(det.id, token)
        response = target.http.request("POST", request.path, body=data, headers=request.headers)
        status, body = response.status, response.body
        assert clients.check_http_answer(status, body, det.id, spec).ok
        raw = json.loads(body)
        assert raw["result_type"] == "bounding_box" and len(raw["rois"] or []) == count
        assert "_rois" not in raw["result"]


def test_count_detectors_get_their_max_count_and_the_default_keeps_its_name(sim, gl):
    det = provision_detector(
        gl, mode="COUNT", mode_size=3, image_size=(96, 72), timeout_s=30, **FAST
    )
    assert det.name == "edgeload-count-96x72-n3" and det.mode_size == 3
    assert gl.get_detector(det.id).mode_configuration["max_count"] == 3
    assert det.as_record()["mode_size"] == 3
    spec = clients.AnswerSpec.of(det.answer_spec())
    pool = images.ImagePool("COUNT", 96, 72, n=6, seed=2)  # some images show more than 3
    over = 0
    for _ in range(12):
        data, expected = pool.next()
        iq = gl.submit_image_query(det.id, data, **clients.SUBMIT_KWARGS)
        assert clients.check_sdk_answer(iq, det.id, spec).ok
        # the simulator answers as the API does: at most the max count, beyond it
        # greater_than_max (the count then is the max)
        assert iq.result.count == min(expected, 3)
        assert iq.result.greater_than_max is (expected > 3)
        over += expected > 3
    assert over > 0
    again = provision_detector(gl, mode="COUNT", detector_id=det.id, timeout_s=30, **FAST)
    assert again.mode_size == 3  # a given detector keeps its own max count
    with pytest.raises(UsageError, match="has 3 counted objects at most, not --max-count 4"):
        provision_detector(gl, mode="COUNT", detector_id=det.id, mode_size=4, timeout_s=5)
    # no --max-count: the name, the request (max_count 10) and the records of before
    default = provision_detector(gl, mode="COUNT", image_size=(96, 72), timeout_s=30, **FAST)
    assert default.name == "edgeload-count-96x72" and default.mode_size is None
    assert gl.get_detector(default.id).mode_configuration["max_count"] == 10
    assert "mode_size" not in default.as_record()
    same = provision_detector(
        gl, mode="COUNT", mode_size=10, image_size=(96, 72), timeout_s=30, **FAST
    )
    assert same.id == default.id  # --max-count 10 is the default detector


def test_a_count_detector_of_another_max_count_under_the_default_name_is_refused(sim, gl):
    made = gl.create_counting_detector(
        "edgeload-count-48x36", provisioning.QUERIES["COUNT"], "circle", max_count=7
    )
    with pytest.raises(UsageError) as info:
        provision_detector(gl, mode="COUNT", image_size=(48, 36), timeout_s=5)
    assert f"detector {made.id}" in str(info.value) and "not --max-count 10" in str(info.value)


def test_an_edge_pipeline_config_is_created_verified_and_a_change_rolls_the_pod(sim, gl):
    det = provision_detector(
        gl, mode="BINARY", image_size=(40, 30), edge_pipeline_config="cfg-a", timeout_s=30, **FAST
    )
    assert det.pipeline_config == "cfg-a" and det.pipeline_config_source == "edge"
    record = det.as_record()
    assert record["edge_pipeline_config_requested"] == "cfg-a"
    assert record["edge_pipeline_config_verified"] is True
    target = Target(kind="simulated", url=sim.url, token=sim.token, profile=sim.profile)
    details = fetch_metrics(target)["detector_details"][det.id]
    assert details["pipeline_config"] == "cfg-a"
    started = sim.state()["counters"]["rollouts_started"]
    # an admin changes the detector's edge pipeline in the cloud: the edge rolls it out
    sim.set_edge_pipeline_config(det.id, "cfg-b")
    changed = provision_detector(
        gl, mode="BINARY", detector_id=det.id, edge_pipeline_config="cfg-b", timeout_s=30, **FAST
    )
    assert changed.pipeline_config == "cfg-b" and changed.pipeline_config_confirmed
    assert sim.state()["counters"]["rollouts_started"] > started
    assert fetch_metrics(target)["detector_details"][det.id]["pipeline_config"] == "cfg-b"
    # the detector no longer has cfg-a: one line, nothing waited for
    with pytest.raises(RunError, match="has the edge pipeline config 'cfg-b' in the cloud"):
        provision_detector(
            gl, mode="BINARY", detector_id=det.id, edge_pipeline_config="cfg-a", timeout_s=5
        )


def test_a_config_the_edge_never_serves_times_out_in_one_line(tmp_path):
    profile = tmp_path / "unloadable.yaml"
    profile.write_text("extends: zero-latency\nupdater:\n  unloadable_pipeline_configs: [broken]\n")
    with SimulatedEndpoint(str(profile), time_scale=50) as endpoint:
        target = Target(
            kind="simulated", url=endpoint.url, token=endpoint.token, profile=endpoint.profile
        )
        client = make_sdk(target)
        with pytest.raises(RunError) as info:
            provision_detector(
                client,
                mode="COUNT",
                image_size=(16, 16),
                edge_pipeline_config="broken",
                timeout_s=1.5,
                target=target,
                **FAST,
            )
    message = str(info.value)
    assert "\n" not in message
    assert "did not serve the detectors within 1.5 s with edge pipeline config 'broken'" in message


# -- throughput runs ----------------------------------------------------------------------------

SHORT = [
    "--max-clients", "1", "--time-between-ramp", "3", "--image-width", "64",
    "--image-height", "48", "--sim-profile", "zero-latency", "--sim-time-scale", "20",
]  # fmt: skip


def run_edgeload(*args: str, out: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("GROUNDLIGHT_ENDPOINT", None)
    env.pop("GROUNDLIGHT_API_TOKEN", None)
    command = [sys.executable, "-m", "edgeload.cli", *args, "--output-dir", str(out)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def header_of(out: Path) -> dict:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    with open(run_dir / "load_test.log", encoding="utf-8") as f:
        return json.loads(f.readline())


@pytest.mark.parametrize(
    ("args", "size"),
    [
        (["MULTI_CLASS", "--num-classes", "3"], 3),
        (["BOUNDING_BOX"], 10),
        (["COUNT", "--max-count", "3"], 3),
    ],
)
def test_throughput_runs_each_new_mode_end_to_end(tmp_path, args, size):
    result = run_edgeload("throughput", *args, *SHORT, out=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    assert "verdict PASS" in result.stdout
    assert "Unrecognized internal label" not in result.stderr
    header = header_of(tmp_path)
    (detector,) = header["metadata"]["detectors"]
    assert detector["mode"] == args[0] and detector["mode_size"] == size
    assert header["metadata"]["images"]["mode_size"] == size
    if args[0] == "COUNT":
        assert header["inputs"]["max_count"] == 3
        assert detector["name"] == "edgeload-count-64x48-n3"


def test_a_bad_max_count_is_one_line_before_anything_starts(tmp_path):
    for args, words in (
        (["COUNT", "--max-count", "51"], "--max-count must be at most 50"),
        (["COUNT", "--max-count", "many"], "--max-count must be a whole number"),
        (["BINARY", "--max-count", "5"], "--max-count does not apply to BINARY detectors"),
    ):
        result = run_edgeload("throughput", *args, *SHORT, out=tmp_path / "runs", timeout=60)
        assert result.returncode == 2, result.stderr[-2000:]
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0], result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("client", ["http", "sdk"])
def test_fps_runs_a_new_mode_with_a_verified_edge_pipeline_config(tmp_path, client):
    result = run_edgeload(
        "fps", "MULTI_CLASS", "--num-classes", "3", "--edge-pipeline-config", "fast-knn",
        "--image-size", "64x48", "--warmup-iterations", "3", "--iterations", "20",
        "--client", client, "--sim-profile", "zero-latency", "--sim-time-scale", "20",
        out=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    header = header_of(tmp_path)
    assert header["inputs"]["mode_size"] == 3
    assert header["inputs"]["edge_pipeline_config"] == "fast-knn"
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["verdict"] == "pass" and results["outputs"]["summary"]["average_fps"] > 0


def test_throughput_records_the_verified_edge_pipeline_config(tmp_path):
    result = run_edgeload(
        "throughput", "BINARY", "--edge-pipeline-config", "fast-knn", *SHORT, out=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    header = header_of(tmp_path)
    assert header["inputs"]["edge_pipeline_config"] == "fast-knn"
    provenance = header["metadata"]["edge_pipeline_config"]
    assert provenance["requested"] == "fast-knn" and provenance["verified"] is True
    assert "/status/metrics.json" in provenance["source"]
    assert set(provenance["served"].values()) == {"fast-knn"}
    (detector,) = header["metadata"]["detectors"]
    assert detector["pipeline_config"] == "fast-knn" and detector["pipeline_config_confirmed"]


def test_throughput_with_a_config_the_edge_never_serves_fails_in_one_line(tmp_path):
    profile = tmp_path / "unloadable.yaml"
    profile.write_text("extends: zero-latency\nupdater:\n  unloadable_pipeline_configs: [nope]\n")
    args = [a if a != "zero-latency" else str(profile) for a in SHORT]
    result = run_edgeload(
        "throughput", "BINARY", "--edge-pipeline-config", "nope", "--provision-timeout", "2",
        *args, out=tmp_path / "runs",
    )  # fmt: skip
    assert result.returncode == 5, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgeload: error")]
    assert len(errors) == 1
    assert "with edge pipeline config 'nope'" in errors[0]


def test_the_simulated_cloud_answers_bounding_boxes_like_the_api():
    from edgeload.sim.answers import Truth
    from edgeload.sim.clock import ManualClock
    from edgeload.sim.cloud import ROIS_KEY, Cloud, CloudError, image_query_json

    cloud = Cloud(ManualClock())
    body = {"name": "b", "query": "q", "mode": "BOUNDING_BOX"}
    made = cloud.create_detector(
        {**body, "mode_configuration": {"class_name": "circle", "max_num_bboxes": 2}}
    )
    assert made["mode_configuration"] == {"class_name": "circle", "max_num_bboxes": 2}
    with pytest.raises(CloudError):
        cloud.create_detector({**body, "name": "c", "mode_configuration": {"max_num_bboxes": 2}})
    with pytest.raises(CloudError):
        cloud.create_detector(
            {**body, "name": "d", "mode_configuration": {"class_name": "x", "max_num_bboxes": 51}}
        )
    det = cloud.get(made["id"])
    labels = {}
    for count in (0, 2, 5):
        result = cloud.model_result(det, Truth("NO", count, 1.0, 7), True, from_edge=True)
        labels[count] = (result["label"], len(result[ROIS_KEY]))
        shown = image_query_json(det, "iq_1", "2026-01-01T00:00:00Z", result, 0.9, 30, None, True)
        assert ROIS_KEY not in shown["result"] and len(shown["rois"] or []) == len(result[ROIS_KEY])
        assert shown["result_type"] == "bounding_box"
    assert labels == {0: ("NO_OBJECTS", 0), 2: ("BOUNDING_BOX", 2), 5: ("GREATER_THAN_MAX", 2)}
    # labels a bounding-box detector takes
    iq = cloud.image_query(det, None, threshold=0.9, patience_time=30)
    cloud.add_label({"image_query_id": iq["id"], "label": "NO_OBJECTS", "rois": None})
    with pytest.raises(CloudError):
        cloud.add_label({"image_query_id": iq["id"], "label": "YES"})


def test_the_simulated_cloud_takes_and_honours_a_max_count_like_the_api():
    from edgeload.sim.answers import Truth
    from edgeload.sim.clock import ManualClock
    from edgeload.sim.cloud import Cloud, CloudError

    cloud = Cloud(ManualClock())
    body = {"query": "q", "mode": "COUNT"}
    made = cloud.create_detector(
        {**body, "name": "c", "mode_configuration": {"class_name": "circle", "max_count": 4}}
    )
    assert made["mode_configuration"] == {"class_name": "circle", "max_count": 4}
    plain = cloud.create_detector({**body, "name": "d", "mode_configuration": {"class_name": "x"}})
    assert plain["mode_configuration"]["max_count"] == 10  # the API's default
    for bad in (0, 51, "4"):
        with pytest.raises(CloudError):
            cloud.create_detector(
                {
                    **body,
                    "name": f"e{bad}",
                    "mode_configuration": {"class_name": "x", "max_count": bad},
                }
            )
    det = cloud.get(made["id"])
    answers = {}
    for count in (0, 4, 7):
        result = cloud.model_result(det, Truth("NO", count, 1.0, 7), True, from_edge=True)
        answers[count] = (result["count"], result["greater_than_max"])
    assert answers == {0: (0, False), 4: (4, False), 7: (4, True)}
    # the pods' memory model sees each detector's max count as its n
    assert cloud.detector_size(made["id"]) == 4 and cloud.detector_size(plain["id"]) == 10


def test_fps_runs_count_with_a_max_count(tmp_path):
    result = run_edgeload(
        "fps", "COUNT", "--max-count", "25", "--image-size", "160x120",
        "--warmup-iterations", "2", "--iterations", "15", "--client", "http",
        "--sim-profile", "zero-latency", "--sim-time-scale", "20",
        out=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    header = header_of(tmp_path)
    assert header["inputs"]["mode_size"] == 25
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["verdict"] == "pass" and results["outputs"]["summary"]["average_fps"] > 0
