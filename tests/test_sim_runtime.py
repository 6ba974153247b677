"""The simulated edge box: pod lifecycle, memory pressure, rollouts, queueing, status views.

The state machine is driven with a ManualClock (no sleeping); the asyncio layer is checked with
a real clock at a raised time scale for a few hundred milliseconds.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from kubernetes.client import ApiClient

from edgeload.sim.clock import ManualClock, SimClock
from edgeload.sim.pods import EdgeBox, Slot, capacity_rps, service_seconds
from edgeload.sim.profile import load_profile
from edgeload.sim.runtime import EdgeRuntime

DET = [f"det_{i}{'A' * 26}" for i in range(1, 6)]


class Cloud:
    """latest_model stand-in: a model version per detector, bumped by the test."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}

    def latest_model(self, detector_id: str) -> tuple[int, str] | None:
        v = self.versions.setdefault(detector_id, 1)
        return v, f"pipeline: v{v}\n"


def make_box(profile: str = "gpu-1x", **overrides) -> tuple[EdgeBox, ManualClock, Cloud]:
    clock = ManualClock()
    cloud = Cloud()
    return (
        EdgeBox(load_profile(profile, overrides or None), clock, cloud.latest_model),
        clock,
        cloud,
    )


def run(box: EdgeBox, clock: ManualClock, seconds: float, step: float = 1.0, each=None) -> None:
    end = clock.now() + seconds
    while clock.now() < end:
        clock.advance(min(step, end - clock.now()))
        box.tick()
        if each is not None:
            each()


def inference_pods(box: EdgeBox, det: str | None = None) -> list:
    return [p for p in box.pods.values() if det is None or p.detector_id == det]


# ------------------------------------------------------------------ start-up


def test_first_query_creates_pods_ready_after_startup() -> None:
    box, clock, _ = make_box("gpu-1x")  # download 5 s, start-up 60 s
    box.register_detector(DET[0], "BINARY")
    box.tick()
    assert box.try_acquire(DET[0], 640 * 480) == "no_pod"
    run(box, clock, 64, step=0.5)
    pods = inference_pods(box, DET[0])
    assert sorted(p.role for p in pods) == ["oodd", "primary"]
    assert all(p.phase == "Running" and not p.ready for p in pods)
    assert not box.readiness(DET[0])
    assert box.detectors[DET[0]].status == "initializing"
    run(box, clock, 2, step=0.5)
    assert box.readiness(DET[0])
    assert all(p.ready_at == pytest.approx(65.0) for p in pods)  # exact, whatever the step
    assert box.detectors[DET[0]].status == "ready"
    assert box.detectors[DET[0]].model_version == 1


def test_large_clock_jumps_keep_exact_timestamps() -> None:
    box, clock, _ = make_box("gpu-1x")
    box.register_detector(DET[0], "BINARY")
    box.tick()
    clock.advance(1000)
    box.tick()
    assert {p.ready_at for p in inference_pods(box)} == {65.0}


def test_minimal_image_has_only_primary() -> None:
    box, clock, _ = make_box("gpu-1x", **{"pods.minimal_image": True})
    box.register_detector(DET[0], "COUNT")
    run(box, clock, 100)
    assert [p.role for p in inference_pods(box)] == ["primary"]
    assert box.readiness(DET[0])


# ------------------------------------------------------------------ memory pressure


def test_pods_stay_pending_when_vram_runs_out() -> None:
    box, clock, _ = make_box("vram-tight")  # 4 GiB: two BINARY detectors (1.4 GiB each) fit
    for det in DET[:4]:
        box.register_detector(det, "BINARY")
    run(box, clock, 600, step=2)
    pending = [p for p in inference_pods(box) if p.phase == "Pending"]
    assert pending and all(p.unschedulable for p in pending)
    assert box.gpu_vram_used(0) <= box.profile.box.gpus[0].vram_bytes
    ready = [d for d in DET[:4] if box.readiness(d)]
    assert len(ready) == 2
    assert box.counters["oom_kills"] == 0
    pod = ApiClient()._ApiClient__deserialize(_pod_list(box), "V1PodList")
    unscheduled = [p for p in pod.items if p.status.phase == "Pending"]
    cond = unscheduled[0].status.conditions[0]
    assert (cond.type, cond.status, cond.reason) == ("PodScheduled", "False", "Unschedulable")


def test_oom_kill_policy_restarts_pods_with_backoff() -> None:
    box, clock, _ = make_box("vram-tight", **{"pods.on_memory_exhausted": "oom_kill"})
    for det in DET[:4]:
        box.register_detector(det, "BINARY")
    run(box, clock, 900, step=2)
    killed = [p for p in inference_pods(box) if p.oom_kills]
    assert killed and box.counters["oom_kills"] == sum(p.oom_kills for p in killed)
    assert box.counters["restarts"] >= box.counters["oom_kills"]
    victim = max(killed, key=lambda p: p.oom_kills)
    assert victim.last_terminated["reason"] == "OOMKilled"
    # CrashLoopBackOff doubles: 10, 20, 40, ... so kills slow down; at most ~log2 growth
    assert victim.oom_kills <= 8
    pods = ApiClient()._ApiClient__deserialize(_pod_list(box), "V1PodList")
    statuses = [
        p.status.container_statuses[0] for p in pods.items if p.metadata.name == victim.name
    ]
    assert statuses[0].restart_count == victim.restart_count
    assert statuses[0].last_state.terminated.reason == "OOMKilled"
    assert statuses[0].last_state.terminated.exit_code == 137


def test_ram_exhaustion_kills_largest_pod() -> None:
    # plenty of VRAM, but RAM for only ~2 detectors beyond the reserved memory
    box, clock, _ = make_box(
        "gpu-1x",
        **{"pods.on_memory_exhausted": "oom_kill", "box.ram_bytes": 9 * 1024**3,
           "pods.startup_s": 5},
    )  # fmt: skip
    for det in DET[:3]:
        box.register_detector(det, "COUNT")
    run(box, clock, 120, step=1)
    assert box.counters["oom_kills"] > 0
    assert box.ram_used() <= box.profile.box.ram_bytes


# ------------------------------------------------------------------ placement


def test_spread_balances_vram_across_gpus() -> None:
    box, clock, _ = make_box("gpu-2x", **{"pods.startup_s": 1, "updater.download_s": 0})
    for det in DET[:4]:
        box.register_detector(det, "BINARY")
    run(box, clock, 60)
    used = [box.gpu_vram_used(i) for i in range(2)]
    assert all(used)
    biggest_pod = max(p.vram_bytes for p in inference_pods(box))
    assert abs(used[0] - used[1]) <= biggest_pod


def test_pack_fills_first_gpu() -> None:
    box, clock, _ = make_box("gpu-2x", **{"pods.placement": "pack", "pods.startup_s": 1})
    for det in DET[:4]:
        box.register_detector(det, "BINARY")
    run(box, clock, 120)
    assert box.gpu_vram_used(0) > 0 and box.gpu_vram_used(1) == 0


# ------------------------------------------------------------------ rollouts


def test_rollouts_one_detector_at_a_time_old_pod_serves() -> None:
    box, clock, cloud = make_box("fast-rollouts")  # refresh 10 s, download 2 s, start-up 10 s
    for det in DET[:3]:
        box.register_detector(det, "BINARY")
    run(box, clock, 60)
    assert all(box.readiness(d) for d in DET[:3])
    for det in DET[:3]:
        cloud.versions[det] = 2

    rolling_at_once: list[int] = []
    never_unready: list[bool] = []

    def check() -> None:
        surging = {p.detector_id for p in inference_pods(box) if p.model_version == 2}
        not_done = {d for d in surging if box.detectors[d].model_version != 2}
        rolling_at_once.append(len(not_done))
        never_unready.append(all(box.readiness(d) for d in DET[:3]))

    run(box, clock, 120, step=0.5, each=check)
    assert max(rolling_at_once) == 1  # serialised
    assert all(never_unready)  # maxUnavailable 0: the old pod serves until the new one is Ready
    assert all(box.detectors[d].model_version == 2 for d in DET[:3])
    log = [r for r in box.rollout_log if r["to_version"] == 2]
    assert len(log) == 3
    for a, b in zip(log, log[1:], strict=False):
        assert a["finished_s"] <= b["started_s"]
    assert all(p.model_version == 2 for p in inference_pods(box))
    deps = ApiClient()._ApiClient__deserialize(_dep_list(box), "V1DeploymentList")
    assert {d.metadata.annotations["deployment.kubernetes.io/revision"] for d in deps.items} == {
        "2"
    }
    assert box.counters["switchover_errors"] == 0


def test_rollout_surge_pod_pending_keeps_old_serving() -> None:
    # the GPU holds exactly one detector's pods: the surge pod cannot be scheduled
    box, clock, cloud = make_box(
        "fast-rollouts",
        **{"box.gpus": [{"name": "small", "vram_bytes": "1400MiB"}],
           "updater.rollout_timeout_s": 100},
    )  # fmt: skip
    box.register_detector(DET[0], "BINARY")
    run(box, clock, 30)
    assert box.readiness(DET[0])
    cloud.versions[DET[0]] = 2
    run(box, clock, 40)
    assert box.detectors[DET[0]].status == "updating"
    assert any(p.unschedulable for p in inference_pods(box))
    assert box.readiness(DET[0])
    run(box, clock, 100)
    assert box.detectors[DET[0]].status == "update_failed"
    assert box.detectors[DET[0]].model_version == 1 and box.readiness(DET[0])


def _slot_on_replaced_pod(box: EdgeBox, clock: ManualClock, cloud: Cloud) -> Slot:
    """Roll out version 2 of DET[0], holding a request on the old primary pod until that pod
    starts terminating: the returned slot was taken at most 10 ms before the termination."""
    box.register_detector(DET[0], "BINARY")
    run(box, clock, 30)
    assert box.readiness(DET[0])
    cloud.versions[DET[0]] = 2
    slot = None
    for _ in range(100_000):
        clock.advance(0.01)
        box.tick()
        if slot is not None and slot.pod.terminating_since is not None:
            return slot
        if slot is not None:
            assert box.release(slot)
        slot = box.try_acquire(DET[0], 640 * 480)
        assert isinstance(slot, Slot) and slot.model_version == 1
    raise AssertionError("the old pod was never replaced")


def test_request_in_flight_on_a_replaced_pod_finishes_within_the_grace_period() -> None:
    """A rollout terminates the old pod; its in-flight request (27 ms of service) finishes
    within the termination grace period (1 s), even when the server gets round to releasing it
    only after the pod is gone (a loaded machine at a high time scale)."""
    box, clock, cloud = make_box("fast-rollouts")  # no switch-over errors, 1 s grace
    slot = _slot_on_replaced_pod(box, clock, cloud)
    grace = box.profile.pods.termination_grace_s
    assert slot.acquired_at + slot.service_s < slot.pod.terminating_since + grace
    run(box, clock, grace + 1.0, step=0.1)  # released late: the old pod is gone meanwhile
    assert slot.pod.name not in box.pods
    assert box.release(slot) is True
    assert box.readiness(DET[0])


def test_request_outlasting_the_grace_period_fails() -> None:
    # a 5 s service time cannot finish within a 1 s termination grace period: killed with the pod
    box, clock, cloud = make_box("fast-rollouts", **{"service.fixed_ms": 5000})
    slot = _slot_on_replaced_pod(box, clock, cloud)
    run(box, clock, 10, step=0.1)
    assert slot.pod.name not in box.pods
    assert box.release(slot) is False


def test_switchover_error_window() -> None:
    box, clock, cloud = make_box("switchover-errors")  # 2 s window
    box.register_detector(DET[0], "BINARY")
    run(box, clock, 40)
    assert isinstance(box.try_acquire(DET[0], 1000), Slot)
    cloud.versions[DET[0]] = 2
    outcomes = []

    def query() -> None:
        got = box.try_acquire(DET[0], 1000)
        outcomes.append(got)
        if isinstance(got, Slot):
            box.release(got)

    run(box, clock, 60, step=0.25, each=query)
    failures = [o for o in outcomes if o == "failed"]
    assert 6 <= len(failures) <= 9  # 2 s at 0.25 s steps
    assert box.counters["switchover_errors"] == len(failures)
    assert isinstance(outcomes[-1], Slot) and outcomes[-1].model_version == 2
    assert "no_pod" not in outcomes


# ------------------------------------------------------------------ queueing and service time


def test_service_time_and_capacity_math() -> None:
    profile = load_profile("gpu-1x")
    rng = random.Random(1)
    s = profile.service
    nominal = (s.base_ms + s.per_megapixel_ms * 0.3072) / 1000
    assert capacity_rps(profile, 640 * 480) == pytest.approx(2 / nominal, rel=0.06)
    samples = [service_seconds(s, 640 * 480, 0, rng) for _ in range(200)]
    assert min(samples) >= nominal * 0.95 - 1e-9 and max(samples) <= nominal * 1.05 + 1e-9
    bigger = service_seconds(s, 1920 * 1080, 0, random.Random(1))
    shared = service_seconds(s, 640 * 480, 2, random.Random(1))
    assert bigger > nominal * 1.5 and shared > nominal * 1.8
    fixed = load_profile("fixed-latency").service
    assert {service_seconds(fixed, n, 3, rng) for n in (1, 10**6, 10**7)} == {0.02}


def test_worker_slots_and_fifo_queue() -> None:
    box, clock, _ = make_box("gpu-1x", **{"service.queue_limit": 3})
    box.register_detector(DET[0], "BINARY")
    run(box, clock, 70)
    a = box.try_acquire(DET[0], 1)
    b = box.try_acquire(DET[0], 1)
    assert isinstance(a, Slot) and isinstance(b, Slot)  # 2 inference workers
    assert box.try_acquire(DET[0], 1) == "busy"
    got: list = []
    for i in range(3):
        assert box.enqueue(DET[0], 1, lambda r, i=i: got.append((i, r)) or True)
    assert not box.enqueue(DET[0], 1, lambda r: True)  # queue full: overloaded
    assert box.try_acquire(DET[0], 1) == "busy"  # waiters go first
    assert box.release(a)
    assert [i for i, _ in got] == [0]
    assert box.release(b)
    assert [i for i, _ in got] == [0, 1]


def test_oom_kill_fails_inflight_and_queued_requests() -> None:
    box, clock, _ = make_box("gpu-1x", **{"pods.minimal_image": True})
    box.register_detector(DET[0], "BINARY")
    run(box, clock, 70)
    slot = box.try_acquire(DET[0], 1)
    box.try_acquire(DET[0], 1)
    queued: list = []
    box.enqueue(DET[0], 1, lambda r: queued.append(r) or True)
    box._oom_kill(slot.pod, clock.now())
    assert queued == ["failed"]
    assert box.release(slot) is False


def test_async_queueing_knee() -> None:
    """Closed-loop clients against one detector: throughput saturates at the pod's capacity
    while latency keeps growing; beyond the queue limit requests are refused."""
    profile = load_profile(
        "gpu-1x",
        {"time_scale": 2, "pods.startup_s": 0, "updater.download_s": 0,
         "service.jitter_pct": 0, "service.queue_limit": 16},
    )  # fmt: skip

    async def level(runtime: EdgeRuntime, clients: int, sim_s: float) -> tuple[float, float, int]:
        latencies: list[float] = []
        refused = 0
        end = runtime.clock.now() + sim_s

        async def client() -> None:
            nonlocal refused
            while runtime.clock.now() < end:
                async with runtime.edge_app_slot():
                    out = await runtime.infer(DET[0], "BINARY", 640 * 480)
                if out.status == "ok":
                    latencies.append(out.latency_s)
                else:
                    refused += 1
                    await asyncio.sleep(0.001)

        await asyncio.gather(*(client() for _ in range(clients)))
        latencies.sort()
        return len(latencies) / sim_s, latencies[len(latencies) // 2], refused

    async def main() -> dict[int, tuple[float, float, int]]:
        runtime = EdgeRuntime(profile, SimClock(profile.time_scale), Cloud().latest_model)
        await runtime.start()
        runtime.register_detector(DET[0], "BINARY")
        for _ in range(50):
            if runtime.readiness([DET[0]])[DET[0]]:
                break
            await asyncio.sleep(0.01)
        results = {n: await level(runtime, n, 1.0) for n in (1, 8, 40)}
        state = runtime.state()
        await runtime.stop()
        results[0] = (0, 0, state["counters"]["requests_overloaded"])
        return results

    results = asyncio.run(main())
    cap = capacity_rps(profile, 640 * 480)
    rps1, p50_1, _ = results[1]
    rps8, p50_8, refused8 = results[8]
    _, p50_40, refused40 = results[40]
    assert rps1 < 0.65 * cap  # one client: one worker busy at a time
    assert 0.7 * cap < rps8 < 1.05 * cap  # saturated at the pod's capacity
    assert p50_8 > 2.5 * p50_1  # queueing: latency grows with load
    assert refused8 == 0 and refused40 > 0  # beyond the queue limit: overloaded
    assert results[0][2] == refused40
    assert p50_40 >= p50_8


# ------------------------------------------------------------------ views


def _pod_list(box: EdgeBox) -> dict:
    from edgeload.sim import k8s

    return k8s.pod_list(box)


def _dep_list(box: EdgeBox) -> dict:
    from edgeload.sim import k8s

    return k8s.deployment_list(box)


_SHARES = ["total", "detectors", "loading_detectors", "edge_endpoint", "other"]
RESOURCES_SAMPLE = {
    "system": {
        "cpu_utilization_pct": _SHARES,
        "ram_bytes": [*_SHARES, "used", "eviction_threshold_pct"],
    },
}


def test_resources_json_shape_and_figures() -> None:
    box, clock, _ = make_box("gpu-2x")
    box.register_detector(DET[0], "BINARY")
    run(box, clock, 30)  # pods loading
    from edgeload.sim import status

    loading = status.resources_json(box)
    assert loading["system"]["ram_bytes"]["loading_detectors"] > 0
    run(box, clock, 60)
    slots = [box.try_acquire(DET[0], 1), box.try_acquire(DET[0], 1)]
    run(box, clock, 6)
    doc = status.resources_json(box)
    system = doc["system"]
    for section, keys in RESOURCES_SAMPLE["system"].items():
        assert set(keys) <= set(system[section])
    gpu = system["gpu"]
    assert set(gpu) == {"vram_bytes", "compute_utilization_pct", "memory_bandwidth_pct", "devices"}
    assert len(gpu["devices"]) == 2
    dev = gpu["devices"][0]
    assert set(dev) == {"index", "uuid", "name", "vram_bytes", "compute_utilization_pct",
                        "memory_bandwidth_pct"}  # fmt: skip
    assert set(dev["vram_bytes"]) == {"total", "used", "free"}
    assert gpu["vram_bytes"]["used"] == sum(d["vram_bytes"]["used"] for d in gpu["devices"])
    assert system["ram_bytes"]["loading_detectors"] == 0
    (det,) = doc["detectors"]
    assert det["detector_id"] == DET[0]
    assert set(det["gpu"]) == {"vram_bytes", "compute_utilization_pct", "memory_bandwidth_pct"}
    assert det["ram_bytes"]["total"] == det["ram_bytes"]["primary"] + det["ram_bytes"]["oodd"]
    # two busy workers on a two-worker pod: the detector is at its capacity knee, all of its
    # GPU time in use: the primary's share on one GPU, the OODD's on the other (spread)
    on_gpu = {p.role: p.gpu for p in inference_pods(box, DET[0])}
    assert on_gpu["primary"] != on_gpu["oodd"]
    compute = {d["index"]: d["compute_utilization_pct"] for d in gpu["devices"]}
    share = status.OODD_COMPUTE_SHARE
    assert compute[on_gpu["primary"]] == pytest.approx(100 * (1 - share), abs=0.2)
    assert compute[on_gpu["oodd"]] == pytest.approx(100 * share, abs=0.2)
    assert gpu["compute_utilization_pct"]["total"] == pytest.approx(50, abs=0.2)  # of 2 GPUs
    det_compute = det["gpu"]["compute_utilization_pct"]  # as a part of the box's 2 GPUs
    assert det_compute["total"] == pytest.approx(50, abs=0.2)
    assert det_compute["primary"] == pytest.approx(50 * (1 - share), abs=0.2)
    assert system["cpu_utilization_pct"]["detectors"] > 0
    for s in slots:
        box.release(s)
    run(box, clock, 10)
    assert status.resources_json(box)["system"]["gpu"]["compute_utilization_pct"]["total"] == 0


def _offered_load(box: EdgeBox, clock: ManualClock, det: str, rps: float, seconds: float) -> None:
    """Requests arriving every 1/rps (simulated) seconds, each holding a worker slot for its
    service time; those that find no free slot wait (in arrival order) for one."""
    step = 0.001
    next_arrival = clock.now()
    waiting = 0
    held: list[tuple[float, Slot]] = []
    end = clock.now() + seconds
    while clock.now() < end:
        clock.advance(step)
        now = clock.now()
        for item in [h for h in held if h[0] <= now]:
            held.remove(item)
            box.release(item[1])
        while next_arrival <= now:
            next_arrival += 1.0 / rps
            waiting += 1
        while waiting:
            slot = box.try_acquire(det, 640 * 480)
            if not isinstance(slot, Slot):
                break
            waiting -= 1
            held.append((now + slot.service_s, slot))
        box.tick()
    for _, slot in held:  # measured; the next load starts from idle workers
        box.release(slot)


def _gpu_compute(box: EdgeBox) -> list[float]:
    from edgeload.sim import status

    devices = status.resources_json(box)["system"]["gpu"]["devices"]
    return [d["compute_utilization_pct"] for d in devices]


def test_gpu_compute_follows_the_capacity_knee_of_one_detector() -> None:
    box, clock, _ = make_box("gpu-1x")
    box.register_detector(DET[0], "BINARY")
    run(box, clock, 90)
    capacity = capacity_rps(box.profile, 640 * 480)  # 2 workers / 27.2 ms ~ 73.5 requests/s
    assert 70 < capacity < 77
    figures = {}
    for rps in (20, 40, 60, capacity * 1.2):
        _offered_load(box, clock, DET[0], rps, 6.0)
        (figures[rps],) = _gpu_compute(box)
    # busy worker-seconds over (workers x window): rps x 27.2 ms / 2 workers, within jitter
    for rps in (20, 40, 60):
        assert figures[rps] == pytest.approx(100 * rps / capacity, abs=4)
    assert figures[capacity * 1.2] > 97  # past the knee: all workers always busy
    # the answer to the old double count: 40 requests/s is about half of the GPU, not all of it
    assert 50 < figures[40] < 60


def _edge_app_load(
    box: EdgeBox, clock: ManualClock, det: str, rps: float, seconds: float
) -> tuple[int, int]:
    """Like `_offered_load`, but every request also goes through the edge app: it enters on
    arrival and leaves when its inference is done, so requests waiting for a worker are in
    flight in the edge app. Returns (requests finished, most requests in flight at once)."""
    step = 0.001
    next_arrival = clock.now()
    waiting = 0
    finished = 0
    most_in_flight = 0
    held: list[tuple[float, Slot]] = []
    end = clock.now() + seconds
    while clock.now() < end:
        clock.advance(step)
        now = clock.now()
        for item in [h for h in held if h[0] <= now]:
            held.remove(item)
            box.release(item[1])
            box.edge_app_exit()
            finished += 1
        while next_arrival <= now:
            next_arrival += 1.0 / rps
            waiting += 1
            box.edge_app_enter()
        while waiting:
            slot = box.try_acquire(det, 640 * 480)
            if not isinstance(slot, Slot):
                break
            waiting -= 1
            held.append((now + slot.service_s, slot))
        most_in_flight = max(most_in_flight, box.edge_app_busy)
        box.tick()
    return finished, most_in_flight


def test_cpu_follows_request_rate_not_queue_length() -> None:
    from edgeload.sim import status

    profile = load_profile("gpu-1x")
    cores = profile.box.cpu_cores
    capacity = capacity_rps(profile, 640 * 480)  # ~73.5 requests/s
    figures: dict[float, dict] = {}
    in_flight: dict[float, int] = {}
    served: dict[float, float] = {}
    seconds = 6.0
    for rps in (20, 40, 60, capacity * 1.5, capacity * 3):
        box, clock, _ = make_box("gpu-1x")  # each load on an idle box with a Ready detector
        box.register_detector(DET[0], "BINARY")
        run(box, clock, 90)
        idle_cpu = status.resources_json(box)["system"]["cpu_utilization_pct"]
        assert idle_cpu["edge_endpoint"] == 0 and idle_cpu["detectors"] == 0
        finished, in_flight[rps] = _edge_app_load(box, clock, DET[0], rps, seconds)
        served[rps] = finished / seconds
        figures[rps] = status.resources_json(box)["system"]["cpu_utilization_pct"]
    edge = {rps: f["edge_endpoint"] for rps, f in figures.items()}
    # edge app: request rate x CPU time per request, over the box's cores
    for rps in (20, 40, 60):
        expected = 100 * rps * status.EDGE_APP_CPU_S_PER_REQUEST / cores
        assert edge[rps] == pytest.approx(expected, rel=0.15, abs=0.15)
    assert edge[20] < edge[40] < edge[60]
    # past the knee the queue grows (hundreds of requests in the edge app at 3x capacity), but
    # the edge app still finishes only `capacity` requests/s: its CPU does not follow the queue
    over, far_over = capacity * 1.5, capacity * 3
    assert in_flight[far_over] > 3 * in_flight[over] > 30
    assert served[far_over] == pytest.approx(capacity, rel=0.1)
    at_knee = 100 * capacity * status.EDGE_APP_CPU_S_PER_REQUEST / cores
    assert edge[over] == pytest.approx(at_knee, rel=0.15)
    assert edge[far_over] == pytest.approx(edge[over], rel=0.1)
    # inference pods: busy workers x cores per worker; at the knee both pods' workers are busy
    pods_at_knee = 100 * 2 * 2 * status.POD_CPU_CORES_PER_BUSY_WORKER / cores
    assert figures[far_over]["detectors"] == pytest.approx(pods_at_knee, rel=0.05)
    assert figures[20]["detectors"] < figures[40]["detectors"] < figures[60]["detectors"]
    # the whole box: well below 100 % at (and past) the knee; no CPU bottleneck on gpu-1x
    assert figures[far_over]["total"] < 40
    assert figures[far_over]["total"] == pytest.approx(figures[over]["total"], abs=1.0)


def test_detectors_sharing_a_gpu_combine_as_independent_busy_fractions() -> None:
    from edgeload.sim import status

    box, clock, _ = make_box("gpu-1x")
    for det in DET[:2]:
        box.register_detector(det, "BINARY")
    run(box, clock, 200)  # the updater rolls out one detector at a time
    assert all(box.readiness(det) for det in DET[:2])
    # one of each detector's two workers busy all the time: each detector half-busy
    slots = [box.try_acquire(det, 1) for det in DET[:2]]
    run(box, clock, 6)
    (device,) = _gpu_compute(box)
    assert device == pytest.approx(100 * (1 - 0.5 * 0.5), abs=0.2)  # 75 %, not 100 %
    doc = status.resources_json(box)
    for det in doc["detectors"]:
        assert det["gpu"]["compute_utilization_pct"]["total"] == pytest.approx(50, abs=0.2)
    # all workers of both busy: the GPU is saturated
    slots += [box.try_acquire(det, 1) for det in DET[:2]]
    run(box, clock, 6)
    assert _gpu_compute(box) == [pytest.approx(100, abs=0.2)]
    for slot in slots:
        box.release(slot)


def test_minimal_image_puts_all_gpu_time_on_the_primary() -> None:
    from edgeload.sim import status

    box, clock, _ = make_box("gpu-1x", **{"pods.minimal_image": True})
    box.register_detector(DET[0], "BINARY")
    run(box, clock, 90)
    slots = [box.try_acquire(DET[0], 1) for _ in range(2)]
    run(box, clock, 6)
    (det,) = status.resources_json(box)["detectors"]
    compute = det["gpu"]["compute_utilization_pct"]
    assert compute["primary"] == pytest.approx(100, abs=0.2) and compute["oodd"] == 0
    for slot in slots:
        box.release(slot)


def test_k8s_json_parses_with_the_official_client() -> None:
    box, clock, cloud = make_box("fast-rollouts")
    box.register_detector(DET[0], "BINARY")
    run(box, clock, 30)
    cloud.versions[DET[0]] = 2
    run(box, clock, 13, step=0.5)  # mid-rollout: old and surge pods side by side
    client = ApiClient()
    pods = client._ApiClient__deserialize(_pod_list(box), "V1PodList")
    names = [p.metadata.name for p in pods.items]
    assert any(n.startswith("edge-endpoint-") for n in names)
    det_name = DET[0].lower().replace("_", "-")
    primaries = [
        p for p in pods.items if p.metadata.name.startswith(f"inferencemodel-primary-{det_name}-")
    ]
    assert len(primaries) == 2
    for p in primaries:
        assert p.metadata.namespace == "edge"
        assert p.metadata.annotations["groundlight.dev/detector-id"] == DET[0]
        assert p.metadata.annotations["groundlight.dev/model-name"] == f"{DET[0]}/primary"
        assert p.metadata.creation_timestamp is not None
        assert p.spec.node_name == "edge-gpu-1x"
        assert p.status.phase == "Running"
        ready = {c.type: c for c in p.status.conditions}["Ready"]
        assert ready.last_transition_time is not None
    versions = sorted(p.metadata.annotations["groundlight.dev/model-version"] for p in primaries)
    assert versions == ["1", "2"]
    edge = next(p for p in pods.items if p.metadata.name.startswith("edge-endpoint-"))
    assert "edge-endpoint" in [c.name for c in edge.status.container_statuses]
    deps = client._ApiClient__deserialize(_dep_list(box), "V1DeploymentList")
    assert {d.metadata.name for d in deps.items} == {
        f"inferencemodel-primary-{det_name}",
        f"inferencemodel-oodd-{det_name}",
    }
    assert int(pods.metadata.resource_version) == box.resource_version


def test_status_views_for_metrics_json() -> None:
    box, clock, _ = make_box("fast-rollouts")
    box.register_detector(DET[0], "COUNT")
    from edgeload.sim import status

    def details_now() -> dict:
        return status.detector_details(box, {}, lambda d: {"query": "q", "mode": "COUNT"})

    # listed once it has a Deployment (a real status monitor reads them from Kubernetes)
    assert DET[0] not in details_now()
    run(box, clock, 3)  # model downloaded, pods created, not Ready yet
    assert details_now()[DET[0]]["status"] == "initializing"
    run(box, clock, 27)
    details = details_now()[DET[0]]
    assert details["status"] == "ready" and details["pipeline_config"] == "pipeline: v1\n"
    # Python's isoformat of the times the Kubernetes client parsed
    assert details["deploy_time"].endswith("+00:00") and details["last_updated_time"]
    assert "edge_inference_config" not in details  # only for detectors in the edge config
    images = status.container_images(box)
    edge_pod = next(n for n in images if n.startswith("edge-endpoint-"))
    assert "@sha256:" in images[edge_pod]["edge-endpoint"]
    inference = [n for n in images if n.startswith("inferencemodel-")]
    assert len(inference) == 2 and all("inference-server" in images[n] for n in inference)
    assert set(status.pod_statuses(box).values()) == {"Running"}
    state = status.state(box)
    assert state["counters"]["rollouts_completed"] == 1
    assert state["detectors"][DET[0]]["ready"] is True


def test_watch_streams_pod_events_during_a_rollout() -> None:
    async def main() -> list[tuple[str, str, str]]:
        clock = ManualClock()
        cloud = Cloud()
        runtime = EdgeRuntime(load_profile("fast-rollouts"), clock, cloud.latest_model)
        runtime.register_detector(DET[0], "BINARY")
        seen: list[tuple[str, str, str]] = []

        async def consume() -> None:
            async for kind, pod in runtime.watch_pods(None):
                seen.append(
                    (kind, pod["metadata"]["name"], pod["metadata"]["annotations"].get(
                        "groundlight.dev/model-version", ""))
                )  # fmt: skip

        task = asyncio.create_task(consume())
        for _ in range(120):
            if clock.now() == 30:
                cloud.versions[DET[0]] = 2
            clock.advance(0.5)
            runtime.tick()
            await asyncio.sleep(0)
        await runtime.stop()
        await asyncio.wait_for(task, 1)
        return seen

    seen = asyncio.run(main())
    kinds = [k for k, _, _ in seen]
    assert kinds[0] == "ADDED"  # the edge-endpoint pod, listed first
    assert kinds.count("DELETED") == 2  # the two v1 pods after the rollout
    added_v2 = [n for k, n, v in seen if k == "ADDED" and v == "2"]
    assert len(added_v2) == 2
