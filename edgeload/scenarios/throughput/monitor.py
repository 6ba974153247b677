"""What a throughput run says while it runs: one line per finished step, and the moment the
endpoint stops (or starts again) answering.

`RunMonitor.add_batch` is handed every `requests` batch the log sink writes (local and
master): it tallies them per step and per second, off the per-request hot path. The figures
are a live preview; the report computes the exact ones from the log.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from edgeload import runlog


class _StepTally:
    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.first_t = math.inf
        self.last_t = -math.inf
        self.latencies: list[np.ndarray] = []


class RunMonitor:
    """Tallies request batches; says finished steps and endpoint outages."""

    def __init__(
        self,
        *,
        say: Callable[[str], None],
        record: Callable[[dict], None],
        down_after_s: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.say = say
        self.record = record  # writes an event record into the log
        self.down_after_s = down_after_s
        self.clock = clock
        self.steps: dict[int, _StepTally] = defaultdict(_StepTally)
        self._seconds: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # total, unanswered
        self.down_since: float | None = None

    def add_batch(self, batch: dict) -> None:
        t = np.asarray(batch["t"], dtype=np.float64)
        if not len(t):
            return
        ok = np.asarray(batch["ok"], dtype=bool)
        latency = np.asarray(batch["latency_ms"], dtype=np.float64)
        errors = batch.get("error") or [None] * len(t)
        steps = batch["step"]
        for step in set(steps):
            mask = np.fromiter((s == step for s in steps), bool, len(steps))
            tally = self.steps[-1 if step is None else int(step)]
            tally.requests += int(mask.sum())
            tally.failures += int((~ok[mask]).sum())
            tally.first_t = min(tally.first_t, float(t[mask].min()))
            tally.last_t = max(tally.last_t, float(t[mask].max()))
            tally.latencies.append(latency[mask & ok])
        seconds = np.floor(t).astype(np.int64)
        for second, count in zip(*np.unique(seconds, return_counts=True), strict=True):
            self._seconds[int(second)][0] += int(count)
        for i in np.flatnonzero(~ok).tolist():  # only failures need their category read
            if errors[i] in runlog.UNANSWERED_CATEGORIES:
                self._seconds[int(seconds[i])][1] += 1

    def step_line(self, step: int, clients: int, expected_rps: float, end_t: float) -> str:
        """One line for a finished step, from what has arrived."""
        tally = self.steps.get(step)
        if tally is None or not tally.requests:
            return f"step {step + 1} done: {clients} clients, no requests"
        # the requests that reached the log so far span first_t..last_t
        span = max(1e-3, min(end_t, tally.last_t) - tally.first_t)
        done = np.concatenate(tally.latencies) if tally.latencies else np.empty(0)
        if len(done):
            p50, p95, p99 = np.percentile(done, [50, 95, 99])
            latency = f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms"
        else:
            latency = "no successful answer"
        return (
            f"step {step + 1} done: {clients} clients, ~{tally.requests / span:.1f} requests/s "
            f"(expected {expected_rps:g}), {latency}, {tally.failures} failed"
        )

    def check_liveness(self) -> None:
        """Say (and log) when every request of the last `down_after_s` seconds went
        unanswered, and when answers come back."""
        now = int(self.clock()) - 1  # the last whole second
        window = [self._seconds.get(s) for s in range(now - int(self.down_after_s) + 1, now + 1)]
        seen = [cell for cell in window if cell and cell[0]]
        silent = bool(seen) and all(cell[1] == cell[0] for cell in seen)
        if silent and len(seen) >= min(2, int(self.down_after_s)) and self.down_since is None:
            first = now - int(self.down_after_s) + 1
            self.down_since = float(first)
            self.say(
                f"the endpoint stopped answering at {_clock(first)} (every request for "
                f"{self.down_after_s:g} s failed without an HTTP answer)"
            )
            self.record(
                runlog.event("endpoint_down", "every request failed without an answer", t=first)
            )
        elif self.down_since is not None and seen and not silent:
            self.say(f"the endpoint answers again ({_clock(now)})")
            self.record(runlog.event("endpoint_up", "requests are answered again", t=float(now)))
            self.down_since = None
        for second in [s for s in self._seconds if s < now - 60]:
            del self._seconds[second]


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S UTC")
