"""Fault injection: the knobs that make the simulated endpoint misbehave on purpose.

Knobs (all durations in simulated seconds; all default to "no fault"):
- `error_rate`: {status: probability}, e.g. {"500": 0.1, "503": 0.05}: an image query is
  answered with that status instead of being served (plain-text 500 like the real edge app;
  JSON `{"detail": ...}` for the others). Probabilities add up to at most 1.
- `spike_rate`, `spike_s`: with probability `spike_rate` an image query is delayed `spike_s`.
- `stall_every_s`, `stall_s`: the whole endpoint freezes for `stall_s` at the start of every
  `stall_every_s` period (counted from the simulator's start): a request that arrives during a
  stall waits until it ends (a GC pause, a hung event loop). Every route but /_sim/.
- `drop_rate`: with probability `drop_rate` an image query's connection is reset without an
  answer.
- `down_for_s`: the endpoint is down from now for that long: every request but /_sim/ gets its
  connection reset (the process still runs so that the admin API can bring it back). `up_after_s`
  from the profile's endpoint section and the profile's `faults.down` windows
  ([{at_s, for_s}]) are the same thing, scheduled.

Image-query faults (errors, spikes, drops) apply to `POST /device-api/v1/image-queries` only, so
that provisioning, status and Kubernetes calls stay usable while the load path suffers.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

ERROR_STATUSES = frozenset({400, 404, 429, 500, 502, 503, 504})
KNOBS = (
    "error_rate",
    "spike_rate",
    "spike_s",
    "stall_every_s",
    "stall_s",
    "drop_rate",
    "down_for_s",
)


class FaultError(ValueError):
    """A knob value that makes no sense (one-line message)."""


@dataclass
class FaultState:
    error_rate: dict[int, float] = field(default_factory=dict)
    spike_rate: float = 0.0
    spike_s: float = 0.0
    stall_every_s: float = 0.0
    stall_s: float = 0.0
    drop_rate: float = 0.0
    down_until: float = 0.0  # simulated time at which the endpoint is up again
    # scheduled down windows [(start, end)] in simulated time (profile faults.down, up_after_s)
    windows: list[tuple[float, float]] = field(default_factory=list)
    # counters of faults injected, for /_sim/state
    injected: dict[str, int] = field(default_factory=dict)


class Faults:
    """The current fault knobs and the per-request decisions they lead to."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.state = FaultState()
        self._rng = rng or random.Random()
        self._error_table: list[tuple[float, int]] = []  # cumulative probability -> status
        self._any_request_fault = False

    @classmethod
    def from_profile(
        cls, faults_spec: Any, up_after_s: float = 0.0, rng: random.Random | None = None
    ) -> Faults:
        """Faults as a profile's `faults` section (and `endpoint.up_after_s`) describe them."""
        faults = cls(rng)
        spike = getattr(faults_spec, "latency_spike", None)
        stall = getattr(faults_spec, "stall", None)
        faults.configure(
            0.0,
            error_rate=dict(getattr(faults_spec, "error_rate", {}) or {}),
            spike_rate=getattr(spike, "probability", 0.0),
            spike_s=getattr(spike, "ms", 0.0) / 1000.0,
            stall_every_s=getattr(stall, "every_s", 0.0),
            stall_s=getattr(stall, "duration_s", 0.0),
            drop_rate=getattr(faults_spec, "drop_rate", 0.0),
        )
        windows = [
            (w.at_s, w.at_s + w.for_s) for w in getattr(faults_spec, "down", ()) if w.for_s > 0
        ]
        if up_after_s > 0:
            windows.append((0.0, up_after_s))
        faults.state.windows = sorted(windows)
        return faults

    # -- configuration -----------------------------------------------------------------------
    def configure(self, now: float, **knobs: Any) -> dict:
        """Set some knobs (others keep their values); raises FaultError on bad values."""
        unknown = set(knobs) - set(KNOBS)
        if unknown:
            raise FaultError(
                f"unknown fault knob(s): {', '.join(sorted(unknown))}; known: {', '.join(KNOBS)}"
            )
        # work on a copy so that a refused change leaves the knobs as they were
        s = dataclasses.replace(self.state, error_rate=dict(self.state.error_rate))
        if "error_rate" in knobs:
            s.error_rate = _error_rate(knobs["error_rate"])
        for name in ("spike_rate", "drop_rate"):
            if name in knobs:
                setattr(s, name, _probability(name, knobs[name]))
        for name in ("spike_s", "stall_every_s", "stall_s"):
            if name in knobs:
                setattr(s, name, _duration(name, knobs[name]))
        if s.stall_every_s and s.stall_s >= s.stall_every_s:
            raise FaultError("stall_s must be shorter than stall_every_s")
        if "down_for_s" in knobs:
            s.down_until = now + _duration("down_for_s", knobs["down_for_s"])
        total = sum(s.error_rate.values()) + s.drop_rate
        if total > 1.0 + 1e-9:
            raise FaultError("error_rate probabilities plus drop_rate add up to more than 1")
        self.state = s
        acc = 0.0
        self._error_table = []
        for status, p in sorted(s.error_rate.items()):
            acc += p
            self._error_table.append((acc, status))
        self._any_request_fault = bool(
            self._error_table or s.drop_rate or (s.spike_rate and s.spike_s)
        )
        return self.describe(now)

    def describe(self, now: float) -> dict:
        s = self.state
        return {
            "error_rate": {str(k): v for k, v in s.error_rate.items()},
            "spike_rate": s.spike_rate,
            "spike_s": s.spike_s,
            "stall_every_s": s.stall_every_s,
            "stall_s": s.stall_s,
            "drop_rate": s.drop_rate,
            "down": self.is_down(now),
            "down_remaining_s": max(0.0, s.down_until - now),
            "down_windows": [{"at_s": a, "for_s": b - a} for a, b in s.windows],
            "injected": dict(s.injected),
        }

    # -- decisions ---------------------------------------------------------------------------
    def is_down(self, now: float) -> bool:
        s = self.state
        if now < s.down_until:
            return True
        if s.windows:
            for start, end in s.windows:
                if start <= now < end:
                    return True
            if now >= s.windows[-1][1]:
                s.windows = [w for w in s.windows if w[1] > now]
        return False

    def stall_wait(self, now: float) -> float:
        """Simulated seconds a request arriving now must wait for the current stall to end."""
        s = self.state
        if not s.stall_every_s:
            return 0.0
        phase = now % s.stall_every_s
        if phase < s.stall_s:
            return s.stall_s - phase
        return 0.0

    def image_query_fault(self) -> tuple[str, float]:
        """("", 0) for none; ("error", status); ("drop", 0); ("spike", seconds)."""
        if not self._any_request_fault:
            return "", 0.0
        s = self.state
        r = self._rng.random()
        for acc, status in self._error_table:
            if r < acc:
                self._count(f"error_{status}")
                return "error", float(status)
        if s.drop_rate:
            base = self._error_table[-1][0] if self._error_table else 0.0
            if r < base + s.drop_rate:
                self._count("drop")
                return "drop", 0.0
        if s.spike_rate and s.spike_s and self._rng.random() < s.spike_rate:
            self._count("spike")
            return "spike", s.spike_s
        return "", 0.0

    def count(self, name: str) -> None:
        self._count(name)

    def _count(self, name: str) -> None:
        self.state.injected[name] = self.state.injected.get(name, 0) + 1


def _probability(name: str, value: Any) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise FaultError(f"{name} must be a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= p <= 1.0:
        raise FaultError(f"{name} must be between 0 and 1, got {value!r}")
    return p


def _duration(name: str, value: Any) -> float:
    try:
        d = float(value)
    except (TypeError, ValueError):
        raise FaultError(f"{name} must be a number of seconds >= 0, got {value!r}") from None
    if not d >= 0.0:
        raise FaultError(f"{name} must be >= 0 seconds, got {value!r}")
    return d


def _error_rate(value: Any) -> dict[int, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FaultError(f"error_rate must map HTTP status to probability, got {value!r}")
    rates: dict[int, float] = {}
    for key, p in value.items():
        try:
            status = int(key)
        except (TypeError, ValueError):
            raise FaultError(f"error_rate: {key!r} is not an HTTP status") from None
        if status not in ERROR_STATUSES:
            allowed = ", ".join(str(x) for x in sorted(ERROR_STATUSES))
            raise FaultError(f"error_rate: status {status} not supported (use one of {allowed})")
        rates[status] = _probability(f"error_rate[{status}]", p)
    return rates
