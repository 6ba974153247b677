"""The FPS measurement loop: one client submits image queries back to back.

A warm-up (not measured), then each submission is timed end to end with `time.perf_counter`
around the whole call (request, edge inference, answer parsing and the answer check are all
inside; image preparation, progress output and logging are outside). Any failed submission,
including a 200 answer that did not come from the edge, stops the measurement with an error,
as the upstream `single_client_fps_test.py` does: a cloud answer would not measure the edge.

The edge's pipeline config is read before the warm-up, every `config_check_interval_s` during
the test (between submissions, so a check never lands inside a timed call) and after the test
(`pipeline_config.py`). If it ever differs from the first reading, the measurement is invalid
and stops early.

The loop fills a `Measurement` in place, so whoever holds it (the CLI on Ctrl-C, a Locust
`quitting` listener after its user greenlet was killed) still has what was measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from edgeload.scenarios.fps import pipeline_config as pc
from edgeload.scenarios.fps.progress import LoopProgress

COMPLETED = "completed"
FAILED = "failed"
INTERRUPTED = "interrupted"
RUNNING = "running"

WARMUP = "warmup"
TEST = "test"


class SubmitOutcome(Protocol):
    """What a submission returns (`edgeload.clients.Outcome`): success, else a category."""

    status: int
    error: str | None  # error category (edgeload.runlog.ERROR_CATEGORIES) when not ok
    detail: str

    @property
    def ok(self) -> bool: ...


# observer(phase, wall-clock start, seconds, outcome) of every submission
Observer = Callable[[str, float, float, Any], None]


@dataclass
class Measurement:
    """What one image size's measurement measured so far; filled in place by `measure`."""

    warmup_iterations: int
    iterations: int
    status: str = RUNNING
    warmup_completed: int = 0
    latencies_s: list[float] = field(default_factory=list)
    error: str | None = None  # "category: detail" of the submission that stopped it
    config_checks: list[dict] = field(default_factory=list)  # pipeline_config samples
    started_at: float | None = None  # wall clock, first warm-up submission
    test_started_at: float | None = None  # wall clock, first measured submission
    ended_at: float | None = None

    @property
    def config_verified(self) -> bool:
        return pc.verified(self.config_checks)

    @property
    def valid(self) -> bool:
        return pc.changed_to(self.config_checks) is None

    @property
    def invalid_reason(self) -> str | None:
        return pc.invalid_reason(self.config_checks)


@dataclass
class Hooks:
    """What the loop tells its owner: each phase as it starts, each config reading, each
    submission (all outside the timed call)."""

    on_phase: Callable[[str], None] | None = None
    on_config: Callable[[dict], None] | None = None
    observer: Observer | None = None


def _no_payload() -> None:
    return None


def measure(
    m: Measurement,
    submit: Callable[[Any], SubmitOutcome],
    read_config: Callable[[], str | None],
    *,
    prepare: Callable[[], Any] = _no_payload,
    hooks: Hooks | None = None,
    config_check_interval_s: float = 10.0,
    progress_stream: TextIO | None = None,
    label: str = "",
) -> Measurement:
    """Run the warm-up and the timed test, filling `m` as it goes. Each submission is
    `submit(prepare())`; only `submit` is timed (prepare picks the image bytes).

    Returns `m` with status completed or failed; KeyboardInterrupt (and a killed greenlet) marks
    it interrupted and propagates.
    """
    hooks = hooks or Hooks()
    loop = _Loop(m, submit, read_config, prepare, hooks, progress_stream, label)
    try:
        loop.check_config(pc.BEFORE)
        m.started_at = time.time()
        if loop.warm_up():
            loop.test(config_check_interval_s)
            if m.valid:
                loop.check_config(pc.AFTER)
        if m.status == RUNNING:
            m.status = COMPLETED
        return m
    except BaseException:
        # Ctrl-C, SIGTERM turned into KeyboardInterrupt, or Locust killing the greenlet
        m.status = INTERRUPTED
        raise
    finally:
        m.ended_at = time.time()


class _Loop:
    """The two phases of `measure` over one Measurement."""

    def __init__(self, m, submit, read_config, prepare, hooks, progress_stream, label) -> None:
        self.m = m
        self.submit = submit
        self.read_config = read_config
        self.prepare = prepare
        self.hooks = hooks
        self.stream = progress_stream
        self.prefix = f"{label} " if label else ""

    def check_config(self, phase: str) -> None:
        check = pc.reading(self.read_config, phase, len(self.m.latencies_s))
        self.m.config_checks.append(check)
        if self.hooks.on_config is not None:
            self.hooks.on_config(check)

    def _phase(self, phase: str) -> None:
        if self.hooks.on_phase is not None:
            self.hooks.on_phase(phase)

    def _fail(self, outcome: SubmitOutcome, where: str, bar: LoopProgress) -> None:
        self.m.error = f"{outcome.error}: {outcome.detail} ({where})"
        self.m.status = FAILED
        bar.close("failed")

    def warm_up(self) -> bool:
        """The unmeasured submissions; False when one failed."""
        m, submit, prepare, observer = self.m, self.submit, self.prepare, self.hooks.observer
        perf, wall = time.perf_counter, time.time
        self._phase(WARMUP)
        bar = LoopProgress(f"{self.prefix}warming up", m.warmup_iterations, self.stream)
        for i in range(m.warmup_iterations):
            payload = prepare()
            started = wall()
            t0 = perf()
            outcome = submit(payload)
            elapsed = perf() - t0
            if observer is not None:
                observer(WARMUP, started, elapsed, outcome)
            if not outcome.ok:
                self._fail(outcome, f"warm-up submission {i + 1}", bar)
                return False
            m.warmup_completed = i + 1
            bar.update(i + 1)
        bar.close()
        return True

    def test(self, interval_s: float) -> None:
        """The timed submissions, with a config check every `interval_s` between them."""
        m, submit, prepare, observer = self.m, self.submit, self.prepare, self.hooks.observer
        perf, wall, mono = time.perf_counter, time.time, time.monotonic
        m.test_started_at = wall()
        self._phase(TEST)
        bar = LoopProgress(f"{self.prefix}measuring", m.iterations, self.stream)
        next_check = mono() + interval_s
        latencies = m.latencies_s
        for i in range(m.iterations):
            payload = prepare()
            started = wall()
            t0 = perf()
            outcome = submit(payload)
            elapsed = perf() - t0
            if observer is not None:
                observer(TEST, started, elapsed, outcome)
            if not outcome.ok:
                self._fail(outcome, f"test submission {i + 1}", bar)
                return
            latencies.append(elapsed)
            if mono() >= next_check:
                self.check_config(pc.DURING)
                next_check = mono() + interval_s
                if not m.valid:
                    bar.close("stopped: pipeline config changed")
                    return
            bar.update(len(latencies), f"last {elapsed * 1e3:.1f} ms")
        bar.close()
