"""Pod watching and the pure analysis of the pod scenarios, with synthetic inputs."""

from __future__ import annotations

import pytest

from edgeload.errors import UsageError
from edgeload.scenarios.pods import edgeconfig, memory, versions
from edgeload.scenarios.pods.detector_loop import (
    CLOUD,
    EDGE,
    ERROR,
    Answer,
    classify_response,
    summarize_answers,
)
from edgeload.scenarios.pods.podtimeline import PodEvent, analyze_pods, pod_snapshot
from edgeload.scenarios.pods.podwatch import connect_kubernetes

A = "det_" + "A" * 27
B = "det_" + "B" * 27
T0 = 1_780_000_000


def iso(s: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(T0 + s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def raw_pod(
    det: str,
    suffix: str,
    *,
    version: str = "1",
    ready: bool = False,
    created: float = 0,
    scheduled: float | None = 0,
    ready_at: float | None = None,
    phase: str = "Running",
    restarts: int = 0,
    oom: bool = False,
    unschedulable: bool = False,
) -> dict:
    conditions = []
    if scheduled is not None:
        conditions.append(
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": iso(scheduled)}
        )
        conditions.append(
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": iso(ready_at if ready_at is not None else scheduled),
            }
        )
    elif unschedulable:
        conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable"})
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}} if oom else {}
    key = det.lower().replace("_", "-")
    return {
        "metadata": {
            "name": f"inferencemodel-primary-{key}-{suffix}",
            "creationTimestamp": iso(created),
            "annotations": {
                "groundlight.dev/detector-id": det,
                "groundlight.dev/model-name": f"{det}/primary",
                "groundlight.dev/model-version": version,
            },
        },
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [
                {
                    "name": "inference-server",
                    "ready": ready,
                    "restartCount": restarts,
                    "lastState": last,
                    "state": {"running": {}},
                }
            ],
        },
    }


def ev(t: float, etype: str, raw: dict) -> PodEvent:
    return PodEvent(t, etype, pod_snapshot(raw))


def test_pod_snapshot_reads_timeline_restarts_and_oom():
    snap = pod_snapshot(
        raw_pod(A, "x1", ready=True, created=0, scheduled=2, ready_at=62, restarts=2, oom=True)
    )
    assert snap.detector_id == A and snap.role == "primary" and snap.model_version == "1"
    assert snap.ready and snap.restarts == 2 and snap.oom_killed
    assert snap.scheduled - snap.created == 2 and snap.ready_since - snap.created == 62
    assert pod_snapshot({"metadata": {"name": "edge-endpoint-abc"}, "status": {}}) is None
    pending = pod_snapshot(raw_pod(A, "x2", scheduled=None, unschedulable=True, phase="Pending"))
    assert pending.unschedulable and not pending.ready


def _rollout(det: str, start: float, old: str, new: str) -> list[PodEvent]:
    """A surge rollout: new pod beside the old, Ready 10 s later, old one deleted."""
    old_pod = raw_pod(det, old, ready=True, version="1")
    return [
        ev(start, "ADDED", raw_pod(det, new, version="2", created=start, scheduled=start)),
        ev(
            start + 10,
            "MODIFIED",
            raw_pod(
                det,
                new,
                version="2",
                ready=True,
                created=start,
                scheduled=start,
                ready_at=start + 10,
            ),
        ),
        ev(start + 12, "DELETED", old_pod),
    ]


def _initial(det: str, suffix: str, t: float) -> list[PodEvent]:
    return [
        ev(t, "ADDED", raw_pod(det, suffix, created=t, scheduled=t)),
        ev(
            t + 60,
            "MODIFIED",
            raw_pod(det, suffix, ready=True, created=t, scheduled=t, ready_at=t + 60),
        ),
    ]


def test_sequential_rollouts_have_no_overlap_and_versions_are_tracked():
    events = _initial(A, "a1", 0) + _initial(B, "b1", 0) + _rollout(A, 100, "a1", "a2")
    events = sorted(events + _rollout(B, 120, "b1", "b2"), key=lambda e: e.t)
    out = analyze_pods(events, [A, B], t_end=200)
    assert out["update_overlaps"] == []
    assert out["initial_overlaps"]  # both started together: reported, not held against them
    assert out["all_pods_ready_t"] == 60
    assert out["per_detector"][A]["update_windows"] == [[100, 112]]
    assert out["per_detector"][A]["version_changes"] == [{"t": 110, "from": "1", "to": "2"}]
    assert out["per_detector"][B]["rollouts"] == 1
    assert out["restarted_pods"] == [] and out["oom_killed_pods"] == []
    assert {p["name"][-2:]: p["ready_after_s"] for p in out["pods"]}["a1"] == 60


def test_overlapping_rollouts_are_flagged():
    events = sorted(_initial(A, "a1", 0) + _initial(B, "b1", 0), key=lambda e: e.t)
    ra, rb = _rollout(A, 100, "a1", "a2"), _rollout(B, 105, "b1", "b2")
    events += sorted(ra + rb, key=lambda e: e.t)
    out = analyze_pods(events, [A, B], t_end=200)
    assert len(out["update_overlaps"]) == 1
    o = out["update_overlaps"][0]
    assert o["detectors"] == sorted([A, B]) and (o["start_t"], o["end_t"]) == (105, 112)


def test_restarts_oom_and_pending_are_flagged():
    events = _initial(A, "a1", 0) + [
        ev(70, "MODIFIED", raw_pod(A, "a1", ready=True, restarts=1, oom=True)),
        ev(5, "ADDED", raw_pod(B, "b1", scheduled=None, unschedulable=True, phase="Pending")),
    ]
    out = analyze_pods(events, [A, B], t_end=100)
    assert out["restarted_pods"] and out["oom_killed_pods"]
    assert out["pending_pods"] == [out["pods"][-1]["name"]]
    assert out["all_pods_ready_t"] is None
    assert out["max_pending_s"] == pytest.approx(95)


def test_classify_response_and_summary():
    edge = b'{"id":"iq_1","detector_id":"%s","result":{"from_edge":true,"confidence":0.9}}' % (
        A.encode()
    )
    cloud = edge.replace(b"true", b"false")
    assert classify_response(200, edge, A)[:2] == (EDGE, None)
    assert classify_response(200, cloud, A)[:2] == (CLOUD, None)
    assert classify_response(503, b"{}", A)[:2] == (ERROR, "http_503")
    assert classify_response(500, b"boom", A)[:2] == (ERROR, "http_500")
    assert classify_response(502, b"", A)[:2] == (ERROR, "http_5xx")
    assert classify_response(200, b"not json", A)[:2] == (ERROR, "bad_response")
    assert classify_response(200, edge, B)[:2] == (ERROR, "wrong_detector")

    def ans(t, it, det, kind, cat=None):
        return Answer(t, it, det, kind, cat, 200, 1.0)

    answers = [
        ans(0, 0, A, CLOUD),
        ans(1, 0, B, ERROR, "http_503"),
        ans(2, 1, A, EDGE),
        ans(3, 1, B, CLOUD),
        ans(4, 2, A, ERROR, "http_500"),
        ans(5, 2, B, EDGE),
        ans(6, 3, A, EDGE),
        ans(7, 3, B, EDGE),
    ]
    s = summarize_answers(answers, [A, B])
    assert s["by_kind"] == {"edge": 4, "cloud": 2, "error": 2}
    assert s["errors_by_category"] == {"http_500": 1, "http_503": 1}
    assert s["all_edge_iteration"] == 3 and s["all_edge_iteration_t"] == 7
    assert s["every_detector_got_edge_t"] == 5
    assert s["per_detector"][A]["errors_after_first_edge"] == {"http_500": 1}
    assert s["non_edge_after_first_edge"] == 1
    assert not s["all_edge_on_first_iteration"]


def _mem(t, used, pod=900 * 2**20):
    return {
        "t": t,
        "gpus": [
            {"index": i, "vram_used_bytes": u, "vram_total_bytes": 16 * 2**30}
            for i, u in enumerate(used)
        ],
        "detector_vram": {A: {"primary": pod, "oodd": 500 * 2**20}},
    }


def test_vram_balance_bound():
    gib = 2**30
    even = memory.vram_balance([_mem(10, [3 * gib, int(2.5 * gib)])], after_t=5)
    assert even["ok"] is True and even["gpus"] == 2
    # the bound: one pod (900 MiB) + 2 % of a 16 GiB GPU
    assert even["bound_bytes"] == 900 * 2**20 + int(16 * gib * 0.02)
    skewed = memory.vram_balance([_mem(10, [5 * gib, 1 * gib])], after_t=5)
    assert skewed["ok"] is False
    before_steady = memory.vram_balance([_mem(1, [5 * gib, 1 * gib])], after_t=5)
    assert before_steady["ok"] is None
    assert memory.vram_balance([_mem(10, [gib])])["ok"] is None  # one GPU: not applicable


def test_versions_from_status_page_flag_overlaps():
    def sample(t, a, b):
        return {"t": t, "detectors": {A: a, B: b}}

    r, u = "ready", "updating"
    samples = [
        sample(0, {"status": r, "deployed": "1"}, {"status": r, "deployed": "1"}),
        sample(10, {"status": u, "deployed": "1"}, {"status": r, "deployed": "1"}),
        sample(20, {"status": u, "deployed": "1"}, {"status": u, "deployed": "1"}),
        sample(30, {"status": r, "deployed": "2"}, {"status": u, "deployed": "1"}),
        sample(40, {"status": r, "deployed": "2"}, {"status": r, "deployed": "2"}),
    ]
    out = versions.analyze_versions(samples, [A, B], t_end=50)
    assert out["per_detector"][A]["rollouts_after_first"] == 1
    assert out["updating_overlaps"] == [{"detectors": [A, B], "start_t": 20, "end_t": 30}]


def test_edge_config_fill_and_bad_files(tmp_path):
    raw = edgeconfig.load_edge_config("configs/edge-config-edge-answers-with-escalation.yaml")
    filled = edgeconfig.fill_detectors(raw, [A, B])
    assert [d["detector_id"] for d in filled["detectors"]] == [A, B]
    assert edgeconfig.ALL_DETECTORS_KEY not in filled
    cfg = edgeconfig.validate(raw, "x", detector_ids=[A, B])
    assert cfg.edge_inference_configs["edge_answers_with_escalation"].always_return_edge_prediction
    assert (
        edgeconfig.fill_detectors(
            edgeconfig.load_edge_config("configs/edge-config-none.yaml"), [A]
        )["detectors"]
        == []
    )
    bad = {
        "yaml.yaml": "global_config: [unclosed",
        "list.yaml": "- a\n- b\n",
        "undefined.yaml": "edgeload_all_detectors: nope\n",
        "rate.yaml": "global_config: {refresh_rate: -1}\n",
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(UsageError) as info:
            edgeconfig.load_edge_config(tmp_path / name)
        assert "\n" not in str(info.value) and name in str(info.value)
    with pytest.raises(UsageError):
        edgeconfig.load_edge_config(tmp_path / "missing.yaml")


def test_kubernetes_access_is_optional():
    off = connect_kubernetes("off")
    assert not off.available and "skipped" in off.skipped_reason
    nothing = connect_kubernetes("http://127.0.0.1:9")  # nothing listens on the discard port
    assert not nothing.available and "skipped" in nothing.skipped_reason


def test_kubernetes_client_against_the_simulator_sees_inference_pods():
    import urllib.request

    from edgeload.scenarios.pods.clock import EndpointClock
    from edgeload.scenarios.pods.podwatch import PodWatcher
    from edgeload.sim import DEMO_TOKEN, SimulatedEndpoint

    with SimulatedEndpoint("fast-rollouts", time_scale=100) as sim:
        access = connect_kubernetes(sim.k8s_url)
        assert access.available
        watcher = PodWatcher(access, EndpointClock(100))
        watcher.start()
        from edgeload.target import Target, make_sdk

        gl = make_sdk(Target(kind="simulated", url=sim.url, token=DEMO_TOKEN))
        det = gl.create_detector("podwatch-test", "Is the image background black?")
        watcher.detector_ids = [det.id]
        from edgeload.images import ImagePool

        data, _ = ImagePool("BINARY", 64, 48).next()
        req = urllib.request.Request(
            f"{sim.url}/device-api/v1/image-queries?detector_id={det.id}",
            data=data,
            headers={"Content-Type": "image/jpeg", "x-api-token": DEMO_TOKEN},
        )
        urllib.request.urlopen(req).read()  # the first query makes the updater create pods
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and watcher.ready_summary()[0] < 1:
            time.sleep(0.05)
        watcher.stop()
        out = analyze_pods(watcher.snapshot_events(), [det.id], t_end=watcher.clock.now())
    assert watcher.ready_summary()[0] >= 1
    assert out["per_detector"][det.id]["first_ready_t"] is not None
    ready_after = [p["ready_after_s"] for p in out["pods"] if p["detector_id"] == det.id]
    assert ready_after and all(r == pytest.approx(10, abs=1.5) for r in ready_after)  # startup_s
