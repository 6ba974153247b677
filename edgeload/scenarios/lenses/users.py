"""The sweep in Locust terms: one user class per lens (made from the config for each run,
`fixed_count` = its cameras x copies), one `LoadTestShape` per run (all users for warm-up +
duration, then stop), and one Locust `Environment` per run, in sequence, in this process.

A user is one camera: it runs its lens's chain (`frames.run_frame`) frame after frame, paced
at the lens's target_fps as a unit (the next frame starts one period after the last one
started, at once when that is already past; 0 = unpaced: at once). Paced cameras start at a
random point of their first period, so that cameras do not send in lockstep. User k of a lens
serves copy k // cameras as its camera k % cameras.

Imports locust (and so patches this process with gevent): the CLI imports this module only
after every check has passed.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.pool
from locust import LoadTestShape, User, constant, task
from locust.env import Environment
from locust.runners import STATE_STOPPED

from edgeload.scenarios.lenses.frames import Chain, Recorder, Submit, run_frame

SPAWN_RATE = 100.0  # users/s: Locust warns above it; 100 cameras start within 1 s of warm-up
STOP_GRACE_S = 15.0  # a run whose runner has not stopped this long after its end is stopped


@dataclass
class LensPlan:
    """What the users of one lens share in one run."""

    run: int
    cameras: int
    chains: Sequence[Chain]  # one per copy in this run
    target_fps: float
    clients: int  # users of the whole run (the requests' `clients` column)
    submit: Submit
    recorder: Recorder
    counter: Any = field(default_factory=itertools.count)


def gevent_parallel(calls: Sequence[Callable[[], Any]]) -> list:
    """Run the calls in greenlets at once; their results in order (killed if we are)."""
    group = gevent.pool.Group()
    greenlets = [group.spawn(c) for c in calls]
    try:
        gevent.joinall(greenlets)
    finally:
        group.kill(block=False)  # only the unfinished: a stopped camera leaves no calls behind
    return [g.value if g.successful() else False for g in greenlets]


class LensCamera(User):
    """One camera of a lens (the class a run's lens user classes derive from)."""

    abstract = True
    wait_time = constant(0)
    plan: LensPlan

    def on_start(self) -> None:
        plan = self.plan
        k = next(plan.counter)
        self.copy, self.camera = divmod(k, plan.cameras)
        self.chain = plan.chains[self.copy % len(plan.chains)]
        self.period = 1.0 / plan.target_fps if plan.target_fps > 0 else 0.0
        self.next_start = time.time() + random.uniform(0.0, self.period)

    @task
    def frame(self) -> None:
        delay = self.next_start - time.time()
        if delay > 0:
            gevent.sleep(delay)
        plan = self.plan
        start = time.time()
        t0 = time.perf_counter()

        def on_call(t: float, latency_ms: float, outcome: Any, detector: str) -> None:
            plan.recorder.request(t, latency_ms, outcome, detector, plan.clients, plan.run)

        ok = run_frame(self.chain, plan.submit, gevent_parallel, on_call)
        latency_ms = (time.perf_counter() - t0) * 1e3
        plan.recorder.frame(
            self.chain.lens, plan.run, self.camera, self.copy, start, latency_ms, ok
        )
        self.next_start = start + self.period


def lens_user_class(lens_name: str, plan: LensPlan, users: int) -> type[User]:
    """The run's user class of one lens: `users` fixed cameras."""
    return type(
        f"lens_{lens_name}",
        (LensCamera,),
        {"abstract": False, "fixed_count": users, "plan": plan, "weight": 1},
    )


class RunShape(LoadTestShape):
    """One run: every camera of every lens for `seconds`, then stop."""

    def __init__(self, classes: list[type[User]], seconds: float) -> None:
        super().__init__()
        self.classes = classes
        self.seconds = seconds
        self.users = sum(c.fixed_count for c in classes)

    def tick(self) -> tuple[int, float, list[type[User]]] | None:
        if self.get_run_time() >= self.seconds:
            return None
        return self.users, SPAWN_RATE, self.classes


def run_load(classes: list[type[User]], seconds: float) -> None:
    """One run's load under Locust, in this greenlet until its shape has run its course (or
    STOP_GRACE_S after); the runner is gone when this returns, however it returns."""
    shape = RunShape(classes, seconds)
    environment = Environment(user_classes=classes, shape_class=shape)
    runner = environment.create_local_runner()
    started = time.monotonic()
    try:
        runner.start_shape()
        # the shape ticks once a second: the run ends on time here, not up to a second late
        while runner.state != STATE_STOPPED and time.monotonic() - started < seconds:
            gevent.sleep(min(0.1, max(0.0, seconds - (time.monotonic() - started))))
        if runner.state != STATE_STOPPED:
            runner.stop()
        deadline = time.monotonic() + STOP_GRACE_S
        while runner.state != STATE_STOPPED and time.monotonic() < deadline:
            gevent.sleep(0.05)
    finally:
        runner.quit()
