"""The endpoint's clock: every duration these scenarios report is in the endpoint's seconds.

A real endpoint runs on wall-clock time. The simulator can run with a time scale (one wall
second is `time_scale` simulated seconds), and everything it reports (pod start-up, refresh
rates, cloud latency) is in simulated seconds, so the scenarios measure and sleep in simulated
seconds too: wall seconds times the scale.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class EndpointClock:
    """Endpoint seconds since the clock was made; sleeps are given in endpoint seconds."""

    def __init__(
        self,
        time_scale: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = float(time_scale)
        self._monotonic = monotonic
        self._sleep = sleep
        self._start = monotonic()
        self.wall_start = time.time()

    def now(self) -> float:
        """Endpoint seconds since this clock started."""
        return (self._monotonic() - self._start) * self.time_scale

    def sleep(self, endpoint_seconds: float) -> None:
        if endpoint_seconds > 0:
            self._sleep(endpoint_seconds / self.time_scale)

    def wall_time(self, t: float) -> float:
        """UNIX wall time of endpoint-clock time `t` (for log records)."""
        return self.wall_start + t / self.time_scale
