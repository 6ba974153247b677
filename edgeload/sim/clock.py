"""Simulated time for the edge-box model.

Every duration the simulator reports or obeys (start-up, refresh rate, service time, fault
periods) is in *simulated* seconds. `SimClock` maps real time onto simulated time with a time
scale, so minutes of rollouts run in seconds in tests; `ManualClock` is advanced by hand so the
state machine can be tested without sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the runtime needs from a clock."""

    time_scale: float

    def now(self) -> float:
        """Simulated seconds since the clock started."""
        ...

    def wall(self) -> float:
        """Simulated UNIX time (for timestamps): start wall time + now()."""
        ...

    def real_seconds(self, sim_s: float) -> float:
        """Real seconds to sleep for `sim_s` simulated seconds."""
        ...


class SimClock:
    """Real elapsed time (monotonic) multiplied by `time_scale`."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self._start_monotonic = time.monotonic()
        self._start_wall = time.time()

    def now(self) -> float:
        return (time.monotonic() - self._start_monotonic) * self.time_scale

    def wall(self) -> float:
        return self._start_wall + self.now()

    def real_seconds(self, sim_s: float) -> float:
        return max(0.0, sim_s) / self.time_scale


class ManualClock:
    """A clock for tests: time moves only when `advance()` or `set()` is called.

    `real_seconds()` answers 0 so async code that sleeps for simulated time does not block.
    """

    def __init__(self, start_wall: float = 1_780_000_000.0, time_scale: float = 1.0) -> None:
        self.time_scale = float(time_scale)
        self._now = 0.0
        self._start_wall = float(start_wall)

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._start_wall + self._now

    def real_seconds(self, sim_s: float) -> float:
        return 0.0

    def advance(self, sim_s: float) -> float:
        """Move time forward by `sim_s` simulated seconds; returns the new now()."""
        if sim_s < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += sim_s
        return self._now

    def set(self, sim_s: float) -> float:
        """Jump to simulated time `sim_s` (not earlier than now)."""
        return self.advance(sim_s - self._now)
