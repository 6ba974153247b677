"""The simulated edge box as the HTTP server uses it: a thin asyncio layer over `EdgeBox`.

`EdgeRuntime` owns the pure state machine (`edgeload.sim.pods.EdgeBox`), runs its `tick()` in a
background task, sleeps inference service times (simulated seconds scaled by the clock), and
exposes status/Kubernetes views and a pod watch stream. Everything runs on one event loop; no
locks are needed.

Typical use by the server:

    runtime = EdgeRuntime(profile, SimClock(profile.time_scale), cloud.latest_model)
    await runtime.start()
    async with runtime.edge_app_slot():
        outcome = await runtime.infer(detector_id, "BINARY", width * height)
    await runtime.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from edgeload.sim import k8s, status
from edgeload.sim.clock import Clock
from edgeload.sim.pods import DetectorSize, EdgeBox, LatestModel, Slot
from edgeload.sim.profile import Profile

OutcomeStatus = Literal["ok", "no_pod", "failed", "overloaded"]

# real seconds between background ticks (pod transitions become visible at most this late;
# their timestamps are exact regardless)
_TICK_REAL_S = 0.02

# asyncio's epoll wait rounds its timeout up to whole milliseconds, so a plain sleep wakes up
# to ~1 ms late. A profile with a fixed service time promises exact times (latency-accuracy
# tests): its service sleeps wake this much early on a timer, then yield to the loop until the
# monotonic deadline has passed.
_PRECISE_WAKE_MARGIN_S = 0.0015


@dataclass(frozen=True)
class InferenceOutcome:
    """What one inference call on the box came to.

    status: "ok" (edge answer), "no_pod" (no Ready inference pod for the detector), "failed"
    (switch-over error window, or the serving pod died), "overloaded" (a profile's
    `queue_limit` is reached; the real edge app has none).
    latency_s: simulated seconds spent inside `infer` (edge-app overhead, queueing, service).
    model_version / pipeline_config: of the pod that answered (None unless ok).
    """

    status: OutcomeStatus
    latency_s: float
    model_version: int | None = None
    pipeline_config: str | None = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class EdgeRuntime:
    """The simulated edge box (GPUs, inference pods, model updater) on an asyncio loop."""

    def __init__(
        self,
        profile: Profile,
        clock: Clock,
        latest_model: LatestModel,
        *,
        seed: int | None = 0,
        detector_size: DetectorSize | None = None,
    ) -> None:
        """`latest_model(detector_id) -> (version, pipeline_config YAML) | None` is the cloud's
        newest model for a detector (None: nothing to deploy yet); `detector_size(detector_id)`
        its n (classes / max boxes), which sizes its pods."""
        self.profile = profile
        self.clock = clock
        self.box = EdgeBox(profile, clock, latest_model, seed=seed, detector_size=detector_size)
        service = profile.service
        self._edge_app = asyncio.Semaphore(
            service.edge_app_workers * service.edge_app_worker_concurrency
        )
        self._overhead_s = service.edge_app_overhead_ms / 1000.0
        self._precise = service.fixed_ms is not None
        self._task: asyncio.Task | None = None
        self._changed = asyncio.Event()
        self._seen_rv = self.box.resource_version
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the background tick loop (idempotent)."""
        if self._task is None:
            self._stopping = False
            self.box.tick()
            self._task = asyncio.create_task(self._tick_loop(), name="edge-runtime-tick")

    async def stop(self) -> None:
        """Stop the tick loop and end every watch stream (idempotent)."""
        self._stopping = True
        self._notify()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _tick_loop(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(_TICK_REAL_S)

    def tick(self) -> None:
        """Advance the box to clock.now() and wake watchers if pods changed."""
        self.box.tick()
        if self.box.resource_version != self._seen_rv:
            self._seen_rv = self.box.resource_version
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _sleep_sim(self, sim_s: float) -> None:
        real = self.clock.real_seconds(sim_s)
        if real <= 0:
            return
        if not self._precise:
            await asyncio.sleep(real)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + real  # loop.time() is monotonic
        if real > _PRECISE_WAKE_MARGIN_S:
            wake: asyncio.Future[None] = loop.create_future()
            handle = loop.call_at(deadline - _PRECISE_WAKE_MARGIN_S, _resolve, wake)
            try:
                await wake
            finally:
                handle.cancel()
        while loop.time() < deadline:
            await asyncio.sleep(0)

    # ------------------------------------------------------------------ inference

    @contextlib.asynccontextmanager
    async def edge_app_slot(self) -> AsyncIterator[None]:
        """Hold one edge-app request slot (uvicorn workers x per-worker concurrency); requests
        beyond it wait here."""
        async with self._edge_app:
            self.box.edge_app_enter()
            try:
                yield
            finally:
                self.box.edge_app_exit()

    def register_detector(self, detector_id: str, mode: str = "BINARY") -> None:
        """Make the updater deploy pods for a detector (the first image query does this too)."""
        self.box.register_detector(detector_id, mode)

    async def infer(self, detector_id: str, mode: str, n_pixels: int) -> InferenceOutcome:
        """Run one inference for a detector on its pods: wait for a worker slot (FIFO, up to
        a profile's `queue_limit` waiting), then the service time. Registers an unknown
        detector."""
        box = self.box
        t0 = self.clock.now()
        box.register_detector(detector_id, mode)
        if self._overhead_s > 0:
            await self._sleep_sim(self._overhead_s)
        got = box.try_acquire(detector_id, n_pixels)
        if got == "busy":
            got = await self._wait_for_slot(detector_id, n_pixels)
        if isinstance(got, str):
            box.count(got)
            return InferenceOutcome(got, self.clock.now() - t0)  # type: ignore[arg-type]
        slot: Slot = got
        alive = False
        try:
            await self._sleep_sim(slot.service_s)
        finally:
            alive = box.release(slot)
        if not alive:
            box.count("failed")
            return InferenceOutcome("failed", self.clock.now() - t0)
        box.count("ok")
        return InferenceOutcome(
            "ok", self.clock.now() - t0, slot.model_version, slot.pipeline_config
        )

    async def _wait_for_slot(self, detector_id: str, n_pixels: int) -> Slot | str:
        fut: asyncio.Future[Slot | str] = asyncio.get_running_loop().create_future()

        def waiter(result: Slot | str) -> bool:
            if fut.done():
                return False
            fut.set_result(result)
            return True

        if not self.box.enqueue(detector_id, n_pixels, waiter):
            return "overloaded"
        try:
            return await fut
        except asyncio.CancelledError:
            self.box.cancel_wait(detector_id, waiter)
            if fut.done() and not fut.cancelled() and isinstance(fut.result(), Slot):
                self.box.release(fut.result())  # type: ignore[arg-type]
            raise

    # ------------------------------------------------------------------ views

    def is_ready(self, detector_id: str) -> bool:
        """Whether the detector's inference pods answer their readiness probe now (as of the
        last tick)."""
        box = self.box
        return detector_id in box.detectors and box.readiness(detector_id)

    def readiness(self, detector_ids: Iterable[str]) -> dict[str, bool]:
        """{detector_id: ready} (unknown detectors are not ready)."""
        self.tick()
        return {d: (d in self.box.detectors and self.box.readiness(d)) for d in detector_ids}

    def set_refresh_rate(self, seconds: float) -> None:
        """The model updater's poll period (edge-config global_config.refresh_rate), simulated s."""
        self.box.set_refresh_rate(seconds)

    def resources_json(self) -> dict[str, Any]:
        """/status/resources.json (in-cluster shape) from the simulated state."""
        self.tick()
        return status.resources_json(self.box)

    def detector_details(
        self,
        configs: dict[str, dict[str, Any] | None],
        describe: Callable[[str], dict[str, Any] | None],
    ) -> dict[str, dict[str, Any]]:
        """metrics.json `detector_details` (see `status.detector_details`)."""
        self.tick()
        return status.detector_details(self.box, configs, describe)

    def container_images(self) -> dict[str, dict[str, str]]:
        self.tick()
        return status.container_images(self.box)

    def pod_statuses(self) -> dict[str, str]:
        self.tick()
        return status.pod_statuses(self.box)

    def k8s_pods(self) -> dict[str, Any]:
        """A PodList for namespace edge (GET /api/v1/namespaces/edge/pods)."""
        self.tick()
        return k8s.pod_list(self.box)

    def k8s_deployments(self) -> dict[str, Any]:
        """A DeploymentList (GET /apis/apps/v1/namespaces/edge/deployments)."""
        self.tick()
        return k8s.deployment_list(self.box)

    def k8s_pod_metrics(self) -> dict[str, Any]:
        """A PodMetricsList (GET /apis/metrics.k8s.io/v1beta1/namespaces/edge/pods)."""
        self.tick()
        return k8s.pod_metrics_list(self.box)

    def k8s_resource_version(self) -> str:
        return str(self.box.resource_version)

    async def watch_pods(
        self, resource_version: str | int | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Pod watch events ("ADDED"|"MODIFIED"|"DELETED", pod) after `resource_version`; with
        none (or "0"), every current pod as ADDED first. Ends when the runtime stops."""
        self.tick()
        box = self.box
        try:
            last = int(resource_version) if resource_version not in (None, "") else 0
        except (TypeError, ValueError):
            last = 0
        if last <= 0:
            yield "ADDED", k8s.edge_pod_json(box)
            for pod in list(box.pods.values()):
                yield "ADDED", k8s.pod_json(box, pod)
            last = box.resource_version
        while not self._stopping:
            changed = self._changed
            for rv, kind, obj in list(box.events):
                if rv > last:
                    last = rv
                    yield kind, obj
            if self._stopping:
                return
            await changed.wait()

    def state(self) -> dict[str, Any]:
        """JSON-able summary for the admin API: detectors, pods, versions, counters."""
        self.tick()
        return status.state(self.box)
