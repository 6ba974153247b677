"""Step ramp: `step_size` more clients every `time_between_ramp` seconds up to `max_clients`.

The arithmetic is the pure function `step_at`, so it can be tested with a fake clock; the
`StepRampShape` around it only reads the run's options and reports step changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from locust import LoadTestShape


def ramp_steps(max_clients: int, step_size: int) -> list[int]:
    """Client count of each step: step_size, 2*step_size, ..., ending exactly at max_clients."""
    if max_clients <= 0 or step_size <= 0:
        raise ValueError("max_clients and step_size must be positive")
    return [
        min((i + 1) * step_size, max_clients) for i in range(math.ceil(max_clients / step_size))
    ]


def ramp_duration(max_clients: int, step_size: int, time_between_ramp: float) -> float:
    """Seconds the whole ramp lasts."""
    return len(ramp_steps(max_clients, step_size)) * time_between_ramp


def step_at(
    elapsed_s: float, max_clients: int, step_size: int, time_between_ramp: float
) -> tuple[int, int] | None:
    """(0-based step index, clients) at `elapsed_s` seconds into the ramp; None once it is over."""
    if max_clients <= 0 or step_size <= 0 or time_between_ramp <= 0:
        raise ValueError("max_clients, step_size and time_between_ramp must be positive")
    step = int(max(0.0, elapsed_s) // time_between_ramp)
    if step >= math.ceil(max_clients / step_size):
        return None
    return step, min((step + 1) * step_size, max_clients)


def spawn_rate(step_size: int) -> float:
    """Users per second to spawn a step's new clients within ~50 ms, so that every step runs
    its full length at its full client count (and a distributed master is done dispatching
    before the next tick)."""
    return float(max(20, 20 * step_size))


class StepRampShape(LoadTestShape):
    """The step ramp as a Locust shape, driven by the run's options.

    Each step is spawned at once (see `spawn_rate`): a distributed master does not call
    `tick()` while it is still dispatching users, so a slow spawn rate would swallow short steps.

    `on_step(step, clients)` is called at each step change (again after `reset_time()`, which a
    distributed master calls once more as its test starts), `on_complete()` when the ramp has
    run its course; `completed` tells an ended ramp from an interrupted one.
    """

    on_step: Callable[[int, int], None] | None = None
    on_complete: Callable[[], None] | None = None

    def __init__(self) -> None:
        super().__init__()
        self._last_step: int | None = None
        self.current: tuple[int, int] | None = None  # (step, clients) of the last tick
        self.completed = False

    def reset_time(self) -> None:
        super().reset_time()
        self._last_step = None
        self.completed = False

    def ramp_options(self) -> tuple[int, int, float]:
        options = self.runner.environment.parsed_options if self.runner else None
        return (
            int(getattr(options, "max_clients", 10)),
            int(getattr(options, "step_size", 1)),
            float(getattr(options, "time_between_ramp", 30)),
        )

    def tick(self) -> tuple[int, float] | None:
        max_clients, step_size, time_between_ramp = self.ramp_options()
        now = step_at(self.get_run_time(), max_clients, step_size, time_between_ramp)
        if now is None:
            if not self.completed:
                self.completed = True
                if self.on_complete is not None:
                    self.on_complete()
            return None
        step, clients = now
        self.current = now
        if step != self._last_step:
            self._last_step = step
            if self.on_step is not None:
                self.on_step(step, clients)
        return clients, spawn_rate(step_size)
