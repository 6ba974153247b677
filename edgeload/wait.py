"""The one wait/retry helper: bounded waits with backoff and progress lines.

    wait = Wait(timeout_s=600, progress=say)       # a deadline, pauses that grow, progress
    while not done():
        wait.pause(timed_out=lambda: "training did not finish within 600 s",
                   lines=lambda left: [f"waiting for training; {left:.0f} s left"])

    value = retry(call, what="GET /status/metrics.json", timeout_s=30, progress=say)

Pauses start at `first_pause_s` and grow with the time waited (a quarter of it) up to
`max_pause_s`, so a quick endpoint is not kept waiting and a slow one is not hammered. Progress
lines come at most every `progress_every_s`. Past the deadline, RunError with one line.

Time is read from a `Clock` (wall time by default; the pod scenarios pass the endpoint's clock,
which runs in simulated seconds under a simulator's time scale).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

import urllib3

from edgeload.errors import RunError, UsageError
from edgeload.http import HttpStatusError, TransportError

T = TypeVar("T")
Progress = Callable[[str], None]

FIRST_PAUSE_S = 0.25
GROWTH = 0.25  # the pause grows to this fraction of the time waited so far
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


WALL_CLOCK = WallClock()


class Wait:
    """One bounded wait: its deadline, growing pauses and timed progress lines."""

    def __init__(
        self,
        timeout_s: float,
        *,
        progress: Progress,
        max_pause_s: float = 5.0,
        first_pause_s: float = FIRST_PAUSE_S,
        growth: float = GROWTH,
        progress_every_s: float = 10.0,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self.clock = clock
        self.growth = growth
        now = clock.now()
        self.timeout_s = timeout_s
        self.deadline = now + timeout_s
        self.max_pause_s = max_pause_s
        self.first_pause_s = first_pause_s
        self.progress_every_s = progress_every_s
        self.next_progress = now + progress_every_s
        self.progress = progress
        self.restart_backoff()

    def restart_backoff(self) -> None:
        """Something new to wait for: poll quickly again."""
        self.started = self.clock.now()

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - self.clock.now())

    @property
    def expired(self) -> bool:
        return self.clock.now() >= self.deadline

    def pause_s(self) -> float:
        waited = self.clock.now() - self.started
        return min(self.max_pause_s, max(self.first_pause_s, waited * self.growth))

    def pause(
        self,
        *,
        timed_out: Callable[[], str],
        lines: Callable[[float], Iterable[str]] | None = None,
    ) -> None:
        """Between two polls: RunError(timed_out()) past the deadline; the progress `lines`
        (given the seconds left) when due; then sleep."""
        now = self.clock.now()
        if now >= self.deadline:
            raise RunError(timed_out())
        if lines is not None and now >= self.next_progress:
            self.next_progress = now + self.progress_every_s
            for line in lines(self.deadline - now):
                self.progress(line)
        self.clock.sleep(min(self.pause_s(), self.remaining_s()))


def is_transient(exc: BaseException) -> bool:
    """Worth another try: no answer, or a 5xx / 429 that a busy or starting endpoint gives."""
    if isinstance(exc, TransportError):
        return exc.category != "tls"  # a certificate does not fix itself
    if isinstance(exc, HttpStatusError):
        return exc.status in TRANSIENT_STATUSES
    status = getattr(exc, "status", None)  # SDK and kubernetes client errors carry one
    if isinstance(status, int):
        return status in TRANSIENT_STATUSES
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False
    # refused / reset / timed out, as the SDK's urllib3 and requests transports raise them
    return isinstance(exc, OSError | urllib3.exceptions.HTTPError)


def retry(
    call: Callable[[], T],
    *,
    what: str,
    timeout_s: float,
    progress: Progress,
    transient: Callable[[BaseException], bool] = is_transient,
    describe: Callable[[BaseException], str] = lambda exc: str(exc) or type(exc).__name__,
    max_pause_s: float = 5.0,
    clock: Clock = WALL_CLOCK,
) -> T:
    """`call()` until it returns, retrying transient failures with backoff and one progress
    line each; RunError (one line, the last failure) when `timeout_s` runs out. A failure that
    is not transient, and a UsageError, are raised at once."""
    wait = Wait(
        timeout_s, progress=progress, max_pause_s=max_pause_s, progress_every_s=0, clock=clock
    )
    attempts = 0
    while True:
        try:
            return call()
        except UsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - sorted by `transient`
            if not transient(exc):
                raise
            attempts += 1
            why = " ".join(describe(exc).split())[:200]
            wait.pause(
                timed_out=lambda n=attempts, why=why: (
                    f"{what} kept failing for {timeout_s:g} s ({n} attempts; last: {why})"
                ),
                lines=lambda left, why=why: [f"{what} failed ({why}); retrying, {left:.0f} s left"],
            )
