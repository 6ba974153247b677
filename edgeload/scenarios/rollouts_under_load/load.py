"""Fixed-rate clients: image queries to one detector on a schedule, every answer checked.

Each of `clients` threads sends one query every `clients / requests_per_second` seconds (real
seconds), staggered so that they do not fire together. A client waits for its answer (closed
model): a request that is late because the previous answer was slow is sent at once, and its
intended send time is kept beside the actual one. Submissions go through `edgeload.clients`
(SDK with hidden retries off, or raw HTTP), so every failure has one of the log's error
categories. The hot path only appends one row; the run's thread writes the rows as
column-batched `requests` records (`RequestRows.take`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from edgeload import runlog
from edgeload.clients import REQUEST_TIMEOUT_S, Outcome

Submit = Callable[[bytes], Outcome]


class RequestRows:
    """Rows of finished requests, in `runlog.REQUEST_COLUMNS` order, until written."""

    def __init__(self) -> None:
        self._rows: list[tuple] = []
        self._lock = threading.Lock()

    def add(self, row: tuple) -> None:
        with self._lock:
            self._rows.append(row)

    def take(self) -> dict | None:
        """The rows so far as one `requests` record (None when there are none)."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return None
        columns = zip(*rows, strict=True)
        record = {name: list(c) for name, c in zip(runlog.REQUEST_COLUMNS, columns, strict=True)}
        return {"type": runlog.REQUESTS, "worker": "local", "n": len(rows), **record}


class FixedRateLoad:
    """`clients` threads querying one detector at `requests_per_second` in all."""

    def __init__(
        self,
        submitters: list[Submit],
        images: Callable[[], bytes],
        detector_id: str,
        requests_per_second: float,
    ) -> None:
        self.submitters = submitters
        self.images = images
        self.detector_id = detector_id
        self.interval = len(submitters) / requests_per_second
        self.rows = RequestRows()
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        start = time.time()
        for i, submit in enumerate(self.submitters):
            first = start + i * self.interval / len(self.submitters)
            thread = threading.Thread(
                target=self._client, args=(submit, first), name=f"edgeload-client-{i}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _client(self, submit: Submit, intended: float) -> None:
        n, detector, rows = len(self.submitters), self.detector_id, self.rows
        while not self._stop.wait(max(intended - time.time(), 0.0)):
            jpeg = self.images()
            started = time.time()
            t0 = time.perf_counter()
            try:
                outcome = submit(jpeg)
            except Exception as exc:  # noqa: BLE001 - a client bug is a counted failure
                outcome = Outcome(0, "client", type(exc).__name__)
            latency_ms = (time.perf_counter() - t0) * 1e3
            rows.add((started, intended, round(latency_ms, 3), 1 if outcome.ok else 0,
                      outcome.status, outcome.error, detector, n, 0))  # fmt: skip
            self.sent += 1
            self.failed += 0 if outcome.ok else 1
            intended += self.interval

    def stop(self) -> None:
        """Stop sending; wait (bounded) for the requests in flight to be answered."""
        self._stop.set()
        deadline = time.monotonic() + REQUEST_TIMEOUT_S + 2.0
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0.0))


def make_submitters(target: Any, detector: Any, client: str, clients: int) -> list[Submit]:
    """One submit function per client: the SDK (one client with hidden retries off, its pool
    sized for them) or one raw HTTP connection each."""
    from edgeload.clients import AnswerSpec, HttpSubmitter, submit_sdk

    spec = AnswerSpec.of(detector.answer_spec())
    if client == "http":
        return [HttpSubmitter(target, detector.id, spec=spec) for _ in range(clients)]
    from edgeload.target import make_sdk

    gl = make_sdk(target, pool_size=clients, retries=False)
    return [_SdkSubmitter(gl, detector.id, spec, submit_sdk) for _ in range(clients)]


class _SdkSubmitter:
    """One client's submissions through the shared SDK client (closed with the first)."""

    def __init__(self, gl: Any, detector_id: str, spec: Any, submit: Callable) -> None:
        self.gl, self.detector_id, self.spec, self._submit = gl, detector_id, spec, submit

    def __call__(self, jpeg: bytes) -> Outcome:
        return self._submit(self.gl, self.detector_id, jpeg, self.spec)

    def close(self) -> None:
        gl, self.gl = self.gl, None
        if gl is not None:
            gl.close()


def close_submitters(submitters: list[Submit]) -> None:
    for submit in submitters:
        close = getattr(submit, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
